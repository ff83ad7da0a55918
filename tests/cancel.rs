//! Cancel safety: an acquire future dropped in any state loses no permit and
//! leaves no stale waiter; permits it already collected go to the next waiter.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, on_runtimes, Kind, Rng,
};
use fairsync::{Lock, Mutex, Semaphore};
use futures::task::noop_waker;

#[test]
fn acquire_dropped_without_being_polled_leaves_no_trace() {
    let sem = Arc::new(Semaphore::new(2));
    drop(sem.acquire());
    drop(sem.acquire_many(2));
    #[cfg(feature = "alloc")]
    {
        drop(Arc::clone(&sem).acquire_owned());
        drop(Arc::clone(&sem).acquire_many_owned(2));
    }
    assert_eq!((sem.available_permits(), sem.waiters()), (2, 0));

    // Also while contended, with a waiter queued.
    let held = sem.try_acquire_many(2).unwrap();
    let waker = noop_waker();
    let mut waiter = pin!(sem.acquire());
    assert_pending(waiter.as_mut(), &waker, "waiter");
    drop(sem.acquire_many(2));
    #[cfg(feature = "alloc")]
    drop(Arc::clone(&sem).acquire_owned());
    assert_eq!(sem.waiters(), 1);
    drop(held);
    drop(expect_ready(waiter.as_mut(), &waker, "waiter"));
    assert_eq!((sem.available_permits(), sem.waiters()), (2, 0));

    let lock = Arc::new(Lock::new());
    drop(lock.acquire());
    #[cfg(feature = "alloc")]
    drop(Arc::clone(&lock).acquire_owned());
    assert!(!lock.is_locked());
    let mutex = Arc::new(Mutex::new(1));
    drop(mutex.lock());
    #[cfg(feature = "alloc")]
    drop(Arc::clone(&mutex).lock_owned());
    assert!(!mutex.is_locked());
}

#[test]
fn pending_acquire_dropped_leaves_the_queue() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let (a_wakes, a_waker) = counting_waker();
    let (c_wakes, c_waker) = counting_waker();
    let mut a = Box::pin(sem.acquire());
    let mut b = Box::pin(sem.acquire());
    let mut c = Box::pin(sem.acquire());
    assert_pending(a.as_mut(), &a_waker, "a");
    assert_pending(b.as_mut(), &noop_waker(), "b");
    assert_pending(c.as_mut(), &c_waker, "c");
    assert_eq!(sem.waiters(), 3);

    drop(b); // middle of the queue
    assert_eq!(sem.waiters(), 2);
    drop(held);
    assert_eq!(a_wakes.count(), 1);
    let pa = expect_ready(a.as_mut(), &a_waker, "a");
    drop(pa);
    assert_eq!(c_wakes.count(), 1, "the permit skips the dropped waiter");
    let pc = expect_ready(c.as_mut(), &c_waker, "c");
    drop(pc);
    assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));

    // Dropping the head passes the turn to the next one.
    let held = sem.try_acquire().unwrap();
    let mut head = Box::pin(sem.acquire());
    let (next_wakes, next_waker) = counting_waker();
    let mut next = pin!(sem.acquire());
    assert_pending(head.as_mut(), &noop_waker(), "head");
    assert_pending(next.as_mut(), &next_waker, "next");
    drop(head);
    assert_eq!(sem.waiters(), 1);
    assert_eq!(next_wakes.count(), 0, "no permit was freed yet");
    drop(held);
    drop(expect_ready(next.as_mut(), &next_waker, "next"));
    assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));
}

#[test]
fn granted_acquire_dropped_before_its_next_poll_passes_the_permit_on() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let (a_wakes, a_waker) = counting_waker();
    let (b_wakes, b_waker) = counting_waker();
    let mut a = Box::pin(sem.acquire());
    let mut b = pin!(sem.acquire());
    assert_pending(a.as_mut(), &a_waker, "a");
    assert_pending(b.as_mut(), &b_waker, "b");
    drop(held);
    assert_eq!(a_wakes.count(), 1, "a was granted");
    assert_eq!(b_wakes.count(), 0);
    drop(a); // granted, never polled again
    assert_eq!(b_wakes.count(), 1, "a's permit must go to b");
    let pb = expect_ready(b.as_mut(), &b_waker, "b");
    assert_eq!(sem.available_permits(), 0);
    drop(pb);
    assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));

    // With nobody behind it, the permit returns to the semaphore.
    let held = sem.try_acquire().unwrap();
    let mut lone = Box::pin(sem.acquire());
    assert_pending(lone.as_mut(), &noop_waker(), "lone");
    drop(held);
    assert_eq!(sem.available_permits(), 0);
    drop(lone);
    assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));
}

