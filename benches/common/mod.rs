//! Shared by every bench target: the peers behind one interface, the
//! event-listener baseline, the runtimes and the criterion settings.
//!
//! Each bench target compiles this module on its own and uses part of it.
#![allow(dead_code)]

pub mod baseline;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::Criterion;

/// Criterion settings for the whole suite: short warm-up and measurement, so
/// a full `cargo bench` stays within minutes. Command-line options (a filter,
/// `--sample-size`, `--measurement-time`, ...) still override them.
pub fn criterion(sample_size: usize) -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(sample_size)
        .configure_from_args()
}

/// Polls a future that is expected to be ready at once.
#[inline(always)]
pub fn now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("an uncontended acquire must be ready at once"),
    }
}

/// The worker threads of every multi-threaded runtime in the suite.
pub const WORKERS: usize = 2;

/// A tokio multi-thread runtime with [`WORKERS`] workers.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("tokio runtime")
}

/// async-std reads its worker count from `ASYNC_STD_THREAD_COUNT` when it
/// first starts; set it to [`WORKERS`] unless the caller already chose. Call
/// first thing in `main`, while the process has one thread.
pub fn init_async_std() {
    if std::env::var_os("ASYNC_STD_THREAD_COUNT").is_none() {
        std::env::set_var("ASYNC_STD_THREAD_COUNT", WORKERS.to_string());
    }
}

/// Where the tasks of a contended workload run.
pub enum Runtime {
    Tokio(tokio::runtime::Runtime),
    AsyncStd,
}

impl Runtime {
    pub fn tokio() -> Self {
        Runtime::Tokio(tokio_runtime())
    }

    /// The await point this runtime's tasks use inside a critical section.
    pub fn pause(&self) -> Pause {
        match self {
            Runtime::Tokio(_) => Pause::Tokio,
            Runtime::AsyncStd => Pause::AsyncStd,
        }
    }

    /// Spawns `tasks` tasks, task `i` running `make(i)`, and returns the time
    /// from the first spawn until the last task finished.
    pub fn run_tasks<F, Fut>(&self, tasks: usize, make: F) -> Duration
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match self {
            Runtime::Tokio(rt) => rt.block_on(async {
                let start = Instant::now();
                let handles: Vec<_> = (0..tasks).map(|i| tokio::spawn(make(i))).collect();
                for handle in handles {
                    handle.await.expect("task panicked");
                }
                start.elapsed()
            }),
            Runtime::AsyncStd => async_std::task::block_on(async {
                let start = Instant::now();
                let handles: Vec<_> = (0..tasks)
                    .map(|i| async_std::task::spawn(make(i)))
                    .collect();
                for handle in handles {
                    handle.await;
                }
                start.elapsed()
            }),
        }
    }
}

/// What a task does while it holds a lock or permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    /// Nothing: the critical section has no await point.
    None,
    /// `tokio::task::yield_now().await`.
    Tokio,
    /// `async_std::task::yield_now().await`.
    AsyncStd,
}

impl Pause {
    #[inline]
    pub async fn run(self) {
        match self {
            Pause::None => {}
            Pause::Tokio => tokio::task::yield_now().await,
            Pause::AsyncStd => async_std::task::yield_now().await,
        }
    }
}

/// The name a peer has in every table and chart.
pub trait Named {
    const NAME: &'static str;
}

/// An async mutex guarding a `u64` counter.
pub trait AsyncMutex: Named + Send + Sync + Sized + 'static {
    fn new() -> Self;
    /// Locks, adds one, runs `pause` while still holding the lock, unlocks.
    fn increment(&self, pause: Pause) -> impl Future<Output = ()> + Send + '_;
    /// Like `increment`; returns the counter before the increment and the
    /// time the lock was taken.
    fn increment_timed(&self, pause: Pause) -> impl Future<Output = (u64, Instant)> + Send + '_;
    /// The counter; the mutex must be unlocked.
    fn value(&self) -> u64;
}

/// A semaphore for async tasks.
pub trait AsyncSemaphore: Named + Send + Sync + Sized + 'static {
    /// Whether one acquire can take several permits.
    const WEIGHTED: bool;
    fn new(permits: usize) -> Self;
    /// Acquires `n` permits, runs `pause` while holding them, releases them.
    fn hold(&self, n: usize, pause: Pause) -> impl Future<Output = ()> + Send + '_;
    /// Permits free now.
    fn available(&self) -> usize;
}

