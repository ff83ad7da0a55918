//! Wakers as a hostile user might write them: they panic in `wake` or in
//! `clone`, call back into the primitive from `wake` or `clone`, drop their
//! own future, or make a blocking call inside `wake`. Every primitive must
//! strand nobody, lose no permit and never deadlock on its own lock, also
//! when more waiters are released at once than one wake batch holds (32).

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex as StdMutex};
use std::task::{RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use common::{assert_pending, counting_waker, debug_count, expect_ready, poll_once, watchdog};
use fairsync::{Barrier, Condvar, Event, Lock, Mutex, RwLock, Semaphore};

/// More waiters than one wake batch holds, so a release-all drops its lock
/// and wakes a full batch before it has unlinked everyone.
const CROWD: usize = 40;

type Hook = Box<dyn Fn() + Send + Sync>;

/// What a hooked waker does besides being a waker.
struct Hooks {
    on_wake: Hook,
    on_clone: Hook,
    wakes: AtomicUsize,
}

/// A waker that runs `on_wake` when woken and `on_clone` when cloned; each
/// may panic or call back into a primitive.
fn hooked_waker(
    on_wake: impl Fn() + Send + Sync + 'static,
    on_clone: impl Fn() + Send + Sync + 'static,
) -> (Arc<Hooks>, Waker) {
    let hooks = Arc::new(Hooks {
        on_wake: Box::new(on_wake),
        on_clone: Box::new(on_clone),
        wakes: AtomicUsize::new(0),
    });
    let data = Arc::into_raw(Arc::clone(&hooks)).cast::<()>();
    // SAFETY: `data` comes from `Arc::into_raw` of an `Arc<Hooks>`, which is
    // what every function of `VTABLE` expects, and it holds one count.
    let waker = unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) };
    (hooks, waker)
}

static VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_hooked, wake_hooked, wake_by_ref_hooked, drop_hooked);

