//! Event behaviour: starts unset, waits pass at once while set, `set`
//! releases every waiter queued at that moment even if `clear` follows
//! before they run, later waiters wait again, blocking and timed waits, and
//! `Debug`.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, poll_once, spin_until, watchdog,
};
use fairsync::{Event, EventWait};
use futures::future::FusedFuture;
use futures::task::noop_waker;

/// How many wait, read from the `Debug` output (which never blocks).
fn waiting_on(value: &impl std::fmt::Debug) -> usize {
    common::debug_count(value, "waiters")
}

static STATIC_EVENT: Event = Event::new();

#[test]
fn event_starts_unset() {
    assert!(!STATIC_EVENT.is_set());
    assert!(!Event::new().is_set());
    assert!(!Event::default().is_set());
    let event = Event::new();
    let mut wait = pin!(event.wait());
    for _ in 0..10 {
        assert_pending(wait.as_mut(), &noop_waker(), "an unset event");
    }
    #[cfg(feature = "std")]
    assert!(!event.wait_blocking_timeout(Duration::ZERO));
}

#[test]
fn wait_is_ready_at_once_while_set_without_queueing() {
    let event = Event::new();
    event.set();
    assert!(event.is_set());
    let (wakes, waker) = counting_waker();
    for _ in 0..3 {
        let mut wait = pin!(event.wait());
        expect_ready(wait.as_mut(), &waker, "a set event");
        assert!(wait.is_terminated());
        assert_eq!(waiting_on(&event), 0);
    }
    assert_eq!(wakes.count(), 0, "nobody had to be woken");
    assert!(event.is_set(), "waits do not consume the flag");
    #[cfg(feature = "std")]
    {
        event.wait_blocking();
        assert!(event.wait_blocking_timeout(Duration::ZERO));
        assert!(event.wait_blocking_timeout(Duration::from_secs(30)));
        assert!(event.wait_blocking_timeout(Duration::MAX));
    }
}

#[test]
fn set_releases_every_queued_waiter_even_if_clear_follows() {
    const N: usize = 4;
    let event = Event::new();
    let wakers: Vec<_> = (0..N).map(|_| counting_waker()).collect();
    let mut waits: Vec<_> = (0..N).map(|_| Box::pin(event.wait())).collect();
    for (i, wait) in waits.iter_mut().enumerate() {
        assert_pending(wait.as_mut(), &wakers[i].1, "unset");
    }
    assert_eq!(waiting_on(&event), N);
    event.set();
    event.clear();
    assert!(!event.is_set());
    assert!(wakers.iter().all(|(count, _)| count.count() == 1));
    for (i, wait) in waits.iter_mut().enumerate() {
        expect_ready(wait.as_mut(), &wakers[i].1, "released by set before clear");
    }
    // A wait that starts after clear waits for the next set.
    let (wakes, waker) = counting_waker();
    let mut later = pin!(event.wait());
    assert_pending(later.as_mut(), &waker, "started after clear");
    assert_pending(later.as_mut(), &waker, "still unset");
    assert_eq!(wakes.count(), 0);
    event.set();
    assert_eq!(wakes.count(), 1);
    expect_ready(later.as_mut(), &waker, "set again");
}

#[test]
fn set_with_nobody_waiting_keeps_the_flag_until_clear() {
    let event = Event::new();
    event.set();
    event.set();
    assert!(event.is_set());
    let mut a = pin!(event.wait());
    expect_ready(a.as_mut(), &noop_waker(), "set");
    event.clear();
    event.clear();
    assert!(!event.is_set());
    let mut b = pin!(event.wait());
    assert_pending(b.as_mut(), &noop_waker(), "cleared");
    event.set();
    expect_ready(b.as_mut(), &noop_waker(), "set");
}

