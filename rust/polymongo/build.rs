//! Gives this crate's own tests, examples and benches an rpath to the library directory that
//! polymongo-sys found (only non-system directories, e.g. an uninstalled build tree), so they
//! run against that library without LD_LIBRARY_PATH. `cargo:rustc-link-arg` does not cross
//! crate boundaries, hence this relay of `DEP_POLYMONGO_RPATH` (set by polymongo-sys).
//!
//! Also relays the header directory (`DEP_POLYMONGO_INCLUDE`) as `POLYMONGO_HEADER_DIR` for the
//! header-coverage unit test (every `pm_*` function of the headers is bound).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_POLYMONGO_RPATH");
    println!("cargo:rerun-if-env-changed=DEP_POLYMONGO_INCLUDE");
    if let Ok(rpath) = std::env::var("DEP_POLYMONGO_RPATH") {
        for dir in rpath.split(':').filter(|d| !d.is_empty()) {
            // Applies to this package's linked targets only (unit and integration tests,
            // examples, benches); a downstream binary decides its own rpath.
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
    if let Ok(include) = std::env::var("DEP_POLYMONGO_INCLUDE") {
        println!("cargo:rustc-env=POLYMONGO_HEADER_DIR={include}");
    }
}
