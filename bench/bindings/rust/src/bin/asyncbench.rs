//! The async section's Rust rows: TASKS tokio tasks on a current-thread runtime, each looping
//! insert_one then find_one by that _id over DBS tenant databases, polymongo's async form
//! (`Db::to_async`) against the official `mongodb` driver; variants interleaved round by round,
//! median round kept. Client CPU is getrusage(RUSAGE_SELF) (every thread: the library's
//! executor included) per operation; loop lag is how late a 1 ms ticker task wakes (p99).
//!
//!     asyncbench URI [TASKS=80] [DBS=100] [SECONDS=3] [ROUNDS=3]
//!
//! Prints one JSON object per variant.
use std::rc::Rc;
use std::cell::{Cell, RefCell};
use std::error::Error;
use std::time::{Duration, Instant};

use mongodb::bson::doc as mdoc;

type Res<T> = Result<T, Box<dyn Error>>;

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

struct Round {
    ops_per_s: f64,
    cpu_us_per_op: f64,
    lag_p99_ms: f64,
}

fn names(variant: &str, dbs: usize) -> Vec<String> {
    (0..dbs).map(|i| format!("pmabr_{variant}_{}_{i}", std::process::id() % 100_000)).collect()
}

enum Target {
    Pm(Vec<polymongo::AsyncDb>),
    Official(Vec<mongodb::Collection<mongodb::bson::Document>>),
}

async fn round(target: Rc<Target>, tasks: usize, seconds: f64, seq: Rc<Cell<i64>>) -> Res<Round> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let count = Rc::new(Cell::new(0u64));
    let lags = Rc::new(RefCell::new(Vec::new()));
    let stop = Rc::new(Cell::new(false));
    let local = tokio::task::LocalSet::new();
    let ticker = {
        let (lags, stop) = (Rc::clone(&lags), Rc::clone(&stop));
        local.spawn_local(async move {
            while !stop.get() {
                let t = Instant::now();
                tokio::time::sleep(Duration::from_millis(1)).await;
                lags.borrow_mut().push(t.elapsed().as_secs_f64() * 1000.0 - 1.0);
            }
        })
    };
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (target, count, seq) = (Rc::clone(&target), Rc::clone(&count), Rc::clone(&seq));
        handles.push(local.spawn_local(async move {
            let mut k = 0usize;
            while Instant::now() < deadline {
                seq.set(seq.get() + 1);
                let id = seq.get();
                let d = mdoc! {"_id": id, "tenant": t as i64, "n": k as i64, "s": "x".repeat(32)};
                let found = match &*target {
                    Target::Pm(dbs) => {
                        let db = &dbs[(t + k) % dbs.len()];
                        db.insert_one(&d, None).await.map_err(|e| e.to_string())?;
                        db.find_one(mdoc! {"_id": id}, None).await.map_err(|e| e.to_string())?
                    }
                    Target::Official(colls) => {
                        let c = &colls[(t + k) % colls.len()];
                        c.insert_one(&d).await.map_err(|e| e.to_string())?;
                        c.find_one(mdoc! {"_id": id}).await.map_err(|e| e.to_string())?
                    }
                };
                if found.and_then(|f| f.get_i64("_id").ok()) != Some(id) {
                    return Err(format!("find_one did not return the document just inserted ({id})"));
                }
                count.set(count.get() + 2);
                k += 1;
            }
            Ok::<(), String>(())
        }));
    }
    local
        .run_until(async {
            for h in handles {
                h.await.map_err(|e| e.to_string())??;
            }
            Ok::<(), String>(())
        })
        .await?;
    let (cpu, wall) = (cpu_time() - cpu0, t0.elapsed());
    stop.set(true);
    local.run_until(ticker).await?;
    let mut l = lags.borrow().clone();
    l.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p99 = l.get((l.len() * 99 / 100).min(l.len().saturating_sub(1))).copied().unwrap_or(0.0);
    let n = count.get() as f64;
    Ok(Round { ops_per_s: n / wall.as_secs_f64(), cpu_us_per_op: cpu.as_secs_f64() * 1e6 / n, lag_p99_ms: p99 })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let uri = args.get(1).ok_or("usage: asyncbench URI [TASKS] [DBS] [SECONDS] [ROUNDS]")?;
    let arg = |i: usize, d: f64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (tasks, dbs, seconds, rounds) = (arg(2, 80.0) as usize, arg(3, 100.0) as usize, arg(4, 3.0), arg(5, 3.0) as usize);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let pm = polymongo::PolyMongo::new(&polymongo::Options::new(uri.as_str()).max_pool_size(16))?;
    let model = pm.model("docs", None)?;
    let official = rt.block_on(mongodb::Client::with_uri_str(format!(
        "{uri}{}maxPoolSize=16",
        if uri.contains('?') { "&" } else { "?" }
    )))?;
    let pm_dbs = names("pm", dbs).iter().map(|n| model.db(n)?.to_async()).collect::<Result<Vec<_>, _>>()?;
    let colls = names("official", dbs).iter().map(|n| official.database(n).collection("docs")).collect();
    let targets = [("polymongo_async", Rc::new(Target::Pm(pm_dbs))), ("official_async", Rc::new(Target::Official(colls)))];
    let seq = Rc::new(Cell::new((std::process::id() as i64) * 1_000_000_000));
    let mut results: Vec<Vec<Round>> = vec![Vec::new(), Vec::new()];
    for r in 0..rounds {
        for (k, (name, target)) in targets.iter().enumerate() {
            // A fresh one-document collection per database each round (creating databases is
            // not what is measured).
            for n in names(if k == 0 { "pm" } else { "official" }, dbs) {
                rt.block_on(async {
                    let c = official.database(&n).collection::<mongodb::bson::Document>("docs");
                    c.drop().await?;
                    c.insert_one(mdoc! {"_id": -1i64}).await.map(|_| ())
                })?;
            }
            let res = rt.block_on(round(Rc::clone(target), tasks, seconds, Rc::clone(&seq)))?;
            eprintln!("rust {name} round {}: {:.0} ops/s, {:.1} us CPU/op, lag p99 {:.2} ms", r + 1, res.ops_per_s, res.cpu_us_per_op, res.lag_p99_ms);
            results[k].push(res);
        }
    }
    for k in 0..2 {
        for n in names(if k == 0 { "pm" } else { "official" }, dbs) {
            rt.block_on(async { official.database(&n).drop().await })?;
        }
    }
    for (k, (name, _)) in targets.iter().enumerate() {
        let rs = &results[k];
        println!(
            "{{\"language\": \"rust\", \"variant\": \"{name}\", \"rounds\": {}, \"tasks\": {tasks}, \"databases\": {dbs}, \
             \"ops_per_s\": {:.1}, \"client_cpu_us_per_op\": {:.2}, \"loop_lag_p99_ms\": {:.3}}}",
            rs.len(),
            median(rs.iter().map(|r| r.ops_per_s).collect()),
            median(rs.iter().map(|r| r.cpu_us_per_op).collect()),
            median(rs.iter().map(|r| r.lag_p99_ms).collect())
        );
    }
    rt.block_on(async { official.shutdown().await });
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("asyncbench: {e}");
        std::process::exit(1);
    }
}
