//! Bound the number of requests in flight with a `Semaphore`.
//!
//! Many simulated requests run as tasks on a multi-threaded tokio runtime.
//! Each one waits for a permit, "does I/O" (sleeps a few milliseconds) and
//! drops the permit. The program tracks how many requests are in flight at
//! once and checks that the peak never exceeds the limit.
//!
//! ```text
//! cargo run --example bounded_requests
//! cargo run --example bounded_requests -- --requests 1000 --limit 16
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fairsync::Semaphore;

const USAGE: &str = "\
Usage: bounded_requests [--requests N] [--limit N]

Runs N simulated requests on a tokio runtime, at most `limit` at a time.

Options:
  --requests N   number of requests to run (default 200)
  --limit N      maximum number of requests in flight (default 8)
  -h, --help     print this help";

struct Config {
    requests: usize,
    limit: usize,
}

/// Parses `std::env::args` by hand. `Ok(None)` means `--help` was given.
fn parse_args() -> Result<Option<Config>, String> {
    let mut config = Config {
        requests: 200,
        limit: 8,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let slot = match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--requests" => &mut config.requests,
            "--limit" => &mut config.limit,
            _ => return Err(format!("unknown argument `{name}`")),
        };
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(format!("`{name}` needs a value")),
        };
        *slot = value
            .parse()
            .map_err(|_| format!("`{name}` expects a non-negative integer, got `{value}`"))?;
    }
    if config.limit == 0 {
        return Err("`--limit` must be at least 1".to_owned());
    }
    if config.limit > Semaphore::MAX_PERMITS {
        return Err(format!(
            "`--limit` must be at most {}",
            Semaphore::MAX_PERMITS
        ));
    }
    Ok(Some(config))
}

/// Counters shared by all requests.
#[derive(Default)]
struct Stats {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    done: AtomicUsize,
}

/// One simulated request: wait for a permit, do some "I/O", release.
async fn request(id: usize, total: usize, sem: &Semaphore, stats: &Stats) {
    // Waits in FIFO order once all permits are taken. If this future were
    // dropped here (for example by a timeout), nothing would leak.
    let permit = sem.acquire().await;

    let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    stats.peak.fetch_max(now, Ordering::SeqCst);

    // Simulated I/O: 2 to 6 ms, varying with the request id.
    tokio::time::sleep(Duration::from_millis(2 + (id * 7 % 5) as u64)).await;

    stats.in_flight.fetch_sub(1, Ordering::SeqCst);
    drop(permit);

    let done = stats.done.fetch_add(1, Ordering::SeqCst) + 1;
    // Print when `done` crosses a multiple of 10 % of the total.
    if done * 10 / total != (done - 1) * 10 / total {
        println!("{:>3}% ({done}/{total} requests done)", done * 100 / total);
    }
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Config { requests, limit } = config;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_time()
        .build()
        .expect("failed to build the tokio runtime");

    let sem = Arc::new(Semaphore::new(limit));
    let stats = Arc::new(Stats::default());

    println!("running {requests} requests, at most {limit} in flight");
    let start = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..requests)
            .map(|id| {
                let sem = Arc::clone(&sem);
                let stats = Arc::clone(&stats);
                tokio::spawn(async move { request(id, requests, &sem, &stats).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("a request task panicked");
        }
    });
    let elapsed = start.elapsed();

    let peak = stats.peak.load(Ordering::SeqCst);
    println!("requests:        {}", stats.done.load(Ordering::SeqCst));
    println!("limit:           {limit}");
    println!("peak in flight:  {peak}");
    println!("elapsed:         {elapsed:.2?}");

    let mut ok = true;
    if peak > limit {
        eprintln!("error: {peak} requests were in flight at once, limit is {limit}");
        ok = false;
    }
    if sem.available_permits() != limit {
        eprintln!(
            "error: {} permits available after the run, expected {limit}",
            sem.available_permits()
        );
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
