#![cfg(feature = "std")]
//! Stress: many tasks on a multi-threaded tokio runtime and a few plain
//! threads using the blocking API share one `Semaphore` and one `Mutex`.
//!
//! Each worker runs a fixed number of random operations (the test is bounded
//! by operations, not by time): weighted acquires, acquires under
//! `tokio::time::timeout`, `tokio::select!` races of an acquire against a
//! sleep, a second acquire or a mutex lock (so futures are dropped while
//! queued, while collecting permits, and after being granted), `try_*`
//! calls, owned permits moved into other tasks, `add_permits`/`forget` pairs
//! that leave the total unchanged, and non-atomic read-yield-write
//! increments of the mutex's counter. The blocking threads do the same with
//! `*_blocking` and `*_timeout`.
//!
//! During the run no worker may see more permits in use than exist. At the
//! end every permit is back, nobody waits, and the counter equals the number
//! of increments. A watchdog turns a hang into a failure that prints the
//! semaphore's and the mutex's state and what each worker did last.
//!
//! `FAIRSYNC_STRESS_SEED=<seed>` changes the random choices (the
//! interleaving differs from run to run anyway).

// Tests build with the current toolchain only; `rust-version` covers the library.
#![allow(clippy::incompatible_msrv)]

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{abort_on_hang, iterations, panic_message, Rng};
use fairsync::{Mutex, Semaphore, SemaphorePermit};

/// Runtime worker threads (the machine may have fewer cores: that is fine).
const WORKERS: usize = iterations(4, 2);
/// Async tasks, and random operations each.
const TASKS: usize = iterations(48, 4);
const TASK_OPS: usize = iterations(4_000, 40);
/// Plain threads using the blocking API, and random operations each.
const THREADS: usize = iterations(3, 2);
const THREAD_OPS: usize = iterations(3_000, 20);
/// The semaphore's permits. Requests ask for at most [`MAX_WEIGHT`], and an
/// `add_permits`/`forget` pair takes away at most 2 for a while, so every
/// request can always be served eventually.
const PERMITS: usize = iterations(8, 4);
const MAX_WEIGHT: usize = 3;
/// How long no worker may complete an operation before the watchdog
/// reports a hang. A hang detector, not a performance bound: operations take
/// microseconds to milliseconds. Miri's clock (virtual under isolation)
/// advances with its slowness.
const STALL: Duration = Duration::from_secs(if cfg!(miri) { 1800 } else { 60 });

/// Where the bound starts in `Shared::usage`.
const BOUND_SHIFT: u32 = 32;

/// `(in use, bound)` from a `Shared::usage` word.
fn split_usage(usage: u64) -> (usize, usize) {
    (
        (usage & u64::from(u32::MAX)) as usize,
        (usage >> BOUND_SHIFT) as usize,
    )
}

/// What a worker is doing, for the hang report.
#[derive(Clone, Copy, Debug)]
#[repr(usize)]
enum Doing {
    Starting,
    Acquire,
    Holding,
    AcquireUnderTimeout,
    AcquireRacingSleep,
    TwoAcquiresRacing,
    AcquireRacingLock,
    TryAcquire,
    AddThenForget,
    ForgetThenAdd,
    AcquireOwned,
    Lock,
    LockedYielding,
    LockUnderTimeout,
    AcquireBlocking,
    AcquireTimeout,
    LockBlocking,
    LockTimeout,
    Done,
}

const DOING: [Doing; 19] = [
    Doing::Starting,
    Doing::Acquire,
    Doing::Holding,
    Doing::AcquireUnderTimeout,
    Doing::AcquireRacingSleep,
    Doing::TwoAcquiresRacing,
    Doing::AcquireRacingLock,
    Doing::TryAcquire,
    Doing::AddThenForget,
    Doing::ForgetThenAdd,
    Doing::AcquireOwned,
    Doing::Lock,
    Doing::LockedYielding,
    Doing::LockUnderTimeout,
    Doing::AcquireBlocking,
    Doing::AcquireTimeout,
    Doing::LockBlocking,
    Doing::LockTimeout,
    Doing::Done,
];

