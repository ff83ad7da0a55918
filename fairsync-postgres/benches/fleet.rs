//! fairsync-postgres against the naive way (a `pg_try_advisory_lock` loop
//! with a sleep), on a real server and real processes:
//!
//! 1. uncontended acquire + release latency, next to one `SELECT 1` round trip;
//! 2. hand-off latency from a releasing process to a waiting one (p50/p99);
//! 3. a 50-permit semaphore shared by 8 processes x 32 tasks: throughput,
//!    wait p50/p99, and each process's share.
//!
//! ```sh
//! scripts/with-postgres.sh cargo bench -p fairsync-postgres --bench fleet
//! ```
//!
//! Kept short (seconds per workload). Without `FAIRSYNC_PG_URL` it prints how
//! to run it and exits.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fairsync_postgres::Client;

/// The naive loop sleeps this long between attempts.
const NAIVE_SLEEP: Duration = Duration::from_millis(5);

fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The naive semaphore: the first free of `permits` slots, or none.
async fn naive_try(raw: &tokio_postgres::Client, key: i32, permits: i32) -> Option<i32> {
    raw.query_one("SELECT bench_naive_try($1, $2)", &[&key, &permits])
        .await
        .unwrap()
        .get(0)
}

async fn naive_acquire(raw: &tokio_postgres::Client, key: i32, permits: i32) -> i32 {
    loop {
        if let Some(slot) = naive_try(raw, key, permits).await {
            return slot;
        }
        tokio::time::sleep(NAIVE_SLEEP).await;
    }
}

async fn naive_release(raw: &tokio_postgres::Client, key: i32, slot: i32) {
    raw.execute("SELECT pg_advisory_unlock($1, $2)", &[&key, &slot])
        .await
        .unwrap();
}