/// A mutex used from plain threads through its blocking API.
pub trait BlockingMutex: Named + Send + Sync + Sized + 'static {
    fn new() -> Self;
    /// Locks (blocking the thread), adds one, unlocks.
    fn increment_blocking(&self);
    fn value(&self) -> u64;
}

macro_rules! named {
    ($($ty:ty => $name:literal),* $(,)?) => {
        $(impl Named for $ty {
            const NAME: &'static str = $name;
        })*
    };
}

named! {
    fairsync::Mutex<u64> => "fairsync",
    tokio::sync::Mutex<u64> => "tokio",
    async_lock::Mutex<u64> => "async-lock",
    futures::lock::Mutex<u64> => "futures",
    baseline::Mutex<u64> => "event-listener",
    std::sync::Mutex<u64> => "std",
    parking_lot::Mutex<u64> => "parking_lot",
    fairsync::Semaphore => "fairsync",
    fairsync::ClosableSemaphore => "fairsync-closable",
    tokio::sync::Semaphore => "tokio",
    async_lock::Semaphore => "async-lock",
    baseline::Semaphore => "event-listener",
}

/// Implements [`AsyncMutex`] for mutexes whose `lock()` is a future of a
/// guard; `|m| value` reads the counter of the unlocked mutex `m`.
macro_rules! async_mutex {
    ($($ty:ty => |$m:ident| $value:expr;)*) => {
        $(impl AsyncMutex for $ty {
            fn new() -> Self {
                <$ty>::new(0)
            }

            #[inline]
            fn increment(&self, pause: Pause) -> impl Future<Output = ()> + Send + '_ {
                async move {
                    let mut guard = self.lock().await;
                    *guard += 1;
                    pause.run().await;
                    drop(guard);
                }
            }

            #[inline]
            fn increment_timed(&self, pause: Pause) -> impl Future<Output = (u64, Instant)> + Send + '_ {
                async move {
                    let mut guard = self.lock().await;
                    let locked_at = Instant::now();
                    let before = *guard;
                    *guard += 1;
                    pause.run().await;
                    drop(guard);
                    (before, locked_at)
                }
            }

            fn value(&self) -> u64 {
                let $m = self;
                $value
            }
        })*
    };
}

async_mutex! {
    fairsync::Mutex<u64> => |m| *m.try_lock().expect("unlocked");
    tokio::sync::Mutex<u64> => |m| *m.try_lock().expect("unlocked");
    async_lock::Mutex<u64> => |m| *m.try_lock().expect("unlocked");
    futures::lock::Mutex<u64> => |m| *m.try_lock().expect("unlocked");
    baseline::Mutex<u64> => |m| *m.try_lock().expect("unlocked");
}

impl AsyncSemaphore for fairsync::Semaphore {
    const WEIGHTED: bool = true;

    fn new(permits: usize) -> Self {
        fairsync::Semaphore::new(permits)
    }

    #[inline]
    async fn hold(&self, n: usize, pause: Pause) {
        let permit = self.acquire_many(n).await;
        pause.run().await;
        drop(permit);
    }

    fn available(&self) -> usize {
        self.available_permits()
    }
}

impl AsyncSemaphore for fairsync::ClosableSemaphore {
    const WEIGHTED: bool = true;

    fn new(permits: usize) -> Self {
        fairsync::ClosableSemaphore::new(permits)
    }

    #[inline]
    async fn hold(&self, n: usize, pause: Pause) {
        let permit = self.acquire_many(n).await.expect("never closed");
        pause.run().await;
        drop(permit);
    }

    fn available(&self) -> usize {
        self.available_permits()
    }
}

impl AsyncSemaphore for tokio::sync::Semaphore {
    const WEIGHTED: bool = true;

    fn new(permits: usize) -> Self {
        tokio::sync::Semaphore::new(permits)
    }

    #[inline]
    fn hold(&self, n: usize, pause: Pause) -> impl Future<Output = ()> + Send + '_ {
        let n = u32::try_from(n).expect("tokio takes u32 permits");
        async move {
            let permit = self.acquire_many(n).await.expect("never closed");
            pause.run().await;
            drop(permit);
        }
    }

    fn available(&self) -> usize {
        self.available_permits()
    }
}

