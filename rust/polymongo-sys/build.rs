//! Finds or builds libpolymongo, and tells the crate which version it uses.
//!
//! The bindings themselves are pre-generated (`src/bindings.rs`, from this crate's own header
//! `polymongo/include/polymongo.h`; regenerate with `cargo run -p polymongo-gen-bindings`), so
//! building needs no libclang. The library must then be the same major.minor as these sources
//! (the version in `polymongo/CMakeLists.txt`). Where it comes from, in this order:
//!
//!  1. `POLYMONGO_SYS_BUNDLED=1`: the bundled build (below), whatever pkg-config has.
//!  2. `POLYMONGO_LIB_DIR` (+ optional `POLYMONGO_INCLUDE_DIR`, default `<lib dir>/../include`;
//!     a ':'-separated list for a build tree): the shared library in that directory, no pkg-config.
//!  3. pkg-config `polymongo` with a version in [major.minor.0, major.(minor+1).0): an installed
//!     library, or a build tree's (`PKG_CONFIG_PATH=<build>/pkgconfig-uninstalled`).
//!  4. Otherwise, with the `bundled` feature (default) and unless `POLYMONGO_SYS_USE_PKG_CONFIG=1`:
//!     the bundled build. CMake builds the static library from `polymongo/` (library only:
//!     PM_BUILD_CLI/TESTS/BENCH/EXAMPLES=OFF, Release) in OUT_DIR, and it is linked statically,
//!     with its dependencies (libmongoc, libbson, cJSON, spdlog, fmt, libstdc++) as the system's
//!     shared libraries found by pkg-config. Binaries then need no LD_LIBRARY_PATH and no rpath.
//!
//! The version the crate reports (`PM_VERSION_*`, checked at load time by the safe crate with
//! `pm_check_version`) is read from `polymongo/version.h` of the library used, and written to
//! `$OUT_DIR/version.rs`, so no version literal lives in the sources.
//!
//! Outputs for dependents (`links = "polymongo"` makes these `DEP_POLYMONGO_*` in their build
//! scripts): `include` (the directory holding polymongo.h), `rpath` (non-system directories of a
//! shared library, joined by ':', which the safe crate gives its own tests and examples) and
//! `linkage` (`bundled`, `pkg-config` or `lib-dir`).
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// How the library was found.
struct Found {
    linkage: &'static str,
    /// Directories searched for polymongo.h and polymongo/version.h.
    include_dirs: Vec<PathBuf>,
    /// Directories of a shared library (for the rpath); empty for the static bundled build.
    shared_lib_dirs: Vec<PathBuf>,
}

/// major, minor, patch.
type Version = (u32, u32, u32);

fn flag(name: &str) -> bool {
    println!("cargo:rerun-if-env-changed={name}");
    matches!(env::var(name).as_deref(), Ok(v) if !v.is_empty() && v != "0")
}

/// The version of the bundled sources: `project(polymongo VERSION x.y.z` in CMakeLists.txt.
fn source_version(src: &Path) -> Version {
    let path = src.join("CMakeLists.txt");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("polymongo-sys: {}: {e}", path.display()));
    let rest = text
        .split("project(polymongo VERSION ")
        .nth(1)
        .unwrap_or_else(|| panic!("polymongo-sys: no `project(polymongo VERSION` in {}", path.display()));
    let word: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    parse_version(&word).unwrap_or_else(|| panic!("polymongo-sys: bad version {word:?} in {}", path.display()))
}

fn parse_version(s: &str) -> Option<Version> {
    let mut it = s.split('.').map(|p| p.parse::<u32>().ok());
    let v = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(v)
}

/// PM_VERSION_MAJOR/MINOR/PATCH from polymongo/version.h in the first include dir that has it.
fn header_version(include_dirs: &[PathBuf]) -> (Version, PathBuf) {
    let path = include_dirs
        .iter()
        .map(|d| d.join("polymongo").join("version.h"))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("polymongo-sys: polymongo/version.h not found in {include_dirs:?}"));
    println!("cargo:rerun-if-changed={}", path.display());
    let text = fs::read_to_string(&path).unwrap();
    let get = |name: &str| -> u32 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("#define ")?.trim().strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("polymongo-sys: no numeric {name} in {}", path.display()))
    };
    ((get("PM_VERSION_MAJOR"), get("PM_VERSION_MINOR"), get("PM_VERSION_PATCH")), path)
}

fn from_lib_dir(lib: PathBuf) -> Found {
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=polymongo");
    // A list (':'-separated) for a build tree: the source's include/ and the build's (version.h).
    let include_dirs = match env::var_os("POLYMONGO_INCLUDE_DIR") {
        Some(dirs) => env::split_paths(&dirs).collect(),
        None => vec![lib.join("../include")],
    };
    Found { linkage: "lib-dir", include_dirs, shared_lib_dirs: vec![lib] }
}

fn from_pkg_config(want: Version) -> Result<Found, pkg_config::Error> {
    let (lo, hi) = (format!("{}.{}.0", want.0, want.1), format!("{}.{}.0", want.0, want.1 + 1));
    let lib = pkg_config::Config::new().range_version(lo.as_str()..hi.as_str()).probe("polymongo")?;
    Ok(Found { linkage: "pkg-config", include_dirs: lib.include_paths, shared_lib_dirs: lib.link_paths })
}

