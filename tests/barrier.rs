//! Barrier behaviour: all parties are released together with exactly one
//! leader per generation, generations follow one another, cancelled waiters
//! stop being counted, and waits from threads and tasks meet.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, poll_once, spin_until, watchdog,
};
use fairsync::{Barrier, BarrierWait, BarrierWaitResult};
use futures::future::FusedFuture;
use futures::task::noop_waker;

/// How many wait, read from the `Debug` output (which never blocks).
fn waiting_on(value: &impl std::fmt::Debug) -> usize {
    common::debug_count(value, "waiting")
}

/// Polls `n` new waits of `barrier` once each, asserting they all wait.
fn arrive_and_wait<'a>(
    barrier: &'a Barrier,
    n: usize,
    waker: &Waker,
) -> Vec<Pin<Box<BarrierWait<'a>>>> {
    (0..n)
        .map(|_| {
            let mut wait = Box::pin(barrier.wait());
            assert_pending(wait.as_mut(), waker, "an early arrival");
            wait
        })
        .collect()
}

#[track_caller]
fn expect_released(
    waits: &mut [Pin<Box<BarrierWait<'_>>>],
    waker: &Waker,
) -> Vec<BarrierWaitResult> {
    waits
        .iter_mut()
        .map(|wait| expect_ready(wait.as_mut(), waker, "a released waiter"))
        .collect()
}

static STATIC_BARRIER: Barrier = Barrier::new(1);

#[test]
fn const_constructor_works_in_a_static() {
    let waker = noop_waker();
    let mut wait = pin!(STATIC_BARRIER.wait());
    assert!(expect_ready(wait.as_mut(), &waker, "one party").is_leader());
}

#[test]
fn all_parties_are_released_together_by_the_last_arrival() {
    let barrier = Barrier::new(3);
    let wakers: Vec<_> = (0..2).map(|_| counting_waker()).collect();
    let mut a = pin!(barrier.wait());
    let mut b = pin!(barrier.wait());
    assert_pending(a.as_mut(), &wakers[0].1, "a");
    assert_pending(b.as_mut(), &wakers[1].1, "b");
    for _ in 0..5 {
        assert_pending(a.as_mut(), &wakers[0].1, "a before the last arrival");
    }
    assert_eq!(waiting_on(&barrier), 2);
    assert_eq!((wakers[0].0.count(), wakers[1].0.count()), (0, 0));
    let mut c = pin!(barrier.wait());
    let leader = expect_ready(c.as_mut(), &noop_waker(), "the last arrival");
    assert!(leader.is_leader(), "the last arrival leads");
    assert!(c.is_terminated());
    assert_eq!((wakers[0].0.count(), wakers[1].0.count()), (1, 1));
    assert_eq!(waiting_on(&barrier), 0);
    let ra = expect_ready(a.as_mut(), &wakers[0].1, "a");
    let rb = expect_ready(b.as_mut(), &wakers[1].1, "b");
    assert!(!ra.is_leader() && !rb.is_leader(), "exactly one leader");
}

#[test]
fn barrier_is_reusable_across_many_generations() {
    const N: usize = 4;
    let barrier = Barrier::new(N);
    let waker = noop_waker();
    for generation in 0..common::iterations(50, 10) {
        let mut early = arrive_and_wait(&barrier, N - 1, &waker);
        assert_eq!(waiting_on(&barrier), N - 1, "generation {generation}");
        let mut last = pin!(barrier.wait());
        assert!(expect_ready(last.as_mut(), &waker, "last").is_leader());
        let results = expect_released(&mut early, &waker);
        assert!(results.iter().all(|r| !r.is_leader()));
        assert_eq!(waiting_on(&barrier), 0);
    }
}

#[test]
fn new_zero_behaves_like_new_one() {
    let barrier = Barrier::new(0);
    let waker = noop_waker();
    for _ in 0..3 {
        let mut wait = pin!(barrier.wait());
        assert!(expect_ready(wait.as_mut(), &waker, "one party").is_leader());
        #[cfg(feature = "std")]
        assert!(barrier.wait_blocking().is_leader());
    }
    assert!(format!("{barrier:?}").contains("parties: 1"));
    assert_eq!(waiting_on(&barrier), 0);
}

// ------------------------------------------------------------ cancellation

#[test]
fn waiter_cancelled_before_the_trip_is_no_longer_counted() {
    let barrier = Barrier::new(3);
    let waker = noop_waker();
    let (b_wakes, b_waker) = counting_waker();
    let mut a = Box::pin(barrier.wait());
    let mut b = pin!(barrier.wait());
    assert_pending(a.as_mut(), &waker, "a");
    assert_pending(b.as_mut(), &b_waker, "b");
    drop(a);
    assert_eq!(waiting_on(&barrier), 1);
    let mut c = pin!(barrier.wait());
    assert_pending(c.as_mut(), &waker, "c: a no longer counts");
    assert_eq!(b_wakes.count(), 0);
    let mut d = pin!(barrier.wait());
    assert!(expect_ready(d.as_mut(), &waker, "d trips").is_leader());
    assert_eq!(b_wakes.count(), 1);
    assert!(!expect_ready(b.as_mut(), &b_waker, "b").is_leader());
    assert!(!expect_ready(c.as_mut(), &waker, "c").is_leader());

    // The next generation counts from zero again.
    let mut early = arrive_and_wait(&barrier, 2, &waker);
    let mut last = pin!(barrier.wait());
    assert!(expect_ready(last.as_mut(), &waker, "last").is_leader());
    expect_released(&mut early, &waker);
}

#[test]
fn waiter_dropped_before_its_first_poll_is_never_counted() {
    let barrier = Barrier::new(2);
    let waker = noop_waker();
    drop(barrier.wait());
    let mut a = pin!(barrier.wait());
    assert_pending(a.as_mut(), &waker, "a is alone");
    drop(barrier.wait());
    assert_pending(a.as_mut(), &waker, "a is still alone");
    let mut b = pin!(barrier.wait());
    assert!(expect_ready(b.as_mut(), &waker, "b").is_leader());
    assert!(!expect_ready(a.as_mut(), &waker, "a").is_leader());
}

#[test]
fn released_waiter_dropped_before_its_next_poll_does_not_affect_the_next_generation() {
    let barrier = Barrier::new(3);
    let waker = noop_waker();
    let mut early = arrive_and_wait(&barrier, 2, &waker);
    let mut leader = pin!(barrier.wait());
    assert!(expect_ready(leader.as_mut(), &waker, "leader").is_leader());
    let dropped = early.remove(0);
    drop(dropped); // released by the trip, never polled again
    expect_released(&mut early, &waker);

    for _ in 0..3 {
        let mut next = arrive_and_wait(&barrier, 2, &waker);
        assert_eq!(waiting_on(&barrier), 2);
        for wait in &mut next {
            assert_pending(wait.as_mut(), &waker, "the next generation is not complete");
        }
        let mut last = pin!(barrier.wait());
        assert!(expect_ready(last.as_mut(), &waker, "last").is_leader());
        expect_released(&mut next, &waker);
    }
}

type StaticWait = Pin<Box<BarrierWait<'static>>>;

#[test]
fn arrival_while_a_trip_wakes_a_batch_belongs_to_the_next_generation() {
    // More parties than one batch of wakers, so the trip drops the line's
    // lock midway; the first waiter's waker then arrives for the next round.
    const N: usize = 40;
    static BARRIER: Barrier = Barrier::new(N);
    let slot: Arc<StdMutex<Option<StaticWait>>> = Arc::default();
    let (newcomer_wakes, newcomer_waker) = counting_waker();
    let hook = common::on_first_wake({
        let slot = Arc::clone(&slot);
        let newcomer_waker = newcomer_waker.clone();
        move || {
            let mut wait = Box::pin(BARRIER.wait());
            assert_pending(wait.as_mut(), &newcomer_waker, "the newcomer");
            *slot.lock().unwrap() = Some(wait);
        }
    });
    let waker = noop_waker();
    let mut first = Box::pin(BARRIER.wait());
    assert_pending(first.as_mut(), &hook, "first");
    let mut early = arrive_and_wait(&BARRIER, N - 2, &waker);
    let mut last = pin!(BARRIER.wait());
    assert!(expect_ready(last.as_mut(), &waker, "last").is_leader());
    let mut newcomer = slot.lock().unwrap().take().expect("the hook ran");
    assert_eq!(
        newcomer_wakes.count(),
        0,
        "released with the wrong generation"
    );
    assert_eq!(waiting_on(&BARRIER), 1);
    assert_pending(newcomer.as_mut(), &newcomer_waker, "the newcomer");
    assert!(!expect_ready(first.as_mut(), &waker, "first").is_leader());
    expect_released(&mut early, &waker);

    // The newcomer counts as the next generation's first arrival.
    let mut next = arrive_and_wait(&BARRIER, N - 2, &waker);
    assert_eq!(newcomer_wakes.count(), 0);
    let mut last = pin!(BARRIER.wait());
    assert!(expect_ready(last.as_mut(), &waker, "last").is_leader());
    assert_eq!(newcomer_wakes.count(), 1);
    assert!(!expect_ready(newcomer.as_mut(), &newcomer_waker, "newcomer").is_leader());
    expect_released(&mut next, &waker);
}

#[test]
fn waiter_of_a_tripped_generation_cancelled_midway_through_its_release_is_not_counted() {
    const N: usize = 40;
    static BARRIER: Barrier = Barrier::new(N);
    let waits: Arc<StdMutex<Vec<Option<StaticWait>>>> = Arc::default();
    let hook = common::on_first_wake({
        let waits = Arc::clone(&waits);
        move || {
            // Still queued: the trip has not reached it yet.
            drop(waits.lock().unwrap().pop().expect("a queued waiter"));
        }
    });
    let waker = noop_waker();
    let mut first = Box::pin(BARRIER.wait());
    assert_pending(first.as_mut(), &hook, "first");
    for wait in arrive_and_wait(&BARRIER, N - 2, &waker) {
        waits.lock().unwrap().push(Some(wait));
    }
    let mut last = pin!(BARRIER.wait());
    assert!(expect_ready(last.as_mut(), &waker, "last").is_leader());
    assert_eq!(waiting_on(&BARRIER), 0);
    assert!(!expect_ready(first.as_mut(), &waker, "first").is_leader());
    let mut rest = std::mem::take(&mut *waits.lock().unwrap());
    assert_eq!(rest.len(), N - 3, "the hook dropped one waiter");
    for wait in rest.iter_mut().flatten() {
        assert!(!expect_ready(wait.as_mut(), &waker, "released").is_leader());
    }

    // The next generation still needs all N parties.
    let mut next = arrive_and_wait(&BARRIER, N - 1, &waker);
    for wait in &mut next {
        assert_pending(wait.as_mut(), &waker, "N - 1 arrivals do not trip");
    }
    let mut last = pin!(BARRIER.wait());
    assert!(expect_ready(last.as_mut(), &waker, "last").is_leader());
    expect_released(&mut next, &waker);
}

// ------------------------------------------------------------ Debug

#[test]
fn debug_shows_parties_and_how_many_wait() {
    let barrier = Barrier::new(3);
    assert!(format!("{barrier:?}").contains("parties: 3"));
    assert_eq!(waiting_on(&barrier), 0);
    let waker = noop_waker();
    let mut a = pin!(barrier.wait());
    assert!(format!("{a:?}").contains("BarrierWait"));
    assert_pending(a.as_mut(), &waker, "a");
    assert_eq!(waiting_on(&barrier), 1);
    let alone = Barrier::new(1);
    let result = expect_ready(pin!(alone.wait()).as_mut(), &waker, "alone");
    assert!(format!("{result:?}").contains("leader: true"), "{result:?}");
}

#[test]
#[should_panic(expected = "polled after it completed")]
fn polling_a_completed_wait_panics() {
    let barrier = Barrier::new(1);
    let waker = noop_waker();
    let mut wait = pin!(barrier.wait());
    let _ = expect_ready(wait.as_mut(), &waker, "wait");
    let _ = poll_once(wait.as_mut(), &waker);
}

// ------------------------------------------------------------ threads and runtimes

#[cfg(feature = "std")]
#[test]
fn wait_blocking_meets_across_threads_every_generation() {
    watchdog(|| {
        const THREADS: usize = 4;
        const ROUNDS: usize = common::iterations(50, 5);
        let barrier = Arc::new(Barrier::new(THREADS));
        let arrived = Arc::new(AtomicUsize::new(0));
        let leaders = Arc::new(StdMutex::new(vec![0usize; ROUNDS]));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (barrier, arrived, leaders) = (
                    Arc::clone(&barrier),
                    Arc::clone(&arrived),
                    Arc::clone(&leaders),
                );
                thread::spawn(move || {
                    for round in 0..ROUNDS {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        let result = barrier.wait_blocking();
                        let seen = arrived.load(Ordering::SeqCst);
                        assert!(
                            seen >= THREADS * (round + 1),
                            "released before everyone arrived"
                        );
                        if result.is_leader() {
                            leaders.lock().unwrap()[round] += 1;
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*leaders.lock().unwrap(), vec![1; ROUNDS]);
        assert_eq!(waiting_on(&barrier), 0);
    });
}

#[cfg(feature = "std")]
#[test]
fn tasks_and_threads_meet_every_generation_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const TASKS: usize = 3;
        const PARTIES: usize = TASKS + 2; // tasks, one thread, the test body
        const ROUNDS: usize = common::iterations(20, 4);
        let barrier = Arc::new(Barrier::new(PARTIES));
        let arrived = Arc::new(AtomicUsize::new(0));
        let leaders = Arc::new(AtomicUsize::new(0));
        // What every party checks after each wait.
        let party = {
            let (arrived, leaders) = (Arc::clone(&arrived), Arc::clone(&leaders));
            move |round: usize, result: BarrierWaitResult| {
                assert!(
                    arrived.load(Ordering::SeqCst) >= PARTIES * (round + 1),
                    "released before everyone arrived"
                );
                if result.is_leader() {
                    leaders.fetch_add(1, Ordering::SeqCst);
                }
            }
        };
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (barrier, arrived, party) =
                    (Arc::clone(&barrier), Arc::clone(&arrived), party.clone());
                rt.spawn(async move {
                    for round in 0..ROUNDS {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        let result = barrier.wait().await;
                        party(round, result);
                        rt.yield_now().await;
                    }
                })
            })
            .collect();
        let thread = thread::spawn({
            let (barrier, arrived, party) =
                (Arc::clone(&barrier), Arc::clone(&arrived), party.clone());
            move || {
                for round in 0..ROUNDS {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    party(round, barrier.wait_blocking());
                }
            }
        });
        for round in 0..ROUNDS {
            arrived.fetch_add(1, Ordering::SeqCst);
            let result = barrier.wait().await;
            party(round, result);
        }
        for task in tasks {
            task.await;
        }
        rt.wait_until("the thread finished", || thread.is_finished())
            .await;
        thread.join().unwrap();
        assert_eq!(
            leaders.load(Ordering::SeqCst),
            ROUNDS,
            "one leader per generation"
        );
        assert_eq!(waiting_on(&barrier), 0);
    });
}

