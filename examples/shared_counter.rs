//! One `Mutex` shared by async tasks and plain threads.
//!
//! Async tasks on a tokio runtime increment the counter with `lock().await`;
//! plain OS threads increment the same counter with `lock_blocking()`. Both
//! kinds of waiter queue in the same FIFO line. The mutex is a `static`: its
//! constructor is a `const fn`.
//!
//! ```text
//! cargo run --example shared_counter
//! cargo run --example shared_counter -- --tasks 16 --threads 4 --increments 10000
//! ```

use std::process::ExitCode;
use std::thread;

use fairsync::Mutex;

const USAGE: &str = "\
Usage: shared_counter [--tasks N] [--threads N] [--increments N]

Async tasks and plain threads each increment one shared counter.

Options:
  --tasks N        async tasks on the tokio runtime (default 8)
  --threads N      plain threads using lock_blocking (default 4)
  --increments N   increments done by each task and thread (default 2000)
  -h, --help       print this help";

#[derive(Debug)]
struct Counter {
    total: u64,
    by_tasks: u64,
    by_threads: u64,
}

static COUNTER: Mutex<Counter> = Mutex::new(Counter {
    total: 0,
    by_tasks: 0,
    by_threads: 0,
});

struct Config {
    tasks: u64,
    threads: u64,
    increments: u64,
}

/// Parses `std::env::args` by hand. `Ok(None)` means `--help` was given.
fn parse_args() -> Result<Option<Config>, String> {
    let mut config = Config {
        tasks: 8,
        threads: 4,
        increments: 2000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let slot = match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--tasks" => &mut config.tasks,
            "--threads" => &mut config.threads,
            "--increments" => &mut config.increments,
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
    Ok(Some(config))
}

async fn task_body(increments: u64) {
    for i in 0..increments {
        let mut counter = COUNTER.lock().await;
        counter.total += 1;
        counter.by_tasks += 1;
        if i % 64 == 0 {
            // A `MutexGuard` may be held across an `.await`, also on a
            // multi-threaded runtime.
            tokio::task::yield_now().await;
        }
    }
}

fn thread_body(increments: u64) {
    for _ in 0..increments {
        // Parks this thread until the lock is handed to it. Never call this
        // on an executor thread: see the crate docs.
        let mut counter = COUNTER.lock_blocking();
        counter.total += 1;
        counter.by_threads += 1;
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
    let Config {
        tasks,
        threads,
        increments,
    } = config;

    println!("{tasks} tasks and {threads} threads, {increments} increments each");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("failed to build the tokio runtime");

    // The plain threads start first and run while the runtime works.
    let handles: Vec<_> = (0..threads)
        .map(|_| thread::spawn(move || thread_body(increments)))
        .collect();

    runtime.block_on(async {
        let tasks: Vec<_> = (0..tasks)
            .map(|_| tokio::spawn(task_body(increments)))
            .collect();
        for task in tasks {
            task.await.expect("a task panicked");
        }
    });
    for handle in handles {
        handle.join().expect("a thread panicked");
    }

    // Every guard is gone: `try_lock` succeeds.
    let counter = COUNTER.try_lock().expect("the mutex is still locked");
    let expected_tasks = tasks * increments;
    let expected_threads = threads * increments;
    println!(
        "total: {} (tasks: {}, threads: {})",
        counter.total, counter.by_tasks, counter.by_threads
    );

    if counter.total == expected_tasks + expected_threads
        && counter.by_tasks == expected_tasks
        && counter.by_threads == expected_threads
    {
        println!("ok: total is {}", expected_tasks + expected_threads);
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: expected total {} (tasks: {expected_tasks}, threads: {expected_threads})",
            expected_tasks + expected_threads
        );
        ExitCode::FAILURE
    }
}