#[cfg(feature = "bundled")]
fn bundled(src: &Path) -> Found {
    for sub in ["CMakeLists.txt", "cmake", "include", "src", "pkgconfig"] {
        println!("cargo:rerun-if-changed={}", src.join(sub).display());
    }
    // Library only: the CLI, tests, benchmarks and examples need more than the library does.
    let dst = cmake::Config::new(src)
        .define("PM_BUILD_CLI", "OFF")
        .define("PM_BUILD_TESTS", "OFF")
        .define("PM_BUILD_BENCH", "OFF")
        .define("PM_BUILD_EXAMPLES", "OFF")
        .profile("Release")
        .build_target("polymongo_static")
        .build();
    let build = dst.join("build");
    println!("cargo:rustc-link-search=native={}", build.display());
    println!("cargo:rustc-link-lib=static=polymongo");
    // The static library's own dependencies, as shared system libraries (their pkg-config
    // files emit the link lines; spdlog's requires fmt). Order matters: after libpolymongo.a.
    for dep in ["libmongoc-1.0", "libbson-1.0", "libcjson", "cpp-httplib", "spdlog"] {
        pkg_config::Config::new().probe(dep).unwrap_or_else(|e| {
            panic!("\n\npolymongo-sys: the bundled build needs {dep} (Debian: libmongoc-dev libbson-dev libcjson-dev libcpp-httplib-dev libspdlog-dev):\n{e}\n")
        });
    }
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=pthread");
    Found { linkage: "bundled", include_dirs: vec![src.join("include"), build.join("include")], shared_lib_dirs: vec![] }
}

#[cfg(not(feature = "bundled"))]
fn bundled(_src: &Path) -> Found {
    panic!("\n\npolymongo-sys: POLYMONGO_SYS_BUNDLED=1 needs the `bundled` feature (on by default)\n")
}

fn is_system_dir(dir: &Path) -> bool {
    ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]
        .iter()
        .any(|d| dir == Path::new(d))
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let src = manifest.join("polymongo");
    let want = source_version(&src);
    let force_bundled = flag("POLYMONGO_SYS_BUNDLED");
    let force_pkg_config = flag("POLYMONGO_SYS_USE_PKG_CONFIG");
    for var in ["POLYMONGO_LIB_DIR", "POLYMONGO_INCLUDE_DIR"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if force_bundled && force_pkg_config {
        panic!("polymongo-sys: POLYMONGO_SYS_BUNDLED and POLYMONGO_SYS_USE_PKG_CONFIG are both set: choose one");
    }

    let found = if force_bundled {
        bundled(&src)
    } else if let (Some(lib), false) = (env::var_os("POLYMONGO_LIB_DIR"), force_pkg_config) {
        from_lib_dir(PathBuf::from(lib))
    } else {
        match from_pkg_config(want) {
            Ok(found) => found,
            Err(_) if cfg!(feature = "bundled") && !force_pkg_config => bundled(&src),
            Err(e) => panic!(
                "\n\npolymongo-sys: pkg-config found no libpolymongo {}.{}.x (the version of these bindings):\n{e}\n\n\
                 Install the C library (or build it and point PKG_CONFIG_PATH at <build dir>/pkgconfig-uninstalled),\n\
                 set POLYMONGO_LIB_DIR, or let the `bundled` feature build it (unset POLYMONGO_SYS_USE_PKG_CONFIG).\n",
                want.0, want.1
            ),
        }
    };

    // The version of the library actually used, from its header; it must be the same
    // major.minor as these bindings (pkg-config checked the .pc file, this checks the header).
    let (have, version_h) = header_version(&found.include_dirs);
    if (have.0, have.1) != (want.0, want.1) {
        panic!(
            "\n\npolymongo-sys: {} is version {}.{}.{} but these bindings are {}.{}.x\n",
            version_h.display(),
            have.0,
            have.1,
            have.2,
            want.0,
            want.1
        );
    }
    let string = format!("{}.{}.{}", have.0, have.1, have.2);
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap()).join("version.rs");
    fs::write(
        &out,
        format!(
            "/// `PM_VERSION_MAJOR` of the header of the library this crate was built with ({linkage}).\n\
             pub const PM_VERSION_MAJOR: ::std::os::raw::c_int = {};\n\
             /// `PM_VERSION_MINOR` of that header.\n\
             pub const PM_VERSION_MINOR: ::std::os::raw::c_int = {};\n\
             /// `PM_VERSION_PATCH` of that header.\n\
             pub const PM_VERSION_PATCH: ::std::os::raw::c_int = {};\n\
             /// `PM_VERSION_STRING` of that header (without the NUL).\n\
             pub const PM_VERSION_STRING: &str = {string:?};\n\
             /// `PM_VERSION_NUM` of that header: 0xMMmmpp.\n\
             pub const PM_VERSION_NUM: ::std::os::raw::c_int = {};\n\
             /// How build.rs found the library: \"bundled\", \"pkg-config\" or \"lib-dir\".\n\
             pub const LINKAGE: &str = {linkage:?};\n",
            have.0,
            have.1,
            have.2,
            (have.0 << 16) | (have.1 << 8) | have.2,
            linkage = found.linkage,
        ),
    )
    .expect("could not write version.rs");

    // An rpath so that this package's own test binaries find a non-system shared library (a
    // build tree) without LD_LIBRARY_PATH. rustc-link-arg applies to this package only;
    // dependents read `DEP_POLYMONGO_RPATH` and emit it for theirs (see polymongo/build.rs).
    let rpath: Vec<String> = found
        .shared_lib_dirs
        .iter()
        .filter(|d| !is_system_dir(d))
        .map(|d| d.display().to_string())
        .collect();
    for dir in &rpath {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rpath={}", rpath.join(":"));
    let header_dir = found
        .include_dirs
        .iter()
        .find(|d| d.join("polymongo.h").exists())
        .unwrap_or_else(|| panic!("polymongo-sys: polymongo.h not found in {:?}", found.include_dirs));
    println!("cargo:include={}", header_dir.display());
    println!("cargo:linkage={}", found.linkage);
}
