//! `ClosableSemaphore`: what closing does to queued, granted and later
//! acquires, to collected and held permits, and to releases; the errors; and
//! `forget_permits` on both semaphores.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, on_every_wake, poll_once,
};
use fairsync::{ClosableSemaphore, Closed, Semaphore, TryAcquireError};
use futures::future::FusedFuture;
use futures::task::noop_waker;

static STATIC_POOL: ClosableSemaphore = ClosableSemaphore::new(2);

#[test]
fn const_constructor_works_in_a_static() {
    let permit = STATIC_POOL.try_acquire().expect("a free permit");
    assert_eq!(STATIC_POOL.available_permits(), 1);
    drop(permit);
    assert_eq!(STATIC_POOL.available_permits(), 2);
    assert!(!STATIC_POOL.is_closed());
}

#[test]
fn open_semaphore_behaves_like_a_semaphore() {
    let sem = ClosableSemaphore::new(3);
    let one = sem.try_acquire().unwrap();
    let two = sem.try_acquire_many(2).unwrap();
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    let waker = noop_waker();
    let mut first = pin!(sem.acquire_many(2));
    let mut second = pin!(sem.acquire());
    assert_pending(first.as_mut(), &waker, "first waiter");
    assert_pending(second.as_mut(), &waker, "second waiter");
    assert_eq!(sem.waiters(), 2);
    drop(one);
    assert_pending(first.as_mut(), &waker, "first waiter has 1 of 2");
    drop(two);
    let first = expect_ready(first.as_mut(), &waker, "first waiter").unwrap();
    assert_eq!(first.permits(), 2);
    let second = expect_ready(second.as_mut(), &waker, "second waiter").unwrap();
    assert_eq!(second.permits(), 1);
    drop((first, second));
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(sem.waiters(), 0);
}

/// Rule: a waiter handed its permits before `close` keeps them, even if it
/// had not been polled since.
#[test]
fn waiter_granted_before_close_keeps_its_permits() {
    let sem = ClosableSemaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let (wakes, waker) = counting_waker();
    let mut granted = pin!(sem.acquire_many(2));
    let mut queued = pin!(sem.acquire());
    assert_pending(granted.as_mut(), &waker, "waits for 2");
    assert_pending(queued.as_mut(), &noop_waker(), "waits behind it");
    drop(held); // hands both permits to `granted`, which is not polled yet
    assert_eq!(wakes.count(), 1);
    sem.close();
    let permit = expect_ready(granted.as_mut(), &waker, "granted before close")
        .expect("a waiter granted before close keeps its permits");
    assert_eq!(permit.permits(), 2);
    assert_eq!(
        expect_ready(queued.as_mut(), &noop_waker(), "queued at close").map(|p| p.permits()),
        Err(Closed)
    );
    assert_eq!(sem.available_permits(), 0);
    drop(permit);
    assert_eq!(
        sem.available_permits(),
        2,
        "held permits return after close"
    );
}

