//! Condvar behaviour: waits return the guard locked, notifications are never
//! lost and never spurious, notify_one picks the oldest waiter, notify_all
//! the waiters queued at that moment, cancelled notified waiters pass the
//! notification on, wait_while, blocking and timed waits, and `Debug`.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::cell::Cell;
use std::collections::VecDeque;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Waker;
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, poll_once, spin_until, watchdog,
    WakeCounter,
};
use fairsync::{Condvar, CondvarWait, Mutex};
use futures::future::FusedFuture;
use futures::task::noop_waker;

/// How many wait, read from the `Debug` output (which never blocks).
fn waiting_on(value: &impl std::fmt::Debug) -> usize {
    common::debug_count(value, "waiters")
}

/// A wait on `condvar` that has been polled once, so it is queued and has
/// unlocked `mutex`.
#[track_caller]
fn queued<'a, 'b, T>(
    condvar: &'b Condvar,
    mutex: &'a Mutex<T>,
    waker: &Waker,
) -> Pin<Box<CondvarWait<'a, 'b, T>>> {
    let mut wait = Box::pin(condvar.wait(mutex.try_lock().expect("the mutex is free")));
    assert_pending(wait.as_mut(), waker, "a new wait");
    wait
}

fn wakes(wakers: &[(Arc<WakeCounter>, Waker)]) -> Vec<usize> {
    wakers.iter().map(|(count, _)| count.count()).collect()
}

static STATIC_CONDVAR: Condvar = Condvar::new();

#[test]
fn const_constructor_and_default() {
    STATIC_CONDVAR.notify_one();
    STATIC_CONDVAR.notify_all();
    assert_eq!(waiting_on(&STATIC_CONDVAR), 0);
    let condvar = Condvar::default();
    assert_eq!(waiting_on(&condvar), 0);
}

// ------------------------------------------------------------ basics

#[test]
fn wait_unlocks_the_mutex_and_returns_the_guard_locked() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let (wakes, waker) = counting_waker();
    let mut wait = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert!(mutex.is_locked(), "nothing happens before the first poll");
    assert_pending(wait.as_mut(), &waker, "wait");
    assert!(!mutex.is_locked(), "the wait unlocked the mutex");
    assert_eq!(waiting_on(&condvar), 1);

    let mut guard = mutex.try_lock().expect("unlocked while waiting");
    *guard = 1;
    condvar.notify_one();
    assert_eq!(wakes.count(), 1);
    assert_pending(wait.as_mut(), &waker, "re-locking behind the notifier");
    let (l_wakes, l_waker) = counting_waker();
    let mut later = pin!(mutex.lock());
    assert_pending(later.as_mut(), &l_waker, "a later lock");
    drop(guard);
    let guard = expect_ready(wait.as_mut(), &waker, "wait");
    assert_eq!(*guard, 1);
    assert!(wait.is_terminated());
    assert!(mutex.is_locked(), "the guard comes back locked");
    assert!(mutex.try_lock().is_none());
    assert_pending(
        later.as_mut(),
        &l_waker,
        "the later lock waits for the guard",
    );
    assert_eq!(l_wakes.count(), 0);
    drop(guard);
    drop(expect_ready(later.as_mut(), &l_waker, "later lock"));
    assert!(!mutex.is_locked());
    assert_eq!(waiting_on(&condvar), 0);
}

#[test]
fn notify_before_any_waiter_has_no_effect() {
    let mutex = Mutex::new(());
    let condvar = Condvar::new();
    condvar.notify_one();
    condvar.notify_all();
    condvar.notify_one();
    let (wakes, waker) = counting_waker();
    let mut wait = pin!(condvar.wait(mutex.try_lock().unwrap()));
    for _ in 0..20 {
        assert_pending(wait.as_mut(), &waker, "a notification was stored");
    }
    assert_eq!(wakes.count(), 0);
    condvar.notify_one();
    assert_eq!(wakes.count(), 1);
    drop(expect_ready(wait.as_mut(), &waker, "wait"));
}

#[test]
fn notify_one_wakes_the_oldest_waiter_only() {
    const N: usize = 5;
    let mutex = Mutex::new(Vec::new());
    let condvar = Condvar::new();
    let wakers: Vec<_> = (0..N).map(|_| counting_waker()).collect();
    let mut waits: Vec<_> = (0..N)
        .map(|i| queued(&condvar, &mutex, &wakers[i].1))
        .collect();
    for i in 0..N {
        condvar.notify_one();
        let mut expected = vec![1; i + 1];
        expected.resize(N, 0);
        assert_eq!(wakes(&wakers), expected, "notify_one #{i}");
        for (j, later) in waits.iter_mut().enumerate().skip(i + 1) {
            assert_pending(later.as_mut(), &wakers[j].1, "a younger waiter");
        }
        expect_ready(waits[i].as_mut(), &wakers[i].1, "the oldest waiter").push(i);
        assert_eq!(waiting_on(&condvar), N - i - 1);
    }
    drop(waits);
    assert_eq!(*mutex.try_lock().unwrap(), (0..N).collect::<Vec<_>>());
}

