//! Shared by the integration tests: the real test server's URI, unique database names, an
//! independent checker, and visible skips.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use polymongo::{doc, Options, PolyMongo};

/// The server under test: `PM_TEST_URI`, else the URI file the CTest fixture `ferretdb` wrote
/// into `$PM_TEST_SERVER_DIR/uri`. There is no mock: without a server the tests fail.
pub fn server_uri() -> String {
    if let Ok(uri) = std::env::var("PM_TEST_URI") {
        if !uri.is_empty() {
            return uri;
        }
    }
    let dir = std::env::var("PM_TEST_SERVER_DIR")
        .expect("no test server: set PM_TEST_URI, or run through ctest (PM_TEST_SERVER_DIR)");
    let uri = std::fs::read_to_string(format!("{dir}/uri"))
        .unwrap_or_else(|e| panic!("cannot read {dir}/uri (is the ferretdb fixture running?): {e}"));
    uri.trim().to_string()
}

/// The server URI with extra URI options, e.g. "waitQueueTimeoutMS=250".
pub fn uri_with(opts: &str) -> String {
    let uri = server_uri();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{opts}")
}

/// A database name no other test (or earlier run) uses: prefix_<time>_<pid>_<n>.
pub fn unique_db(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() % 100_000_000;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("rs_{prefix}_{ms}_{}_{n}", std::process::id() % 100_000)
}

/// The port of the server under test (the first host of its URI).
pub fn server_port() -> u16 {
    let uri = server_uri();
    let hosts = uri.split("//").nth(1).unwrap_or("").split(['/', '?']).next().unwrap_or("");
    let first = hosts.split(',').next().unwrap_or("");
    first.rsplit_once(':').map_or(27017, |(_, p)| p.parse().expect("a port number"))
}

/// ESTABLISHED TCP connections of this process to `port`, from /proc (the OS's view).
pub fn sockets_to_port(port: u16) -> usize {
    let mut inodes = std::collections::HashSet::new();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.insert(inode.to_string());
            }
        }
    }
    let mut n = 0;
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let remote_port = f[2].rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if f[3] == "01" && remote_port == Some(port) && inodes.contains(f[9]) {
                n += 1;
            }
        }
    }
    n
}

pub fn options() -> Options {
    Options::new(server_uri()).default_db("pm_default")
}

pub fn wrapper() -> PolyMongo {
    PolyMongo::new(&options()).expect("wrapper")
}

/// Counts documents through a separate wrapper (its own pool), as an independent view.
pub fn count(db: &str, collection: &str) -> u64 {
    let pm = wrapper();
    let d = pm.model(collection, None).unwrap().db(db).unwrap();
    d.count_documents(doc! {}, None).unwrap()
}

/// Names of the collection's indexes, through a separate wrapper.
pub fn index_names(db: &str, collection: &str) -> Vec<String> {
    let pm = wrapper();
    let d = pm.model(collection, None).unwrap().db(db).unwrap();
    let Ok(reply) = d.run_command(doc! {"listIndexes": collection}) else {
        return Vec::new(); // no collection yet (NamespaceNotFound)
    };
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch"));
    match batch {
        Ok(batch) => {
            batch.iter().filter_map(|i| i.as_document()?.get_str("name").ok().map(String::from)).collect()
        }
        Err(_) => Vec::new(), // no collection yet
    }
}

/// Reports the calling test as skipped; the test should return right after. libtest has no
/// run-time skip, so cargo's summary still counts the test as passed: the line
/// `SKIPPED: <test>: <reason>` is what says otherwise. It goes straight to the process's
/// stderr, not through `println!`/`eprintln!`, which libtest captures and shows only for
/// failing tests: a plain `cargo test` prints it (next to the test's `ok`) without
/// --nocapture, and under CTest, whose output holds stdout and stderr, it matches
/// SKIP_REGULAR_EXPRESSION "SKIPPED:".
pub fn skip(reason: impl std::fmt::Display) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    let line = format!("SKIPPED: {test}: {reason}\n");
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}

/// The calling thread's kernel id (Linux: from /proc/thread-self, i.e. `<pid>/task/<tid>`).
pub fn current_thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse().ok()).expect("a thread id")
}