#[test]
fn wait_cancelled_by_the_runtime_timeout_is_not_counted() {
    on_all_runtimes(|rt| async move {
        let barrier = Barrier::new(2);
        assert!(rt
            .timeout(Duration::from_millis(10), barrier.wait())
            .await
            .is_none());
        assert_eq!(waiting_on(&barrier), 0);
        // Were the timed-out wait still counted, the first of these would
        // trip alone and the second would wait forever.
        let (a, b) = futures::join!(barrier.wait(), barrier.wait());
        assert!(a.is_leader() != b.is_leader());
    });
}

#[cfg(feature = "std")]
#[test]
fn cancelled_waiter_is_not_counted_when_a_blocking_party_arrives() {
    watchdog(|| {
        let barrier = Arc::new(Barrier::new(2));
        let waker = noop_waker();
        let mut wait = Box::pin(barrier.wait());
        assert_pending(wait.as_mut(), &waker, "async waiter");
        drop(wait);
        let other = thread::spawn({
            let barrier = Arc::clone(&barrier);
            move || barrier.wait_blocking().is_leader()
        });
        spin_until("the thread waits", || waiting_on(&barrier) == 1);
        let mut last = pin!(barrier.wait());
        let leader = match poll_once(last.as_mut(), &waker) {
            Poll::Ready(result) => result.is_leader(),
            Poll::Pending => panic!("two parties arrived"),
        };
        assert!(leader);
        assert!(!other.join().unwrap());
    });
}
