//! The same async code on four executors.
//!
//! `worker_pool` uses only `fairsync` and `std` futures: no runtime API. It
//! runs on a tokio runtime, on smol, on async-std and on `futures::executor` without a
//! change, and produces the same result on each.
//!
//! ```text
//! cargo run --example swap_runtimes
//! ```

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use fairsync::{Mutex, Semaphore};

const JOBS: u64 = 24;
const LIMIT: usize = 3;

/// What one run of the pool produced.
#[derive(Debug, PartialEq, Eq)]
struct Report {
    /// Job ids in the order they were granted a permit.
    grant_order: Vec<u64>,
    /// Sum of all job results.
    checksum: u64,
    /// Most jobs that held a permit at the same time.
    peak: usize,
}

/// Runs `jobs` jobs concurrently, at most `limit` at a time, and collects
/// their results behind a `Mutex`.
async fn worker_pool(jobs: u64, limit: usize) -> Report {
    let sem = Semaphore::new(limit);
    let log = Mutex::new((Vec::new(), 0u64));
    let in_flight = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);

    let (sem, log, in_flight, peak) = (&sem, &log, &in_flight, &peak);
    let work = (0..jobs).map(|job| async move {
        let _permit = sem.acquire().await;
        log.lock().await.0.push(job);
        let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        peak.fetch_max(now, Ordering::Relaxed);

        // Hold the permit across a suspension point, as real work would.
        yield_now().await;
        let result = collatz_steps(job + 1);

        in_flight.fetch_sub(1, Ordering::Relaxed);
        log.lock().await.1 += result;
        // `_permit` is dropped here: the permit goes to the oldest waiter.
    });
    futures::future::join_all(work).await;

    let (grant_order, checksum) = log.lock().await.clone();
    Report {
        grant_order,
        checksum,
        peak: peak.load(Ordering::Relaxed),
    }
}

/// Some deterministic work for a job.
fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n != 1 {
        n = if n % 2 == 1 { 3 * n + 1 } else { n / 2 };
        steps += 1;
    }
    steps
}

/// Returns `Pending` once, after asking to be polled again: a runtime-agnostic
/// `yield_now`.
fn yield_now() -> impl Future<Output = ()> {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false)
}

const USAGE: &str = "\
Usage: swap_runtimes

Runs one worker pool on tokio, smol, async-std and futures::executor and
checks that all four produce the same report. Takes no options.";

fn main() -> ExitCode {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        eprintln!("error: unknown argument `{arg}`\n\n{USAGE}");
        return ExitCode::from(2);
    }

    let on_tokio = tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("failed to build the tokio runtime")
        .block_on(worker_pool(JOBS, LIMIT));
    let on_smol = smol::block_on(worker_pool(JOBS, LIMIT));
    let on_async_std = async_std::task::block_on(worker_pool(JOBS, LIMIT));
    let on_futures = futures::executor::block_on(worker_pool(JOBS, LIMIT));

    let runs = [
        ("tokio", &on_tokio),
        ("smol", &on_smol),
        ("async-std", &on_async_std),
        ("futures::executor", &on_futures),
    ];
    for (name, report) in runs {
        println!(
            "{name:<18} checksum {}, peak {} of {LIMIT}, grant order {:?}",
            report.checksum, report.peak, report.grant_order
        );
    }

    let mut ok = true;
    for (name, report) in runs {
        if report.peak > LIMIT {
            eprintln!("error: {name}: {} jobs held a permit at once", report.peak);
            ok = false;
        }
        if *report != on_tokio {
            eprintln!("error: {name} produced a different report than tokio");
            ok = false;
        }
    }
    if ok {
        println!("ok: identical results on all four executors");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