/// Whether thread `tid` of this process is parked in a long wait: asleep (state S) in two
/// readings 20 ms apart with no voluntary context switch between them (a thread that only met
/// a briefly held lock would have woken up and switched again).
pub fn thread_is_parked(tid: u32) -> bool {
    let read = || -> Option<(char, u64)> {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        // pid (comm) state ...: comm may hold spaces and parentheses; the state follows the last ')'.
        let state = stat[stat.rfind(')')? + 1..].trim_start().chars().next()?;
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
        let switches = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())?;
        Some((state, switches))
    };
    let Some((first, before)) = read() else { return false };
    std::thread::sleep(std::time::Duration::from_millis(20));
    let Some((second, after)) = read() else { return false };
    first == 'S' && second == 'S' && before == after
}

/// The second test server ("another cluster"): `PM_TEST_URI2`, else `$PM_TEST_SERVER2_DIR/uri`;
/// `None` when the run has no second server.
pub fn second_uri() -> Option<String> {
    if let Ok(uri) = std::env::var("PM_TEST_URI2") {
        if !uri.is_empty() {
            return Some(uri);
        }
    }
    let dir = std::env::var("PM_TEST_SERVER2_DIR").ok()?;
    std::fs::read_to_string(format!("{dir}/uri")).ok().map(|u| u.trim().to_string())
}

/// Counts documents on a given server, through a separate wrapper.
pub fn count_on(uri: &str, db: &str, collection: &str) -> u64 {
    let pm = PolyMongo::new(&Options::new(uri).default_db("pm_default")).unwrap();
    let d = pm.model(collection, None).unwrap().db(db).unwrap();
    d.count_documents(doc! {}, None).unwrap()
}

/// Polls `cond` every 10 ms for up to `ms`.
pub fn wait_until(ms: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    cond()
}

/// The server with transactions (SecantusDB, a replica set): `PM_TEST_TXN_URI`, else the URI
/// file in `$PM_TEST_TXN_DIR` or `$(dirname $PM_TEST_SERVER_DIR)/server-txn`; `None` without one.
pub fn txn_uri() -> Option<String> {
    if let Ok(uri) = std::env::var("PM_TEST_TXN_URI") {
        if !uri.is_empty() {
            return Some(uri);
        }
    }
    let dir = match std::env::var("PM_TEST_TXN_DIR") {
        Ok(dir) if !dir.is_empty() => std::path::PathBuf::from(dir),
        _ => std::path::Path::new(&std::env::var("PM_TEST_SERVER_DIR").ok()?).parent()?.join("server-txn"),
    };
    let uri = std::fs::read_to_string(dir.join("uri")).ok()?;
    Some(uri.trim().to_string()).filter(|u| !u.is_empty())
}

/// What a feature test's body returns when its server refused the feature
/// (`on_server_with_feature`), after checking that the refusal reached the caller correctly
/// (the right error kind, nothing written): the error's text.
pub struct Refused(pub String);

/// For features the main server lacks (FerretDB: validators, arrayFilters, findAndModify
/// projections, Decimal128). No test is skipped on every server of the suite: `body(uri)` runs
/// on the main server; when it returns `Err(Refused)`, the same body runs on the transaction
/// server (SecantusDB, which has these features), where it must pass. It skips, visibly, only
/// when the suite has no transaction server.
pub fn on_server_with_feature(feature: &str, body: impl Fn(&str) -> Result<(), Refused>) {
    let Err(Refused(why)) = body(&server_uri()) else {
        return; // the main server has it: the body's checks ran there
    };
    let Some(uri) = txn_uri() else {
        skip(format!(
            "the main server lacks {feature} ({why}) and the suite has no server that has it \
             (SecantusDB did not start; set PM_TEST_TXN_URI)"
        ));
        return;
    };
    if let Err(Refused(again)) = body(&uri) {
        panic!("the transaction server refused {feature} too: {again}");
    }
    // Straight to stderr, like skip(): libtest would hide a passing test's println!.
    use std::io::Write;
    let line = format!("the main server refused {feature} ({why}); verified on the transaction server\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
