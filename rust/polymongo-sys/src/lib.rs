//! Raw FFI bindings to libpolymongo. Everything here is `unsafe` and follows the C header's
//! contract; use the `polymongo` crate for a safe API.
//!
//! `src/bindings.rs` is bindgen's output for this crate's header (`polymongo/include/polymongo.h`),
//! pre-generated so that building needs no libclang: `cargo run -p polymongo-gen-bindings`
//! regenerates it, and the test `rust.bindings_match_header` fails when it differs from what
//! bindgen makes of the header. Its compile-time layout assertions (`pm_error`, `pm_buf`) are
//! for 64-bit Linux, where they were generated.
//!
//! The version macros (`PM_VERSION_*`) are left out of the pre-generated file: `build.rs` reads
//! them from `polymongo/version.h` of the library it links (pkg-config's or the bundled build's)
//! and they are included from `$OUT_DIR/version.rs`, with [`LINKAGE`] (how it was found).
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]
#![allow(clippy::all)]

include!("bindings.rs");
include!(concat!(env!("OUT_DIR"), "/version.rs"));

/// `PM_JSON` is `((size_t)-1)`, a cast bindgen does not evaluate: give it by hand. Passing it as
/// a document's length means the pointer is a NUL-terminated Extended JSON string.
pub const PM_JSON: usize = usize::MAX;

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn error_struct_is_512_bytes() {
        assert_eq!(std::mem::size_of::<pm_error>(), 512);
        assert_eq!(PM_ERROR_MESSAGE_SIZE as usize, 504);
    }

    #[test]
    fn loaded_library_matches_header() {
        let v = unsafe { CStr::from_ptr(pm_version()) }.to_str().unwrap();
        assert_eq!(v, PM_VERSION_STRING);
        assert_eq!(unsafe { pm_version_num() }, PM_VERSION_NUM);
        assert_eq!(unsafe { pm_check_version(PM_VERSION_MAJOR, PM_VERSION_MINOR, PM_VERSION_PATCH) }, 1);
        // Another minor (before 1.0) or major is refused.
        assert_eq!(unsafe { pm_check_version(PM_VERSION_MAJOR, PM_VERSION_MINOR + 1, 0) }, 0);
        assert_eq!(unsafe { pm_check_version(PM_VERSION_MAJOR + 1, PM_VERSION_MINOR, 0) }, 0);
    }

    #[test]
    fn code_names() {
        let name = unsafe { CStr::from_ptr(pm_code_name(PM_EDUPKEY)) };
        assert_eq!(name.to_str().unwrap(), "PM_EDUPKEY");
    }
}