impl AsyncSemaphore for async_lock::Semaphore {
    /// async-lock's `acquire` takes exactly one permit.
    const WEIGHTED: bool = false;

    fn new(permits: usize) -> Self {
        async_lock::Semaphore::new(permits)
    }

    #[inline]
    fn hold(&self, n: usize, pause: Pause) -> impl Future<Output = ()> + Send + '_ {
        assert_eq!(n, 1, "async-lock's Semaphore has no weighted acquire");
        async move {
            let permit = self.acquire().await;
            pause.run().await;
            drop(permit);
        }
    }

    fn available(&self) -> usize {
        self.available_permits()
    }
}

impl AsyncSemaphore for baseline::Semaphore {
    const WEIGHTED: bool = true;

    fn new(permits: usize) -> Self {
        baseline::Semaphore::new(permits)
    }

    #[inline]
    async fn hold(&self, n: usize, pause: Pause) {
        let permit = self.acquire_many(n).await;
        pause.run().await;
        drop(permit);
    }

    fn available(&self) -> usize {
        self.available_permits()
    }
}

macro_rules! blocking_mutex {
    ($($ty:ty => |$m:ident| $lock:expr, |$t:ident| $value:expr;)*) => {
        $(impl BlockingMutex for $ty {
            fn new() -> Self {
                <$ty>::new(0)
            }

            #[inline]
            fn increment_blocking(&self) {
                let $m = self;
                let mut guard = $lock;
                *guard += 1;
            }

            fn value(&self) -> u64 {
                let $t = self;
                $value
            }
        })*
    };
}

blocking_mutex! {
    fairsync::Mutex<u64> => |m| m.lock_blocking(), |m| *m.try_lock().unwrap();
    tokio::sync::Mutex<u64> => |m| m.blocking_lock(), |m| *m.try_lock().unwrap();
    async_lock::Mutex<u64> => |m| m.lock_blocking(), |m| *m.try_lock().unwrap();
    futures::lock::Mutex<u64> => |m| futures::executor::block_on(m.lock()), |m| *m.try_lock().unwrap();
    baseline::Mutex<u64> => |m| m.lock_blocking(), |m| *m.try_lock().unwrap();
    std::sync::Mutex<u64> => |m| m.lock().unwrap(), |m| *m.lock().unwrap();
    parking_lot::Mutex<u64> => |m| m.lock(), |m| *m.lock();
}

/// Runs `ops` increments of a fresh mutex spread over `tasks` tasks on `rt`,
/// `pause` inside each critical section; returns the wall time.
pub fn contended_mutex_batch<M: AsyncMutex>(
    rt: &Runtime,
    tasks: usize,
    ops: usize,
    pause: Pause,
) -> Duration {
    assert_eq!(ops % tasks, 0);
    let per_task = ops / tasks;
    let mutex = Arc::new(M::new());
    let elapsed = rt.run_tasks(tasks, |_| {
        let mutex = Arc::clone(&mutex);
        async move {
            for _ in 0..per_task {
                mutex.increment(pause).await;
            }
        }
    });
    assert_eq!(mutex.value(), ops as u64, "{} lost an increment", M::NAME);
    elapsed
}

/// The positional arguments `cargo bench -- FILTER...` passed on, and whether
/// this is a real bench run (`--bench`) rather than `cargo test` checking the
/// target builds and runs.
pub struct Args {
    pub filters: Vec<String>,
    pub bench: bool,
}

impl Args {
    pub fn parse() -> Self {
        let mut filters = Vec::new();
        let mut bench = false;
        for arg in std::env::args().skip(1) {
            if arg == "--bench" {
                bench = true;
            } else if !arg.starts_with('-') {
                filters.push(arg);
            }
        }
        Self { filters, bench }
    }

    /// Whether the bench named `id` runs: no filter given, or one of the
    /// filters is part of `id`.
    pub fn selects(&self, id: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| id.contains(f.as_str()))
    }
}

/// The directory for result files: `$CARGO_TARGET_DIR/bench-results`, or
/// `target/bench-results` in the crate.
pub fn results_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("bench-results");
    std::fs::create_dir_all(&dir).expect("create the results directory");
    dir
}