#[test]
fn notify_all_releases_the_waiters_queued_at_that_moment_only() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
    let mut a = queued(&condvar, &mutex, &wakers[0].1);
    let mut b = queued(&condvar, &mutex, &wakers[1].1);
    condvar.notify_all();
    assert_eq!(waiting_on(&condvar), 0);
    let mut c = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert_pending(c.as_mut(), &wakers[2].1, "c arrives after notify_all");
    assert_eq!(wakes(&wakers), [1, 1, 0]);
    let guard = expect_ready(a.as_mut(), &wakers[0].1, "a");
    assert_pending(b.as_mut(), &wakers[1].1, "b re-locks behind a");
    drop(guard);
    assert_eq!(wakes(&wakers), [1, 2, 0]);
    drop(expect_ready(b.as_mut(), &wakers[1].1, "b"));
    for _ in 0..10 {
        assert_pending(c.as_mut(), &wakers[2].1, "c was not notified");
    }
    assert_eq!(waiting_on(&condvar), 1);
    condvar.notify_all();
    drop(expect_ready(c.as_mut(), &wakers[2].1, "c"));
}

type StaticWait = Pin<Box<CondvarWait<'static, 'static, u32>>>;
type Newcomer = Arc<StdMutex<Option<(StaticWait, Waker)>>>;

/// Queues `n` waits on `condvar`; the first one's waker runs `on_wake` the
/// first time it is woken. `notify_all` releases them in batches, waking
/// each batch with the line's lock released, so `on_wake` runs while later
/// waiters are still queued.
fn queue_batch(
    mutex: &'static Mutex<u32>,
    condvar: &'static Condvar,
    n: usize,
    on_wake: impl Fn() + Send + Sync + 'static,
) -> Vec<(StaticWait, Waker)> {
    let woken = AtomicUsize::new(0);
    let mut on_wake = Some(move || {
        if woken.fetch_add(1, Ordering::SeqCst) == 0 {
            on_wake();
        }
    });
    let mut waits = Vec::new();
    for i in 0..n {
        let waker = match on_wake.take() {
            Some(f) if i == 0 => common::on_every_wake(f),
            _ => noop_waker(),
        };
        let mut wait = Box::pin(condvar.wait(mutex.try_lock().unwrap()));
        assert_pending(wait.as_mut(), &waker, "batch waiter");
        waits.push((wait, waker));
    }
    waits
}

/// Registers a new wait on `condvar` and stores it in `slot`.
fn register(mutex: &'static Mutex<u32>, condvar: &'static Condvar, slot: &Newcomer, waker: &Waker) {
    let guard = mutex.try_lock().expect("no released waiter re-locked yet");
    let mut wait = Box::pin(condvar.wait(guard));
    assert_pending(wait.as_mut(), waker, "the newcomer");
    *slot.lock().unwrap() = Some((wait, waker.clone()));
}

#[test]
fn notify_all_does_not_release_a_waiter_that_arrives_while_it_wakes_a_batch() {
    static MUTEX: Mutex<u32> = Mutex::new(0);
    static CONDVAR: Condvar = Condvar::new();
    // More than one batch of wakers, so the line's lock is dropped midway.
    const N: usize = 40;
    let slot: Newcomer = Arc::default();
    let (newcomer_wakes, newcomer_waker) = counting_waker();
    let mut waits = queue_batch(&MUTEX, &CONDVAR, N, {
        let slot = Arc::clone(&slot);
        move || register(&MUTEX, &CONDVAR, &slot, &newcomer_waker)
    });
    CONDVAR.notify_all();
    let (mut newcomer, waker) = slot.lock().unwrap().take().expect("the hook ran");
    assert_eq!(newcomer_wakes.count(), 0, "the newcomer was released");
    assert_eq!(waiting_on(&CONDVAR), 1, "only the newcomer waits");
    assert_pending(newcomer.as_mut(), &waker, "the newcomer");
    for (wait, waker) in &mut waits {
        drop(expect_ready(
            wait.as_mut(),
            waker,
            "a waiter queued before notify_all",
        ));
    }
    CONDVAR.notify_one();
    assert_eq!(newcomer_wakes.count(), 1);
    drop(expect_ready(newcomer.as_mut(), &waker, "the newcomer"));
    assert_eq!(waiting_on(&CONDVAR), 0);
}