#[test]
fn granted_weighted_acquire_dropped_passes_all_its_permits_on() {
    let sem = Arc::new(Semaphore::new(3));
    let held = sem.try_acquire_many(3).unwrap();
    let waker = noop_waker();
    // Owned where available: owned and borrowed futures share one line.
    #[cfg(feature = "alloc")]
    let mut a = Box::pin(Arc::clone(&sem).acquire_many_owned(3));
    #[cfg(not(feature = "alloc"))]
    let mut a = Box::pin(sem.acquire_many(3));
    let mut b = pin!(sem.acquire_many(2));
    let mut c = pin!(sem.acquire_many(1));
    assert_pending(a.as_mut(), &waker, "a");
    assert_pending(b.as_mut(), &waker, "b");
    assert_pending(c.as_mut(), &waker, "c");
    drop(held);
    assert_eq!(sem.waiters(), 2, "a granted");
    drop(a);
    let pb = expect_ready(b.as_mut(), &waker, "b");
    let pc = expect_ready(c.as_mut(), &waker, "c");
    assert_eq!((pb.permits(), pc.permits()), (2, 1));
    drop((pb, pc));
    assert_eq!((sem.available_permits(), sem.waiters()), (3, 0));
}

#[test]
fn weighted_head_dropped_with_a_partial_grant_passes_its_permits_on() {
    let sem = Semaphore::new(4);
    let mut held = sem.try_acquire_many(3).unwrap();
    let mut head = Box::pin(sem.acquire_many(3));
    let (next_wakes, next_waker) = counting_waker();
    let mut next = pin!(sem.acquire_many(2));
    assert_pending(head.as_mut(), &noop_waker(), "head collects 1 of 3");
    assert_pending(next.as_mut(), &next_waker, "next");
    drop(held.split(1).unwrap()); // head now holds 2 of 3
    assert_pending(head.as_mut(), &noop_waker(), "head with 2 of 3");
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(next_wakes.count(), 0);

    drop(head);
    assert_eq!(next_wakes.count(), 1, "the 2 collected permits go to next");
    let pn = expect_ready(next.as_mut(), &next_waker, "next");
    assert_eq!(pn.permits(), 2);
    assert_eq!((sem.available_permits(), sem.waiters()), (0, 0));
    drop(pn);
    drop(held);
    assert_eq!(sem.available_permits(), 4, "permits conserved");
}

#[test]
fn partial_grant_larger_than_the_next_request_feeds_the_whole_line() {
    let sem = Arc::new(Semaphore::new(5));
    let mut held = sem.try_acquire_many(5).unwrap();
    let waker = noop_waker();
    // Owned where available: owned and borrowed futures share one line.
    #[cfg(feature = "alloc")]
    let mut head = Box::pin(Arc::clone(&sem).acquire_many_owned(4));
    #[cfg(not(feature = "alloc"))]
    let mut head = Box::pin(sem.acquire_many(4));
    let mut b = pin!(sem.acquire());
    let mut c = pin!(sem.acquire());
    assert_pending(head.as_mut(), &waker, "head");
    assert_pending(b.as_mut(), &waker, "b");
    assert_pending(c.as_mut(), &waker, "c");
    drop(held.split(3).unwrap()); // head collects 3 of 4
    assert_pending(b.as_mut(), &waker, "b behind the head");
    assert_eq!(sem.waiters(), 3);
    drop(head);
    let pb = expect_ready(b.as_mut(), &waker, "b");
    let pc = expect_ready(c.as_mut(), &waker, "c");
    assert_eq!(sem.waiters(), 0);
    assert_eq!(sem.available_permits(), 1, "3 collected - 2 handed on");
    drop((pb, pc, held));
    assert_eq!(sem.available_permits(), 5);
}