/// One worker's progress, read by the hang report.
struct Worker {
    name: String,
    total_ops: usize,
    ops: AtomicUsize,
    doing: AtomicUsize,
}

impl Worker {
    fn set(&self, doing: Doing) {
        self.doing.store(doing as usize, Ordering::SeqCst);
    }
}

/// Counters that show the interesting paths were taken.
#[derive(Default)]
struct Stats {
    timeouts_fired: AtomicUsize,
    sleeps_won: AtomicUsize,
    second_acquire_won: AtomicUsize,
    lock_won: AtomicUsize,
    try_refused: AtomicUsize,
    blocking_timeouts: AtomicUsize,
    permits_moved: AtomicUsize,
    forget_pairs: AtomicUsize,
}

struct Shared {
    seed: u64,
    sem: Arc<Semaphore>,
    counter: Mutex<u64>,
    /// Successful increments of `counter`.
    increments: AtomicUsize,
    /// Two counts in one word, so that a check reads both at one instant:
    /// the permits the workers hold right now (low half: raised after an
    /// acquire, lowered before the release), and an upper bound on the
    /// semaphore's permits (high half: raised before `add_permits`, lowered
    /// after `forget`). Read apart, a bound lowered after a `forget` could
    /// meet an in-use count from before other permits went back, and report
    /// an excess that never existed.
    usage: AtomicU64,
    stats: Stats,
    workers: Vec<Worker>,
}

impl Shared {
    fn new(seed: u64) -> Self {
        let tasks = (0..TASKS).map(|i| (format!("task {i}"), TASK_OPS));
        let threads = (0..THREADS).map(|i| (format!("thread {i}"), THREAD_OPS));
        Shared {
            seed,
            sem: Arc::new(Semaphore::new(PERMITS)),
            counter: Mutex::new(0),
            increments: AtomicUsize::new(0),
            usage: AtomicU64::new((PERMITS as u64) << BOUND_SHIFT),
            stats: Stats::default(),
            workers: tasks
                .chain(threads)
                .map(|(name, total_ops)| Worker {
                    name,
                    total_ops,
                    ops: AtomicUsize::new(0),
                    doing: AtomicUsize::new(Doing::Starting as usize),
                })
                .collect(),
        }
    }

    /// Books `n` permits as in use, checking that no more are in use than
    /// exist.
    fn take(&self, n: usize) {
        let usage = self.usage.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        let (in_use, bound) = split_usage(usage);
        if in_use > bound {
            // Undo, so that the other workers' checks stay meaningful.
            self.give_back(n);
            panic!(
                "{in_use} permits in use, but at most {bound} exist ({:?})",
                self.sem
            );
        }
    }

    fn give_back(&self, n: usize) {
        self.usage.fetch_sub(n as u64, Ordering::SeqCst);
    }

    fn raise_bound(&self, k: usize) {
        self.usage
            .fetch_add((k as u64) << BOUND_SHIFT, Ordering::SeqCst);
    }

    fn lower_bound(&self, k: usize) {
        self.usage
            .fetch_sub((k as u64) << BOUND_SHIFT, Ordering::SeqCst);
    }

    /// Permits in use and the bound, read together.
    fn usage(&self) -> (usize, usize) {
        split_usage(self.usage.load(Ordering::SeqCst))
    }

    /// Operations completed so far, by all workers.
    fn ops_done(&self) -> usize {
        self.workers
            .iter()
            .map(|w| w.ops.load(Ordering::SeqCst))
            .sum()
    }