#[test]
fn notify_one_during_a_notify_all_batch_reaches_the_waiter_registered_before_it() {
    static MUTEX: Mutex<u32> = Mutex::new(0);
    static CONDVAR: Condvar = Condvar::new();
    const N: usize = 40;
    let slot: Newcomer = Arc::default();
    let (newcomer_wakes, newcomer_waker) = counting_waker();
    let mut waits = queue_batch(&MUTEX, &CONDVAR, N, {
        let slot = Arc::clone(&slot);
        move || {
            // A waiter registers, then a notification follows: from here on,
            // the newcomer is the only waiter notify_all has not released.
            register(&MUTEX, &CONDVAR, &slot, &newcomer_waker);
            CONDVAR.notify_one();
        }
    });
    CONDVAR.notify_all();
    let (mut newcomer, waker) = slot.lock().unwrap().take().expect("the hook ran");
    for (wait, waker) in &mut waits {
        drop(expect_ready(
            wait.as_mut(),
            waker,
            "a waiter queued before notify_all",
        ));
    }
    assert_eq!(
        newcomer_wakes.count(),
        1,
        "the notify_one made after the newcomer registered was lost"
    );
    drop(expect_ready(newcomer.as_mut(), &waker, "the newcomer"));
    assert_eq!(waiting_on(&CONDVAR), 0);
}

// ------------------------------------------------------------ no lost / spurious

#[test]
fn notify_right_after_the_first_poll_is_not_lost() {
    let mutex = Mutex::new(false);
    let condvar = Condvar::new();
    let (wakes, waker) = counting_waker();
    let mut wait = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert_pending(wait.as_mut(), &waker, "first poll");
    // The notifier runs between the waiter's first and second poll.
    *mutex.try_lock().unwrap() = true;
    condvar.notify_one();
    assert_eq!(wakes.count(), 1, "the waiter is woken");
    assert!(*expect_ready(wait.as_mut(), &waker, "second poll"));

    // The same with notify_all.
    let mut wait = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert_pending(wait.as_mut(), &waker, "first poll");
    condvar.notify_all();
    assert_eq!(wakes.count(), 2);
    drop(expect_ready(wait.as_mut(), &waker, "second poll"));
}

#[test]
fn no_wake_up_without_a_notification_meant_for_the_waiter() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let waker = noop_waker();
    let mut older = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert_pending(older.as_mut(), &waker, "older");
    let (wakes, counted) = counting_waker();
    let mut wait = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert_pending(wait.as_mut(), &counted, "wait");
    // The mutex is locked and unlocked, the older waiter is notified and
    // completes, and the waiter is polled over and over with fresh wakers.
    for i in 0..50 {
        *mutex.try_lock().unwrap() += 1;
        let fresh = counting_waker();
        let w = if i % 2 == 0 { &counted } else { &fresh.1 };
        assert_pending(wait.as_mut(), w, "polled without a notification");
    }
    condvar.notify_one();
    drop(expect_ready(older.as_mut(), &waker, "older"));
    for _ in 0..50 {
        assert_pending(wait.as_mut(), &counted, "the notification went to older");
    }
    assert_eq!(wakes.count(), 0);
    assert_eq!(waiting_on(&condvar), 1);
    condvar.notify_one();
    assert_eq!(*expect_ready(wait.as_mut(), &counted, "wait"), 50);
}

#[cfg(feature = "std")]
#[test]
fn no_notification_is_lost_between_threads() {
    watchdog(|| {
        const ROUNDS: usize = common::iterations(300, 20);
        // Ping-pong: each side waits for its turn; a lost notification
        // would leave both waiting forever.
        let shared = Arc::new((Mutex::new(0usize), Condvar::new()));
        let other = thread::spawn({
            let shared = Arc::clone(&shared);
            move || {
                let (turn, condvar) = &*shared;
                for round in 0..ROUNDS {
                    let mut guard = turn.lock_blocking();
                    while *guard != 2 * round + 1 {
                        guard = condvar.wait_blocking(guard);
                    }
                    *guard += 1;
                    condvar.notify_one();
                }
            }
        });
        let (turn, condvar) = &*shared;
        for round in 0..ROUNDS {
            let mut guard = turn.lock_blocking();
            while *guard != 2 * round {
                guard = condvar.wait_blocking(guard);
            }
            *guard += 1;
            condvar.notify_one();
        }
        other.join().unwrap();
        assert_eq!(*turn.try_lock().unwrap(), 2 * ROUNDS);
    });
}

// ------------------------------------------------------------ cancellation

