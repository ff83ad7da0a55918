//! W6: fairness. 64 tasks on a tokio runtime with two worker threads hammer
//! one mutex until it has been taken a fixed number of times in total
//! (320,000 with nothing inside the critical section, 128,000 with
//! `tokio::task::yield_now().await` inside it). The tasks start together
//! from a barrier. Every task records how long each of its `lock()` calls
//! waited (the last one, which finds the total reached, included: for a task
//! that starved, it is the only one) and its place in the global order.
//!
//! Reported: the spread of acquisitions over the tasks (max/min) over the
//! whole run, and in the steady state, from the moment every task has held
//! the lock once (or the whole run, if a task never did). The warm-up before
//! it measures the scheduler more than the lock: a task that never has to
//! wait never yields, so it can take thousands of turns alone before the
//! runtime first polls the others. The wait-time percentiles are those of
//! the steady state, and so are min/max per task.
//!
//! Not a criterion benchmark: it prints a table and writes
//! `target/bench-results/fairness.csv`. Each cell is the median of five
//! runs. Under `cargo test` (no `--bench` flag) it runs one small round as a
//! smoke test.

// Benchmarks build with the current toolchain only; `rust-version` covers the library.
#![allow(clippy::incompatible_msrv)]

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{baseline, Args, AsyncMutex, Pause};

const TASKS: usize = 64;
const RUNS: usize = 5;

struct Scenario {
    name: &'static str,
    pause: Pause,
    total: u64,
}

/// Every acquisition of one task: the counter value it found (its place in
/// the global order) and how long its `lock()` waited, in nanoseconds.
type Acquisitions = Vec<(u64, u64)>;

/// One run.
struct Run {
    elapsed: Duration,
    total: u64,
    tasks: Vec<Acquisitions>,
}

/// A run's summary.
#[derive(Clone, Copy)]
struct Stats {
    elapsed_ms: f64,
    /// max/min acquisitions per task over the whole run.
    spread_all: f64,
    /// min, max and max/min acquisitions per task in the steady state.
    min: u64,
    max: u64,
    spread: f64,
    /// Waits in the steady state, µs.
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
}