#[test]
fn cancelled_waits_leave_the_line() {
    let event = Event::new();
    let (wakes, waker) = counting_waker();
    drop(event.wait());
    let mut a = Box::pin(event.wait());
    let mut b = pin!(event.wait());
    assert_pending(a.as_mut(), &noop_waker(), "a");
    assert_pending(b.as_mut(), &waker, "b");
    drop(a);
    assert_eq!(waiting_on(&event), 1);
    event.set();
    assert_eq!(wakes.count(), 1);
    expect_ready(b.as_mut(), &waker, "b");

    // A released wait dropped before its next poll takes nothing from others.
    event.clear();
    let mut c = Box::pin(event.wait());
    let mut d = pin!(event.wait());
    assert_pending(c.as_mut(), &noop_waker(), "c");
    assert_pending(d.as_mut(), &waker, "d");
    event.set();
    drop(c);
    event.clear();
    expect_ready(d.as_mut(), &waker, "d was released too");
    assert_eq!(waiting_on(&event), 0);
}

type StaticWait = Pin<Box<EventWait<'static>>>;

#[test]
fn waiter_arriving_after_clear_while_set_wakes_a_batch_keeps_waiting() {
    // More waiters than one batch of wakers, so set drops the line's lock
    // midway; the first waiter's waker clears the event and starts a wait.
    const N: usize = 40;
    static EVENT: Event = Event::new();
    let slot: Arc<StdMutex<Option<StaticWait>>> = Arc::default();
    let (newcomer_wakes, newcomer_waker) = counting_waker();
    let hook = common::on_first_wake({
        let (slot, newcomer_waker) = (Arc::clone(&slot), newcomer_waker.clone());
        move || {
            EVENT.clear();
            let mut wait = Box::pin(EVENT.wait());
            assert_pending(wait.as_mut(), &newcomer_waker, "started after clear");
            *slot.lock().unwrap() = Some(wait);
        }
    });
    let waker = noop_waker();
    let mut waits: Vec<_> = (0..N).map(|_| Box::pin(EVENT.wait())).collect();
    for (i, wait) in waits.iter_mut().enumerate() {
        assert_pending(wait.as_mut(), if i == 0 { &hook } else { &waker }, "unset");
    }
    EVENT.set();
    let mut newcomer = slot.lock().unwrap().take().expect("the hook ran");
    assert!(!EVENT.is_set());
    assert_eq!(
        newcomer_wakes.count(),
        0,
        "released by a set made before it"
    );
    assert_eq!(waiting_on(&EVENT), 1);
    for wait in &mut waits {
        expect_ready(wait.as_mut(), &waker, "queued before set");
    }
    assert_pending(newcomer.as_mut(), &newcomer_waker, "the newcomer");
    EVENT.set();
    expect_ready(newcomer.as_mut(), &newcomer_waker, "the newcomer");
}

// ------------------------------------------------------------ blocking

#[cfg(feature = "std")]
#[test]
fn wait_blocking_returns_once_another_thread_sets() {
    watchdog(|| {
        let event = Arc::new(Event::new());
        let waiter = thread::spawn({
            let event = Arc::clone(&event);
            move || {
                event.wait_blocking();
                "released"
            }
        });
        spin_until("the thread waits", || waiting_on(&event) == 1);
        event.set();
        event.clear();
        assert_eq!(waiter.join().unwrap(), "released");
        assert_eq!(waiting_on(&event), 0);
    });
}

#[cfg(feature = "std")]
#[test]
fn wait_timeout_is_false_on_timeout_and_leaves_no_waiter() {
    watchdog(|| {
        let event = Event::new();
        assert!(!event.wait_blocking_timeout(Duration::from_millis(10)));
        assert_eq!(waiting_on(&event), 0);
        // The timed-out wait is gone: a later set still reaches a waiter.
        let (wakes, waker) = counting_waker();
        let mut wait = pin!(event.wait());
        assert_pending(wait.as_mut(), &waker, "wait");
        event.set();
        assert_eq!(wakes.count(), 1);
        expect_ready(wait.as_mut(), &waker, "wait");
    });
}