#[test]
fn wait_dropped_before_its_first_poll_only_unlocks_the_mutex() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let (wakes, waker) = counting_waker();
    let mut other = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert_pending(other.as_mut(), &waker, "other");
    let guard = mutex.try_lock().unwrap();
    drop(condvar.wait(guard));
    assert!(!mutex.is_locked(), "the guard was dropped");
    assert_eq!(waiting_on(&condvar), 1, "it never queued");
    assert_eq!(wakes.count(), 0, "it passed nothing on");
    assert_pending(other.as_mut(), &waker, "other");
    condvar.notify_one();
    drop(expect_ready(other.as_mut(), &waker, "other"));
}

#[test]
fn pending_wait_dropped_does_not_take_a_notification() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let (wakes, waker) = counting_waker();
    let a = queued(&condvar, &mutex, &noop_waker());
    let mut b = queued(&condvar, &mutex, &waker);
    drop(a);
    assert_eq!(waiting_on(&condvar), 1);
    assert!(!mutex.is_locked());
    assert_eq!(wakes.count(), 0);
    condvar.notify_one();
    assert_eq!(wakes.count(), 1, "the notification reached b");
    drop(expect_ready(b.as_mut(), &waker, "b"));
}

#[test]
fn notified_wait_dropped_passes_the_notification_on() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let (b_wakes, b_waker) = counting_waker();
    let (c_wakes, c_waker) = counting_waker();
    let a = queued(&condvar, &mutex, &noop_waker());
    let mut b = queued(&condvar, &mutex, &b_waker);
    let mut c = queued(&condvar, &mutex, &c_waker);
    condvar.notify_one();
    assert_eq!(b_wakes.count(), 0);
    drop(a); // notified, not polled again
    assert_eq!(
        (b_wakes.count(), c_wakes.count()),
        (1, 0),
        "passed to b only"
    );
    assert!(!mutex.is_locked());
    drop(expect_ready(b.as_mut(), &b_waker, "b"));
    assert_pending(c.as_mut(), &c_waker, "c");
    assert_eq!(waiting_on(&condvar), 1);
}

#[test]
fn notified_wait_dropped_while_relocking_passes_the_notification_on() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let (b_wakes, b_waker) = counting_waker();
    let mut a = queued(&condvar, &mutex, &noop_waker());
    let mut b = queued(&condvar, &mutex, &b_waker);
    let holder = mutex.try_lock().unwrap();
    condvar.notify_one();
    assert_pending(a.as_mut(), &noop_waker(), "a re-locks behind the holder");
    assert_eq!(waiting_on(&condvar), 1, "a left the line");
    assert_eq!(b_wakes.count(), 0);
    drop(a); // while it waits for the mutex
    assert_eq!(b_wakes.count(), 1, "the notification passed to b");
    assert_pending(b.as_mut(), &b_waker, "b re-locks behind the holder");
    assert_eq!(waiting_on(&condvar), 0);
    drop(holder);
    let guard = expect_ready(b.as_mut(), &b_waker, "b");
    drop(guard);
    assert!(
        !mutex.is_locked(),
        "a's cancelled re-lock left the mutex free"
    );
}

#[test]
fn wait_dropped_after_its_relock_was_granted_passes_mutex_and_notification_on() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let (b_wakes, b_waker) = counting_waker();
    let (l_wakes, l_waker) = counting_waker();
    let mut a = queued(&condvar, &mutex, &noop_waker());
    let mut b = queued(&condvar, &mutex, &b_waker);
    let holder = mutex.try_lock().unwrap();
    condvar.notify_one();
    assert_pending(a.as_mut(), &noop_waker(), "a re-locks behind the holder");
    let mut later = pin!(mutex.lock());
    assert_pending(later.as_mut(), &l_waker, "a later lock");
    drop(holder); // the mutex goes to a's re-lock
    assert_eq!(l_wakes.count(), 0);
    drop(a); // granted the mutex, not polled again
    assert_eq!(l_wakes.count(), 1, "the mutex went on to the next in line");
    assert_eq!(b_wakes.count(), 1, "the notification went on to b");
    let guard = expect_ready(later.as_mut(), &l_waker, "later lock");
    assert_pending(b.as_mut(), &b_waker, "b re-locks");
    drop(guard);
    drop(expect_ready(b.as_mut(), &b_waker, "b"));
    assert!(!mutex.is_locked());
}

#[test]
fn notified_wait_dropped_with_nobody_waiting_leaves_nothing_behind() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let mut a = Box::pin(condvar.wait(mutex.try_lock().unwrap()));
    assert_pending(a.as_mut(), &noop_waker(), "a");
    condvar.notify_one();
    drop(a);
    let (wakes, waker) = counting_waker();
    let mut later = pin!(condvar.wait(mutex.try_lock().unwrap()));
    for _ in 0..10 {
        assert_pending(later.as_mut(), &waker, "a later waiter");
    }
    assert_eq!(wakes.count(), 0);
    assert!(!mutex.is_locked());
}

