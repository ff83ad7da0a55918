#![cfg(loom)]
//! Model checks of the waiter queue with loom.
//!
//! Under `--cfg loom` the crate uses loom's atomics, mutex and `UnsafeCell`
//! (the value inside `Mutex<T>`), so loom reports a missing happens-before on
//! hand-off as a causality violation. A blocking call without a deadline runs
//! on `loom::future::block_on`; a call with a deadline polls once and then
//! gives up, a timeout firing at the worst moment.
//!
//! Two departures from tokio's design are checked here: the `WAITERS` bit that
//! lets an uncontended release skip the lock (`release_racing_enqueue_*`),
//! and the lock-free completion of a granted waiter
//! (`granted_waiter_completes_*`).
//!
//! Each model runs on the main thread plus at most two more. The bound on
//! preemptions is `LOOM_MAX_PREEMPTIONS`, or [`DEFAULT_PREEMPTIONS`] without
//! it.
//!
//! # Running
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release \
//!     --test loom --target-dir target/loom -- --test-threads=1
//! ```
//!
//! The runtimes and peer crates the other tests use are not dependencies
//! under `--cfg loom` (see `Cargo.toml`), so only this file builds there.
//!
//! With `LOOM_MAX_PREEMPTIONS` set, `LOOM_LOG=trace LOOM_LOCATION=1` prints
//! the interleaving of a failing model.

use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{
    AtomicBool as StdAtomicBool, AtomicIsize, AtomicUsize, Ordering as StdOrdering,
};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use fairsync::{Lock, Mutex, MutexLockOwned, Semaphore};
use loom::future::block_on;
use loom::thread;

/// The preemption bound when `LOOM_MAX_PREEMPTIONS` is not set.
const DEFAULT_PREEMPTIONS: usize = 2;

/// Long enough never to expire for real: under loom a wait with a deadline
/// polls once and gives up whatever the duration.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Explores every interleaving of `f` within the preemption bound.
///
/// With `LOOM_MAX_PREEMPTIONS` set this is `loom::model`, which also honours
/// `LOOM_LOG` (print the failing interleaving) and `LOOM_LOCATION`. Without
/// it the bound is [`DEFAULT_PREEMPTIONS`] rather than loom's unbounded
/// default. The number of interleavings explored is printed (shown with
/// `--nocapture`).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let iterations = Arc::new(AtomicUsize::new(0));
    let counted = {
        let iterations = Arc::clone(&iterations);
        move || {
            iterations.fetch_add(1, StdOrdering::Relaxed);
            f();
        }
    };
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_some() {
        loom::model(counted);
    } else {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
        builder.check(counted);
    }
    eprintln!(
        "explored {} interleavings",
        iterations.load(StdOrdering::Relaxed)
    );
}

/// Polls `fut` once with `waker`.
fn poll_with<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Polls `fut` once with a waker that does nothing.
fn poll_noop<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    poll_with(fut, Waker::noop())
}

/// Polls `fut` until it is ready, yielding to the other threads in between.
/// No wake-up is needed, so a poll may land at any point of a releaser's
/// grant, also before it wakes the waiter.
fn spin_until_ready<F: Future>(mut fut: Pin<&mut F>, waker: &Waker) -> F::Output {
    loop {
        if let Poll::Ready(output) = poll_with(fut.as_mut(), waker) {
            return output;
        }
        thread::yield_now();
    }
}

/// Counts the live references to a waker, to catch the queue dropping or
/// waking a waker it no longer owns (for instance one taken out of a node
/// that its owner has already dropped).
///
/// The counters are plain std atomics: loom runs its threads one at a time,
/// and this bookkeeping is not part of the algorithm under test.
struct WakerCount {
    live: AtomicIsize,
    underflow: StdAtomicBool,
}

