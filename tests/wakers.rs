//! Waker handling: a waker may call back into the same primitive when it is
//! woken or dropped (it is never woken or dropped under the queue's lock),
//! and a re-poll with a different waker replaces the stored one.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Poll, Waker};

use common::{assert_pending, counting_waker, expect_ready, poll_once, watchdog};
#[cfg(feature = "alloc")]
use fairsync::OwnedSemaphorePermit;
use fairsync::{Lock, Mutex, Semaphore};
use futures::task::{noop_waker, ArcWake};

/// A waker that runs `on_wake` on every wake and `on_drop` when its last
/// clone is dropped.
struct CallbackWaker {
    wakes: AtomicUsize,
    on_wake: Box<dyn Fn() + Send + Sync>,
    on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl ArcWake for CallbackWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.wakes.fetch_add(1, Ordering::SeqCst);
        (arc_self.on_wake)();
    }
}

impl Drop for CallbackWaker {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop();
        }
    }
}

fn callback_waker(
    on_wake: impl Fn() + Send + Sync + 'static,
    on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
) -> (Arc<CallbackWaker>, Waker) {
    let inner = Arc::new(CallbackWaker {
        wakes: AtomicUsize::new(0),
        on_wake: Box::new(on_wake),
        on_drop,
    });
    let waker = futures::task::waker(Arc::clone(&inner));
    (inner, waker)
}

/// Exercises every path of `sem` that takes its internal lock: a queued
/// acquire, its cancellation, and a release with a waiter in line.
fn touch_every_locked_path(sem: &Semaphore) {
    let _ = sem.try_acquire();
    let _ = sem.available_permits();
    let _ = format!("{sem:?}");
    let mut probe = pin!(sem.acquire_many(Semaphore::MAX_PERMITS));
    let _ = poll_once(probe.as_mut(), &noop_waker());
}

#[cfg(feature = "alloc")]
#[test]
fn waker_that_reenters_the_semaphore_when_woken_does_not_deadlock() {
    watchdog(|| {
        let sem = Arc::new(Semaphore::new(2));
        let first = sem.try_acquire_owned().unwrap();
        let stash: Arc<StdMutex<Option<OwnedSemaphorePermit>>> =
            Arc::new(StdMutex::new(Some(sem.try_acquire_owned().unwrap())));
        let (a_state, a_waker) = callback_waker(
            {
                let (sem, stash) = (Arc::clone(&sem), Arc::clone(&stash));
                move || {
                    touch_every_locked_path(&sem);
                    // Release a permit from inside wake, with b in line.
                    drop(stash.lock().unwrap().take());
                }
            },
            None,
        );
        let (b_wakes, b_waker) = counting_waker();
        let mut a = pin!(sem.acquire());
        let mut b = pin!(sem.acquire());
        assert_pending(a.as_mut(), &a_waker, "a");
        assert_pending(b.as_mut(), &b_waker, "b");
        drop(first); // grants a, whose waker releases the stashed permit to b
        assert_eq!(a_state.wakes.load(Ordering::SeqCst), 1);
        assert_eq!(
            b_wakes.count(),
            1,
            "the permit released inside wake reached b"
        );
        let pa = expect_ready(a.as_mut(), &a_waker, "a");
        let pb = expect_ready(b.as_mut(), &b_waker, "b");
        drop((pa, pb));
        assert_eq!((sem.available_permits(), sem.waiters()), (2, 0));
    });
}

// With `diagnostics`, the registry keeps a clone of a waiter's first waker
// until the wait ends, so the drops this test counts come later there.
#[cfg(not(feature = "diagnostics"))]
#[test]
fn waker_dropped_by_the_semaphore_may_reenter_it() {
    watchdog(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let dropped = Arc::new(AtomicUsize::new(0));
        let make = |sem: &Arc<Semaphore>| {
            let (sem, dropped) = (Arc::clone(sem), Arc::clone(&dropped));
            callback_waker(
                || {},
                Some(Box::new(move || {
                    touch_every_locked_path(&sem);
                    dropped.fetch_add(1, Ordering::SeqCst);
                })),
            )
            .1
        };
        // Replaced on re-poll: the old waker is dropped by the semaphore.
        let mut fut = pin!(sem.acquire());
        assert_pending(fut.as_mut(), &make(&sem), "first poll");
        assert_eq!(dropped.load(Ordering::SeqCst), 0, "still stored");
        let (wakes, waker) = counting_waker();
        assert_pending(fut.as_mut(), &waker, "re-poll");
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the replaced waker was dropped"
        );

        // Dropped on cancellation of a pending future.
        let mut other = Box::pin(sem.acquire());
        assert_pending(other.as_mut(), &make(&sem), "other");
        drop(other);
        assert_eq!(dropped.load(Ordering::SeqCst), 2);

        // Consumed when a release grants the future.
        let mut last = Box::pin(sem.acquire());
        assert_pending(last.as_mut(), &make(&sem), "last");
        drop(held); // grants fut
        assert_eq!(wakes.count(), 1);
        let permit = expect_ready(fut.as_mut(), &waker, "fut");
        drop(permit); // grants last, waking and dropping its waker
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
        drop(expect_ready(last.as_mut(), &noop_waker(), "last"));
        assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));
    });
}