/// Rule: every waiter queued at `close` completes with `Err(Closed)` and is
/// woken; nobody is left queued.
#[test]
fn queued_waiters_fail_with_closed_and_are_woken() {
    let sem = ClosableSemaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
    let mut futs: Vec<_> = (0..3).map(|i| Box::pin(sem.acquire_many(i + 1))).collect();
    for (fut, (_, waker)) in futs.iter_mut().zip(&wakers) {
        assert_pending(fut.as_mut(), waker, "queued");
    }
    assert_eq!(sem.waiters(), 3);
    sem.close();
    assert!(sem.is_closed());
    assert_eq!(sem.waiters(), 0);
    for (i, (fut, (wakes, waker))) in futs.iter_mut().zip(&wakers).enumerate() {
        assert_eq!(wakes.count(), 1, "waiter {i} must be woken by close");
        assert_eq!(
            expect_ready(fut.as_mut(), waker, "closed").map(|p| p.permits()),
            Err(Closed)
        );
        assert!(fut.is_terminated());
    }
    drop(futs);
    assert_eq!(sem.available_permits(), 0, "the held permit is still held");
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

/// Rule: the permits a queued weighted head had collected go back to the
/// counter when it is failed.
#[test]
fn permits_a_weighted_head_collected_return_to_the_counter() {
    let sem = ClosableSemaphore::new(5);
    let held = sem.try_acquire_many(3).unwrap();
    let mut head = pin!(sem.acquire_many(5));
    assert_pending(head.as_mut(), &noop_waker(), "collects 2 of 5");
    assert_eq!(sem.available_permits(), 0);
    sem.close();
    assert_eq!(
        sem.available_permits(),
        2,
        "the head's collected permits are back in the counter"
    );
    assert_eq!(
        expect_ready(head.as_mut(), &noop_waker(), "head").map(|p| p.permits()),
        Err(Closed)
    );
    drop(held);
    assert_eq!(sem.available_permits(), 5);
}

/// Rule: after `close`, every acquire fails at once, with free permits and
/// for zero permits too.
#[test]
fn every_acquire_after_close_fails_at_once() {
    let sem = Arc::new(ClosableSemaphore::new(4));
    sem.close();
    assert_eq!(sem.available_permits(), 4);
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert_eq!(
        sem.try_acquire_many(0).unwrap_err(),
        TryAcquireError::Closed
    );
    #[cfg(feature = "alloc")]
    {
        assert_eq!(
            sem.try_acquire_owned().unwrap_err(),
            TryAcquireError::Closed
        );
        assert_eq!(
            sem.try_acquire_many_owned(0).unwrap_err(),
            TryAcquireError::Closed
        );
    }
    let waker = noop_waker();
    for n in [0, 1, 4] {
        let mut fut = pin!(sem.acquire_many(n));
        assert_eq!(
            expect_ready(fut.as_mut(), &waker, "closed").map(|p| p.permits()),
            Err(Closed)
        );
        #[cfg(feature = "alloc")]
        {
            let mut owned = pin!(sem.acquire_many_owned(n));
            assert_eq!(
                expect_ready(owned.as_mut(), &waker, "closed").unwrap_err(),
                Closed
            );
        }
    }
    #[cfg(feature = "std")]
    {
        assert_eq!(sem.acquire_blocking().unwrap_err(), Closed);
        assert_eq!(sem.acquire_many_blocking(0).unwrap_err(), Closed);
        assert_eq!(sem.acquire_owned_blocking().unwrap_err(), Closed);
        assert_eq!(sem.acquire_many_owned_blocking(2).unwrap_err(), Closed);
        for timeout in [Duration::ZERO, Duration::from_millis(1), Duration::MAX] {
            assert_eq!(
                sem.acquire_blocking_timeout(timeout).unwrap_err(),
                TryAcquireError::Closed
            );
        }
    }
    assert_eq!(sem.waiters(), 0);
    assert_eq!(sem.available_permits(), 4, "nothing was taken");
    sem.close(); // idempotent
    assert!(sem.is_closed());
}

/// Rule: releases after `close` feed the counter, and `add_permits` never
/// panics because of close.
#[test]
fn add_permits_and_releases_after_close_go_to_the_counter() {
    let sem = ClosableSemaphore::new(2);
    let held = sem.try_acquire().unwrap();
    sem.close();
    sem.add_permits(3);
    assert_eq!(sem.available_permits(), 4);
    drop(held);
    assert_eq!(sem.available_permits(), 5);
    assert_eq!(sem.forget_permits(2), 2);
    assert_eq!(sem.available_permits(), 3);
}

/// Rule: while `close` has the lock released to wake a full batch, a
/// release (here from inside a woken waker) neither hands its permit to a
/// waiter that was queued at close nor panics: it goes to the counter.
#[test]
fn release_while_close_wakes_a_batch_goes_to_the_counter() {
    const WAITERS: usize = 40; // more than one wake batch (32)
    let sem = Arc::new(ClosableSemaphore::new(1));
    let held = sem.try_acquire().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let reentrant = {
        let (sem, calls) = (Arc::clone(&sem), Arc::clone(&calls));
        on_every_wake(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            sem.add_permits(1);
        })
    };
    let mut futs: Vec<_> = (0..WAITERS).map(|_| Box::pin(sem.acquire())).collect();
    assert_pending(futs[0].as_mut(), &reentrant, "first waiter");
    for fut in &mut futs[1..] {
        assert_pending(fut.as_mut(), &noop_waker(), "queued");
    }
    sem.close();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for (i, fut) in futs.iter_mut().enumerate() {
        assert_eq!(
            poll_once(fut.as_mut(), &noop_waker()).map(|r| r.map(|p| p.permits())),
            std::task::Poll::Ready(Err(Closed)),
            "waiter {i} was queued at close"
        );
    }
    assert_eq!(sem.waiters(), 0);
    assert_eq!(sem.available_permits(), 1, "the added permit is free");
    drop(held);
    assert_eq!(sem.available_permits(), 2);
}

