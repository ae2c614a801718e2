//! Client CPU per operation: the polymongo crate against the official `mongodb` driver (async
//! API on a current-thread tokio runtime).
//!
//!     bindbench-rust URI OPS [ROUNDS]
//!
//! One thread, one fresh collection (dropped first), small documents (~100 bytes: an integer
//! _id, a tenant string, an int, a 32-character string). Each operation is one insert_one or
//! one find_one by _id, alternating, so OPS = 2 x documents. Each round drops the collection,
//! warms up (WARMUP_OPS operations), then times OPS operations, measuring process CPU time
//! (user + sys of every thread: getrusage(RUSAGE_SELF)) and wall time over the timed loop only.
//! Every find must return the document just inserted and the final count must equal the number
//! inserted, so errors cannot be measured as speed. The variants alternate round by round; the
//! median round of each is printed as one JSON object per line.
//! BINDBENCH_VARIANT=polymongo (or official) runs that variant alone, for profiling.
use std::error::Error;
use std::time::{Duration, Instant};

use mongodb::bson::{doc as mdoc, Bson};
use serde::{Deserialize, Serialize};

const DB_NAME: &str = "pm_bindbench_rust";
const COLL: &str = "docs";
const WARMUP_OPS: usize = 200;

type Res<T> = Result<T, Box<dyn Error>>;

/// The benchmark document (93 bytes of BSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Doc {
    #[serde(rename = "_id")]
    id: i32,
    tenant: String,
    qty: i32,
    payload: String,
}

fn make_doc(i: usize) -> Doc {
    Doc {
        id: i as i32,
        tenant: format!("tenant_{:04}", i % 1000),
        qty: (i * 7 % 100_000) as i32,
        payload: format!("{:032x}", (i as u64) * 2_654_435_761),
    }
}

fn make_docs(from: usize, n: usize) -> Vec<Doc> {
    (from..from + n).map(make_doc).collect()
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn same_id(id: &Bson, want: i32) -> bool {
    match id {
        Bson::Int32(v) => *v == want,
        Bson::Int64(v) => *v == want as i64,
        _ => false,
    }
}

fn expect_count(n: u64, ops: usize) -> Res<()> {
    let want = (WARMUP_OPS / 2 + ops / 2) as u64;
    if n != want {
        return Err(format!("count: {n} documents, want {want}").into());
    }
    Ok(())
}

// ---- polymongo (synchronous) -------------------------------------------------------------------

fn pm_ops(db: &polymongo::Db<Doc>, docs: &[Doc]) -> Res<()> {
    for d in docs {
        let res = db.insert_one(d, None)?;
        let ids = res.inserted_ids();
        if res.inserted_count() != 1 || !ids.get(&0).is_some_and(|id| same_id(id, d.id)) {
            return Err(format!("insert {}: result {:?}", d.id, res.to_document()).into());
        }
        match db.find_one(polymongo::doc! {"_id": d.id}, None)? {
            Some(got) if got == *d => {}
            other => return Err(format!("find {}: got {other:?}, want {d:?}", d.id).into()),
        }
    }
    Ok(())
}

fn pm_round(db: &polymongo::Db<Doc>, ops: usize) -> Res<(Duration, Duration)> {
    db.drop_collection()?;
    pm_ops(db, &make_docs(1_000_000, WARMUP_OPS / 2))?;
    let docs = make_docs(0, ops / 2); // made before the clock starts
    let (c0, w0) = (cpu_time(), Instant::now());
    pm_ops(db, &docs)?;
    let (cpu, wall) = (cpu_time() - c0, w0.elapsed());
    expect_count(db.count_documents(polymongo::doc! {}, None)?, ops)?;
    Ok((cpu, wall))
}

// ---- the official driver (async, current-thread runtime) ---------------------------------------

async fn official_ops(coll: &mongodb::Collection<Doc>, docs: &[Doc]) -> Res<()> {
    for d in docs {
        let res = coll.insert_one(d).await?;
        if !same_id(&res.inserted_id, d.id) {
            return Err(format!("insert {}: inserted id {:?}", d.id, res.inserted_id).into());
        }
        match coll.find_one(mdoc! {"_id": d.id}).await? {
            Some(got) if got == *d => {}
            other => return Err(format!("find {}: got {other:?}, want {d:?}", d.id).into()),
        }
    }
    Ok(())
}

async fn official_round(coll: &mongodb::Collection<Doc>, ops: usize) -> Res<(Duration, Duration)> {
    coll.drop().await?;
    official_ops(coll, &make_docs(1_000_000, WARMUP_OPS / 2)).await?;
    let docs = make_docs(0, ops / 2); // made before the clock starts
    let (c0, w0) = (cpu_time(), Instant::now());
    official_ops(coll, &docs).await?;
    let (cpu, wall) = (cpu_time() - c0, w0.elapsed());
    expect_count(coll.count_documents(mdoc! {}).await?, ops)?;
    Ok((cpu, wall))
}

// ---- driver ------------------------------------------------------------------------------------

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 || args.len() > 4 {
        return Err(format!("usage: {} URI OPS [ROUNDS]", args[0]).into());
    }
    let uri = &args[1];
    let ops: usize = args[2].parse().map_err(|_| format!("OPS must be a number, not {:?}", args[2]))?;
    if ops < 2 || ops % 2 != 0 {
        return Err("OPS must be a positive even number".into());
    }
    let rounds: usize = match args.get(3) {
        Some(r) => r.parse().map_err(|_| format!("ROUNDS must be a number, not {r:?}"))?,
        None => 3,
    };

    let pm = polymongo::PolyMongo::new(&polymongo::Options::new(uri.as_str()))?;
    let pm_db = pm.model(COLL, None)?.db(DB_NAME)?.typed::<Doc>();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let official = rt.block_on(mongodb::Client::with_uri_str(uri))?;
    let coll = official.database(DB_NAME).collection::<Doc>(COLL);

    let mut names = vec!["polymongo", "official"];
    if let Ok(only) = std::env::var("BINDBENCH_VARIANT") {
        names.retain(|n| *n == only);
    }
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>)> = vec![(vec![], vec![]); names.len()];
    for r in 0..rounds {
        let mut order: Vec<usize> = (0..names.len()).collect();
        if r % 2 == 1 {
            order.reverse();
        }
        for k in order {
            let (cpu, wall) = match names[k] {
                "polymongo" => pm_round(&pm_db, ops),
                _ => rt.block_on(official_round(&coll, ops)),
            }
            .map_err(|e| format!("{}: {e}", names[k]))?;
            eprintln!(
                "rust {} round {}: {:.1} us CPU/op, {:.0} ops/s",
                names[k],
                r + 1,
                cpu.as_secs_f64() * 1e6 / ops as f64,
                ops as f64 / wall.as_secs_f64()
            );
            samples[k].0.push(cpu);
            samples[k].1.push(wall);
        }
    }
    pm_db.drop_collection()?;
    rt.block_on(async { official.shutdown().await });
    for (k, name) in names.iter().enumerate() {
        let (cpu, wall) = (median(&samples[k].0), median(&samples[k].1));
        let round2 = |x: f64| (x * 100.0).round() / 100.0;
        println!(
            "{{\"language\": \"rust\", \"variant\": \"{name}\", \"client_cpu_us_per_op\": {}, \
             \"ops_per_s\": {}, \"ops\": {ops}}}",
            round2(cpu.as_secs_f64() * 1e6 / ops as f64),
            round2(ops as f64 / wall.as_secs_f64())
        );
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bindbench-rust: {e}");
        std::process::exit(1);
    }
}