#[cfg(feature = "alloc")]
#[test]
fn waker_may_poll_its_granted_future_inline() {
    watchdog(|| {
        type Slot = Arc<StdMutex<Option<Pin<Box<fairsync::AcquireOwned>>>>>;
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let slot: Slot = Arc::new(StdMutex::new(None));
        let completed = Arc::new(AtomicUsize::new(0));
        let (_state, waker) = callback_waker(
            {
                let (slot, completed) = (Arc::clone(&slot), Arc::clone(&completed));
                move || {
                    let mut slot = slot.lock().unwrap();
                    let fut = slot.as_mut().expect("stored before the wake");
                    if let Poll::Ready(permit) = poll_once(fut.as_mut(), &noop_waker()) {
                        completed.fetch_add(1, Ordering::SeqCst);
                        drop(permit); // release inline, too
                        *slot = None;
                    }
                }
            },
            None,
        );
        let mut fut = Box::pin(Arc::clone(&sem).acquire_owned());
        assert_pending(fut.as_mut(), &waker, "queued");
        *slot.lock().unwrap() = Some(fut);
        let (next_wakes, next_waker) = counting_waker();
        let mut next = pin!(sem.acquire());
        assert_pending(next.as_mut(), &next_waker, "next");
        drop(held);
        assert_eq!(completed.load(Ordering::SeqCst), 1);
        assert_eq!(next_wakes.count(), 1, "the inline release reached next");
        drop(expect_ready(next.as_mut(), &next_waker, "next"));
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn lock_and_mutex_wakers_may_reenter_when_woken() {
    watchdog(|| {
        let lock = Arc::new(Lock::new());
        let guard = lock.try_acquire().unwrap();
        let (state, waker) = callback_waker(
            {
                let lock = Arc::clone(&lock);
                move || {
                    assert!(lock.try_acquire().is_none(), "the lock was handed over");
                    let mut probe = pin!(lock.acquire());
                    assert!(poll_once(probe.as_mut(), &noop_waker()).is_pending());
                }
            },
            None,
        );
        let mut fut = pin!(lock.acquire());
        assert_pending(fut.as_mut(), &waker, "lock waiter");
        drop(guard);
        assert_eq!(state.wakes.load(Ordering::SeqCst), 1);
        drop(expect_ready(fut.as_mut(), &waker, "lock waiter"));
        assert!(!lock.is_locked());

        let mutex = Arc::new(Mutex::new(0));
        let guard = mutex.try_lock().unwrap();
        let (state, waker) = callback_waker(
            {
                let mutex = Arc::clone(&mutex);
                move || {
                    assert!(mutex.try_lock().is_none());
                    let mut probe = pin!(mutex.lock());
                    assert!(poll_once(probe.as_mut(), &noop_waker()).is_pending());
                    let _ = format!("{mutex:?}");
                }
            },
            None,
        );
        let mut fut = pin!(mutex.lock());
        assert_pending(fut.as_mut(), &waker, "mutex waiter");
        drop(guard);
        assert_eq!(state.wakes.load(Ordering::SeqCst), 1);
        *expect_ready(fut.as_mut(), &waker, "mutex waiter") += 1;
        assert_eq!(*mutex.try_lock().unwrap(), 1);
    });
}

fn newest_waker_is_used<F: Future>(mut fut: Pin<&mut F>, release: impl FnOnce()) -> F::Output {
    let (old_wakes, old_waker) = counting_waker();
    let (new_wakes, new_waker) = counting_waker();
    assert_pending(fut.as_mut(), &old_waker, "first poll");
    assert_pending(fut.as_mut(), &new_waker, "re-poll with another waker");
    // Same waker again: still pending, nothing changes.
    assert_pending(fut.as_mut(), &new_waker, "re-poll with the same waker");
    release();
    assert!(new_wakes.count() >= 1, "the newest waker was not woken");
    assert_eq!(old_wakes.count(), 0, "the replaced waker was woken");
    expect_ready(fut, &new_waker, "after release")
}

#[test]
fn repolling_with_a_different_waker_uses_the_newest_waker() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let permit = newest_waker_is_used(pin!(sem.acquire_many(2)), || drop(held));
    assert_eq!(permit.permits(), 2);
    drop(permit);

    let lock = Lock::new();
    let guard = lock.try_acquire().unwrap();
    drop(newest_waker_is_used(pin!(lock.acquire()), || drop(guard)));

    let mutex = Arc::new(Mutex::new(1));
    let guard = mutex.try_lock().unwrap();
    #[cfg(feature = "alloc")]
    let next = newest_waker_is_used(pin!(Arc::clone(&mutex).lock_owned()), || drop(guard));
    #[cfg(not(feature = "alloc"))]
    let next = newest_waker_is_used(pin!(mutex.lock()), || drop(guard));
    assert_eq!(*next, 1);
}

#[test]
fn waker_of_a_partly_granted_head_is_replaced_too() {
    let sem = Semaphore::new(3);
    let mut held = sem.try_acquire_many(3).unwrap();
    let (old_wakes, old_waker) = counting_waker();
    let (new_wakes, new_waker) = counting_waker();
    let mut head = pin!(sem.acquire_many(3));
    assert_pending(head.as_mut(), &old_waker, "head");
    drop(held.split(2).unwrap()); // partial grant, no wake needed
    assert_pending(head.as_mut(), &new_waker, "re-poll after a partial grant");
    drop(held);
    assert!(new_wakes.count() >= 1);
    assert_eq!(old_wakes.count(), 0);
    assert_eq!(expect_ready(head.as_mut(), &new_waker, "head").permits(), 3);
}