/// Rule: a waker that panics while `close` wakes a batch strands nobody:
/// the waiters still queued are failed and woken as the panic unwinds.
#[test]
fn panicking_waker_during_close_strands_nobody() {
    const WAITERS: usize = 40;
    let sem = ClosableSemaphore::new(0);
    let panicking = on_every_wake(|| panic!("waker panics"));
    let wakers: Vec<_> = (0..WAITERS).map(|_| counting_waker()).collect();
    let mut futs: Vec<_> = (0..WAITERS).map(|_| Box::pin(sem.acquire())).collect();
    assert_pending(futs[0].as_mut(), &panicking, "first waiter");
    for (fut, (_, waker)) in futs.iter_mut().zip(&wakers).skip(1) {
        assert_pending(fut.as_mut(), waker, "queued");
    }
    let closing = catch_unwind(AssertUnwindSafe(|| sem.close()));
    assert!(closing.is_err(), "the waker's panic reaches the closer");
    assert_eq!(sem.waiters(), 0);
    for (i, (fut, (wakes, waker))) in futs.iter_mut().zip(&wakers).enumerate().skip(1) {
        assert_eq!(wakes.count(), 1, "waiter {i} was not woken");
        assert_eq!(
            expect_ready(fut.as_mut(), waker, "closed").map(|p| p.permits()),
            Err(Closed)
        );
    }
}

#[test]
fn dropping_a_granted_waiter_after_close_returns_its_permits() {
    let sem = ClosableSemaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    {
        let mut granted = pin!(sem.acquire_many(2));
        assert_pending(granted.as_mut(), &noop_waker(), "waits");
        drop(held);
        sem.close();
    } // dropped granted, never polled again
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(sem.waiters(), 0);
}

#[test]
fn dropping_a_failed_waiter_returns_nothing() {
    let sem = ClosableSemaphore::new(1);
    let held = sem.try_acquire().unwrap();
    {
        let mut failed = pin!(sem.acquire());
        assert_pending(failed.as_mut(), &noop_waker(), "waits");
        sem.close();
    } // dropped closed, never polled again
    assert_eq!(sem.available_permits(), 0);
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn permits_split_merge_forget_and_know_their_semaphore() {
    let sem = Arc::new(ClosableSemaphore::new(6));
    let mut permit = sem.try_acquire_many(4).unwrap();
    assert!(std::ptr::eq(permit.closable_semaphore().unwrap(), &*sem));
    let rest = permit.split(1).unwrap();
    permit.merge(rest);
    assert_eq!(permit.permits(), 4);
    #[cfg(feature = "alloc")]
    {
        let owned = sem.try_acquire_many_owned(2).unwrap();
        assert!(Arc::ptr_eq(owned.closable_semaphore().unwrap(), &sem));
        owned.forget();
    }
    #[cfg(not(feature = "alloc"))]
    sem.try_acquire_many(2).unwrap().forget();
    assert_eq!(sem.available_permits(), 0);
    drop(permit);
    assert_eq!(sem.available_permits(), 4);
    sem.add_permits(ClosableSemaphore::MAX_PERMITS - 4); // 2 were forgotten

    let plain = Semaphore::new(1);
    let permit = plain.try_acquire().unwrap();
    assert!(std::ptr::eq(permit.semaphore(), &plain));
    assert!(permit.closable_semaphore().is_none());
    #[cfg(feature = "alloc")]
    {
        let plain = Arc::new(Semaphore::new(1));
        let owned = plain.try_acquire_owned().unwrap();
        assert!(Arc::ptr_eq(owned.semaphore(), &plain));
        assert!(owned.closable_semaphore().is_none());
    }
}

#[test]
#[should_panic(expected = "belongs to a ClosableSemaphore")]
fn semaphore_accessor_panics_for_a_closable_permit() {
    let sem = ClosableSemaphore::new(1);
    let permit = sem.try_acquire().unwrap();
    let _ = permit.semaphore();
}

#[test]
#[should_panic(expected = "cannot merge permits of different semaphores")]
fn merging_permits_of_two_closable_semaphores_panics() {
    let (a, b) = (ClosableSemaphore::new(1), ClosableSemaphore::new(1));
    let mut permit = a.try_acquire().unwrap();
    permit.merge(b.try_acquire().unwrap());
}

#[test]
#[should_panic(expected = "past")]
fn add_permits_past_max_panics_also_when_closed() {
    let sem = ClosableSemaphore::new(ClosableSemaphore::MAX_PERMITS);
    sem.close();
    sem.add_permits(1);
}

#[test]
fn errors_and_debug() {
    assert_eq!(Closed.to_string(), "semaphore closed");
    assert_eq!(TryAcquireError::Closed.to_string(), "semaphore closed");
    assert_eq!(
        TryAcquireError::NoPermits.to_string(),
        "no permits available"
    );
    assert_eq!(TryAcquireError::from(Closed), TryAcquireError::Closed);
    #[cfg(feature = "std")]
    {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Closed);
        assert_eq!(boxed.to_string(), "semaphore closed");
    }
    // `diagnostics` adds what its registry knows: nothing here.
    let extra = if cfg!(feature = "diagnostics") {
        ", holders: [], oldest_waiters: []"
    } else {
        ""
    };
    let sem = ClosableSemaphore::new(3);
    assert_eq!(
        format!("{sem:?}"),
        format!(
            "ClosableSemaphore {{ available_permits: 3, waiters: 0, is_closed: false{extra} }}"
        )
    );
    let fut = sem.acquire_many(2);
    assert_eq!(
        format!("{fut:?}"),
        "ClosableAcquire { permits: 2, state: \"idle\" }"
    );
    drop(fut);
    sem.close();
    assert_eq!(
        format!("{sem:?}"),
        format!("ClosableSemaphore {{ available_permits: 3, waiters: 0, is_closed: true{extra} }}")
    );
}

