//! A fleet of worker processes that share one 8-permit `PgSemaphore`.
//!
//! ```sh
//! scripts/with-postgres.sh cargo run -p fairsync-postgres --example fleet_limit
//! ```
//!
//! Starts 4 worker processes (this program again, in worker mode) with 12
//! tasks each. Every task repeatedly takes a permit, does 10 ms of "work"
//! (a call to a rate-limited downstream, say) and releases it. Each worker
//! reports when each of its jobs held its permit; the parent merges the
//! reports and prints the peak number of jobs running at once across the
//! whole fleet (never above 8) and each worker's share of the work.
//! `FLEET_WORKERS`, `FLEET_TASKS` and `FLEET_SECONDS` change the numbers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fairsync_postgres::Client;

const PERMITS: u32 = 8;
const JOB: Duration = Duration::from_millis(10);

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let Ok(url) = std::env::var("FAIRSYNC_PG_URL") else {
        eprintln!(
            "FAIRSYNC_PG_URL is not set. Run against a throwaway server with\n  \
             scripts/with-postgres.sh cargo run -p fairsync-postgres --example fleet_limit"
        );
        std::process::exit(2);
    };
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("worker") {
        let start: u64 = args[3].parse().unwrap();
        let end: u64 = args[4].parse().unwrap();
        let tasks: usize = args[5].parse().unwrap();
        worker(&url, &args[2], tasks, start, end);
        return;
    }

    let workers = env_or("FLEET_WORKERS", 4) as usize;
    let tasks = env_or("FLEET_TASKS", 12);
    let seconds = env_or("FLEET_SECONDS", 3);
    let name = format!("fleet-limit-{}", std::process::id());
    println!(
        "{workers} worker processes x {tasks} tasks share one {PERMITS}-permit PgSemaphore \
         for {seconds} s; each job holds a permit for {JOB:?}"
    );
    // Everyone starts at the same moment, after all workers have connected.
    let start = now_micros() + 1_500_000;
    let end = start + seconds * 1_000_000;
    let children: Vec<_> = (0..workers)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "worker",
                    &name,
                    &start.to_string(),
                    &end.to_string(),
                    &tasks.to_string(),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .expect("cannot start a worker")
        })
        .collect();

    // (time, +1 at a grant / -1 at a release) for every job of the fleet.
    let mut events: Vec<(u64, i32)> = Vec::new();
    let mut jobs = Vec::new();
    for mut child in children {
        let pid = child.id();
        let mut count = 0u64;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let mut parts = line.split_whitespace();
            if parts.next() == Some("job") {
                let from: u64 = parts.next().unwrap().parse().unwrap();
                let to: u64 = parts.next().unwrap().parse().unwrap();
                events.push((from, 1));
                events.push((to, -1));
                count += 1;
            }
        }
        let status = child.wait().unwrap();
        assert!(status.success(), "worker {pid} failed: {status}");
        jobs.push((pid, count));
    }

    // Releases sort before grants at the same instant: a permit handed on
    // is not two holders.
    events.sort();
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, delta) in &events {
        now += delta;
        peak = peak.max(now);
    }
    let total: u64 = jobs.iter().map(|(_, c)| c).sum();
    for (i, (pid, count)) in jobs.iter().enumerate() {
        println!(
            "worker {} (pid {pid}): {count} jobs, {:.1}% of the work",
            i + 1,
            100.0 * *count as f64 / total.max(1) as f64
        );
    }
    println!(
        "{total} jobs in {seconds} s; peak concurrency across the fleet: {peak} (limit {PERMITS})"
    );
    if peak > PERMITS as i32 {
        eprintln!("the limit was exceeded");
        std::process::exit(1);
    }
}

/// One worker process: `tasks` tasks on tokio, each taking permits until
/// the end time; prints the holding interval of every job.
fn worker(url: &str, name: &str, tasks: usize, start: u64, end: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::connect(url).await.expect("cannot connect");
        let limit = client.semaphore(name, PERMITS);
        tokio::time::sleep(Duration::from_micros(start.saturating_sub(now_micros()))).await;
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let limit = limit.clone();
                tokio::spawn(async move {
                    let mut lines = Vec::new();
                    while now_micros() < end {
                        let permit = limit.acquire().await.expect("acquire");
                        let from = now_micros();
                        tokio::time::sleep(JOB).await;
                        let to = now_micros();
                        permit.release().await.expect("release");
                        lines.push(format!("job {from} {to}"));
                    }
                    lines
                })
            })
            .collect();
        for h in handles {
            for line in h.await.unwrap() {
                println!("{line}");
            }
        }
    });
}