impl WakerCount {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            live: AtomicIsize::new(0),
            underflow: StdAtomicBool::new(false),
        })
    }

    /// A new waker counted by `self`. `self` must outlive every clone.
    fn waker(self: &Arc<Self>) -> Waker {
        self.live.fetch_add(1, StdOrdering::Relaxed);
        let data = Arc::as_ptr(self).cast::<()>();
        // SAFETY: the vtable functions below follow the `RawWaker` contract;
        // `data` stays valid while the caller keeps the `Arc` alive.
        unsafe { Waker::from_raw(RawWaker::new(data, &COUNTED_WAKER)) }
    }

    fn release(&self) {
        if self.live.fetch_sub(1, StdOrdering::Relaxed) <= 0 {
            self.underflow.store(true, StdOrdering::Relaxed);
        }
    }

    /// Asserts that every waker was dropped exactly once.
    fn assert_balanced(&self) {
        assert!(
            !self.underflow.load(StdOrdering::Relaxed),
            "a waker was dropped or woken after its last reference was gone: \
             the queue used a node its owner had already dropped"
        );
        assert_eq!(
            self.live.load(StdOrdering::Relaxed),
            0,
            "wakers were leaked or dropped twice"
        );
    }
}

static COUNTED_WAKER: RawWakerVTable = RawWakerVTable::new(
    counted_clone,
    counted_wake,
    counted_wake_by_ref,
    counted_drop,
);