// forget_permits, on both semaphores.

#[test]
fn forget_permits_takes_only_free_permits_and_says_how_many() {
    let sem = Semaphore::new(5);
    let held = sem.try_acquire_many(2).unwrap();
    assert_eq!(sem.forget_permits(1), 1);
    assert_eq!(sem.forget_permits(10), 2, "only 2 were free");
    assert_eq!(sem.forget_permits(1), 0);
    assert_eq!(sem.available_permits(), 0);
    drop(held);
    assert_eq!(sem.available_permits(), 2, "held permits still come back");
    // The limit shrank, so add_permits has that much more room.
    sem.add_permits(Semaphore::MAX_PERMITS - 2);
}

#[test]
fn forget_permits_never_takes_what_a_queued_head_collected() {
    for closable in [false, true] {
        let plain = Semaphore::new(4);
        let closing = ClosableSemaphore::new(4);
        let forget = |n| {
            if closable {
                closing.forget_permits(n)
            } else {
                plain.forget_permits(n)
            }
        };
        let waker = noop_waker();
        let (held, mut head_plain, mut head_closable);
        if closable {
            held = closing.try_acquire_many(2).unwrap();
            head_closable = Some(Box::pin(closing.acquire_many(4)));
            head_plain = None;
            assert_pending(head_closable.as_mut().unwrap().as_mut(), &waker, "head");
        } else {
            held = plain.try_acquire_many(2).unwrap();
            head_plain = Some(Box::pin(plain.acquire_many(4)));
            head_closable = None;
            assert_pending(head_plain.as_mut().unwrap().as_mut(), &waker, "head");
        }
        // The head collected the 2 free permits; none is free now.
        assert_eq!(forget(2), 0, "took permits a queued head collected");
        drop(held);
        let permits = match (&mut head_plain, &mut head_closable) {
            (Some(head), _) => expect_ready(head.as_mut(), &waker, "head").permits(),
            (_, Some(head)) => expect_ready(head.as_mut(), &waker, "head")
                .unwrap()
                .permits(),
            _ => unreachable!(),
        };
        assert_eq!(permits, 4, "the head got everything it collected");
    }
}

