//! Gives the benchmark binary an rpath to the library directory polymongo-sys found (an
//! uninstalled build tree), so it runs without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_POLYMONGO_RPATH");
    if let Ok(rpath) = std::env::var("DEP_POLYMONGO_RPATH") {
        for dir in rpath.split(':').filter(|d| !d.is_empty()) {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