/// Runs `on_clone` first: if it panics, no count has been taken.
unsafe fn clone_hooked(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live `Arc<Hooks>` pointer (the waker holds a count).
    let hooks = unsafe { &*data.cast::<Hooks>() };
    (hooks.on_clone)();
    // SAFETY: as above; the new waker takes its own count.
    unsafe { Arc::increment_strong_count(data.cast::<Hooks>()) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake_hooked(data: *const ()) {
    // SAFETY: waking by value hands over the waker's count; the `Arc` gives
    // it back when dropped, also if `on_wake` unwinds.
    let hooks = unsafe { Arc::from_raw(data.cast::<Hooks>()) };
    hooks.wakes.fetch_add(1, Ordering::SeqCst);
    (hooks.on_wake)();
}

unsafe fn wake_by_ref_hooked(data: *const ()) {
    // SAFETY: `data` is a live `Arc<Hooks>` pointer (the waker holds a count).
    let hooks = unsafe { &*data.cast::<Hooks>() };
    hooks.wakes.fetch_add(1, Ordering::SeqCst);
    (hooks.on_wake)();
}

unsafe fn drop_hooked(data: *const ()) {
    // SAFETY: dropping the waker gives back its count.
    drop(unsafe { Arc::from_raw(data.cast::<Hooks>()) });
}

fn panicking_waker(what: &'static str) -> Waker {
    hooked_waker(move || panic!("{what}"), || {}).1
}

fn clone_panicking_waker() -> Waker {
    hooked_waker(|| {}, || panic!("waker clone panicked")).1
}

/// Polls once for the side effects (a panic, say) and ignores the result.
fn poll_ignoring_output<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) {
    let _ = poll_once(fut, waker);
}

fn panics(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Polls each future once with its own waker, expecting `Pending`; the
/// first waker panics when woken, the others count their wake-ups.
fn queue_crowd<'a, T>(
    futures: impl Iterator<Item = Boxed<'a, T>>,
) -> (Vec<Boxed<'a, T>>, Vec<Arc<common::WakeCounter>>) {
    let mut queued = Vec::new();
    let mut counters = Vec::new();
    for (i, mut fut) in futures.enumerate() {
        if i == 0 {
            assert_pending(
                fut.as_mut(),
                &panicking_waker("first waker panicked"),
                "waiter 0",
            );
        } else {
            let (counter, waker) = counting_waker();
            assert_pending(fut.as_mut(), &waker, "a queued waiter");
            counters.push(counter);
        }
        queued.push(fut);
    }
    (queued, counters)
}

/// Every waiter after the panicking first one was woken and completes.
fn assert_all_released<T>(queued: &mut [Boxed<'_, T>], counters: &[Arc<common::WakeCounter>]) {
    for (i, counter) in counters.iter().enumerate() {
        assert_eq!(counter.count(), 1, "waiter {} was not woken", i + 1);
    }
    let (_, waker) = counting_waker();
    for (i, fut) in queued.iter_mut().enumerate() {
        assert!(
            poll_once(fut.as_mut(), &waker).is_ready(),
            "waiter {i} of {CROWD} was stranded"
        );
    }
}

// ---------------------------------------------------------------------------
// A waker that panics in `wake` while a crowd is released.

#[test]
fn panicking_waker_in_notify_all_strands_no_condvar_waiter() {
    let (mutex, condvar) = (Mutex::new(0), Condvar::new());
    let waits =
        (0..CROWD).map(|_| Box::pin(condvar.wait(mutex.try_lock().unwrap())) as Boxed<'_, _>);
    let (mut queued, counters) = queue_crowd(waits);
    assert!(panics(|| condvar.notify_all()));
    assert_eq!(debug_count(&condvar, "waiters"), 0, "{condvar:?}");
    // Each completed wait holds the mutex; dropping it lets the next relock.
    for (i, counter) in counters.iter().enumerate() {
        assert_eq!(counter.count(), 1, "waiter {} was not woken", i + 1);
    }
    let (_, waker) = counting_waker();
    for fut in &mut queued {
        drop(expect_ready(fut.as_mut(), &waker, "a notified wait"));
    }
    assert!(!mutex.is_locked());
}

#[test]
fn panicking_waker_in_event_set_strands_no_waiter() {
    let event = Event::new();
    let waits = (0..CROWD).map(|_| Box::pin(event.wait()) as Boxed<'_, ()>);
    let (mut queued, counters) = queue_crowd(waits);
    assert!(panics(|| event.set()));
    assert_eq!(debug_count(&event, "waiters"), 0, "{event:?}");
    assert_all_released(&mut queued, &counters);
}

#[test]
fn panicking_waker_in_a_barrier_trip_strands_no_party() {
    let barrier = Barrier::new(CROWD + 1);
    let waits = (0..CROWD).map(|_| Box::pin(barrier.wait()) as Boxed<'_, _>);
    let (mut queued, counters) = queue_crowd(waits);
    let mut leader = Box::pin(barrier.wait());
    let (_, waker) = counting_waker();
    assert!(panics(|| poll_ignoring_output(leader.as_mut(), &waker)));
    assert_eq!(debug_count(&barrier, "waiting"), 0, "{barrier:?}");
    assert_all_released(&mut queued, &counters);
    drop(leader);
    // The next generation counts from zero.
    let mut next = Box::pin(barrier.wait());
    assert_pending(next.as_mut(), &waker, "a lone party of the next generation");
}

#[test]
fn panicking_waker_in_a_release_strands_no_semaphore_waiter() {
    let sem = Semaphore::new(0);
    let acquires = (0..CROWD).map(|_| Box::pin(sem.acquire()) as Boxed<'_, _>);
    let (mut queued, counters) = queue_crowd(acquires);
    assert!(panics(|| sem.add_permits(CROWD + 2)));
    assert_eq!(sem.waiters(), 0);
    assert_eq!(sem.available_permits(), 2);
    assert_all_released(&mut queued, &counters);
}

#[test]
fn panicking_waker_when_readers_are_admitted_strands_no_reader() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let reads = (0..CROWD).map(|_| Box::pin(lock.read()) as Boxed<'_, _>);
    let (mut queued, counters) = queue_crowd(reads);
    assert!(panics(|| drop(writer)));
    assert_eq!(lock.waiters(), 0);
    assert_all_released(&mut queued, &counters);
}

// ---------------------------------------------------------------------------
// A waker that panics in `clone`.

#[test]
fn clone_panic_on_arrival_adds_no_barrier_party() {
    let barrier = Barrier::new(2);
    let mut doomed = Box::pin(barrier.wait());
    assert!(panics(|| poll_ignoring_output(
        doomed.as_mut(),
        &clone_panicking_waker()
    )));
    drop(doomed);
    let (_, waker) = counting_waker();
    let mut lone = Box::pin(barrier.wait());
    assert_pending(lone.as_mut(), &waker, "the only party that arrived");
    let mut second = Box::pin(barrier.wait());
    let second = expect_ready(second.as_mut(), &waker, "the second party");
    let first = expect_ready(lone.as_mut(), &waker, "the first party");
    assert!(first.is_leader() != second.is_leader());
}

#[test]
fn clone_panic_on_first_poll_leaves_every_primitive_usable() {
    let (_, waker) = counting_waker();
    let bad = clone_panicking_waker();

    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    assert!(panics(|| poll_ignoring_output(
        Box::pin(sem.acquire_many(1)).as_mut(),
        &bad
    )));
    assert_eq!((sem.waiters(), sem.available_permits()), (0, 0));
    drop(held);
    drop(expect_ready(
        Box::pin(sem.acquire()).as_mut(),
        &waker,
        "semaphore after a clone panic",
    ));

    let event = Event::new();
    assert!(panics(|| poll_ignoring_output(
        Box::pin(event.wait()).as_mut(),
        &bad
    )));
    assert_eq!(debug_count(&event, "waiters"), 0);

    let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    assert!(panics(|| {
        poll_ignoring_output(
            Box::pin(condvar.wait(mutex.try_lock().unwrap())).as_mut(),
            &bad,
        )
    }));
    assert_eq!(debug_count(&condvar, "waiters"), 0);
    assert!(
        !mutex.is_locked(),
        "the guard of a wait that never registered"
    );
}

#[test]
fn clone_panic_on_repoll_keeps_the_waiter_queued_and_the_old_waker() {
    let sem = Semaphore::new(0);
    let (first, waker) = counting_waker();
    let mut acquire = Box::pin(sem.acquire());
    assert_pending(acquire.as_mut(), &waker, "queued");
    assert!(panics(|| poll_ignoring_output(
        acquire.as_mut(),
        &clone_panicking_waker()
    )));
    assert_eq!(sem.waiters(), 1);
    sem.add_permits(1);
    assert_eq!(
        first.count(),
        1,
        "the waker stored before the panic is woken"
    );
    drop(expect_ready(acquire.as_mut(), &waker, "granted"));
    assert_eq!(sem.available_permits(), 1);
}

// ---------------------------------------------------------------------------
// A waker whose `clone` calls back into the same primitive.

#[cfg(feature = "alloc")]
#[test]
fn clone_that_adds_permits_on_a_repoll_does_not_deadlock() {
    watchdog(|| {
        let sem = Arc::new(Semaphore::new(0));
        let (_, waker) = counting_waker();
        let mut acquire = Box::pin(Arc::clone(&sem).acquire_owned());
        assert_pending(acquire.as_mut(), &waker, "queued");
        let reentrant = {
            let sem = Arc::clone(&sem);
            hooked_waker(|| {}, move || sem.add_permits(1)).1
        };
        // The clone runs outside the lock and grants this very waiter.
        let permit = match poll_once(acquire.as_mut(), &reentrant) {
            std::task::Poll::Ready(permit) => permit,
            std::task::Poll::Pending => {
                expect_ready(acquire.as_mut(), &waker, "granted by the clone")
            }
        };
        drop(permit);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn clone_that_sets_the_event_on_the_first_poll_does_not_deadlock() {
    watchdog(|| {
        let event = Arc::new(Event::new());
        let reentrant = {
            let event = Arc::clone(&event);
            hooked_waker(|| {}, move || event.set()).1
        };
        let mut wait = Box::pin(event.wait());
        // Set before the arrival is decided, so the wait passes at once.
        assert!(poll_once(wait.as_mut(), &reentrant).is_ready());
        assert_eq!(debug_count(&*event, "waiters"), 0);
    });
}

#[test]
fn clone_that_notifies_on_the_first_poll_does_not_deadlock() {
    watchdog(|| {
        let (mutex, condvar) = (Arc::new(Mutex::new(())), Arc::new(Condvar::new()));
        let reentrant = {
            let condvar = Arc::clone(&condvar);
            hooked_waker(|| {}, move || condvar.notify_one()).1
        };
        let mut wait = Box::pin(condvar.wait(mutex.try_lock().unwrap()));
        // The notification comes before the wait registered: it is not for
        // this waiter, which stays queued until the next one.
        assert_pending(wait.as_mut(), &reentrant, "registered after the notify");
        condvar.notify_one();
        let (_, waker) = counting_waker();
        drop(expect_ready(wait.as_mut(), &waker, "notified"));
    });
}

#[cfg(feature = "alloc")]
#[test]
fn clone_that_releases_the_mutex_on_a_repoll_does_not_deadlock() {
    watchdog(|| {
        let mutex = Arc::new(Mutex::new(0));
        let stash = Arc::new(StdMutex::new(Some(mutex.try_lock_owned().unwrap())));
        let (_, waker) = counting_waker();
        let mut lock = Box::pin(mutex.lock());
        assert_pending(lock.as_mut(), &waker, "queued behind the stashed guard");
        let reentrant = {
            let stash = Arc::clone(&stash);
            hooked_waker(|| {}, move || drop(stash.lock().unwrap().take())).1
        };
        let mut guard = match poll_once(lock.as_mut(), &reentrant) {
            std::task::Poll::Ready(guard) => guard,
            std::task::Poll::Pending => expect_ready(lock.as_mut(), &waker, "granted by the clone"),
        };
        *guard += 1;
    });
}

// ---------------------------------------------------------------------------
// A waker that drops its own future, or blocks.

#[cfg(feature = "alloc")]
#[test]
fn waker_that_drops_its_own_granted_future_passes_the_permits_on() {
    let sem = Arc::new(Semaphore::new(0));
    type Owned = Pin<Box<dyn Future<Output = fairsync::OwnedSemaphorePermit> + Send>>;
    let slot: Arc<StdMutex<Option<Owned>>> = Arc::new(StdMutex::new(None));
    let dropper = {
        let slot = Arc::clone(&slot);
        hooked_waker(move || drop(slot.lock().unwrap().take()), || {}).1
    };
    let mut first: Owned = Box::pin(Arc::clone(&sem).acquire_many_owned(2));
    assert_pending(first.as_mut(), &dropper, "first in line");
    *slot.lock().unwrap() = Some(first);
    let (next_woken, waker) = counting_waker();
    let mut next = Box::pin(sem.acquire_many(2));
    assert_pending(next.as_mut(), &waker, "second in line");
    sem.add_permits(2);
    assert!(
        slot.lock().unwrap().is_none(),
        "the waker dropped its future"
    );
    assert_eq!(
        next_woken.count(),
        1,
        "the dropped grant went to the next waiter"
    );
    drop(expect_ready(next.as_mut(), &waker, "second in line"));
    assert_eq!((sem.available_permits(), sem.waiters()), (2, 0));
}

#[cfg(feature = "std")]
#[test]
fn waker_that_blocks_on_another_lock_while_waking_completes() {
    watchdog(|| {
        let sem = Arc::new(Semaphore::new(0));
        let other = Arc::new(Lock::new());
        let held = other.try_acquire_owned().unwrap();
        let (entered_tx, entered_rx) = mpsc::channel();
        let blocker = {
            let other = Arc::clone(&other);
            hooked_waker(
                move || {
                    let _ = entered_tx.send(());
                    drop(other.acquire_blocking());
                },
                || {},
            )
            .1
        };
        let mut acquire = Box::pin(Arc::clone(&sem).acquire_owned());
        assert_pending(acquire.as_mut(), &blocker, "queued");
        let releaser = {
            let sem = Arc::clone(&sem);
            std::thread::spawn(move || sem.add_permits(1))
        };
        // The waker runs on the releasing thread, outside the semaphore's
        // lock; it blocks until the other lock is released.
        entered_rx.recv().unwrap();
        assert_eq!(sem.waiters(), 0, "granted before its waker ran");
        drop(held);
        releaser.join().unwrap();
        let (_, waker) = counting_waker();
        drop(expect_ready(acquire.as_mut(), &waker, "granted"));
        assert!(!other.is_locked());
    });
}

/// A thread in `Condvar::wait_blocking` unlocks the mutex on its first
/// poll, which grants it to an async waiter whose waker runs right there
/// and makes a blocking call of its own. The nested call must not consume
/// the outer wait's wake-up: the outer wait returns after `notify_one`.
#[cfg(feature = "std")]
#[test]
fn blocking_call_inside_a_waker_keeps_the_outer_blocking_wait_awake() {
    watchdog(|| {
        let mutex = Arc::new(Mutex::new(0));
        let condvar = Arc::new(Condvar::new());
        let (locked_tx, locked_rx) = mpsc::channel();
        let (queued_tx, queued_rx) = mpsc::channel::<()>();
        let waiter = {
            let (mutex, condvar) = (Arc::clone(&mutex), Arc::clone(&condvar));
            std::thread::spawn(move || {
                let guard = mutex.lock_blocking();
                locked_tx.send(()).unwrap();
                queued_rx.recv().unwrap();
                let guard = condvar.wait_blocking(guard);
                *guard + 1
            })
        };
        locked_rx.recv().unwrap();
        let (nested_tx, nested_rx) = mpsc::channel();
        let nested_tx = StdMutex::new(nested_tx);
        let idle = Arc::new(Event::new());
        let nesting = {
            let idle = Arc::clone(&idle);
            hooked_waker(
                move || {
                    let _ = nested_tx.lock().unwrap().send(());
                    // Parks this thread across the notification below; with
                    // a shared parker it would clear the outer wake-up.
                    idle.wait_blocking_timeout(Duration::from_millis(200));
                },
                || {},
            )
            .1
        };
        let mut lock = Box::pin(mutex.lock());
        assert_pending(lock.as_mut(), &nesting, "queued behind the waiting thread");
        queued_tx.send(()).unwrap();
        // The waiting thread registered and unlocked, granting `lock`, and
        // is inside the nested call now.
        nested_rx.recv().unwrap();
        condvar.notify_one();
        let (_, waker) = counting_waker();
        drop(expect_ready(
            lock.as_mut(),
            &waker,
            "granted by the condvar wait",
        ));
        assert_eq!(waiter.join().unwrap(), 1);
    });
}

/// The first poll of a request clones its waker before it takes the
/// queue's lock; a clone that cancels the only waiter and releases a permit
/// meanwhile lets the request take the permit in the locked path without
/// queueing. That must leave no trace in the line (no permits recorded as
/// collected by a head that does not exist), or a later `close` would put
/// them in the counter a second time.
#[cfg(feature = "alloc")]
#[test]
fn request_served_in_the_locked_path_leaves_nothing_for_close_to_return() {
    use fairsync::ClosableSemaphore;

    type Slot = Arc<StdMutex<Option<Box<dyn Send>>>>;
    let sem = Arc::new(ClosableSemaphore::new(1));
    let held = sem.try_acquire_owned().unwrap();
    let (_, waker) = counting_waker();
    let mut queued = Box::pin(sem.acquire_owned());
    assert_pending(queued.as_mut(), &waker, "queued behind the holder");
    let slot: Slot = Arc::new(StdMutex::new(Some(Box::new((queued, held)))));
    let emptying = {
        let slot = Arc::clone(&slot);
        // Cancels the queued waiter, then releases the held permit.
        hooked_waker(|| {}, move || drop(slot.lock().unwrap().take())).1
    };
    let mut request = Box::pin(sem.acquire());
    let permit = match poll_once(request.as_mut(), &emptying) {
        std::task::Poll::Ready(permit) => permit.expect("not closed"),
        std::task::Poll::Pending => panic!("the released permit was free to take"),
    };
    sem.close();
    assert_eq!(sem.available_permits(), 0, "close minted a permit");
    drop(permit);
    assert_eq!(sem.available_permits(), 1);
}