#[test]
fn dropped_lock_and_mutex_futures_pass_ownership_on() {
    let lock = Lock::new();
    let guard = lock.try_acquire().unwrap();
    let waker = noop_waker();
    let mut a = Box::pin(lock.acquire());
    let mut b = Box::pin(lock.acquire());
    let mut c = pin!(lock.acquire());
    assert_pending(a.as_mut(), &waker, "a");
    assert_pending(b.as_mut(), &waker, "b");
    assert_pending(c.as_mut(), &waker, "c");
    drop(b); // pending
    drop(guard);
    drop(a); // granted, not polled
    assert!(lock.is_locked());
    drop(expect_ready(c.as_mut(), &waker, "c"));
    assert!(!lock.is_locked());

    let mutex = Arc::new(Mutex::new(0));
    let mut guard = mutex.try_lock().unwrap();
    *guard = 7;
    // Owned where available: owned and borrowed futures share one line.
    #[cfg(feature = "alloc")]
    let mut a = Box::pin(Arc::clone(&mutex).lock_owned());
    #[cfg(not(feature = "alloc"))]
    let mut a = Box::pin(mutex.lock());
    let mut b = pin!(mutex.lock());
    assert_pending(a.as_mut(), &waker, "a");
    assert_pending(b.as_mut(), &waker, "b");
    drop(guard);
    drop(a); // granted, not polled
    let mut next = expect_ready(b.as_mut(), &waker, "b");
    assert_eq!(*next, 7);
    *next = 8;
    drop(next);
    assert!(!mutex.is_locked());
    assert_eq!(*mutex.try_lock().unwrap(), 8);
}

// ---------------------------------------------------------------- runtimes

#[test]
fn acquire_cancelled_by_the_runtime_timeout_leaves_no_waiter() {
    on_all_runtimes(|rt| async move {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let timed_out = rt.timeout(Duration::from_millis(20), sem.acquire()).await;
        assert!(timed_out.is_none(), "the permit is held");
        assert_eq!(sem.waiters(), 0);

        // A waiter queued before a timed-out one still gets the permit.
        #[cfg(feature = "alloc")]
        let first = rt.spawn({
            let sem = Arc::clone(&sem);
            async move { sem.acquire_owned().await }
        });
        // Without owned permits the task cannot hand its permit out, so it
        // forgets it, and it is given back below.
        #[cfg(not(feature = "alloc"))]
        let first = rt.spawn({
            let sem = Arc::clone(&sem);
            async move { sem.acquire().await.forget() }
        });
        rt.wait_until("the first task is queued", || sem.waiters() == 1)
            .await;
        let lost = rt.timeout(Duration::from_millis(20), sem.acquire()).await;
        assert!(lost.is_none());
        assert_eq!(sem.waiters(), 1);
        drop(held);
        #[cfg(feature = "alloc")]
        {
            let permit = first.await;
            assert_eq!(sem.available_permits(), 0);
            drop(permit);
        }
        #[cfg(not(feature = "alloc"))]
        {
            first.await;
            assert_eq!(sem.available_permits(), 0);
            sem.add_permits(1);
        }

        // A timeout that does not expire yields the permit.
        let got = rt.timeout(Duration::from_secs(10), sem.acquire()).await;
        assert!(got.is_some());
        drop(got);
        assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));

        let mutex = Arc::new(Mutex::new(5));
        let guard = mutex.try_lock().unwrap();
        assert!(rt
            .timeout(Duration::from_millis(10), mutex.lock())
            .await
            .is_none());
        let lock = Lock::new();
        let lock_guard = lock.try_acquire().unwrap();
        assert!(rt
            .timeout(Duration::from_millis(10), lock.acquire())
            .await
            .is_none());
        drop((guard, lock_guard));
        assert!(!mutex.is_locked() && !lock.is_locked());
    });
}

