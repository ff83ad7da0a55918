//! W8: memory footprint. The size of each primitive (`size_of`, beside its
//! peers' where they have one), of each acquire future and guard
//! (`size_of_val`), and heap allocations per contended acquire, counted by a
//! counting `#[global_allocator]`:
//!
//! - `hand-polled`: on one thread, with a no-op waker. The lock is held, a
//!   new acquire future is polled (pending: it queues), the holder releases,
//!   the future is polled again (ready). Only this thread's allocations
//!   between those steps count. Averaged over 10,000 rounds after 100 rounds
//!   of warm-up, so a structure that grows once (a slab) shows as 0.
//! - `tokio`: 16 tasks × 1,024 increments with `yield_now().await` inside the
//!   critical section (W3's workload) on two tokio workers, or 64 tasks × 256
//!   one-permit acquires of an 8-permit semaphore. The tasks are spawned and
//!   parked at a barrier first; every allocation of the process while they
//!   run counts, the runtime's own included.
//! - `2 threads`: W7's workload, two threads × 20,000 blocking locks; every
//!   allocation of the process while they run counts.
//!
//! Prints tables and writes `target/bench-results/footprint.csv`. Under
//! `cargo test` (no `--bench` flag) it runs small counts as a smoke test.

// Benchmarks build with the current toolchain only; `rust-version` covers the library.
#![allow(clippy::incompatible_msrv)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::future::Future;
use std::mem::{size_of, size_of_val};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};

use common::{baseline, now, Args, AsyncMutex, AsyncSemaphore, BlockingMutex, Pause};

struct CountingAlloc;