#[cfg(feature = "std")]
#[test]
fn wait_timeout_is_true_when_set_in_time() {
    watchdog(|| {
        for timeout in [Duration::from_secs(30), Duration::MAX] {
            let event = Arc::new(Event::new());
            let waiter = thread::spawn({
                let event = Arc::clone(&event);
                move || event.wait_blocking_timeout(timeout)
            });
            spin_until("the thread waits", || waiting_on(&event) == 1);
            event.set();
            event.clear();
            assert!(waiter.join().unwrap(), "timeout {timeout:?}");
        }
    });
}

#[cfg(feature = "std")]
#[test]
fn wait_timeout_zero_only_checks_the_flag() {
    let event = Event::new();
    assert!(!event.wait_blocking_timeout(Duration::ZERO));
    assert_eq!(waiting_on(&event), 0);
    event.set();
    assert!(event.wait_blocking_timeout(Duration::ZERO));
    event.clear();
    assert!(!event.wait_blocking_timeout(Duration::ZERO));
}

// ------------------------------------------------------------ Debug

#[test]
fn debug_shows_is_set() {
    let event = Event::new();
    assert!(format!("{event:?}").contains("is_set: false"));
    assert_eq!(waiting_on(&event), 0);
    let mut wait = pin!(event.wait());
    assert_pending(wait.as_mut(), &noop_waker(), "wait");
    assert!(format!("{wait:?}").contains("EventWait"));
    assert!(format!("{event:?}").contains("is_set: false"));
    assert_eq!(waiting_on(&event), 1);
    event.set();
    assert!(format!("{event:?}").contains("is_set: true"));
    assert_eq!(waiting_on(&event), 0);
}

#[test]
#[should_panic(expected = "polled after it completed")]
fn polling_a_completed_wait_panics() {
    let event = Event::new();
    event.set();
    let waker = noop_waker();
    let mut wait = pin!(event.wait());
    expect_ready(wait.as_mut(), &waker, "wait");
    let _ = poll_once(wait.as_mut(), &waker);
}

// ------------------------------------------------------------ runtimes

#[test]
fn set_then_clear_releases_every_waiting_task_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const TASKS: usize = common::iterations(8, 4);
        let event = Arc::new(Event::new());
        let released = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (event, released) = (Arc::clone(&event), Arc::clone(&released));
                rt.spawn(async move {
                    event.wait().await;
                    released.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        rt.wait_until("every task waits", || waiting_on(&event) == TASKS)
            .await;
        assert_eq!(released.load(Ordering::SeqCst), 0);
        // No await in between: on a single-threaded runtime no task runs
        // before the event is unset again.
        event.set();
        event.clear();
        for task in tasks {
            task.await;
        }
        assert_eq!(released.load(Ordering::SeqCst), TASKS);
        assert!(!event.is_set());
    });
}

#[test]
fn set_and_clear_hand_turns_back_and_forth_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const ROUNDS: usize = common::iterations(50, 6);
        let ping = Arc::new(Event::new());
        let pong = Arc::new(Event::new());
        let turns = Arc::new(AtomicUsize::new(0));
        let task = rt.spawn({
            let (ping, pong, turns) = (Arc::clone(&ping), Arc::clone(&pong), Arc::clone(&turns));
            async move {
                for round in 0..ROUNDS {
                    ping.wait().await;
                    ping.clear();
                    assert_eq!(turns.fetch_add(1, Ordering::SeqCst), 2 * round + 1);
                    pong.set();
                }
            }
        });
        for round in 0..ROUNDS {
            assert_eq!(turns.fetch_add(1, Ordering::SeqCst), 2 * round);
            ping.set();
            pong.wait().await;
            pong.clear();
        }
        task.await;
        assert_eq!(turns.load(Ordering::SeqCst), 2 * ROUNDS);
    });
}

#[test]
fn wait_cancelled_by_the_runtime_timeout_leaves_no_waiter() {
    on_all_runtimes(|rt| async move {
        let event = Event::new();
        assert!(rt
            .timeout(Duration::from_millis(10), event.wait())
            .await
            .is_none());
        assert_eq!(waiting_on(&event), 0);
        event.set();
        assert!(rt
            .timeout(Duration::from_secs(10), event.wait())
            .await
            .is_some());
    });
}
