//! Semaphore behaviour: FIFO hand-off, weighted requests, `try_*`,
//! `add_permits`, the permit API, bad input and `Debug`.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use common::{assert_pending, counting_waker, expect_ready, on_all_runtimes, poll_once, Rng};
#[cfg(feature = "alloc")]
use fairsync::OwnedSemaphorePermit;
use fairsync::{Semaphore, SemaphorePermit};
use futures::task::noop_waker;

static STATIC_SEMAPHORE: Semaphore = Semaphore::new(3);

#[test]
fn const_constructor_works_in_a_static() {
    assert_eq!(STATIC_SEMAPHORE.available_permits(), 3);
    let permit = STATIC_SEMAPHORE.try_acquire_many(2).expect("2 of 3 free");
    assert_eq!(STATIC_SEMAPHORE.available_permits(), 1);
    let last = futures::executor::block_on(STATIC_SEMAPHORE.acquire());
    assert_eq!(STATIC_SEMAPHORE.available_permits(), 0);
    drop(permit);
    drop(last);
    assert_eq!(STATIC_SEMAPHORE.available_permits(), 3);
}

#[test]
fn permits_are_counted_on_acquire_and_release() {
    let sem = Semaphore::new(3);
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(sem.waiters(), 0);
    let one = sem.try_acquire().expect("free permit");
    assert_eq!(one.permits(), 1);
    assert_eq!(sem.available_permits(), 2);
    let two = sem.try_acquire_many(2).expect("two free permits");
    assert_eq!(two.permits(), 2);
    assert_eq!(sem.available_permits(), 0);
    assert!(sem.try_acquire().is_none());
    drop(one);
    assert_eq!(sem.available_permits(), 1);
    assert!(sem.try_acquire_many(2).is_none(), "only one permit is free");
    drop(two);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn single_permit_is_handed_to_waiters_in_fifo_order() {
    const N: usize = 24;
    let sem = Semaphore::new(1);
    let holder = sem.try_acquire().unwrap();
    let mut futs: Vec<_> = (0..N).map(|_| Box::pin(sem.acquire())).collect();
    let wakers: Vec<_> = (0..N).map(|_| counting_waker()).collect();
    for (i, fut) in futs.iter_mut().enumerate() {
        assert_pending(fut.as_mut(), &wakers[i].1, "queued waiter");
        assert_eq!(sem.waiters(), i + 1);
    }
    let mut current = holder;
    for i in 0..N {
        drop(current);
        assert_eq!(wakers[i].0.count(), 1, "waiter {i} must be woken");
        for (j, (counter, _)) in wakers.iter().enumerate().skip(i + 1) {
            assert_eq!(counter.count(), 0, "waiter {j} woken before its turn");
        }
        assert_eq!(sem.available_permits(), 0, "the permit was handed over");
        assert!(
            sem.try_acquire().is_none(),
            "nobody may take a handed-over permit"
        );
        for (j, fut) in futs.iter_mut().enumerate().skip(i + 1) {
            assert_pending(fut.as_mut(), &wakers[j].1, "later waiter");
        }
        current = expect_ready(futs[i].as_mut(), &wakers[i].1, "oldest waiter");
        assert_eq!(sem.waiters(), N - i - 1);
    }
    drop(current);
    drop(futs);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn weighted_head_blocks_a_later_small_request() {
    let sem = Semaphore::new(4);
    let mut held = sem.try_acquire_many(3).unwrap();
    assert_eq!(sem.available_permits(), 1);

    let (head_wakes, head_waker) = counting_waker();
    let (small_wakes, small_waker) = counting_waker();
    let mut head = pin!(sem.acquire_many(3));
    let mut small = pin!(sem.acquire());
    assert_pending(head.as_mut(), &head_waker, "acquire_many(3) with 1 free");
    assert_eq!(sem.available_permits(), 0, "0 while anyone waits");
    assert_pending(
        small.as_mut(),
        &small_waker,
        "acquire() behind a weighted head",
    );
    assert_eq!(sem.waiters(), 2);
    assert!(
        sem.try_acquire().is_none(),
        "try_acquire overtook the weighted head"
    );

    // Release one permit: the head collects it (2 of 3) and keeps waiting.
    drop(held.split(1).unwrap());
    assert_pending(head.as_mut(), &head_waker, "head with 2 of 3");
    assert_pending(small.as_mut(), &small_waker, "small request behind head");
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(small_wakes.count(), 0);

    // The second release completes the head; the small request still waits.
    drop(held.split(1).unwrap());
    assert!(head_wakes.count() >= 1, "completed head must be woken");
    assert_eq!(small_wakes.count(), 0);
    assert_pending(small.as_mut(), &small_waker, "small request");
    let head_permit = expect_ready(head.as_mut(), &head_waker, "head");
    assert_eq!(head_permit.permits(), 3);
    assert_eq!(sem.waiters(), 1);
    assert_eq!(sem.available_permits(), 0);

    // The last held permit goes to the small request.
    drop(held);
    assert!(small_wakes.count() >= 1);
    let small_permit = expect_ready(small.as_mut(), &small_waker, "small request");
    assert_eq!(small_permit.permits(), 1);
    assert_eq!(sem.waiters(), 0);
    drop(head_permit);
    drop(small_permit);
    assert_eq!(sem.available_permits(), 4);
}

#[test]
fn available_permits_is_zero_while_anyone_waits() {
    let sem = Semaphore::new(5);
    let held = sem.try_acquire_many(3).unwrap();
    assert_eq!(sem.available_permits(), 2);
    let waker = noop_waker();
    {
        let mut big = pin!(sem.acquire_many(4));
        assert_pending(big.as_mut(), &waker, "acquire_many(4) with 2 free");
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(sem.waiters(), 1);
        assert!(sem.try_acquire_many(2).is_none());
    }
    assert_eq!(sem.waiters(), 0);
    assert_eq!(sem.available_permits(), 2, "collected permits come back");
    drop(held);
    assert_eq!(sem.available_permits(), 5);
}

/// Random weights, random releases: after every release the completed waiters
/// are exactly the longest prefix of the queue that the released permits
/// cover, as a FIFO model predicts.
#[test]
fn weighted_waiters_complete_as_a_fifo_prefix() {
    // Fewer under Miri, whose interpreter is about 100x slower.
    const SEEDS: u64 = common::iterations(20, 4) as u64;
    for seed in 1..=SEEDS {
        let mut rng = Rng::new(seed);
        let sem = Semaphore::new(0);
        let weights: Vec<usize> = (0..16).map(|_| rng.range(1, 4)).collect();
        let mut futs: Vec<_> = weights
            .iter()
            .map(|&w| Some(Box::pin(sem.acquire_many(w))))
            .collect();
        let wakers: Vec<_> = weights.iter().map(|_| counting_waker()).collect();
        for (i, fut) in futs.iter_mut().enumerate() {
            assert_pending(fut.as_mut().unwrap().as_mut(), &wakers[i].1, "queued");
        }
        let total: usize = weights.iter().sum();
        let mut added = 0;
        let mut permits: Vec<SemaphorePermit<'_>> = Vec::new();
        while added < total + 3 {
            let k = rng.range(1, 5);
            sem.add_permits(k);
            added += k;
            let mut covered = 0;
            let mut expected_done = 0;
            for &w in &weights {
                if covered + w > added {
                    break;
                }
                covered += w;
                expected_done += 1;
            }
            for (i, slot) in futs.iter_mut().enumerate() {
                let Some(fut) = slot else { continue };
                match poll_once(fut.as_mut(), &wakers[i].1) {
                    std::task::Poll::Ready(permit) => {
                        assert!(i < expected_done, "seed {seed}: waiter {i} overtook");
                        assert!(wakers[i].0.count() >= 1, "seed {seed}: {i} not woken");
                        assert_eq!(permit.permits(), weights[i]);
                        permits.push(permit);
                        *slot = None;
                    }
                    std::task::Poll::Pending => {
                        assert!(i >= expected_done, "seed {seed}: waiter {i} starved");
                    }
                }
            }
            assert_eq!(sem.waiters(), weights.len() - expected_done);
            let expected_available = if expected_done == weights.len() {
                added - total
            } else {
                0
            };
            assert_eq!(sem.available_permits(), expected_available, "seed {seed}");
        }
        drop(permits);
        assert_eq!(sem.available_permits(), added, "seed {seed}: permits lost");
    }
}

#[test]
fn try_acquire_does_not_take_a_permit_handed_to_a_waiter() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire().unwrap();
    let (wakes, waker) = counting_waker();
    let mut fut = pin!(sem.acquire());
    assert_pending(fut.as_mut(), &waker, "waiter");
    drop(held);
    assert_eq!(wakes.count(), 1);
    // Granted but not polled yet: the permit belongs to the waiter.
    assert_eq!(sem.waiters(), 0, "a granted waiter is no longer waiting");
    assert!(sem.try_acquire().is_none());
    assert!(sem.try_acquire_many(1).is_none());
    #[cfg(feature = "alloc")]
    {
        assert!(sem.try_acquire_owned().is_none());
        assert!(sem.try_acquire_many_owned(1).is_none());
    }
    assert_eq!(sem.available_permits(), 0);
    let permit = expect_ready(fut.as_mut(), &waker, "granted waiter");
    drop(permit);
    assert!(sem.try_acquire().is_some());
}

#[test]
fn try_acquire_never_overtakes_a_queued_waiter() {
    let sem = Arc::new(Semaphore::new(3));
    let held = sem.try_acquire_many(2).unwrap();
    let waker = noop_waker();
    let mut head = pin!(sem.acquire_many(2));
    assert_pending(head.as_mut(), &waker, "acquire_many(2) with 1 free");
    // One permit is not held by anybody, yet it is reserved for the head.
    assert!(sem.try_acquire().is_none());
    assert!(sem.try_acquire_many(1).is_none());
    #[cfg(feature = "alloc")]
    {
        assert!(sem.try_acquire_owned().is_none());
        assert!(sem.try_acquire_many_owned(1).is_none());
    }
    let mut late = pin!(sem.acquire());
    assert_pending(late.as_mut(), &waker, "async newcomer");
    drop(held);
    let head_permit = expect_ready(head.as_mut(), &waker, "head");
    let late_permit = expect_ready(late.as_mut(), &waker, "newcomer after head");
    assert_eq!(sem.available_permits(), 0);
    drop((head_permit, late_permit));
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn try_acquire_many_zero_is_always_some() {
    let empty = Semaphore::new(0);
    let zero = empty
        .try_acquire_many(0)
        .expect("0 permits from an empty semaphore");
    assert_eq!(zero.permits(), 0);
    drop(zero);
    assert_eq!(empty.available_permits(), 0);

    let sem = Arc::new(Semaphore::new(1));
    let _held = sem.try_acquire().unwrap();
    let mut waiter = pin!(sem.acquire());
    assert_pending(waiter.as_mut(), &noop_waker(), "waiter");
    let zero = sem
        .try_acquire_many(0)
        .expect("0 permits while others wait");
    assert_eq!(zero.permits(), 0);
    #[cfg(feature = "alloc")]
    {
        let owned_zero = sem.try_acquire_many_owned(0).expect("owned, 0 permits");
        assert_eq!(owned_zero.permits(), 0);
        drop(owned_zero);
    }
    drop(zero);
    assert_eq!(sem.waiters(), 1, "a 0-permit release grants nothing");
    assert_pending(waiter.as_mut(), &noop_waker(), "waiter");
}

#[test]
fn acquire_many_zero_is_ready_at_first_poll_even_while_others_wait() {
    let sem = Arc::new(Semaphore::new(1));
    let _held = sem.try_acquire().unwrap();
    let (wakes, waker) = counting_waker();
    let mut waiter = pin!(sem.acquire());
    assert_pending(waiter.as_mut(), &waker, "waiter");
    let zero = expect_ready(pin!(sem.acquire_many(0)), &waker, "acquire_many(0)");
    assert_eq!(zero.permits(), 0);
    #[cfg(feature = "alloc")]
    let owned = expect_ready(
        pin!(Arc::clone(&sem).acquire_many_owned(0)),
        &waker,
        "owned",
    );
    #[cfg(feature = "alloc")]
    assert_eq!(owned.permits(), 0);
    assert_eq!(sem.waiters(), 1);
    drop(zero);
    #[cfg(feature = "alloc")]
    drop(owned);
    assert_eq!(
        wakes.count(),
        0,
        "releasing 0 permits must not grant anything"
    );
    assert_pending(waiter.as_mut(), &waker, "waiter");
}

#[test]
fn add_permits_hands_permits_to_waiters_in_fifo_order() {
    let sem = Semaphore::new(0);
    let (a_wakes, a_waker) = counting_waker();
    let (b_wakes, b_waker) = counting_waker();
    let (c_wakes, c_waker) = counting_waker();
    let mut a = pin!(sem.acquire_many(2));
    let mut b = pin!(sem.acquire_many(1));
    let mut c = pin!(sem.acquire_many(3));
    assert_pending(a.as_mut(), &a_waker, "a");
    assert_pending(b.as_mut(), &b_waker, "b");
    assert_pending(c.as_mut(), &c_waker, "c");
    assert_eq!(sem.waiters(), 3);

    sem.add_permits(1); // a collects 1 of 2
    assert_eq!(
        (a_wakes.count(), b_wakes.count(), c_wakes.count()),
        (0, 0, 0)
    );
    assert_pending(
        b.as_mut(),
        &b_waker,
        "b must not take the permit a collects",
    );
    assert_eq!(sem.available_permits(), 0);

    sem.add_permits(2); // a completes, b completes, c collects nothing
    assert!(a_wakes.count() >= 1 && b_wakes.count() >= 1);
    assert_eq!(c_wakes.count(), 0);
    let pa = expect_ready(a.as_mut(), &a_waker, "a");
    let pb = expect_ready(b.as_mut(), &b_waker, "b");
    assert_eq!((pa.permits(), pb.permits()), (2, 1));
    assert_pending(c.as_mut(), &c_waker, "c");
    assert_eq!(sem.waiters(), 1);

    sem.add_permits(4); // c takes 3, one is left over
    let pc = expect_ready(c.as_mut(), &c_waker, "c");
    assert_eq!(pc.permits(), 3);
    assert_eq!(sem.waiters(), 0);
    assert_eq!(sem.available_permits(), 1);
    drop((pa, pb, pc));
    assert_eq!(sem.available_permits(), 7);
}

#[test]
fn add_permits_without_waiters_increases_available_permits() {
    let sem = Semaphore::new(1);
    sem.add_permits(4);
    assert_eq!(sem.available_permits(), 5);
    sem.add_permits(0);
    assert_eq!(sem.available_permits(), 5);
    let max = Semaphore::new(Semaphore::MAX_PERMITS - 2);
    max.add_permits(2);
    assert_eq!(max.available_permits(), Semaphore::MAX_PERMITS);
}

#[test]
fn forgotten_permits_are_not_returned() {
    let sem = Semaphore::new(3);
    sem.try_acquire_many(2).unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
    #[cfg(feature = "alloc")]
    {
        let arc = Arc::new(Semaphore::new(3));
        arc.try_acquire_owned().unwrap().forget();
        assert_eq!(arc.available_permits(), 2);
    }

    // A forgotten permit does not feed a waiter either.
    let waker = noop_waker();
    let held = sem.try_acquire().unwrap();
    let mut waiter = pin!(sem.acquire());
    assert_pending(waiter.as_mut(), &waker, "waiter");
    held.forget();
    assert_pending(waiter.as_mut(), &waker, "waiter after forget");
    sem.add_permits(1);
    drop(expect_ready(
        waiter.as_mut(),
        &waker,
        "waiter after add_permits",
    ));
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn split_divides_a_permit_and_both_halves_release_independently() {
    let sem = Semaphore::new(5);
    let mut permit = sem.try_acquire_many(5).unwrap();
    assert!(permit.split(6).is_none(), "cannot split more than held");
    assert_eq!(permit.permits(), 5);
    let part = permit.split(2).expect("split 2 of 5");
    assert_eq!((permit.permits(), part.permits()), (3, 2));
    assert_eq!(sem.available_permits(), 0);
    drop(part);
    assert_eq!(sem.available_permits(), 2);
    let all = permit.split(3).expect("split everything");
    assert_eq!((permit.permits(), all.permits()), (0, 3));
    drop(permit);
    assert_eq!(
        sem.available_permits(),
        2,
        "an empty permit returns nothing"
    );
    drop(all);
    assert_eq!(sem.available_permits(), 5);
}

#[test]
fn merge_combines_permits_of_the_same_semaphore() {
    let sem = Semaphore::new(4);
    let mut a = sem.try_acquire().unwrap();
    let b = sem.try_acquire_many(2).unwrap();
    a.merge(b);
    assert_eq!(a.permits(), 3);
    assert_eq!(sem.available_permits(), 1);
    drop(a);
    assert_eq!(sem.available_permits(), 4);
}

#[cfg(feature = "alloc")]
#[test]
fn owned_permits_split_merge_and_release() {
    let sem = Arc::new(Semaphore::new(4));
    let mut permit: OwnedSemaphorePermit = sem.try_acquire_many_owned(4).unwrap();
    assert!(permit.split(5).is_none());
    let part = permit.split(1).unwrap();
    assert_eq!((permit.permits(), part.permits()), (3, 1));
    drop(part);
    assert_eq!(sem.available_permits(), 1);
    let extra = sem.try_acquire_owned().unwrap();
    permit.merge(extra);
    assert_eq!(permit.permits(), 4);
    assert_eq!(sem.available_permits(), 0);
    let moved = std::thread::spawn(move || permit.permits()).join().unwrap();
    assert_eq!(moved, 4);
    assert_eq!(sem.available_permits(), 4, "dropped on the other thread");
}

#[test]
fn max_permits_itself_is_accepted() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let all = sem
        .try_acquire_many(Semaphore::MAX_PERMITS)
        .expect("all permits");
    assert_eq!(all.permits(), Semaphore::MAX_PERMITS);
    assert_eq!(sem.available_permits(), 0);
    drop(all);
    let fut = sem.acquire_many(Semaphore::MAX_PERMITS);
    let permit = futures::executor::block_on(fut);
    assert_eq!(permit.permits(), Semaphore::MAX_PERMITS);
}

#[test]
fn semaphore_debug_shows_available_permits_and_waiters() {
    let sem = Semaphore::new(3);
    let text = format!("{sem:?}");
    assert!(text.contains("available_permits: 3"), "{text}");
    assert!(text.contains("waiters: 0"), "{text}");
    let _held = sem.try_acquire_many(3).unwrap();
    let mut waiter = pin!(sem.acquire());
    assert_pending(waiter.as_mut(), &noop_waker(), "waiter");
    let text = format!("{sem:?}");
    assert!(text.contains("available_permits: 0"), "{text}");
    assert!(text.contains("waiters: 1"), "{text}");
}

#[test]
fn futures_and_permits_implement_debug() {
    let sem = Arc::new(Semaphore::new(2));
    let permit = sem.try_acquire().unwrap();
    assert!(!format!("{permit:?}").is_empty());
    #[cfg(feature = "alloc")]
    {
        let owned = sem.try_acquire_owned().unwrap();
        assert!(!format!("{owned:?}").is_empty());
    }
    let fut = sem.acquire_many(2);
    assert!(!format!("{fut:?}").is_empty());
    #[cfg(feature = "alloc")]
    {
        let owned_fut = Arc::clone(&sem).acquire_owned();
        assert!(!format!("{owned_fut:?}").is_empty());
    }
}

// ---------------------------------------------------------------- runtimes

#[test]
fn semaphore_grants_in_fifo_order_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        // Fewer under Miri, whose interpreter is about 100x slower.
        const N: usize = common::iterations(32, 8);
        let sem = Arc::new(Semaphore::new(1));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let held = sem.try_acquire().unwrap();
        let mut tasks = Vec::new();
        for i in 0..N {
            let (sem2, order) = (Arc::clone(&sem), Arc::clone(&order));
            tasks.push(rt.spawn(async move {
                // Owned waiters join the same line as borrowed ones.
                #[cfg(feature = "alloc")]
                if i % 2 == 1 {
                    let _permit = Arc::clone(&sem2).acquire_owned().await;
                    order.lock().unwrap().push(i);
                    return;
                }
                let _permit = sem2.acquire().await;
                order.lock().unwrap().push(i);
            }));
            rt.wait_until("the task is queued", || sem.waiters() == i + 1)
                .await;
        }
        drop(held);
        for task in tasks {
            task.await;
        }
        assert_eq!(*order.lock().unwrap(), (0..N).collect::<Vec<_>>());
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.waiters(), 0);
    });
}

#[test]
fn weighted_contention_never_exceeds_the_permit_count() {
    on_all_runtimes(|rt| async move {
        const TOTAL: usize = 5;
        let sem = Arc::new(Semaphore::new(TOTAL));
        let in_use = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        // Fewer under Miri, whose interpreter is about 100x slower.
        const TASKS: usize = common::iterations(8, 4);
        const ROUNDS: usize = common::iterations(40, 10);
        for t in 0..TASKS {
            let (sem, in_use) = (Arc::clone(&sem), Arc::clone(&in_use));
            tasks.push(rt.spawn(async move {
                for round in 0..ROUNDS {
                    let n = 1 + (t + round) % TOTAL;
                    let permit = sem.acquire_many(n).await;
                    assert_eq!(permit.permits(), n);
                    let now = in_use.fetch_add(n, Ordering::SeqCst) + n;
                    assert!(now <= TOTAL, "{now} permits in use, only {TOTAL} exist");
                    rt.yield_now().await;
                    in_use.fetch_sub(n, Ordering::SeqCst);
                    drop(permit);
                }
            }));
        }
        for task in tasks {
            task.await;
        }
        assert_eq!(sem.available_permits(), TOTAL);
        assert_eq!(sem.waiters(), 0);
    });
}