    /// The state, read without blocking: for the hang report and failures.
    fn report(&self) -> String {
        let s = &self.stats;
        let mut out = format!(
            "seed {} (FAIRSYNC_STRESS_SEED)\nsemaphore: {:?} (of {PERMITS} permits)\n\
             mutex: {:?}, {} increments\npermits in use per the workers: {} (at most {} exist)\n\
             timeouts fired {}, sleeps won {}, second acquires won {}, locks won {}, \
             try_* refused {}, blocking timeouts {}, permits moved {}, forget pairs {}\nworkers:\n",
            self.seed,
            self.sem,
            self.counter,
            self.increments.load(Ordering::SeqCst),
            self.usage().0,
            self.usage().1,
            s.timeouts_fired.load(Ordering::SeqCst),
            s.sleeps_won.load(Ordering::SeqCst),
            s.second_acquire_won.load(Ordering::SeqCst),
            s.lock_won.load(Ordering::SeqCst),
            s.try_refused.load(Ordering::SeqCst),
            s.blocking_timeouts.load(Ordering::SeqCst),
            s.permits_moved.load(Ordering::SeqCst),
            s.forget_pairs.load(Ordering::SeqCst),
        );
        for w in &self.workers {
            let _ = writeln!(
                out,
                "  {:>9}: {:>3}/{} operations, last: {:?}",
                w.name,
                w.ops.load(Ordering::SeqCst),
                w.total_ops,
                DOING[w.doing.load(Ordering::SeqCst)]
            );
        }
        out
    }
}

fn weight(rng: &mut Rng) -> usize {
    rng.range(1, MAX_WEIGHT)
}

/// Zero one time in eight (a `*_timeout` then behaves like `try_*`),
/// otherwise up to `max_us` microseconds.
fn short(rng: &mut Rng, max_us: usize) -> Duration {
    if rng.range(0, 7) == 0 {
        Duration::ZERO
    } else {
        Duration::from_micros(rng.range(1, max_us) as u64)
    }
}

/// Holds `permit` for a few yields, now and then for a millisecond (so that
/// timeouts and sleeps can win their races), then releases it.
async fn hold(shared: &Shared, w: &Worker, permit: SemaphorePermit<'_>, rng: &mut Rng) {
    let n = permit.permits();
    w.set(Doing::Holding);
    shared.take(n);
    if rng.range(0, 15) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    } else {
        for _ in 0..rng.range(0, 2) {
            tokio::task::yield_now().await;
        }
    }
    shared.give_back(n);
    drop(permit);
}

/// A read, a yield, and a write of the counter: lost updates show unless
/// the lock excludes.
async fn increment(shared: &Shared, w: &Worker, mut guard: fairsync::MutexGuard<'_, u64>) {
    w.set(Doing::LockedYielding);
    let value = *guard;
    tokio::task::yield_now().await;
    *guard = value + 1;
    drop(guard);
    shared.increments.fetch_add(1, Ordering::SeqCst);
}