#[test]
fn wait_cancelled_by_the_runtime_timeout_unlocks_and_leaves_the_line() {
    on_all_runtimes(|rt| async move {
        let mutex = Mutex::new(1);
        let condvar = Condvar::new();
        let guard = mutex.lock().await;
        let timed_out = rt
            .timeout(Duration::from_millis(10), condvar.wait(guard))
            .await;
        assert!(timed_out.is_none());
        assert!(!mutex.is_locked());
        assert_eq!(waiting_on(&condvar), 0);
    });
}

// ------------------------------------------------------------ wait_while

#[test]
fn wait_while_returns_at_once_without_unlocking_when_the_condition_is_false() {
    let mutex = Mutex::new(5);
    let condvar = Condvar::new();
    let guard = mutex.try_lock().unwrap();
    let (l_wakes, l_waker) = counting_waker();
    let mut earlier = pin!(mutex.lock());
    assert_pending(earlier.as_mut(), &l_waker, "a lock queued before the wait");
    let calls = Cell::new(0);
    let mut wait = pin!(condvar.wait_while(guard, |v| {
        calls.set(calls.get() + 1);
        *v != 5
    }));
    let mut guard = expect_ready(wait.as_mut(), &noop_waker(), "condition already false");
    assert!(wait.is_terminated());
    assert_eq!(calls.get(), 1);
    assert_eq!(l_wakes.count(), 0, "the mutex was unlocked in between");
    assert_pending(earlier.as_mut(), &l_waker, "the earlier lock");
    assert_eq!(waiting_on(&condvar), 0, "it never queued");
    *guard = 6;
    drop(guard);
    assert_eq!(
        *expect_ready(earlier.as_mut(), &l_waker, "the earlier lock"),
        6
    );
}

#[test]
fn wait_while_rechecks_the_condition_after_each_notification() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let calls = Cell::new(0);
    let (wakes, waker) = counting_waker();
    let mut wait = pin!(condvar.wait_while(mutex.try_lock().unwrap(), |v| {
        calls.set(calls.get() + 1);
        *v < 3
    }));
    assert_pending(wait.as_mut(), &waker, "condition true");
    assert_eq!(calls.get(), 1);
    assert!(!mutex.is_locked());
    // A notification without a change: checked again, waits again.
    condvar.notify_one();
    assert_pending(wait.as_mut(), &waker, "still true");
    assert_eq!(calls.get(), 2);
    assert_eq!(waiting_on(&condvar), 1, "queued again");
    assert!(!mutex.is_locked(), "unlocked again");
    for value in 1..3 {
        *mutex.try_lock().unwrap() = value;
        condvar.notify_all();
        assert_pending(wait.as_mut(), &waker, "still true");
        assert_eq!(calls.get(), value + 2);
    }
    // No notification: no check, however often it is polled.
    *mutex.try_lock().unwrap() = 3;
    for _ in 0..5 {
        assert_pending(wait.as_mut(), &waker, "not notified");
    }
    assert_eq!(calls.get(), 4);
    condvar.notify_one();
    let guard = expect_ready(wait.as_mut(), &waker, "condition false");
    assert_eq!(*guard, 3);
    assert_eq!(calls.get(), 5);
    assert_eq!(wakes.count(), 4);
    assert!(mutex.is_locked());
}

#[test]
fn panicking_condition_unlocks_the_mutex_and_leaves_the_line() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    // On the first check, before any wait.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut wait =
            pin!(condvar.wait_while(mutex.try_lock().unwrap(), |_| -> bool { panic!("boom") }));
        let _ = poll_once(wait.as_mut(), &noop_waker());
    }));
    assert!(panicked.is_err());
    assert!(!mutex.is_locked());
    assert_eq!(waiting_on(&condvar), 0);
    // On a check after a notification, with the mutex locked again.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut wait = pin!(condvar.wait_while(mutex.try_lock().unwrap(), |v| {
            assert_eq!(*v, 0, "boom");
            true
        }));
        assert_pending(wait.as_mut(), &noop_waker(), "condition true");
        *mutex.try_lock().unwrap() = 1;
        condvar.notify_one();
        let _ = poll_once(wait.as_mut(), &noop_waker());
    }));
    assert!(panicked.is_err());
    assert!(!mutex.is_locked(), "no poisoning, no lock left held");
    assert_eq!(waiting_on(&condvar), 0);
    assert_eq!(*mutex.try_lock().unwrap(), 1);
}

