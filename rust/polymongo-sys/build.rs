//! Finds libpolymongo and generates the raw bindings from its umbrella header.
//!
//! Lookup order (like libsqlite3-sys / libgit2-sys):
//!  1. `POLYMONGO_LIB_DIR` (+ optional `POLYMONGO_INCLUDE_DIR`): use that directory, no pkg-config.
//!  2. pkg-config `polymongo` (set `PKG_CONFIG_PATH` to the build tree's `pkgconfig-uninstalled`
//!     directory to build against an uninstalled library).
//!
//! Outputs for dependents (`links = "polymongo"` makes these `DEP_POLYMONGO_*` in their build
//! scripts): `include` (header directory) and `rpath` (the library directories, joined by ':'),
//! which the safe crate uses to give its own tests and examples an rpath.
use std::env;
use std::path::{Path, PathBuf};

/// The oldest library whose ABI these bindings describe.
const MIN_VERSION: &str = "0.2.0";

struct Found {
    include_dirs: Vec<PathBuf>,
    lib_dirs: Vec<PathBuf>,
}

fn from_env() -> Option<Found> {
    let lib = env::var_os("POLYMONGO_LIB_DIR")?;
    let lib = PathBuf::from(lib);
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=polymongo");
    let include = env::var_os("POLYMONGO_INCLUDE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| lib.join("..").join("include"));
    Some(Found { include_dirs: vec![include], lib_dirs: vec![lib] })
}

fn from_pkg_config() -> Found {
    match pkg_config::Config::new().atleast_version(MIN_VERSION).probe("polymongo") {
        Ok(lib) => Found { include_dirs: lib.include_paths, lib_dirs: lib.link_paths },
        Err(e) => panic!(
            "\n\npolymongo-sys: could not find libpolymongo >= {MIN_VERSION} with pkg-config:\n{e}\n\n\
             Build the C library, then point PKG_CONFIG_PATH at the directory holding polymongo.pc\n\
             (for a build tree: <build dir>/pkgconfig-uninstalled), or set POLYMONGO_LIB_DIR and\n\
             POLYMONGO_INCLUDE_DIR.\n"
        ),
    }
}

fn is_system_dir(dir: &Path) -> bool {
    ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]
        .iter()
        .any(|d| dir == Path::new(d))
}

fn main() {
    for var in ["POLYMONGO_LIB_DIR", "POLYMONGO_INCLUDE_DIR", "PKG_CONFIG_PATH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let found = from_env().unwrap_or_else(from_pkg_config);

    // An rpath so that binaries find an uninstalled library (a build tree) without
    // LD_LIBRARY_PATH. rustc-link-arg applies to this package's own test binaries; dependents
    // read `DEP_POLYMONGO_RPATH` and emit it for theirs (see polymongo/build.rs).
    let rpath: Vec<String> =
        found.lib_dirs.iter().filter(|d| !is_system_dir(d)).map(|d| d.display().to_string()).collect();
    for dir in &rpath {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rpath={}", rpath.join(":"));

    let header = found
        .include_dirs
        .iter()
        .map(|d| d.join("polymongo.h"))
        .find(|h| h.exists())
        .unwrap_or_else(|| panic!("polymongo.h not found in {:?}", found.include_dirs));
    println!("cargo:include={}", header.parent().unwrap().display());

    let bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_args(found.include_dirs.iter().map(|d| format!("-I{}", d.display())))
        // Everything public is pm_* / PM_*: functions, handle and struct types, enums, macros.
        .allowlist_function("pm_.*")
        .allowlist_type("pm_.*")
        .allowlist_var("PM_.*")
        .allowlist_var("pm_.*")
        // pm_code is negative: plain integer constants (PM_OK, PM_EINVAL, ...) of type pm_code,
        // never a Rust enum (an unknown code from a newer library would be UB).
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        // Opaque handles stay opaque; only pm_error and pm_buf have a layout.
        .opaque_type("pm_wrapper|pm_model|pm_db|pm_cursor|pm_result")
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(true)
        .merge_extern_blocks(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen could not generate the polymongo bindings");

    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings.write_to_file(&out).expect("could not write bindings.rs");
}