async fn task(shared: Arc<Shared>, me: usize) {
    let w = &shared.workers[me];
    let sem = &*shared.sem;
    let mut rng = Rng::new(shared.seed ^ (me as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for _ in 0..TASK_OPS {
        match rng.range(0, 11) {
            0 | 1 => {
                w.set(Doing::Acquire);
                let permit = sem.acquire_many(weight(&mut rng)).await;
                hold(&shared, w, permit, &mut rng).await;
            }
            2 => {
                w.set(Doing::AcquireUnderTimeout);
                let limit = short(&mut rng, 1500);
                match tokio::time::timeout(limit, sem.acquire_many(weight(&mut rng))).await {
                    Ok(permit) => hold(&shared, w, permit, &mut rng).await,
                    Err(_) => {
                        shared.stats.timeouts_fired.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            3 => {
                w.set(Doing::AcquireRacingSleep);
                let nap = short(&mut rng, 1500);
                let won = tokio::select! {
                    permit = sem.acquire_many(weight(&mut rng)) => Some(permit),
                    () = tokio::time::sleep(nap) => None,
                };
                match won {
                    Some(permit) => hold(&shared, w, permit, &mut rng).await,
                    None => {
                        shared.stats.sleeps_won.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            4 => {
                // Both join the queue; when one completes the other is
                // dropped, queued, collecting, or already granted.
                w.set(Doing::TwoAcquiresRacing);
                let (a, b) = (weight(&mut rng), weight(&mut rng));
                let (second, permit) = tokio::select! {
                    permit = sem.acquire_many(a) => (false, permit),
                    permit = sem.acquire_many(b) => (true, permit),
                };
                if second {
                    shared
                        .stats
                        .second_acquire_won
                        .fetch_add(1, Ordering::SeqCst);
                }
                hold(&shared, w, permit, &mut rng).await;
            }
            5 => {
                w.set(Doing::AcquireRacingLock);
                let n = weight(&mut rng);
                let won = tokio::select! {
                    permit = sem.acquire_many(n) => Ok(permit),
                    guard = shared.counter.lock() => Err(guard),
                };
                match won {
                    Ok(permit) => hold(&shared, w, permit, &mut rng).await,
                    Err(guard) => {
                        shared.stats.lock_won.fetch_add(1, Ordering::SeqCst);
                        increment(&shared, w, guard).await;
                    }
                }
            }
            6 => {
                w.set(Doing::TryAcquire);
                let n = rng.range(0, MAX_WEIGHT);
                match sem.try_acquire_many(n) {
                    Some(permit) => {
                        assert_eq!(permit.permits(), n);
                        hold(&shared, w, permit, &mut rng).await;
                    }
                    None => {
                        shared.stats.try_refused.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            7 => {
                let k = rng.range(1, 2);
                if rng.range(0, 1) == 0 {
                    w.set(Doing::AddThenForget);
                    shared.raise_bound(k);
                    sem.add_permits(k);
                    let permit = sem.acquire_many(k).await;
                    permit.forget();
                    shared.lower_bound(k);
                } else {
                    w.set(Doing::ForgetThenAdd);
                    let permit = sem.acquire_many(k).await;
                    permit.forget();
                    shared.lower_bound(k);
                    tokio::task::yield_now().await;
                    shared.raise_bound(k);
                    sem.add_permits(k);
                }
                shared.stats.forget_pairs.fetch_add(1, Ordering::SeqCst);
            }
            8 => {
                // An owned permit released by another task.
                w.set(Doing::AcquireOwned);
                let n = weight(&mut rng);
                let permit = Arc::clone(&shared.sem).acquire_many_owned(n).await;
                shared.take(n);
                let other = Arc::clone(&shared);
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    other.give_back(n);
                    drop(permit);
                })
                .await
                .expect("the releasing task panicked");
                shared.stats.permits_moved.fetch_add(1, Ordering::SeqCst);
            }
            9 => {
                w.set(Doing::Lock);
                let guard = shared.counter.lock().await;
                increment(&shared, w, guard).await;
            }
            _ => {
                w.set(Doing::LockUnderTimeout);
                let limit = short(&mut rng, 1000);
                match tokio::time::timeout(limit, shared.counter.lock()).await {
                    Ok(guard) => increment(&shared, w, guard).await,
                    Err(_) => {
                        shared.stats.timeouts_fired.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }
        w.ops.fetch_add(1, Ordering::SeqCst);
    }
    w.set(Doing::Done);
}

/// A plain thread: the same kinds of operations through the blocking API.
fn thread(shared: &Shared, me: usize) {
    let w = &shared.workers[me];
    let sem = &*shared.sem;
    let mut rng = Rng::new(shared.seed ^ (me as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let hold = |permit: SemaphorePermit<'_>, rng: &mut Rng| {
        let n = permit.permits();
        w.set(Doing::Holding);
        shared.take(n);
        for _ in 0..rng.range(0, 2) {
            std::thread::yield_now();
        }
        shared.give_back(n);
        drop(permit);
    };
    let increment = |mut guard: fairsync::MutexGuard<'_, u64>| {
        w.set(Doing::LockedYielding);
        let value = *guard;
        std::thread::yield_now();
        *guard = value + 1;
        drop(guard);
        shared.increments.fetch_add(1, Ordering::SeqCst);
    };
    for _ in 0..THREAD_OPS {
        match rng.range(0, 5) {
            0 => {
                w.set(Doing::AcquireBlocking);
                let n = weight(&mut rng);
                let permit = if n == 1 {
                    sem.acquire_blocking()
                } else {
                    sem.acquire_many_blocking(n)
                };
                hold(permit, &mut rng);
            }
            1 => {
                w.set(Doing::AcquireTimeout);
                let limit = short(&mut rng, 2000);
                let n = weight(&mut rng);
                let permit = if n == 1 {
                    sem.acquire_blocking_timeout(limit)
                } else {
                    sem.acquire_many_blocking_timeout(n, limit)
                };
                match permit {
                    Some(permit) => hold(permit, &mut rng),
                    None => {
                        shared
                            .stats
                            .blocking_timeouts
                            .fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            2 => {
                w.set(Doing::LockBlocking);
                increment(shared.counter.lock_blocking());
            }
            3 => {
                w.set(Doing::LockTimeout);
                match shared.counter.lock_blocking_timeout(short(&mut rng, 2000)) {
                    Some(guard) => increment(guard),
                    None => {
                        shared
                            .stats
                            .blocking_timeouts
                            .fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            _ => {
                w.set(Doing::TryAcquire);
                match sem.try_acquire() {
                    Some(permit) => hold(permit, &mut rng),
                    None => {
                        shared.stats.try_refused.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }
        w.ops.fetch_add(1, Ordering::SeqCst);
    }
    w.set(Doing::Done);
}

#[test]
fn tasks_and_threads_share_a_semaphore_and_a_mutex_under_contention() {
    let seed = std::env::var("FAIRSYNC_STRESS_SEED")
        .ok()
        .map_or(0x5eed_f00d, |s| {
            s.trim().parse().expect("FAIRSYNC_STRESS_SEED: a number")
        });
    let shared = Arc::new(Shared::new(seed));
    let _watchdog = abort_on_hang(
        "the stress test",
        STALL,
        {
            let shared = Arc::clone(&shared);
            move || shared.ops_done()
        },
        {
            let shared = Arc::clone(&shared);
            move || shared.report()
        },
    );

    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("stress-thread-{i}"))
                .spawn(move || thread(&shared, TASKS + i))
                .expect("failed to spawn a thread")
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_time()
        .build()
        .expect("tokio multi-thread runtime");
    let failures: Vec<String> = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| tokio::spawn(task(Arc::clone(&shared), i)))
            .collect();
        let mut failures = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            if let Err(e) = t.await {
                failures.push(format!("task {i}: {}", panic_message(&*e.into_panic())));
            }
        }
        failures
    });
    drop(runtime);
    let mut failures = failures;
    for (i, t) in threads.into_iter().enumerate() {
        if let Err(payload) = t.join() {
            failures.push(format!("thread {i}: {}", panic_message(&*payload)));
        }
    }
    assert!(
        failures.is_empty(),
        "workers panicked:\n{}\n{}",
        failures.join("\n"),
        shared.report()
    );

    let sem = &shared.sem;
    assert!(
        sem.available_permits() == PERMITS && sem.waiters() == 0,
        "permits lost or a waiter left behind\n{}",
        shared.report()
    );
    let counter = *shared.counter.try_lock().expect("the mutex is unlocked");
    let increments = shared.increments.load(Ordering::SeqCst);
    assert_eq!(
        counter,
        increments as u64,
        "lost updates: the mutex did not exclude\n{}",
        shared.report()
    );
    assert_eq!(shared.usage().0, 0);
    println!("{}", shared.report());
    if !cfg!(miri) {
        let s = &shared.stats;
        let cancellations = s.timeouts_fired.load(Ordering::SeqCst)
            + s.sleeps_won.load(Ordering::SeqCst)
            + s.second_acquire_won.load(Ordering::SeqCst)
            + s.lock_won.load(Ordering::SeqCst);
        assert!(
            cancellations > 0 && s.blocking_timeouts.load(Ordering::SeqCst) > 0 && increments > 0,
            "the run never cancelled an acquire or timed out a blocking call\n{}",
            shared.report()
        );
    }
}