#[test]
fn wait_while_dropped_while_relocking_passes_the_notification_on() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let (b_wakes, b_waker) = counting_waker();
    let mut a = Box::pin(condvar.wait_while(mutex.try_lock().unwrap(), |v| *v == 0));
    assert_pending(a.as_mut(), &noop_waker(), "a");
    let mut b = queued(&condvar, &mutex, &b_waker);
    let mut holder = mutex.try_lock().unwrap();
    *holder = 1;
    condvar.notify_one();
    assert_pending(a.as_mut(), &noop_waker(), "a re-locks behind the holder");
    drop(a);
    assert_eq!(b_wakes.count(), 1);
    drop(holder);
    drop(expect_ready(b.as_mut(), &b_waker, "b"));
}

// ------------------------------------------------------------ blocking

#[cfg(feature = "std")]
#[test]
fn wait_blocking_returns_the_guard_locked_after_a_notification() {
    watchdog(|| {
        let shared = Arc::new((Mutex::new(0), Condvar::new()));
        let waiter = thread::spawn({
            let shared = Arc::clone(&shared);
            move || {
                let (mutex, condvar) = &*shared;
                let mut guard = condvar.wait_blocking(mutex.lock_blocking());
                assert!(mutex.is_locked());
                *guard += 1;
                *guard
            }
        });
        let (mutex, condvar) = &*shared;
        spin_until("the thread waits", || waiting_on(condvar) == 1);
        *mutex.lock_blocking() = 10;
        condvar.notify_one();
        assert_eq!(waiter.join().unwrap(), 11);
        assert!(!mutex.is_locked());
    });
}

#[cfg(feature = "std")]
#[test]
fn blocking_and_async_waiters_share_one_fifo_line() {
    watchdog(|| {
        let shared = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let (mutex, condvar) = &*shared;
        let waker = noop_waker();
        let mut first = pin!(condvar.wait(mutex.try_lock().unwrap()));
        assert_pending(first.as_mut(), &waker, "async waiter");
        let thread = thread::spawn({
            let shared = Arc::clone(&shared);
            move || {
                let (mutex, condvar) = &*shared;
                condvar.wait_blocking(mutex.lock_blocking()).push("thread");
            }
        });
        spin_until("the thread waits", || waiting_on(condvar) == 2);
        // The thread may not have unlocked the mutex yet: it queues first.
        let mut last = pin!(condvar.wait(mutex.lock_blocking()));
        assert_pending(last.as_mut(), &waker, "later async waiter");
        condvar.notify_one();
        expect_ready(first.as_mut(), &waker, "the oldest").push("first");
        condvar.notify_one();
        thread.join().unwrap();
        assert_pending(last.as_mut(), &waker, "not notified yet");
        condvar.notify_one();
        expect_ready(last.as_mut(), &waker, "last").push("last");
        assert_eq!(*mutex.try_lock().unwrap(), ["first", "thread", "last"]);
    });
}

#[cfg(feature = "std")]
#[test]
fn wait_timeout_times_out_with_the_guard_locked() {
    watchdog(|| {
        let mutex = Mutex::new(3);
        let condvar = Condvar::new();
        let (guard, result) =
            condvar.wait_blocking_timeout(mutex.lock_blocking(), Duration::from_millis(10));
        assert!(result.timed_out());
        assert_eq!(*guard, 3);
        assert!(mutex.is_locked() && mutex.try_lock().is_none());
        assert_eq!(waiting_on(&condvar), 0, "the timed-out wait left the line");
        drop(guard);
        assert!(!mutex.is_locked());
        // The next notification is not swallowed by the timed-out wait.
        let (wakes, waker) = counting_waker();
        let mut wait = pin!(condvar.wait(mutex.try_lock().unwrap()));
        assert_pending(wait.as_mut(), &waker, "wait");
        condvar.notify_one();
        assert_eq!(wakes.count(), 1);
        drop(expect_ready(wait.as_mut(), &waker, "wait"));
    });
}

/// Runs a thread that waits on a fresh condvar with `wait_blocking_timeout(timeout)`
/// and returns the value it then sees and whether it timed out. Once the
/// thread waits, `meanwhile` runs on this thread with the mutex and condvar.
/// `None` if the thread timed out before this thread saw it wait.
#[cfg(feature = "std")]
fn wait_timeout_beside(
    timeout: Duration,
    meanwhile: impl FnOnce(&Mutex<u32>, &Condvar),
) -> Option<(u32, bool)> {
    let shared = Arc::new((Mutex::new(0), Condvar::new()));
    let waiter = thread::spawn({
        let shared = Arc::clone(&shared);
        move || {
            let (mutex, condvar) = &*shared;
            let (mut guard, result) = condvar.wait_blocking_timeout(mutex.lock_blocking(), timeout);
            assert!(mutex.is_locked(), "the guard came back unlocked");
            *guard += 1;
            (*guard, result.timed_out())
        }
    });
    let (mutex, condvar) = &*shared;
    spin_until("the thread waits", || {
        waiting_on(condvar) == 1 || waiter.is_finished()
    });
    if waiting_on(condvar) == 0 {
        assert_eq!(
            waiter.join().unwrap(),
            (1, true),
            "alone, it can only time out"
        );
        return None;
    }
    meanwhile(mutex, condvar);
    Some(waiter.join().unwrap())
}