#[test]
fn acquire_cancelled_by_tokio_select_leaves_no_waiter() {
    on_runtimes(
        &[Kind::TokioCurrentThread, Kind::TokioMultiThread],
        |_rt| async {
            let sem = Semaphore::new(2);
            let held = sem.try_acquire_many(2).unwrap();
            tokio::select! {
                _ = sem.acquire_many(2) => panic!("both permits are held"),
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
            assert_eq!((sem.waiters(), sem.available_permits()), (0, 0));
            drop(held);
            assert_eq!(sem.available_permits(), 2);

            // Cancel a weighted head that holds a partial grant.
            let one = sem.try_acquire().unwrap();
            tokio::select! {
                _ = sem.acquire_many(2) => panic!("only one permit is free"),
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
            assert_eq!(sem.available_permits(), 1, "the partial grant came back");
            drop(one);

            let mutex = Mutex::new(0);
            let guard = mutex.lock().await;
            let mut lock_fut = std::pin::pin!(mutex.lock());
            tokio::select! {
                biased;
                _ = &mut lock_fut => panic!("the mutex is locked"),
                _ = tokio::task::yield_now() => {}
            }
            drop(guard);
            // The pending future is still queued and gets the lock.
            drop(lock_fut.await);
            assert!(!mutex.is_locked());
        },
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "async-std's reactor needs timerfd_create, which Miri does not support"
)]
fn async_std_timeout_cancellation_conserves_permits() {
    on_runtimes(&[Kind::AsyncStd], |_rt| async {
        let sem = Arc::new(Semaphore::new(3));
        let held = sem.try_acquire_many(2).unwrap();
        let res = async_std::future::timeout(Duration::from_millis(10), sem.acquire_many(3)).await;
        assert!(res.is_err());
        assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));
        drop(held);
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "smol's reactor needs timerfd_create, which Miri does not support"
)]
fn smol_timeout_cancellation_conserves_permits() {
    on_runtimes(&[Kind::Smol], |_rt| async {
        let sem = Arc::new(Semaphore::new(3));
        let held = sem.try_acquire_many(2).unwrap();
        let timer = async {
            smol::Timer::after(Duration::from_millis(10)).await;
            None
        };
        let res = smol::future::or(async { Some(sem.acquire_many(3).await) }, timer).await;
        assert!(res.is_none());
        assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));
        drop(held);
        assert_eq!(sem.available_permits(), 3);
    });
}

/// Many tasks acquire random weights under short timeouts while others hold
/// and release: cancellations race grants. No more permits than exist are
/// ever in use, and in the end every permit is back and nobody waits.
#[test]
fn cancellation_racing_grants_conserves_permits_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const TOTAL: usize = 4;
        let sem = Arc::new(Semaphore::new(TOTAL));
        let in_use = Arc::new(AtomicUsize::new(0));
        let granted = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        // Fewer under Miri, whose interpreter is about 100x slower.
        const TASKS: u64 = common::iterations(6, 4) as u64;
        const ROUNDS: usize = common::iterations(25, 8);
        for t in 0..TASKS {
            let (sem, in_use, granted) =
                (Arc::clone(&sem), Arc::clone(&in_use), Arc::clone(&granted));
            tasks.push(rt.spawn(async move {
                let mut rng = Rng::new(t + 1);
                for _ in 0..ROUNDS {
                    let n = rng.range(1, TOTAL);
                    let wait = Duration::from_micros(rng.range(0, 1500) as u64);
                    let permit: Option<Box<dyn Send + '_>> = match rng.range(0, 1) {
                        #[cfg(feature = "alloc")]
                        1 => {
                            let fut = Arc::clone(&sem).acquire_many_owned(n);
                            rt.timeout(wait, fut)
                                .await
                                .map(|p| Box::new(p) as Box<dyn Send>)
                        }
                        _ => {
                            let fut = sem.acquire_many(n);
                            rt.timeout(wait, fut)
                                .await
                                .map(|p| Box::new(p) as Box<dyn Send>)
                        }
                    };
                    if let Some(permit) = permit {
                        let now = in_use.fetch_add(n, Ordering::SeqCst) + n;
                        assert!(now <= TOTAL, "{now} permits in use");
                        granted.fetch_add(1, Ordering::SeqCst);
                        rt.yield_now().await;
                        in_use.fetch_sub(n, Ordering::SeqCst);
                        drop(permit);
                    }
                }
            }));
        }
        for task in tasks {
            task.await;
        }
        assert!(granted.load(Ordering::SeqCst) > 0);
        assert_eq!(sem.waiters(), 0, "stale waiter left behind");
        assert_eq!(sem.available_permits(), TOTAL, "permits lost");
    });
}