fn run<M: AsyncMutex>(rt: &tokio::runtime::Runtime, pause: Pause, total: u64) -> Run {
    let mutex = Arc::new(M::new());
    let gate = Arc::new(tokio::sync::Barrier::new(TASKS));
    let capacity = 2 * total as usize / TASKS + 1;
    let (elapsed, tasks) = rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let mutex = Arc::clone(&mutex);
                let gate = Arc::clone(&gate);
                tokio::spawn(async move {
                    let mut acquisitions = Vec::with_capacity(capacity);
                    gate.wait().await;
                    let started = Instant::now();
                    loop {
                        let asked = Instant::now();
                        let (before, locked_at) = mutex.increment_timed(pause).await;
                        // Every wait counts, also the one that finds the total
                        // reached: for a task that starved, that is its only one.
                        acquisitions.push((before, (locked_at - asked).as_nanos() as u64));
                        if before >= total {
                            return (started, acquisitions);
                        }
                    }
                })
            })
            .collect();
        let mut results = Vec::with_capacity(TASKS);
        for handle in handles {
            results.push(handle.await.expect("task panicked"));
        }
        let start = results.iter().map(|(started, _)| *started).min().unwrap();
        let tasks: Vec<_> = results.into_iter().map(|(_, a)| a).collect();
        (start.elapsed(), tasks)
    });
    Run {
        elapsed,
        total,
        tasks,
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

fn ratio(max: u64, min: u64) -> f64 {
    if min == 0 {
        f64::INFINITY
    } else {
        max as f64 / min as f64
    }
}

/// Acquisitions per task with a place in `from..to` of the global order.
fn counts(run: &Run, from: u64, to: u64) -> Vec<u64> {
    run.tasks
        .iter()
        .map(|a| a.iter().filter(|(at, _)| (from..to).contains(at)).count() as u64)
        .collect()
}

fn summarize(run: Run) -> Stats {
    let all = counts(&run, 0, run.total);
    assert_eq!(all.iter().sum::<u64>(), run.total, "miscounted");
    // The steady state starts once every task has held the lock; if one
    // never did, the whole run is the steady state.
    let warm_up = run
        .tasks
        .iter()
        .map(|a| a.first().map_or(run.total, |(at, _)| *at))
        .max()
        .filter(|&start| start < run.total)
        .unwrap_or(0);
    let steady = counts(&run, warm_up, run.total);
    let mut waits: Vec<u64> = run
        .tasks
        .iter()
        .flatten()
        .filter(|(at, _)| *at >= warm_up)
        .map(|(_, wait)| *wait)
        .collect();
    waits.sort_unstable();
    let min = *steady.iter().min().unwrap();
    let max = *steady.iter().max().unwrap();
    Stats {
        elapsed_ms: run.elapsed.as_secs_f64() * 1e3,
        spread_all: ratio(*all.iter().max().unwrap(), *all.iter().min().unwrap()),
        min,
        max,
        spread: ratio(max, min),
        p50_us: percentile(&waits, 0.50) as f64 / 1e3,
        p99_us: percentile(&waits, 0.99) as f64 / 1e3,
        max_us: *waits.last().unwrap() as f64 / 1e3,
    }
}

/// The median of each field over the runs.
fn median(runs: &[Stats]) -> Stats {
    fn mid<T: Copy + PartialOrd>(runs: &[Stats], field: impl Fn(&Stats) -> T) -> T {
        let mut values: Vec<T> = runs.iter().map(field).collect();
        values.sort_by(|a, b| a.partial_cmp(b).unwrap());
        values[values.len() / 2]
    }
    Stats {
        elapsed_ms: mid(runs, |s| s.elapsed_ms),
        spread_all: mid(runs, |s| s.spread_all),
        min: mid(runs, |s| s.min),
        max: mid(runs, |s| s.max),
        spread: mid(runs, |s| s.spread),
        p50_us: mid(runs, |s| s.p50_us),
        p99_us: mid(runs, |s| s.p99_us),
        max_us: mid(runs, |s| s.max_us),
    }
}

fn measure<M: AsyncMutex>(rt: &tokio::runtime::Runtime, scenario: &Scenario, runs: usize) -> Stats {
    let stats: Vec<Stats> = (0..runs)
        .map(|_| summarize(run::<M>(rt, scenario.pause, scenario.total)))
        .collect();
    median(&stats)
}

fn main() {
    let args = Args::parse();
    if !args.selects("w6_mutex_fairness") {
        return;
    }
    let (scale, runs) = if args.bench { (1, RUNS) } else { (100, 1) };
    let scenarios = [
        Scenario {
            name: "no_await",
            pause: Pause::None,
            total: 320_000 / scale,
        },
        Scenario {
            name: "await",
            pause: Pause::Tokio,
            total: 128_000 / scale,
        },
    ];
    let rt = common::tokio_runtime();
    let mut csv = String::from(
        "scenario,peer,tasks,acquisitions,elapsed_ms,max_over_min_whole_run,min_per_task,max_per_task,max_over_min,wait_p50_us,wait_p99_us,wait_max_us\n",
    );
    println!(
        "w6_mutex_fairness: {TASKS} tasks, {} tokio workers, median of {runs} runs",
        common::WORKERS
    );
    for scenario in &scenarios {
        println!();
        println!(
            "{} ({} acquisitions in total)",
            scenario.name, scenario.total
        );
        println!(
            "{:<15} {:>8} {:>9} | {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}",
            "", "", "whole run", "steady", "state", "", "", "", ""
        );
        println!(
            "{:<15} {:>8} {:>9} | {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}",
            "peer",
            "time ms",
            "max/min",
            "min/task",
            "max/task",
            "max/min",
            "p50 µs",
            "p99 µs",
            "max µs"
        );
        let rows = [
            (
                "fairsync",
                measure::<fairsync::Mutex<u64>>(&rt, scenario, runs),
            ),
            (
                "tokio",
                measure::<tokio::sync::Mutex<u64>>(&rt, scenario, runs),
            ),
            (
                "async-lock",
                measure::<async_lock::Mutex<u64>>(&rt, scenario, runs),
            ),
            (
                "futures",
                measure::<futures::lock::Mutex<u64>>(&rt, scenario, runs),
            ),
            (
                "event-listener",
                measure::<baseline::Mutex<u64>>(&rt, scenario, runs),
            ),
        ];
        for (peer, s) in rows {
            println!(
                "{:<15} {:>8.1} {:>9.2} | {:>8} {:>8} {:>8.2} {:>9.1} {:>9.1} {:>9.1}",
                peer,
                s.elapsed_ms,
                s.spread_all,
                s.min,
                s.max,
                s.spread,
                s.p50_us,
                s.p99_us,
                s.max_us
            );
            writeln!(
                csv,
                "{},{},{},{},{:.3},{:.3},{},{},{:.3},{:.3},{:.3},{:.3}",
                scenario.name,
                peer,
                TASKS,
                scenario.total,
                s.elapsed_ms,
                s.spread_all,
                s.min,
                s.max,
                s.spread,
                s.p50_us,
                s.p99_us,
                s.max_us
            )
            .unwrap();
        }
    }
    if args.bench {
        let path = common::results_dir().join("fairness.csv");
        std::fs::write(&path, csv).expect("write fairness.csv");
        println!("\nwritten to {}", path.display());
    }
}
