//! Cancellation, timeouts and `try_acquire` racing grants.

use super::support::*;

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
        drop(expect_ready(
            next.as_mut(),
            "the permit did not reach the next waiter",
        ));
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
        let blocked = spawn_acquirer(&sem);
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
        drop(expect_ready(
            next.as_mut(),
            "the partial permit did not reach the next waiter",
        ));
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
        drop(expect_ready(
            next.as_mut(),
            "the partial permit did not reach the next waiter",
        ));
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
        let next = spawn_acquirer(&sem);
        let releaser = thread::spawn(move || drop(held));
        drop(head);
        releaser.join().unwrap();
        next.join().unwrap();
        assert_all_returned(&sem, 2);
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

        drop(expect_ready(waiter.as_mut(), "the waiter was not granted"));
        assert_all_returned(&sem, 1);
    });
}

/// 10. `acquire_blocking_timeout` (under loom: one poll, then cancel) races the
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
                if let Some(permit) = sem.acquire_blocking_timeout(TIMEOUT) {
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

/// 10b. `lock_blocking_timeout` races the unlock of a mutex the main thread wrote
///      under its guard: it either gets the guard (and sees the write) or
///      leaves no waiter, and the mutex ends unlocked.
#[test]
fn lock_timeout_racing_unlock_gets_it_or_leaves_no_waiter() {
    model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let mut held = mutex.try_lock_owned().expect("unlocked");
        let waiter = {
            let mutex = Arc::clone(&mutex);
            thread::spawn(move || match mutex.lock_blocking_timeout(TIMEOUT) {
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

/// 13b. As 13, for an `acquire_blocking_timeout` that gave up: right after it returned
///      `None`, its own wait is over, so it must not see itself counted.
#[test]
fn timed_out_acquire_no_longer_counts_as_a_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || match sem.acquire_blocking_timeout(TIMEOUT) {
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