fn main() {
    let Ok(url) = std::env::var("FAIRSYNC_PG_URL") else {
        println!(
            "FAIRSYNC_PG_URL is not set; run: \
             scripts/with-postgres.sh cargo bench -p fairsync-postgres --bench fleet"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Ok(role) = std::env::var("FAIRSYNC_BENCH_CHILD") {
        let args: Vec<String> = std::env::var("FAIRSYNC_BENCH_ARGS")
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        rt.block_on(child(&url, &role, &args));
        return;
    }
    rt.block_on(async {
        let raw = raw(&url).await;
        raw.batch_execute(
            "CREATE OR REPLACE FUNCTION bench_naive_try(k integer, n integer) RETURNS integer
             LANGUAGE plpgsql AS $$
             BEGIN
                 FOR i IN 1..n LOOP
                     IF pg_try_advisory_lock(k, i) THEN RETURN i; END IF;
                 END LOOP;
                 RETURN NULL;
             END $$;",
        )
        .await
        .unwrap();
        uncontended(&url, &raw).await;
        handoff().await;
        fleet().await;
    });
}

/// 1. One task, nobody else: acquire + release, again and again.
async fn uncontended(url: &str, raw: &tokio_postgres::Client) {
    const N: usize = 400;
    let client = Client::connect(url).await.unwrap();
    let tag = std::process::id();
    let lock = client.lock(&format!("bench-uncontended-{tag}"));
    let sem = client.semaphore(&format!("bench-uncontended-{tag}"), 50);
    // Warm up: names resolved, sessions open.
    lock.acquire().await.unwrap().release().await.unwrap();
    sem.acquire().await.unwrap().release().await.unwrap();
    let mut rows = Vec::new();
    for _ in 0..N {
        raw.simple_query("SELECT 1").await.unwrap(); // warm up the raw session too
    }
    for which in [
        "SELECT 1 (one round trip)",
        "PgLock",
        "PgSemaphore (50)",
        "naive lock",
    ] {
        let mut times = Vec::with_capacity(N);
        for _ in 0..N {
            let start = Instant::now();
            match which {
                "PgLock" => lock.acquire().await.unwrap().release().await.unwrap(),
                "PgSemaphore (50)" => sem.acquire().await.unwrap().release().await.unwrap(),
                "naive lock" => {
                    let slot = naive_acquire(raw, 1_000_000_001, 1).await;
                    naive_release(raw, 1_000_000_001, slot).await;
                }
                _ => {
                    raw.simple_query("SELECT 1").await.unwrap();
                }
            }
            times.push(start.elapsed().as_micros() as u64);
        }
        times.sort();
        rows.push(format!(
            "| {which} | {} | {} | {} |",
            pct(&times, 0.5),
            pct(&times, 0.99),
            times.iter().sum::<u64>() / N as u64
        ));
    }
    println!("\n### Uncontended acquire + release ({N} rounds, µs)\n");
    println!("| | p50 | p99 | mean |\n|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

/// Starts this binary as a child in `role`; returns its stdout lines.
fn spawn(role: &str, args: &[String]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .env("FAIRSYNC_BENCH_CHILD", role)
        .env("FAIRSYNC_BENCH_ARGS", args.join(" "))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn lines(child: std::process::Child) -> Vec<String> {
    let mut child = child;
    let out: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert!(child.wait().unwrap().success());
    out
}

/// 2. Two processes take turns: each holds for 5 ms while the other waits.
async fn handoff() {
    println!("\n### Hand-off from one process to a waiter in another (µs)\n");
    println!("| | p50 | p99 | hand-offs | same process again while the other waited |");
    println!("|---|---|---|---|---|");
    for kind in ["PgLock", "PgSemaphore (1)", "naive lock (5 ms sleep)"] {
        let name = format!("bench-handoff-{}-{}", std::process::id(), kind.len());
        let start = micros() + 1_000_000;
        let args: Vec<String> = vec![kind.replace(' ', "_"), name, start.to_string(), "60".into()];
        let kids: Vec<_> = (0..2).map(|_| spawn("handoff", &args)).collect();
        // (time, process, event)
        let mut events: Vec<(u64, usize, String)> = Vec::new();
        for (p, kid) in kids.into_iter().enumerate() {
            for line in lines(kid) {
                let mut it = line.split_whitespace();
                let ev = it.next().unwrap().to_owned();
                let t: u64 = it.next().unwrap().parse().unwrap();
                events.push((t, p, ev));
            }
        }
        events.sort();
        // A grant's hand-off latency: from the first release by the other
        // process after this one began to wait, to this grant.
        let mut waiting_since = [None::<u64>; 2];
        let mut missed = [None::<u64>; 2];
        let mut last_grant = None::<usize>;
        let (mut lat, mut barged) = (Vec::new(), 0);
        for (t, p, ev) in &events {
            match ev.as_str() {
                "wait" => {
                    waiting_since[*p] = Some(*t);
                    missed[*p] = None;
                }
                "release" => {
                    let other = 1 - p;
                    if waiting_since[other].is_some() && missed[other].is_none() {
                        missed[other] = Some(*t);
                    }
                }
                "grant" => {
                    if let Some(from) = missed[*p] {
                        lat.push(t - from);
                    }
                    let other = 1 - p;
                    if last_grant == Some(*p) && waiting_since[other].is_some() {
                        barged += 1;
                    }
                    last_grant = Some(*p);
                    waiting_since[*p] = None;
                    missed[*p] = None;
                }
                _ => {}
            }
        }
        lat.sort();
        println!(
            "| {kind} | {} | {} | {} | {barged} |",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            lat.len()
        );
    }
}

/// 3. 8 processes x 32 tasks, one 50-permit semaphore, 10 ms jobs, 3 s.
async fn fleet() {
    println!("\n### 50-permit semaphore, 8 processes x 32 tasks, 10 ms jobs, 3 s\n");
    println!("| | jobs/s | wait p50 (ms) | wait p99 (ms) | max wait (ms) | smallest / largest process share | sessions |");
    println!("|---|---|---|---|---|---|---|");
    for kind in ["PgSemaphore", "naive (5 ms sleep)"] {
        let name = format!("bench-fleet-{}-{}", std::process::id(), kind.len());
        let start = micros() + 2_000_000;
        let end = start + 3_000_000;
        let args: Vec<String> = vec![
            kind.replace(' ', "_"),
            name,
            start.to_string(),
            end.to_string(),
        ];
        let kids: Vec<_> = (0..8).map(|_| spawn("fleet", &args)).collect();
        let mut waits = Vec::new();
        let mut shares = Vec::new();
        for kid in kids {
            let mut n = 0u64;
            for line in lines(kid) {
                if let Some(w) = line.strip_prefix("wait ") {
                    waits.push(w.parse::<u64>().unwrap());
                    n += 1;
                }
            }
            shares.push(n);
        }
        waits.sort();
        let total = waits.len() as u64;
        let sessions = if kind == "PgSemaphore" {
            "2 per process"
        } else {
            "32 per process"
        };
        println!(
            "| {kind} | {} | {:.1} | {:.1} | {:.1} | {:.1}% / {:.1}% | {sessions} |",
            total / 3,
            pct(&waits, 0.5) as f64 / 1000.0,
            pct(&waits, 0.99) as f64 / 1000.0,
            waits.last().copied().unwrap_or(0) as f64 / 1000.0,
            100.0 * *shares.iter().min().unwrap() as f64 / total.max(1) as f64,
            100.0 * *shares.iter().max().unwrap() as f64 / total.max(1) as f64,
        );
    }
}

/// Notes the grant, holds for 5 ms, notes the release.
async fn hold(out: &mut Vec<String>) {
    out.push(format!("grant {}", micros()));
    tokio::time::sleep(Duration::from_millis(5)).await;
    out.push(format!("release {}", micros()));
}

async fn child(url: &str, role: &str, args: &[String]) {
    let kind = args[0].as_str();
    let name = args[1].clone();
    let start: u64 = args[2].parse().unwrap();
    // The naive loop's advisory key: the same in every child of one workload.
    let naive_key = 1_000_000_000 + (name.len() as i32) * 7 + (start % 100_000) as i32;
    let client = Client::connect(url).await.unwrap();
    tokio::time::sleep(Duration::from_micros(start.saturating_sub(micros()))).await;
    match role {
        "handoff" => {
            let rounds: usize = args[3].parse().unwrap();
            let raw = raw(url).await;
            let lock = client.lock(&name);
            let sem = client.semaphore(&name, 1);
            let mut out = Vec::new();
            for _ in 0..rounds {
                out.push(format!("wait {}", micros()));
                // Each arm: acquire, note the grant, hold 5 ms, note the
                // release, release.
                match kind {
                    "PgLock" => {
                        let g = lock.acquire().await.unwrap();
                        hold(&mut out).await;
                        g.release().await.unwrap();
                    }
                    "PgSemaphore_(1)" => {
                        let p = sem.acquire().await.unwrap();
                        hold(&mut out).await;
                        p.release().await.unwrap();
                    }
                    _ => {
                        let slot = naive_acquire(&raw, naive_key, 1).await;
                        hold(&mut out).await;
                        naive_release(&raw, naive_key, slot).await;
                    }
                }
            }
            for line in out {
                println!("{line}");
            }
        }
        "fleet" => {
            let end: u64 = args[3].parse().unwrap();
            let sem = client.semaphore(&name, 50);
            let naive = kind != "PgSemaphore";
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let (sem, url) = (sem.clone(), url.to_owned());
                    tokio::spawn(async move {
                        let raw = if naive { Some(raw(&url).await) } else { None };
                        let mut waits = Vec::new();
                        while micros() < end {
                            let asked = micros();
                            if let Some(raw) = &raw {
                                let slot = naive_acquire(raw, naive_key, 50).await;
                                waits.push(micros() - asked);
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                naive_release(raw, naive_key, slot).await;
                            } else {
                                let p = sem.acquire().await.unwrap();
                                waits.push(micros() - asked);
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                p.release().await.unwrap();
                            }
                        }
                        waits
                    })
                })
                .collect();
            for t in tasks {
                for w in t.await.unwrap() {
                    println!("wait {w}");
                }
            }
        }
        _ => panic!("unknown role"),
    }
}