/// Timeouts from short to long: a scenario that needs this thread to act
/// before the waiter's deadline retries with a longer one if it was late.
const TIMEOUTS_MS: [u64; 4] = [20, 100, 500, 2000];

#[cfg(feature = "std")]
#[test]
fn wait_timeout_that_times_out_re_locks_before_returning() {
    watchdog(|| {
        for ms in TIMEOUTS_MS {
            let seen = wait_timeout_beside(Duration::from_millis(ms), |mutex, condvar| {
                let mut guard = mutex.lock_blocking();
                spin_until("the wait timed out", || waiting_on(condvar) == 0);
                // The waiter cannot return before it has the mutex again.
                *guard = 100;
            });
            match seen {
                Some((101, true)) => return,
                // The deadline passed before this thread took the mutex.
                Some(seen) => assert_eq!(seen, (1, true)),
                None => {}
            }
        }
        panic!("never took the mutex before the wait timed out");
    });
}

#[cfg(feature = "std")]
#[test]
fn wait_timeout_notified_but_re_locking_late_is_not_timed_out() {
    watchdog(|| {
        for ms in TIMEOUTS_MS {
            let seen = wait_timeout_beside(Duration::from_millis(ms), |mutex, condvar| {
                let mut guard = mutex.lock_blocking();
                condvar.notify_one();
                *guard = 9;
                // Hold the mutex past the deadline: re-locking is not limited
                // by the timeout, and the notification already arrived.
                thread::sleep(Duration::from_millis(2 * ms));
            });
            match seen {
                Some((10, false)) => return,
                // The deadline passed before the notification.
                Some(seen) => assert!(seen.1, "{seen:?}"),
                None => {}
            }
        }
        panic!("never notified the waiter before its deadline");
    });
}

#[cfg(feature = "std")]
#[test]
fn wait_timeout_notified_in_time_is_not_timed_out() {
    watchdog(|| {
        for timeout in [Duration::from_secs(30), Duration::MAX] {
            let shared = Arc::new((Mutex::new(0), Condvar::new()));
            let waiter = thread::spawn({
                let shared = Arc::clone(&shared);
                move || {
                    let (mutex, condvar) = &*shared;
                    let (guard, result) =
                        condvar.wait_blocking_timeout(mutex.lock_blocking(), timeout);
                    (*guard, result.timed_out())
                }
            });
            let (mutex, condvar) = &*shared;
            spin_until("the thread waits", || waiting_on(condvar) == 1);
            *mutex.lock_blocking() = 7;
            condvar.notify_one();
            assert_eq!(waiter.join().unwrap(), (7, false), "timeout {timeout:?}");
        }
    });
}

#[cfg(feature = "std")]
#[test]
fn wait_timeout_zero_returns_at_once_without_unlocking() {
    watchdog(|| {
        let mutex = Mutex::new(1);
        let condvar = Condvar::new();
        let guard = mutex.try_lock().unwrap();
        let (wakes, waker) = counting_waker();
        let mut earlier = pin!(mutex.lock());
        assert_pending(earlier.as_mut(), &waker, "a queued lock");
        let (guard, result) = condvar.wait_blocking_timeout(guard, Duration::ZERO);
        assert!(result.timed_out());
        assert_eq!(wakes.count(), 0, "the mutex was unlocked");
        assert_eq!(waiting_on(&condvar), 0, "it queued");
        assert_pending(earlier.as_mut(), &waker, "the queued lock");
        drop(guard);
        drop(expect_ready(earlier.as_mut(), &waker, "the queued lock"));
    });
}

// ------------------------------------------------------------ Debug

#[test]
fn debug_shows_how_many_wait() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    assert!(format!("{condvar:?}").starts_with("Condvar"));
    assert_eq!(waiting_on(&condvar), 0);
    let waker = noop_waker();
    let mut a = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert!(!format!("{a:?}").is_empty());
    assert_pending(a.as_mut(), &waker, "a");
    let mut b = pin!(condvar.wait_while(mutex.try_lock().unwrap(), |_| true));
    assert_pending(b.as_mut(), &waker, "b");
    assert_eq!(waiting_on(&condvar), 2);
    assert!(!format!("{b:?}").is_empty());
    condvar.notify_one();
    assert_eq!(waiting_on(&condvar), 1);
    condvar.notify_all();
    assert_eq!(waiting_on(&condvar), 0);
}