unsafe fn counted_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` came from `WakerCount::waker`, whose `Arc` outlives it.
    let count = unsafe { &*data.cast::<WakerCount>() };
    count.live.fetch_add(1, StdOrdering::Relaxed);
    RawWaker::new(data, &COUNTED_WAKER)
}

unsafe fn counted_wake(data: *const ()) {
    // SAFETY: as in `counted_clone`.
    unsafe { counted_drop(data) }
}

unsafe fn counted_wake_by_ref(_: *const ()) {}

unsafe fn counted_drop(data: *const ()) {
    // SAFETY: as in `counted_clone`.
    let count = unsafe { &*data.cast::<WakerCount>() };
    count.release();
}

/// The only permits of `sem` must be back in the counter, with nobody queued.
fn assert_all_returned(sem: &Semaphore, total: usize) {
    assert_eq!(
        sem.available_permits(),
        total,
        "permits were lost or minted"
    );
    assert_eq!(sem.waiters(), 0, "a waiter was left in the queue");
}

/// 1. Three threads increment a `Mutex<usize>` through their guards, with
///    `lock` on `block_on`, `lock_blocking` and `lock_owned`, so up to two
///    wait in line at once. The final value is exact, and the loom
///    `UnsafeCell` inside the mutex reports any access not ordered by a
///    hand-off.
#[test]
fn mutex_increments_are_mutually_exclusive() {
    model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let blocking = {
            let mutex = Arc::clone(&mutex);
            thread::spawn(move || {
                *mutex.lock_blocking() += 1;
            })
        };
        let owned = {
            let mutex = Arc::clone(&mutex);
            thread::spawn(move || {
                *block_on(Arc::clone(&mutex).lock_owned()) += 1;
            })
        };
        *block_on(mutex.lock()) += 1;
        blocking.join().unwrap();
        owned.join().unwrap();
        assert_eq!(*mutex.try_lock().expect("unlocked after all"), 3);
        assert!(!mutex.is_locked());
    });
}

/// A counter that is only touched while a `Lock` is held. The loom cell
/// inside reports any two accesses not ordered by the lock's hand-off.
struct Guarded(loom::cell::UnsafeCell<usize>);

// SAFETY: the cell is only accessed by the holder of the lock that guards it,
// and loom checks exactly that claim.
unsafe impl Send for Guarded {}
// SAFETY: as for `Send`.
unsafe impl Sync for Guarded {}

impl Guarded {
    /// # Safety
    /// The caller holds the lock guarding `self`.
    unsafe fn increment(&self) {
        // SAFETY: forwarded from the caller.
        self.0.with_mut(|value| unsafe { *value += 1 });
    }

    /// # Safety
    /// The caller holds the lock guarding `self`.
    unsafe fn get(&self) -> usize {
        // SAFETY: forwarded from the caller.
        self.0.with(|value| unsafe { *value })
    }
}

/// 1b. A `Lock` guarding a loom cell of its own, taken twice by each of two
///     threads (async and blocking), so a thread that just released queues
///     again with a fresh node.
#[test]
fn lock_guards_a_critical_section() {
    model(|| {
        let lock = Arc::new(Lock::new());
        let cell = Arc::new(Guarded(loom::cell::UnsafeCell::new(0)));
        let other = {
            let (lock, cell) = (Arc::clone(&lock), Arc::clone(&cell));
            thread::spawn(move || {
                for _ in 0..2 {
                    let _guard = lock.acquire_blocking();
                    // SAFETY: the lock is held.
                    unsafe { cell.increment() };
                }
            })
        };
        for _ in 0..2 {
            let _guard = block_on(lock.acquire());
            // SAFETY: the lock is held.
            unsafe { cell.increment() };
        }
        other.join().unwrap();
        let _guard = lock.try_acquire().expect("unlocked after both");
        // SAFETY: the lock is held.
        assert_eq!(unsafe { cell.get() }, 4);
    });
}

/// 2. (WAITERS bit) The only permit is released while another thread's
///    acquire may be anywhere between its failed fast path and linking its
///    node. The acquire completes (a lost wake-up would leave `block_on`
///    blocked forever, which loom reports as a deadlock) and the permit is
///    back afterwards.
#[test]
fn release_racing_enqueue_loses_no_wakeup() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                let permit = block_on(sem.acquire());
                assert_eq!(permit.permits(), 1);
            })
        };
        drop(held);
        waiter.join().unwrap();
        assert_all_returned(&sem, 1);
    });
}

/// 2b. (WAITERS bit) A weighted acquire of 2 races two single releases, so
///     the first release may find the acquirer anywhere on its way into the
///     queue while the second may find it linked with one permit collected.
#[test]
fn release_racing_enqueue_loses_no_permit() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let mut first = sem.try_acquire_many_owned(2).expect("two permits");
        let second = first.split(1).expect("split one off");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                let permit = block_on(sem.acquire_many(2));
                assert_eq!(permit.permits(), 2);
                assert_eq!(sem.available_permits(), 0);
            })
        };
        drop(first);
        drop(second);
        waiter.join().unwrap();
        assert_all_returned(&sem, 2);
    });
}

/// 2c. (WAITERS bit) Two acquirers race the release of the only permit,
///     each anywhere on its way into the queue; both complete in turn.
#[test]
fn release_racing_two_enqueues_wakes_both() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let acquirer = || {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(block_on(sem.acquire())))
        };
        let (first, second) = (acquirer(), acquirer());
        drop(held);
        first.join().unwrap();
        second.join().unwrap();
        assert_all_returned(&sem, 1);
    });
}

/// 3. (Lock-free completion) A queued waiter polls in a loop, without being
///    woken, so it may see `GRANTED` at any point after the releaser's store.
///    It then drops its future, ending the node, and writes the value while
///    the releaser may still be in its grant loop.
///
///    The future lives in a heap slot that outlives the model's threads and
///    is dropped in place, so a releaser touching the node after `GRANTED`
///    reads the dead node rather than reused memory: the counted waker then
///    shows the node's waker dropped by its owner and woken by the releaser.
///    The loom cell in the mutex shows whether `GRANTED` carries the
///    releaser's write.
#[test]
fn granted_waiter_completes_without_the_lock() {
    model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let count = WakerCount::new();
        let mut held = mutex.try_lock_owned().expect("unlocked");

        let mut slot: Box<MaybeUninit<MutexLockOwned<usize>>> =
            Box::new(MaybeUninit::new(Arc::clone(&mutex).lock_owned()));
        {
            let waker = count.waker();
            // SAFETY: the slot is initialized; the future is never moved out
            // of its heap slot, and is dropped in place before the slot is
            // freed.
            let fut = unsafe { Pin::new_unchecked(slot.assume_init_mut()) };
            assert!(poll_with(fut, &waker).is_pending(), "the mutex is held");
        }
        assert!(mutex.is_locked());

        let waker = count.waker();
        let waiter = thread::spawn(move || {
            // SAFETY: as above; moving the box did not move the future.
            let fut = unsafe { Pin::new_unchecked(slot.assume_init_mut()) };
            let mut guard = spin_until_ready(fut, &waker);
            // SAFETY: initialized and pinned; dropped exactly once, and the
            // slot is not read as a future again.
            unsafe { ptr::drop_in_place(slot.as_mut_ptr()) };
            *guard += 1;
            drop(guard);
            drop(waker);
            // Keeps the dead node's memory allocated until the model ends.
            slot
        });

        *held += 1;
        drop(held);

        let slot = waiter.join().unwrap();
        drop(slot);
        count.assert_balanced();
        assert_eq!(*mutex.try_lock().expect("unlocked"), 2);
    });
}

/// 3b. (Lock-free completion) One release of 2 grants two queued waiters in
///     one grant loop. The first waiter completes and drops its node while
///     the releaser goes on to the second.
#[test]
fn granted_waiter_completes_while_the_releaser_grants_the_next() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let count = WakerCount::new();
        let held = sem.try_acquire_many_owned(2).expect("two permits");

        let mut slot = Box::new(MaybeUninit::new(Arc::clone(&sem).acquire_owned()));
        let mut second = Box::pin(Arc::clone(&sem).acquire_owned());
        {
            let waker = count.waker();
            // SAFETY: as in `granted_waiter_completes_without_the_lock`.
            let fut = unsafe { Pin::new_unchecked(slot.assume_init_mut()) };
            assert!(poll_with(fut, &waker).is_pending());
            assert!(poll_with(second.as_mut(), &waker).is_pending());
        }
        assert_eq!(sem.waiters(), 2);

        let waker = count.waker();
        let first = thread::spawn(move || {
            // SAFETY: as in `granted_waiter_completes_without_the_lock`.
            let fut = unsafe { Pin::new_unchecked(slot.assume_init_mut()) };
            let permit = spin_until_ready(fut, &waker);
            // SAFETY: as in `granted_waiter_completes_without_the_lock`.
            unsafe { ptr::drop_in_place(slot.as_mut_ptr()) };
            drop(permit);
            drop(waker);
            slot
        });

        drop(held);

        let slot = first.join().unwrap();
        drop(slot);
        let permit = match poll_noop(second.as_mut()) {
            Poll::Ready(permit) => permit,
            Poll::Pending => panic!("the second waiter was not granted"),
        };
        drop(permit);
        drop(second);
        count.assert_balanced();
        assert_all_returned(&sem, 2);
    });
}

/// 4. A queued waiter's future is dropped in one thread while another
///    releases the permit it waits for: the grant may land before, during or
///    after the cancellation. Either way the permit ends up back in the
///    counter and nobody is left queued.
#[test]
fn cancel_racing_grant_conserves_permits() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let mut cancelled = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_noop(cancelled.as_mut()).is_pending());

        let releaser = thread::spawn(move || drop(held));
        drop(cancelled);
        releaser.join().unwrap();

        assert_all_returned(&sem, 1);
    });
}

/// 4b. As 4, with a second waiter queued behind the cancelled one: the permit
///     must reach it whichever way the race goes.
#[test]
fn cancel_racing_grant_passes_the_permit_on() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let mut cancelled = Box::pin(Arc::clone(&sem).acquire_owned());
        let mut next = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_noop(cancelled.as_mut()).is_pending());
        assert!(poll_noop(next.as_mut()).is_pending());

        let releaser = thread::spawn(move || drop(held));
        drop(cancelled);
        releaser.join().unwrap();

        assert_eq!(sem.waiters(), 0);
        assert_eq!(
            sem.available_permits(),
            0,
            "the permit went past the waiter"
        );
        match poll_noop(next.as_mut()) {
            Poll::Ready(permit) => drop(permit),
            Poll::Pending => panic!("the permit did not reach the next waiter"),
        }
        assert_all_returned(&sem, 1);
    });
}

/// 4c. A thread polls an acquire once and drops it, racing both the
///     release of the only permit and a blocked acquirer in a third thread:
///     whichever way the grant and the cancellation go, the blocked thread
///     gets the permit (else loom reports a deadlock).
#[test]
fn cancel_racing_grant_hands_on_to_a_blocked_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let canceller = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                let mut fut = Box::pin(sem.acquire());
                if let Poll::Ready(permit) = poll_noop(fut.as_mut()) {
                    drop(permit);
                }
            })
        };
        let blocked = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(block_on(sem.acquire())))
        };
        drop(held);
        canceller.join().unwrap();
        blocked.join().unwrap();
        assert_all_returned(&sem, 1);
    });
}

/// 5. The head asks for 2 and has collected 1 of them; a second waiter asks
///    for 1. The head is cancelled while the last held permit is released:
///    the partial permit (and the released one) must reach the second waiter
///    and the counter, and no permit is lost.
#[test]
fn cancel_weighted_head_passes_partial_grant_on() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_owned().expect("one of two permits");
        let mut head = Box::pin(Arc::clone(&sem).acquire_many_owned(2));
        let mut next = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(
            poll_noop(head.as_mut()).is_pending(),
            "head collects 1 of 2"
        );
        assert!(
            poll_noop(next.as_mut()).is_pending(),
            "no overtaking the head"
        );
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(sem.waiters(), 2);

        let releaser = thread::spawn(move || drop(held));
        drop(head);
        releaser.join().unwrap();

        assert_eq!(sem.waiters(), 0);
        assert_eq!(sem.available_permits(), 1);
        match poll_noop(next.as_mut()) {
            Poll::Ready(permit) => drop(permit),
            Poll::Pending => panic!("the partial permit did not reach the next waiter"),
        }
        assert_all_returned(&sem, 2);
    });
}

/// 5b. As 5, with the permit added by `add_permits` from another thread to a
///     semaphore that started with 1.
#[test]
fn cancel_weighted_head_racing_add_permits() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let mut head = Box::pin(Arc::clone(&sem).acquire_many_owned(2));
        let mut next = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(
            poll_noop(head.as_mut()).is_pending(),
            "head collects 1 of 2"
        );
        assert!(
            poll_noop(next.as_mut()).is_pending(),
            "no overtaking the head"
        );

        let adder = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.add_permits(1))
        };
        drop(head);
        adder.join().unwrap();

        assert_eq!(sem.waiters(), 0);
        assert_eq!(sem.available_permits(), 1);
        match poll_noop(next.as_mut()) {
            Poll::Ready(permit) => drop(permit),
            Poll::Pending => panic!("the partial permit did not reach the next waiter"),
        }
        assert_all_returned(&sem, 2);
    });
}

/// 5c. As 5, with the second waiter blocked in its own thread and the
///     release in another: the cancelled head's partial permit must wake it.
#[test]
fn cancel_weighted_head_wakes_a_blocked_next_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_owned().expect("one of two permits");
        let mut head = Box::pin(Arc::clone(&sem).acquire_many_owned(2));
        assert!(
            poll_noop(head.as_mut()).is_pending(),
            "head collects 1 of 2"
        );
        let next = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(block_on(sem.acquire())))
        };
        let releaser = thread::spawn(move || drop(held));
        drop(head);
        releaser.join().unwrap();
        next.join().unwrap();
        assert_all_returned(&sem, 2);
    });
}

/// 6. Two weighted waiters (2, then 1) and releases of 2 and 1 from two
///    threads in either order. The second waiter never completes before the
///    first: whenever the main thread sees it granted, the first is granted
///    too. Every permit is back afterwards.
#[test]
fn weighted_waiters_complete_in_fifo_order() {
    model(|| {
        let sem = Arc::new(Semaphore::new(3));
        let mut two = sem.try_acquire_many_owned(3).expect("three permits");
        let one = two.split(1).expect("split one off");
        let mut first = Box::pin(Arc::clone(&sem).acquire_many_owned(2));
        let mut second = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_noop(first.as_mut()).is_pending());
        assert!(poll_noop(second.as_mut()).is_pending());

        let releasers = [
            thread::spawn(move || drop(two)),
            thread::spawn(move || drop(one)),
        ];

        let second_permit = spin_until_ready(second.as_mut(), Waker::noop());
        let first_permit = match poll_noop(first.as_mut()) {
            Poll::Ready(permit) => permit,
            Poll::Pending => panic!("the second waiter completed before the first"),
        };
        assert_eq!(first_permit.permits(), 2);
        assert_eq!(second_permit.permits(), 1);
        assert_eq!(sem.available_permits(), 0);

        for releaser in releasers {
            releaser.join().unwrap();
        }
        drop(second_permit);
        drop(first_permit);
        assert_all_returned(&sem, 3);
    });
}

/// 7. A thread blocked in `acquire_blocking` and an async acquire on
///    `block_on` in another thread wait in the same line for a permit the
///    main thread releases: both complete and the permits are conserved.
#[test]
fn blocking_and_async_waiters_share_the_line() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let blocking = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(sem.acquire_blocking()))
        };
        let asynchronous = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(block_on(sem.acquire())))
        };
        drop(held);
        blocking.join().unwrap();
        asynchronous.join().unwrap();
        assert_all_returned(&sem, 1);
    });
}

/// 8. An `OwnedMutexGuard` taken on the main thread is moved to another
///    thread, which writes and drops it, while the main thread waits in
///    `lock_owned`.
#[test]
fn owned_mutex_guard_moves_across_threads() {
    model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let mut guard = block_on(Arc::clone(&mutex).lock_owned());
        let other = thread::spawn(move || {
            *guard += 1;
            drop(guard);
        });
        let mut guard = block_on(Arc::clone(&mutex).lock_owned());
        *guard += 1;
        drop(guard);
        other.join().unwrap();
        assert_eq!(*mutex.try_lock().expect("unlocked"), 2);
    });
}

/// 8b. An `OwnedSemaphorePermit` and an `OwnedLockGuard` are moved to
///     another thread and dropped there while the main thread waits for them
///     with `acquire_owned`.
#[test]
fn owned_permit_and_lock_guard_move_across_threads() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let lock = Arc::new(Lock::new());
        let permit = block_on(Arc::clone(&sem).acquire_owned());
        let guard = block_on(Arc::clone(&lock).acquire_owned());
        let other = thread::spawn(move || {
            drop(guard);
            drop(permit);
        });
        let permit = block_on(Arc::clone(&sem).acquire_owned());
        assert_eq!(permit.permits(), 1);
        drop(block_on(Arc::clone(&lock).acquire_owned()));
        drop(permit);
        other.join().unwrap();
        assert_all_returned(&sem, 1);
        assert!(!lock.is_locked());
    });
}

/// 9. While a waiter is queued, `try_acquire` in two threads races the
///    release of the permit the waiter waits for: the permit goes to the
///    waiter, so neither try ever succeeds, and nothing is lost.
#[test]
fn try_acquire_never_overtakes_a_queued_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let mut waiter = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_noop(waiter.as_mut()).is_pending());

        let releaser = thread::spawn(move || drop(held));
        let trier = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                assert!(sem.try_acquire().is_none(), "try_acquire overtook a waiter");
            })
        };
        assert!(sem.try_acquire().is_none(), "try_acquire overtook a waiter");
        releaser.join().unwrap();
        trier.join().unwrap();

        match poll_noop(waiter.as_mut()) {
            Poll::Ready(permit) => drop(permit),
            Poll::Pending => panic!("the waiter was not granted"),
        }
        assert_all_returned(&sem, 1);
    });
}

/// 10. `acquire_timeout` (under loom: one poll, then cancel) races the
///     release of the only permit: it either returns the permit or leaves no
///     waiter behind, and the permit is back afterwards.
#[test]
fn acquire_timeout_racing_release_gets_it_or_leaves_no_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                if let Some(permit) = sem.acquire_timeout(TIMEOUT) {
                    assert_eq!(permit.permits(), 1);
                    assert_eq!(sem.available_permits(), 0);
                }
            })
        };
        drop(held);
        waiter.join().unwrap();
        assert_all_returned(&sem, 1);
    });
}

/// 10b. `lock_timeout` races the unlock of a mutex the main thread wrote
///      under its guard: it either gets the guard (and sees the write) or
///      leaves no waiter, and the mutex ends unlocked.
#[test]
fn lock_timeout_racing_unlock_gets_it_or_leaves_no_waiter() {
    model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let mut held = mutex.try_lock_owned().expect("unlocked");
        let waiter = {
            let mutex = Arc::clone(&mutex);
            thread::spawn(move || match mutex.lock_timeout(TIMEOUT) {
                Some(mut guard) => {
                    assert_eq!(*guard, 1, "the holder's write is visible");
                    *guard += 1;
                    true
                }
                None => false,
            })
        };
        *held += 1;
        drop(held);
        let got_it = waiter.join().unwrap();
        assert!(!mutex.is_locked());
        let guard = mutex.try_lock().expect("unlocked, no waiter left");
        assert_eq!(*guard, 1 + usize::from(got_it));
    });
}

/// 11. One release of 33 permits fills the 32-waker batch, so the releaser
///     unlocks to wake it and relocks with a permit in hand for the 33rd
///     waiter, which another thread cancels meanwhile. Whether the 33rd is
///     cancelled before its grant, while the releaser is unlocked, or after
///     its grant, its permit must end up in the counter.
#[test]
fn full_wake_batch_release_racing_cancel_keeps_the_permit() {
    model(|| {
        const WAITERS: usize = 33;
        let sem = Arc::new(Semaphore::new(0));
        let mut futures: Vec<_> = (0..WAITERS)
            .map(|_| Box::pin(Arc::clone(&sem).acquire_owned()))
            .collect();
        for fut in &mut futures {
            assert!(poll_noop(fut.as_mut()).is_pending());
        }
        let last = futures.pop().expect("33 futures");

        let adder = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.add_permits(WAITERS))
        };
        let canceller = thread::spawn(move || drop(last));
        adder.join().unwrap();
        canceller.join().unwrap();

        assert_eq!(sem.waiters(), 0);
        assert_eq!(sem.available_permits(), 1, "the 33rd permit was lost");
        for mut fut in futures {
            match poll_noop(fut.as_mut()) {
                Poll::Ready(permit) => drop(permit),
                Poll::Pending => panic!("a waiter of the first batch was not granted"),
            }
        }
        assert_all_returned(&sem, WAITERS);
    });
}

/// A waker that releases a permit into the semaphore when woken, the way a
/// waker may call back into the primitive that woke it.
struct ReleasingWaker(Arc<Semaphore>);

impl std::task::Wake for ReleasingWaker {
    fn wake(self: Arc<Self>) {
        self.0.add_permits(1);
    }
}

/// 12. Wakers run outside the queue's lock: the first waiter's waker adds a
///     permit, which takes the queue's lock to grant the second waiter. Were
///     it woken under the lock, loom would report a deadlock. Meanwhile the
///     main thread polls the second waiter; both complete and the permits
///     (one initial, one added) are all back.
#[test]
fn reentrant_waker_runs_outside_the_lock() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waker = Waker::from(Arc::new(ReleasingWaker(Arc::clone(&sem))));
        let mut first = Box::pin(Arc::clone(&sem).acquire_owned());
        let mut second = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_with(first.as_mut(), &waker).is_pending());
        assert!(poll_noop(second.as_mut()).is_pending());
        drop(waker);

        let releaser = thread::spawn(move || drop(held));
        let second_permit = spin_until_ready(second.as_mut(), Waker::noop());
        releaser.join().unwrap();
        let first_permit = match poll_noop(first.as_mut()) {
            Poll::Ready(permit) => permit,
            Poll::Pending => panic!("the first waiter was not granted"),
        };
        drop(first_permit);
        drop(second_permit);
        assert_all_returned(&sem, 2);
    });
}

/// 13. `waiters()` counts callers queued and not yet granted, so a waiter
///     that has just been granted must not see itself counted. (The count
///     is checked on the main thread, so that a failure does not unwind
///     through the permit's drop inside the model thread.)
#[test]
fn granted_waiter_no_longer_counts_as_a_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                let permit = block_on(sem.acquire());
                let seen = sem.waiters();
                drop(permit);
                seen
            })
        };
        drop(held);
        let seen = waiter.join().unwrap();
        assert_eq!(seen, 0, "a granted waiter still counted itself");
        assert_all_returned(&sem, 1);
    });
}

/// 13b. As 13, for an `acquire_timeout` that gave up: right after it returned
///      `None`, its own wait is over, so it must not see itself counted.
#[test]
fn timed_out_acquire_no_longer_counts_as_a_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || match sem.acquire_timeout(TIMEOUT) {
                Some(_) => 0,
                None => sem.waiters(),
            })
        };
        drop(held);
        let seen = waiter.join().unwrap();
        assert_eq!(seen, 0, "a timed-out waiter still counted itself");
        assert_all_returned(&sem, 1);
    });
}
