//! Lock behaviour: mutual exclusion, FIFO hand-off, `try_acquire`, owned
//! guards, `is_locked` and `Debug`.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, poll_once, report_queued,
};
use fairsync::Lock;
#[cfg(feature = "alloc")]
use fairsync::OwnedLockGuard;
use futures::task::noop_waker;

static STATIC_LOCK: Lock = Lock::new();

#[test]
fn const_constructor_works_in_a_static() {
    assert!(!STATIC_LOCK.is_locked());
    let guard = STATIC_LOCK.try_acquire().expect("unlocked");
    assert!(STATIC_LOCK.is_locked());
    assert!(STATIC_LOCK.try_acquire().is_none());
    drop(guard);
    assert!(!STATIC_LOCK.is_locked());
}

#[test]
fn default_lock_is_unlocked() {
    let lock = Lock::default();
    assert!(!lock.is_locked());
    let _guard = futures::executor::block_on(lock.acquire());
    assert!(lock.is_locked());
}

#[test]
fn try_acquire_excludes_and_release_unlocks() {
    let lock = Arc::new(Lock::new());
    let guard = lock.try_acquire().expect("unlocked");
    assert!(lock.try_acquire().is_none());
    #[cfg(feature = "alloc")]
    assert!(lock.try_acquire_owned().is_none());
    drop(guard);
    let guard = lock.try_acquire().expect("unlocked again");
    assert!(lock.is_locked());
    assert!(lock.try_acquire().is_none());
    drop(guard);
    assert!(!lock.is_locked());
    #[cfg(feature = "alloc")]
    {
        let owned = lock.try_acquire_owned().expect("unlocked again");
        assert!(lock.is_locked());
        assert!(lock.try_acquire().is_none());
        drop(owned);
        assert!(!lock.is_locked());
    }
}

#[test]
fn lock_is_handed_to_waiters_in_fifo_order() {
    const N: usize = 16;
    let lock = Lock::new();
    let holder = lock.try_acquire().unwrap();
    let mut futs: Vec<_> = (0..N).map(|_| Box::pin(lock.acquire())).collect();
    let wakers: Vec<_> = (0..N).map(|_| counting_waker()).collect();
    for (i, fut) in futs.iter_mut().enumerate() {
        assert_pending(fut.as_mut(), &wakers[i].1, "queued");
    }
    let mut current = holder;
    for i in 0..N {
        drop(current);
        assert!(lock.is_locked(), "stays locked while ownership passes on");
        assert!(
            lock.try_acquire().is_none(),
            "try_acquire overtook waiter {i}"
        );
        assert_eq!(wakers[i].0.count(), 1, "waiter {i} must be woken");
        for (j, fut) in futs.iter_mut().enumerate().skip(i + 1) {
            assert_eq!(wakers[j].0.count(), 0, "waiter {j} woken out of turn");
            assert_pending(fut.as_mut(), &wakers[j].1, "later waiter");
        }
        current = expect_ready(futs[i].as_mut(), &wakers[i].1, "oldest waiter");
    }
    drop(current);
    assert!(!lock.is_locked());
}

#[test]
fn is_locked_stays_true_while_ownership_passes_to_a_waiter() {
    let lock = Lock::new();
    let guard = lock.try_acquire().unwrap();
    let waker = noop_waker();
    let mut waiter = pin!(lock.acquire());
    assert_pending(waiter.as_mut(), &waker, "waiter");
    drop(guard);
    assert!(lock.is_locked(), "granted to the waiter, not unlocked");
    assert!(lock.try_acquire().is_none());
    let next = expect_ready(waiter.as_mut(), &waker, "waiter");
    assert!(lock.is_locked());
    drop(next);
    assert!(!lock.is_locked());
}

#[cfg(feature = "alloc")]
#[test]
fn owned_guard_outlives_the_borrow_and_moves_across_threads() {
    let lock = Arc::new(Lock::new());
    let guard: OwnedLockGuard = futures::executor::block_on(Arc::clone(&lock).acquire_owned());
    assert!(lock.is_locked());
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert!(!lock.is_locked());
}

#[test]
#[should_panic(expected = "polled after")]
fn polling_a_completed_acquire_panics() {
    let lock = Lock::new();
    let waker = noop_waker();
    let mut fut = pin!(lock.acquire());
    let _guard = expect_ready(fut.as_mut(), &waker, "first poll");
    let _ = poll_once(fut.as_mut(), &waker);
}

#[test]
fn lock_debug_shows_is_locked() {
    let lock = Arc::new(Lock::new());
    let text = format!("{lock:?}");
    assert!(text.contains("is_locked: false"), "{text}");
    let guard = lock.try_acquire().unwrap();
    let text = format!("{lock:?}");
    assert!(text.contains("is_locked: true"), "{text}");
    assert!(!format!("{guard:?}").is_empty());
    drop(guard);
    #[cfg(feature = "alloc")]
    {
        let owned = lock.try_acquire_owned().unwrap();
        assert!(!format!("{owned:?}").is_empty());
    }
    assert!(!format!("{:?}", lock.acquire()).is_empty());
    #[cfg(feature = "alloc")]
    assert!(!format!("{:?}", Arc::clone(&lock).acquire_owned()).is_empty());
}

// ---------------------------------------------------------------- runtimes

#[test]
fn lock_grants_in_fifo_order_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        // Fewer under Miri, whose interpreter is about 100x slower.
        const N: usize = common::iterations(32, 8);
        let lock = Arc::new(Lock::new());
        let order = Arc::new(StdMutex::new(Vec::new()));
        let guard = lock.try_acquire().unwrap();
        let mut tasks = Vec::new();
        let queued = Arc::new(AtomicUsize::new(0));
        for i in 0..N {
            let (lock2, order) = (Arc::clone(&lock), Arc::clone(&order));
            let q = Arc::clone(&queued);
            tasks.push(rt.spawn(async move {
                // Owned waiters join the same line as borrowed ones.
                #[cfg(feature = "alloc")]
                if i % 3 == 0 {
                    let _guard = report_queued(lock2.acquire_owned(), &q).await;
                    order.lock().unwrap().push(i);
                    return;
                }
                let _guard = report_queued(lock2.acquire(), &q).await;
                order.lock().unwrap().push(i);
            }));
            rt.wait_until("the task is queued", || {
                queued.load(Ordering::SeqCst) == i + 1
            })
            .await;
        }
        drop(guard);
        for task in tasks {
            task.await;
        }
        assert_eq!(*order.lock().unwrap(), (0..N).collect::<Vec<_>>());
        assert!(!lock.is_locked());
    });
}

#[test]
fn lock_provides_mutual_exclusion_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        let lock = Arc::new(Lock::new());
        let inside = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        // Fewer under Miri, whose interpreter is about 100x slower.
        const TASKS: usize = common::iterations(8, 4);
        const ROUNDS: usize = common::iterations(50, 10);
        for _ in 0..TASKS {
            let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
            tasks.push(rt.spawn(async move {
                for _ in 0..ROUNDS {
                    let _guard = lock.acquire().await;
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    rt.yield_now().await;
                    inside.store(false, Ordering::SeqCst);
                }
            }));
        }
        for task in tasks {
            task.await;
        }
        assert!(!lock.is_locked());
    });
}