#[test]
#[should_panic(expected = "polled after it completed")]
fn polling_a_completed_wait_panics() {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let waker = noop_waker();
    let mut wait = pin!(condvar.wait(mutex.try_lock().unwrap()));
    assert_pending(wait.as_mut(), &waker, "wait");
    condvar.notify_one();
    let _guard = expect_ready(wait.as_mut(), &waker, "wait");
    let _ = poll_once(wait.as_mut(), &waker);
}

// ------------------------------------------------------------ runtimes

#[test]
fn producers_and_consumers_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const PRODUCERS: usize = 3;
        const CONSUMERS: usize = 3;
        const ITEMS: usize = common::iterations(60, 8);
        const CAPACITY: usize = 2;
        struct Line {
            items: VecDeque<usize>,
            done: bool,
        }
        let shared = Arc::new((
            Mutex::new(Line {
                items: VecDeque::new(),
                done: false,
            }),
            Condvar::new(), // not empty (or done)
            Condvar::new(), // not full
        ));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let shared = Arc::clone(&shared);
                rt.spawn(async move {
                    let (line, not_empty, not_full) = &*shared;
                    for i in 0..ITEMS {
                        let mut guard = line.lock().await;
                        if i % 2 == 0 {
                            guard = not_full
                                .wait_while(guard, |line| line.items.len() == CAPACITY)
                                .await;
                        } else {
                            while guard.items.len() == CAPACITY {
                                guard = not_full.wait(guard).await;
                            }
                        }
                        guard.items.push_back(p * ITEMS + i);
                        drop(guard);
                        not_empty.notify_one();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let shared = Arc::clone(&shared);
                rt.spawn(async move {
                    let (line, not_empty, not_full) = &*shared;
                    let mut got = Vec::new();
                    loop {
                        let guard = line.lock().await;
                        let mut guard = not_empty
                            .wait_while(guard, |line| line.items.is_empty() && !line.done)
                            .await;
                        match guard.items.pop_front() {
                            Some(item) => {
                                drop(guard);
                                not_full.notify_one();
                                got.push(item);
                                rt.yield_now().await;
                            }
                            None => break got,
                        }
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await;
        }
        let (line, not_empty, _) = &*shared;
        line.lock().await.done = true;
        not_empty.notify_all();
        let mut all = Vec::new();
        for consumer in consumers {
            all.extend(consumer.await);
        }
        all.sort_unstable();
        assert_eq!(all, (0..PRODUCERS * ITEMS).collect::<Vec<_>>());
        assert!(!line.is_locked());
    });
}

#[test]
fn notify_all_releases_every_task_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const TASKS: usize = common::iterations(8, 4);
        let shared = Arc::new((Mutex::new(false), Condvar::new()));
        let released = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (shared, released) = (Arc::clone(&shared), Arc::clone(&released));
                rt.spawn(async move {
                    let (flag, condvar) = &*shared;
                    let guard = condvar.wait(flag.lock().await).await;
                    assert!(*guard, "woken before the flag was set");
                    released.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let (flag, condvar) = &*shared;
        rt.wait_until("every task waits", || waiting_on(condvar) == TASKS)
            .await;
        *flag.lock().await = true;
        condvar.notify_all();
        for task in tasks {
            task.await;
        }
        assert_eq!(released.load(Ordering::SeqCst), TASKS);
        assert_eq!(waiting_on(condvar), 0);
    });
}

#[test]
fn notify_one_releases_tasks_one_at_a_time_in_fifo_order_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const TASKS: usize = common::iterations(6, 4);
        let shared = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let mut tasks = Vec::new();
        for i in 0..TASKS {
            let shared2 = Arc::clone(&shared);
            tasks.push(rt.spawn(async move {
                let (order, condvar) = &*shared2;
                let mut guard = condvar.wait(order.lock().await).await;
                guard.push(i);
            }));
            let condvar = &shared.1;
            rt.wait_until("the task waits", || waiting_on(condvar) == i + 1)
                .await;
        }
        let (order, condvar) = &*shared;
        for i in 0..TASKS {
            condvar.notify_one();
            rt.wait_until("one task went through", || {
                order.try_lock().is_some_and(|o| o.len() == i + 1)
            })
            .await;
            assert_eq!(waiting_on(condvar), TASKS - i - 1, "exactly one released");
        }
        for task in tasks {
            task.await;
        }
        assert_eq!(*order.lock().await, (0..TASKS).collect::<Vec<_>>());
    });
}