/// Counts every thread's allocations while set.
static COUNT_ALL: AtomicBool = AtomicBool::new(false);
static ALL_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Counts this thread's allocations while set.
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
    static HERE_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static HERE_BYTES: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation(bytes: usize) {
    if COUNT_ALL.load(Ordering::Relaxed) {
        ALL_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
    let _ = COUNT_HERE.try_with(|on| {
        if on.get() {
            let _ = HERE_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            let _ = HERE_BYTES.try_with(|n| n.set(n.get() + bytes as u64));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f`, counting this thread's allocations and bytes meanwhile.
fn count_here<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    HERE_ALLOCATIONS.with(|n| n.set(0));
    HERE_BYTES.with(|n| n.set(0));
    COUNT_HERE.with(|on| on.set(true));
    let result = f();
    COUNT_HERE.with(|on| on.set(false));
    (
        result,
        HERE_ALLOCATIONS.with(Cell::get),
        HERE_BYTES.with(Cell::get),
    )
}

/// Runs `f`, counting every thread's allocations meanwhile.
fn count_all<R>(f: impl FnOnce() -> R) -> (R, u64) {
    ALL_ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNT_ALL.store(true, Ordering::SeqCst);
    let result = f();
    COUNT_ALL.store(false, Ordering::SeqCst);
    (result, ALL_ALLOCATIONS.load(Ordering::SeqCst))
}

fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// One contended acquire on this thread: a new acquire made by `acquire`
/// queues, `held` is released, and the new acquire completes.
fn hand_off<G, F: Future<Output = G>>(held: G, acquire: &impl Fn() -> F) -> G {
    let mut waiting = pin!(acquire());
    assert!(
        poll_once(waiting.as_mut()).is_pending(),
        "the acquire must wait"
    );
    drop(held);
    match poll_once(waiting.as_mut()) {
        Poll::Ready(next) => next,
        Poll::Pending => panic!("the acquire must be ready after the release"),
    }
}

/// Allocations and bytes per contended acquire, hand-polled, starting from
/// a held guard `first`.
fn hand_polled<G, F: Future<Output = G>>(
    first: G,
    acquire: impl Fn() -> F,
    rounds: u64,
) -> (f64, f64) {
    let mut held = first;
    for _ in 0..100 {
        held = hand_off(held, &acquire);
    }
    let (held, allocations, bytes) = count_here(move || {
        for _ in 0..rounds {
            held = hand_off(held, &acquire);
        }
        held
    });
    drop(held);
    (
        allocations as f64 / rounds as f64,
        bytes as f64 / rounds as f64,
    )
}

/// Allocations counted over a number of lock operations.
#[derive(Clone, Copy)]
struct Count {
    allocations: u64,
    ops: u64,
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}", self.allocations, self.ops)
    }
}

/// W3's workload with the await inside, allocations per lock operation.
fn tokio_mutex<M: AsyncMutex>(rt: &tokio::runtime::Runtime, scale: u64) -> Count {
    const TASKS: usize = 16;
    let per_task = 1024 / scale as usize;
    let mutex = Arc::new(M::new());
    let gate = Arc::new(tokio::sync::Barrier::new(TASKS + 1));
    let ((), allocations) = rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let mutex = Arc::clone(&mutex);
                let gate = Arc::clone(&gate);
                tokio::spawn(async move {
                    gate.wait().await;
                    for _ in 0..per_task {
                        mutex.increment(Pause::Tokio).await;
                    }
                })
            })
            .collect();
        // Let every task reach the gate before counting (this thread is not
        // a worker).
        std::thread::sleep(std::time::Duration::from_millis(20));
        count_all_async(async {
            gate.wait().await;
            for handle in handles {
                handle.await.expect("task panicked");
            }
        })
        .await
    });
    let ops = (TASKS * per_task) as u64;
    assert_eq!(mutex.value(), ops);
    Count { allocations, ops }
}

/// 64 tasks × 256 one-permit acquires of an 8-permit semaphore, yield inside,
/// allocations per acquire.
fn tokio_semaphore<S: AsyncSemaphore>(rt: &tokio::runtime::Runtime, scale: u64) -> Count {
    const TASKS: usize = 64;
    let per_task = 256 / scale as usize;
    let sem = Arc::new(S::new(8));
    let gate = Arc::new(tokio::sync::Barrier::new(TASKS + 1));
    let ((), allocations) = rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let sem = Arc::clone(&sem);
                let gate = Arc::clone(&gate);
                tokio::spawn(async move {
                    gate.wait().await;
                    for _ in 0..per_task {
                        sem.hold(1, Pause::Tokio).await;
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(20));
        count_all_async(async {
            gate.wait().await;
            for handle in handles {
                handle.await.expect("task panicked");
            }
        })
        .await
    });
    assert_eq!(sem.available(), 8);
    Count {
        allocations,
        ops: (TASKS * per_task) as u64,
    }
}

/// Like [`count_all`], around an async block.
async fn count_all_async<R>(f: impl Future<Output = R>) -> (R, u64) {
    ALL_ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNT_ALL.store(true, Ordering::SeqCst);
    let result = f.await;
    COUNT_ALL.store(false, Ordering::SeqCst);
    (result, ALL_ALLOCATIONS.load(Ordering::SeqCst))
}

/// W7's workload, allocations per lock operation.
fn two_threads<M: BlockingMutex>(scale: u64) -> Count {
    const THREADS: usize = 2;
    let per_thread = 20_000 / scale;
    let mutex = M::new();
    let start = Barrier::new(THREADS + 1);
    let ((), allocations) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..per_thread {
                        mutex.increment_blocking();
                    }
                })
            })
            .collect();
        // Let both threads start and park at the barrier before counting.
        std::thread::sleep(std::time::Duration::from_millis(20));
        count_all(|| {
            start.wait();
            for handle in handles {
                handle.join().expect("thread panicked");
            }
        })
    });
    let ops = THREADS as u64 * per_thread;
    assert_eq!(mutex.value(), ops);
    Count { allocations, ops }
}

/// One table row per peer: `(peer, [cells])`.
type Rows = Vec<(&'static str, Vec<String>)>;

fn print_table(title: &str, header: &[&str], rows: &Rows, csv: &mut String) {
    println!();
    println!("{title}");
    print!("{:<15}", "peer");
    for h in header {
        print!(" {h:>22}");
    }
    println!();
    for (peer, cells) in rows {
        print!("{peer:<15}");
        for cell in cells {
            print!(" {cell:>22}");
        }
        println!();
        for (h, cell) in header.iter().zip(cells) {
            writeln!(csv, "{title},{peer},{h},{cell}").unwrap();
        }
    }
}

/// `size_of::<T>()` as a table cell.
fn size<T>() -> String {
    size_of::<T>().to_string()
}

fn primitive_sizes(csv: &mut String) {
    let na = || "–".to_string();
    let rows: Rows = vec![
        (
            "fairsync",
            vec![
                size::<fairsync::Semaphore>(),
                size::<fairsync::ClosableSemaphore>(),
                size::<fairsync::Lock>(),
                size::<fairsync::Mutex<()>>(),
                size::<fairsync::RwLock<()>>(),
                size::<fairsync::Condvar>(),
                size::<fairsync::Event>(),
                size::<fairsync::Barrier>(),
            ],
        ),
        (
            "tokio",
            vec![
                size::<tokio::sync::Semaphore>(),
                na(),
                na(),
                size::<tokio::sync::Mutex<()>>(),
                size::<tokio::sync::RwLock<()>>(),
                na(),
                size::<tokio::sync::Notify>(),
                size::<tokio::sync::Barrier>(),
            ],
        ),
        (
            "async-lock",
            vec![
                size::<async_lock::Semaphore>(),
                na(),
                na(),
                size::<async_lock::Mutex<()>>(),
                size::<async_lock::RwLock<()>>(),
                na(),
                na(),
                size::<async_lock::Barrier>(),
            ],
        ),
        (
            "event-listener",
            vec![
                na(),
                na(),
                na(),
                na(),
                na(),
                na(),
                size::<event_listener::Event>(),
                na(),
            ],
        ),
        (
            "futures",
            vec![
                na(),
                na(),
                na(),
                size::<futures::lock::Mutex<()>>(),
                na(),
                na(),
                na(),
                na(),
            ],
        ),
        (
            "std",
            vec![
                na(),
                na(),
                na(),
                size::<std::sync::Mutex<()>>(),
                size::<std::sync::RwLock<()>>(),
                size::<std::sync::Condvar>(),
                na(),
                size::<std::sync::Barrier>(),
            ],
        ),
        (
            "parking_lot",
            vec![
                na(),
                na(),
                na(),
                size::<parking_lot::Mutex<()>>(),
                size::<parking_lot::RwLock<()>>(),
                size::<parking_lot::Condvar>(),
                na(),
                na(),
            ],
        ),
    ];
    print_table(
        "primitive sizes in bytes (Event column: tokio's Notify)",
        &[
            "Semaphore",
            "ClosableSemaphore",
            "Lock",
            "Mutex<()>",
            "RwLock<()>",
            "Condvar",
            "Event",
            "Barrier",
        ],
        &rows,
        csv,
    );
}

fn sizes(csv: &mut String) {
    let fair = fairsync::Mutex::new(0u64);
    let tokio = tokio::sync::Mutex::new(0u64);
    let async_lock = async_lock::Mutex::new(0u64);
    let futures = futures::lock::Mutex::new(0u64);
    let listener = baseline::Mutex::new(0u64);
    let fair_sem = fairsync::Semaphore::new(1);
    let tokio_sem = tokio::sync::Semaphore::new(1);
    let async_lock_sem = async_lock::Semaphore::new(1);
    let listener_sem = baseline::Semaphore::new(1);
    let na = || "–".to_string();
    let rows: Rows = vec![
        (
            "fairsync",
            vec![
                size_of_val(&fair.lock()).to_string(),
                size_of::<fairsync::MutexGuard<'static, u64>>().to_string(),
                size_of_val(&fair_sem.acquire()).to_string(),
                size_of::<fairsync::SemaphorePermit<'static>>().to_string(),
            ],
        ),
        (
            "tokio",
            vec![
                size_of_val(&tokio.lock()).to_string(),
                size_of::<tokio::sync::MutexGuard<'static, u64>>().to_string(),
                size_of_val(&tokio_sem.acquire()).to_string(),
                size_of::<tokio::sync::SemaphorePermit<'static>>().to_string(),
            ],
        ),
        (
            "async-lock",
            vec![
                size_of_val(&async_lock.lock()).to_string(),
                size_of::<async_lock::MutexGuard<'static, u64>>().to_string(),
                size_of_val(&async_lock_sem.acquire()).to_string(),
                size_of::<async_lock::SemaphoreGuard<'static>>().to_string(),
            ],
        ),
        (
            "futures",
            vec![
                size_of_val(&futures.lock()).to_string(),
                size_of::<futures::lock::MutexGuard<'static, u64>>().to_string(),
                na(),
                na(),
            ],
        ),
        (
            "event-listener",
            vec![
                size_of_val(&listener.lock()).to_string(),
                size_of::<baseline::MutexGuard<'static, u64>>().to_string(),
                size_of_val(&listener_sem.acquire()).to_string(),
                size_of::<baseline::Permit<'static>>().to_string(),
            ],
        ),
    ];
    print_table(
        "sizes in bytes (Mutex<u64>, Semaphore)",
        &[
            "Mutex::lock() future",
            "MutexGuard",
            "Semaphore::acquire()",
            "semaphore permit",
        ],
        &rows,
        csv,
    );
    let lock = fairsync::Lock::new();
    println!(
        "fairsync also: Lock::acquire() {} B, LockGuard {} B, Mutex::lock_owned() {} B, Semaphore::acquire_owned() {} B",
        size_of_val(&lock.acquire()),
        size_of::<fairsync::LockGuard<'static>>(),
        size_of_val(&Arc::new(fairsync::Mutex::new(0u64)).lock_owned()),
        size_of_val(&Arc::new(fairsync::Semaphore::new(1)).acquire_owned()),
    );
    let closable = Arc::new(fairsync::ClosableSemaphore::new(1));
    println!(
        "fairsync also: ClosableSemaphore::acquire() {} B, ClosableSemaphore::acquire_owned() {} B, OwnedSemaphorePermit {} B",
        size_of_val(&closable.acquire()),
        size_of_val(&closable.acquire_owned()),
        size_of::<fairsync::OwnedSemaphorePermit>(),
    );
}

/// Allocations (and bytes) per acquire, hand-polled.
fn per_acquire((allocations, bytes): (f64, f64)) -> String {
    if allocations == 0.0 {
        "0".to_string()
    } else {
        format!("{allocations:.2} ({bytes:.0} B)")
    }
}

fn allocations(csv: &mut String, scale: u64) {
    let rounds = 10_000 / scale;
    let rt = common::tokio_runtime();

    let mutex_hand = {
        let fair = fairsync::Mutex::new(0u64);
        let tokio = tokio::sync::Mutex::new(0u64);
        let async_lock = async_lock::Mutex::new(0u64);
        let futures = futures::lock::Mutex::new(0u64);
        let listener = baseline::Mutex::new(0u64);
        [
            hand_polled(now(fair.lock()), || fair.lock(), rounds),
            hand_polled(now(tokio.lock()), || tokio.lock(), rounds),
            hand_polled(now(async_lock.lock()), || async_lock.lock(), rounds),
            hand_polled(now(futures.lock()), || futures.lock(), rounds),
            hand_polled(now(listener.lock()), || listener.lock(), rounds),
        ]
    };
    let sem_hand = {
        let fair = fairsync::Semaphore::new(1);
        let tokio = tokio::sync::Semaphore::new(1);
        let async_lock = async_lock::Semaphore::new(1);
        let listener = baseline::Semaphore::new(1);
        [
            Some(hand_polled(now(fair.acquire()), || fair.acquire(), rounds)),
            Some(hand_polled(
                now(tokio.acquire()),
                || tokio.acquire(),
                rounds,
            )),
            Some(hand_polled(
                now(async_lock.acquire()),
                || async_lock.acquire(),
                rounds,
            )),
            None,
            Some(hand_polled(
                now(listener.acquire()),
                || listener.acquire(),
                rounds,
            )),
        ]
    };
    let mutex_tokio = [
        tokio_mutex::<fairsync::Mutex<u64>>(&rt, scale),
        tokio_mutex::<tokio::sync::Mutex<u64>>(&rt, scale),
        tokio_mutex::<async_lock::Mutex<u64>>(&rt, scale),
        tokio_mutex::<futures::lock::Mutex<u64>>(&rt, scale),
        tokio_mutex::<baseline::Mutex<u64>>(&rt, scale),
    ];
    let sem_tokio = [
        Some(tokio_semaphore::<fairsync::Semaphore>(&rt, scale)),
        Some(tokio_semaphore::<tokio::sync::Semaphore>(&rt, scale)),
        Some(tokio_semaphore::<async_lock::Semaphore>(&rt, scale)),
        None,
        Some(tokio_semaphore::<baseline::Semaphore>(&rt, scale)),
    ];
    let blocking = [
        two_threads::<fairsync::Mutex<u64>>(scale),
        two_threads::<tokio::sync::Mutex<u64>>(scale),
        two_threads::<async_lock::Mutex<u64>>(scale),
        two_threads::<futures::lock::Mutex<u64>>(scale),
        two_threads::<baseline::Mutex<u64>>(scale),
    ];
    let peers = [
        "fairsync",
        "tokio",
        "async-lock",
        "futures",
        "event-listener",
    ];
    let rows: Rows = peers
        .iter()
        .enumerate()
        .map(|(i, &peer)| {
            let none = || "–".to_string();
            (
                peer,
                vec![
                    per_acquire(mutex_hand[i]),
                    sem_hand[i].map_or_else(none, per_acquire),
                    mutex_tokio[i].to_string(),
                    sem_tokio[i].map_or_else(none, |c| c.to_string()),
                    blocking[i].to_string(),
                ],
            )
        })
        .collect();
    print_table(
        "heap allocations: per contended acquire (hand-polled), or counted in N lock operations",
        &[
            "Mutex, hand-polled",
            "Semaphore, hand-polled",
            "Mutex, tokio",
            "Semaphore, tokio",
            "Mutex, 2 threads",
        ],
        &rows,
        csv,
    );
    println!(
        "(2 threads, std: {}; parking_lot: {})",
        two_threads::<std::sync::Mutex<u64>>(scale),
        two_threads::<parking_lot::Mutex<u64>>(scale),
    );
}

fn main() {
    let args = Args::parse();
    if !args.selects("w8_footprint") {
        return;
    }
    let scale = if args.bench { 1 } else { 100 };
    println!("w8_footprint");
    let mut csv = String::from("table,peer,column,value\n");
    primitive_sizes(&mut csv);
    sizes(&mut csv);
    allocations(&mut csv, scale);
    if args.bench {
        let path = common::results_dir().join("footprint.csv");
        std::fs::write(&path, csv).expect("write footprint.csv");
        println!("\nwritten to {}", path.display());
    }
}
