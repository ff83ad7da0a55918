//! `ClosableSemaphore::close` racing the operations that move permits: a
//! release, the cancellation of a granted waiter, and a release to a
//! weighted head that has collected permits. In every interleaving a waiter
//! either keeps what it was granted or fails with `Closed`, and no permit is
//! lost or minted.

use fairsync::{ClosableSemaphore, Closed};

use super::support::*;

/// The only permits of `sem` must be back in the counter, with nobody queued.
fn assert_all_back(sem: &ClosableSemaphore, total: usize) {
    assert_eq!(
        sem.available_permits(),
        total,
        "permits were lost or minted"
    );
    assert_eq!(sem.waiters(), 0, "a waiter was left in the queue");
}

/// 1. A waiter blocked in its own thread, the release of the permit it waits
///    for in another, and `close` in a third. The waiter is either granted
///    (the release came first) or fails; a failed waiter sees the semaphore
///    closed; it is woken either way (else loom reports a deadlock); and the
///    permit ends up in the counter.
#[test]
fn close_racing_release_grants_or_fails_and_keeps_the_permit() {
    model(|| {
        let sem = Arc::new(ClosableSemaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let mut fut = Box::pin(sem.acquire_owned());
        assert!(poll_noop(fut.as_mut()).is_pending());

        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || match block_on(fut) {
                Ok(permit) => assert_eq!(permit.permits(), 1),
                Err(Closed) => assert!(sem.is_closed(), "failed, but not closed"),
            })
        };
        let releaser = thread::spawn(move || drop(held));
        sem.close();
        releaser.join().unwrap();
        waiter.join().unwrap();

        assert_all_back(&sem, 1);
    });
}

/// 2. A waiter granted its permit is dropped before it is polled again,
///    while `close` runs and a second waiter is queued behind it. The
///    cancelled waiter's permit goes to the second waiter (cancel first) or
///    to the counter (close first), never nowhere.
#[test]
fn close_racing_cancel_of_a_granted_waiter_returns_its_permit() {
    model(|| {
        let sem = Arc::new(ClosableSemaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let mut granted = Box::pin(sem.acquire_owned());
        let mut next = Box::pin(sem.acquire_owned());
        assert!(poll_noop(granted.as_mut()).is_pending());
        assert!(poll_noop(next.as_mut()).is_pending());
        drop(held); // hands the permit to `granted`

        let canceller = thread::spawn(move || drop(granted));
        sem.close();
        canceller.join().unwrap();

        match expect_ready(next.as_mut(), "close or the cancel must complete it") {
            Ok(permit) => assert_eq!(permit.permits(), 1),
            Err(Closed) => {}
        }
        drop(next);
        assert_all_back(&sem, 1);
    });
}

/// 3. The head asks for 3 and has collected 1; a second waiter asks for 1.
///    The 2 held permits are released while `close` runs. Either the head
///    is granted all 3 (release first) and keeps them, or it fails and the
///    permit it collected goes back to the counter with the released ones.
#[test]
fn close_racing_release_to_a_weighted_head_returns_what_it_collected() {
    model(|| {
        let sem = Arc::new(ClosableSemaphore::new(3));
        let held = sem.try_acquire_many_owned(2).expect("two of three");
        let mut head = Box::pin(sem.acquire_many_owned(3));
        let mut next = Box::pin(sem.acquire_owned());
        assert!(poll_noop(head.as_mut()).is_pending(), "collects 1 of 3");
        assert!(poll_noop(next.as_mut()).is_pending(), "waits behind");

        let releaser = thread::spawn(move || drop(held));
        sem.close();
        releaser.join().unwrap();

        assert_eq!(
            expect_ready(next.as_mut(), "queued at close").map(|p| p.permits()),
            Err(Closed)
        );
        match expect_ready(head.as_mut(), "close or the release must complete it") {
            Ok(permit) => {
                assert_eq!(permit.permits(), 3);
                assert_eq!(sem.available_permits(), 0);
            }
            Err(Closed) => assert_eq!(sem.available_permits(), 3),
        }
        drop(head);
        assert_all_back(&sem, 3);
    });
}