#[test]
fn forget_permits_of_zero_or_none_free_returns_zero_at_once() {
    let sem = Semaphore::new(1);
    assert_eq!(sem.forget_permits(0), 0);
    let held = sem.try_acquire().unwrap();
    // Never blocks, even though a permit is held.
    assert_eq!(sem.forget_permits(1), 0);
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

// On every runtime.

/// Two permits the owned way where that exists, else borrowed from the
/// task's own handle: the line and the close are the same either way.
#[cfg(feature = "alloc")]
async fn acquire_two(sem: Arc<ClosableSemaphore>) -> Result<usize, Closed> {
    sem.acquire_many_owned(2).await.map(|p| p.permits())
}

#[cfg(not(feature = "alloc"))]
async fn acquire_two(sem: Arc<ClosableSemaphore>) -> Result<usize, Closed> {
    sem.acquire_many(2).await.map(|p| p.permits())
}

#[test]
fn close_fails_waiting_tasks_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const TASKS: usize = 6;
        let sem = Arc::new(ClosableSemaphore::new(2));
        let held = sem.try_acquire_many(2).unwrap();
        let mut tasks = Vec::new();
        for i in 0..TASKS {
            let sem2 = Arc::clone(&sem);
            tasks.push(rt.spawn(async move {
                if i % 2 == 0 {
                    sem2.acquire().await.map(|p| p.permits())
                } else {
                    acquire_two(sem2).await
                }
            }));
            rt.wait_until("the task is queued", || sem.waiters() == i + 1)
                .await;
        }
        sem.close();
        for task in tasks {
            assert_eq!(task.await, Err(Closed));
        }
        assert_eq!(sem.waiters(), 0);
        drop(held);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn pool_drains_on_close_without_losing_permits_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const PERMITS: usize = 3;
        const TASKS: usize = common::iterations(8, 4);
        let pool = Arc::new(ClosableSemaphore::new(PERMITS));
        let in_use = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let (pool, in_use, served) =
                (Arc::clone(&pool), Arc::clone(&in_use), Arc::clone(&served));
            tasks.push(rt.spawn(async move {
                let mut round = 0;
                loop {
                    let n = 1 + (t + round) % 2;
                    let Ok(permit) = pool.acquire_many(n).await else {
                        return;
                    };
                    let now = in_use.fetch_add(n, Ordering::SeqCst) + n;
                    assert!(now <= PERMITS, "{now} permits in use of {PERMITS}");
                    rt.yield_now().await;
                    in_use.fetch_sub(n, Ordering::SeqCst);
                    drop(permit);
                    served.fetch_add(1, Ordering::SeqCst);
                    round += 1;
                }
            }));
        }
        let enough = common::iterations(200, 20);
        rt.wait_until("the pool served requests", || {
            served.load(Ordering::SeqCst) >= enough
        })
        .await;
        pool.close();
        for task in tasks {
            task.await;
        }
        assert_eq!(pool.available_permits(), PERMITS, "a permit was lost");
        assert_eq!(pool.waiters(), 0);
    });
}

#[cfg(feature = "std")]
#[test]
fn close_fails_a_blocked_thread_and_a_task_together_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        let sem = Arc::new(ClosableSemaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        let thread = {
            let sem = Arc::clone(&sem);
            std::thread::spawn(move || sem.acquire_blocking().map(|p| p.permits()))
        };
        rt.wait_until("the thread is queued", || sem.waiters() == 1)
            .await;
        let task = {
            let sem = Arc::clone(&sem);
            rt.spawn(async move { sem.acquire_owned().await.map(|p| p.permits()) })
        };
        rt.wait_until("the task is queued", || sem.waiters() == 2)
            .await;
        sem.close();
        assert_eq!(task.await, Err(Closed));
        assert_eq!(thread.join().unwrap(), Err(Closed));
        drop(held);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[cfg(feature = "alloc")]
#[test]
fn timeouts_and_releases_race_close_without_losing_permits_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        let sem = Arc::new(ClosableSemaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        // A timed-out acquire leaves the line and does not count after close.
        let timed_out = rt.timeout(Duration::from_millis(5), sem.acquire()).await;
        assert!(timed_out.is_none());
        assert_eq!(sem.waiters(), 0);
        let waiter = {
            let sem = Arc::clone(&sem);
            rt.spawn(async move { sem.acquire_owned().await.map(|p| p.permits()) })
        };
        rt.wait_until("the task is queued", || sem.waiters() == 1)
            .await;
        // The release and the close race; either the waiter got the permit
        // (and returned it), or it failed and the permit is in the counter.
        let releaser = rt.spawn(async move { drop(held) });
        sem.close();
        releaser.await;
        let outcome = waiter.await;
        assert!(matches!(outcome, Ok(1) | Err(Closed)), "{outcome:?}");
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.waiters(), 0);
    });
}
