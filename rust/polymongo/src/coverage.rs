//! The header-coverage check: every function the C headers declare is called somewhere in
//! this crate's sources, or listed in [`DELIBERATELY_UNBOUND`] with the reason. A function
//! added to the header fails this test until the binding catches up (or says why not).
#![cfg(test)]

/// Header functions with no safe wrapper, and why.
const DELIBERATELY_UNBOUND: &[(&str, &str)] = &[
    (
        "pm_last_error",
        "errors come through the pm_error out-parameter of each call; the thread-local copy adds nothing",
    ),
    // The async form completes through the callback, which wakes the task's Waker: no runtime
    // needs the completion queue's file descriptor (an event loop's way in).
    ("pm_cq_new", "aio completes through the callback (wakes the Waker); no completion queue"),
    ("pm_cq_fd", "aio completes through the callback (wakes the Waker); no completion queue"),
    ("pm_cq_poll", "aio completes through the callback (wakes the Waker); no completion queue"),
    ("pm_cq_free", "aio completes through the callback (wakes the Waker); no completion queue"),
    ("pm_async_stats", "the executor's bounds are a diagnostic of the C API"),
];

#[cfg(test)]
mod tests {
    use super::DELIBERATELY_UNBOUND;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// `pm_*` names declared with PM_EXTERN in the umbrella header and its module headers.
    fn declared(include: &Path) -> BTreeSet<String> {
        let mut headers = vec![include.join("polymongo.h")];
        let mut modules: Vec<PathBuf> = std::fs::read_dir(include.join("polymongo"))
            .expect("the polymongo/ header directory")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "h"))
            .collect();
        modules.sort();
        headers.extend(modules);
        let mut names = BTreeSet::new();
        for h in headers {
            let text = std::fs::read_to_string(&h).unwrap_or_else(|e| panic!("{}: {e}", h.display()));
            // Each declaration: PM_EXTERN <type> <name>(  (possibly over several lines).
            for decl in text.split("PM_EXTERN").skip(1) {
                let head = decl.split('(').next().unwrap_or("");
                if let Some(name) =
                    head.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).rfind(|w| !w.is_empty())
                {
                    if name.starts_with("pm_") {
                        names.insert(name.to_string());
                    }
                }
            }
        }
        names
    }

    /// `pm_*` identifiers in this crate's code (comments and unit tests stripped): calls
    /// through `sys::`, and the free functions named in `handle.rs`'s `raw_handle!` table.
    fn used() -> BTreeSet<String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut names = BTreeSet::new();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "rs") || path.ends_with("coverage.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap(); // the unit tests do not count
            for line in code.lines() {
                let line = line.split("//").next().unwrap();
                let mut rest = line;
                while let Some(i) = rest.find("pm_") {
                    let before = rest[..i].chars().next_back();
                    let name: String =
                        rest[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        names.insert(name.clone());
                    }
                    rest = &rest[i + name.len()..];
                }
            }
        }
        names
    }

    #[test]
    fn every_header_function_is_bound() {
        // Set by build.rs from polymongo-sys (`cargo:include`), which always reports it.
        let include = PathBuf::from(env!("POLYMONGO_HEADER_DIR"));
        let declared = declared(&include);
        assert!(declared.len() >= 30, "only {} functions found in {}", declared.len(), include.display());
        assert!(declared.contains("pm_wrapper_new") && declared.contains("pm_db_insert_one"));
        let used = used();
        let unbound: BTreeSet<&str> = DELIBERATELY_UNBOUND.iter().map(|(n, _)| *n).collect();
        let missing: Vec<&String> =
            declared.iter().filter(|n| !used.contains(*n) && !unbound.contains(n.as_str())).collect();
        assert!(
            missing.is_empty(),
            "C functions without a Rust binding (bind them or list them in DELIBERATELY_UNBOUND): {missing:?}"
        );
        for name in unbound {
            assert!(declared.contains(name), "{name} is listed as unbound but is not in the header any more");
            assert!(!used.contains(name), "{name} is listed as unbound but is bound");
        }
        println!(
            "{} header functions: {} bound, {} deliberately not",
            declared.len(),
            declared.len() - DELIBERATELY_UNBOUND.len(),
            DELIBERATELY_UNBOUND.len()
        );
    }
}
