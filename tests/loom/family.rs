//! The primitives built on the queue beyond the semaphore: `RwLock` (front-of-
//! line upgrades and partial grants), and `Condvar`, `Barrier` and `Event`
//! (the notification line). A wait that is never woken shows up as a loom
//! deadlock.

use std::pin::pin;

use fairsync::{Barrier, Condvar, Event, RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard};

use super::support::*;

/// 25. A writer and two readers on an `RwLock` whose value is a loom cell:
///     any read not ordered after the write, or the write overlapping a
///     read, is reported. Readers see the value before or after the write,
///     never in between.
#[test]
fn rwlock_writer_excludes_readers() {
    model(|| {
        let lock = Arc::new(RwLock::new((0usize, 0usize)));
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let mut guard = block_on(lock.write());
                guard.0 += 1;
                guard.1 += 1;
            })
        };
        let reader = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let guard = lock.read_blocking();
                assert_eq!(guard.0, guard.1, "a read overlapped the write");
            })
        };
        let seen = *block_on(lock.read());
        assert_eq!(seen.0, seen.1, "a read overlapped the write");
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(*lock.try_write().expect("free after all"), (1, 1));
    });
}

/// 26. An upgrade races the last plain reader's release while a writer
///     queues behind: the upgrade is served first (never deadlocked behind
///     the writer that waits for its own read lock), then the writer.
#[test]
fn rwlock_upgrade_is_served_before_a_queued_writer() {
    model(|| {
        let lock = Arc::new(RwLock::new(0usize));
        let upgradable = block_on(lock.upgradable_read());
        let reader = {
            let read = lock
                .try_read_owned()
                .expect("readers share with an upgradable");
            thread::spawn(move || drop(read))
        };
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let mut guard = block_on(lock.write());
                *guard = *guard * 10 + 2;
            })
        };
        let mut guard = block_on(RwLockUpgradableReadGuard::upgrade(upgradable));
        *guard = *guard * 10 + 1;
        drop(guard);
        reader.join().unwrap();
        writer.join().unwrap();
        assert_eq!(*lock.try_read().expect("free after all"), 12);
        assert_eq!(lock.waiters(), 0);
    });
}

/// 27. An upgrade polled once and dropped while the last reader leaves and
///     a writer queues: whatever the upgrade had collected, and the
///     upgradable read itself, go back, so the writer gets the lock.
#[test]
fn rwlock_cancelled_upgrade_returns_everything() {
    model(|| {
        let lock = Arc::new(RwLock::new(0usize));
        let upgradable = block_on(lock.upgradable_read());
        let reader = {
            let read = lock
                .try_read_owned()
                .expect("readers share with an upgradable");
            thread::spawn(move || drop(read))
        };
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || *block_on(lock.write()) += 1)
        };
        {
            let mut upgrade = pin!(RwLockUpgradableReadGuard::upgrade(upgradable));
            let _ = poll_noop(upgrade.as_mut());
        }
        reader.join().unwrap();
        writer.join().unwrap();
        assert_eq!(*lock.try_write().expect("free after all"), 1);
        assert_eq!(lock.waiters(), 0);
    });
}

/// 28. A writer downgrades while a reader and a writer queue: the reader
///     may join the downgraded guard, the writer waits for both, and every
///     permit comes back.
#[test]
fn rwlock_downgrade_admits_readers_and_returns_permits() {
    model(|| {
        let lock = Arc::new(RwLock::new(0usize));
        let mut guard = lock.try_write().expect("free");
        *guard = 1;
        let reader = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || assert!(*block_on(lock.read()) >= 1))
        };
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || *block_on(lock.write()) += 1)
        };
        let read = RwLockWriteGuard::downgrade(guard);
        assert_eq!(*read, 1, "a writer got in during the downgrade");
        drop(read);
        reader.join().unwrap();
        writer.join().unwrap();
        assert_eq!(*lock.try_write().expect("free after all"), 2);
    });
}

/// 29. No lost wake-up: a waiter registers on its first poll before it
///     unlocks, so a notify sent by a thread that then took the mutex and
///     changed the flag always reaches it.
#[test]
fn condvar_notify_after_registration_is_never_lost() {
    model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let waiter = {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                let (flag, changed) = &*pair;
                let guard = block_on(changed.wait_while(block_on(flag.lock()), |set| !*set));
                assert!(*guard);
            })
        };
        let (flag, changed) = &*pair;
        *block_on(flag.lock()) = true;
        changed.notify_one();
        waiter.join().unwrap();
        assert_eq!(format!("{changed:?}"), "Condvar { waiters: 0 }");
    });
}

/// 30. A notified waiter dropped before it completes (racing the notify)
///     passes the notification to the next waiter, which would otherwise
///     sleep forever.
#[test]
fn condvar_cancelled_waiter_passes_the_notification_on() {
    model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let (flag, changed) = &*pair;
        let mut first = Box::pin(changed.wait(block_on(flag.lock())));
        assert!(
            poll_noop(first.as_mut()).is_pending(),
            "registers and unlocks"
        );
        let second = {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                let (flag, changed) = &*pair;
                drop(block_on(
                    changed.wait_while(block_on(flag.lock()), |set| !*set),
                ));
            })
        };
        let notifier = {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                let (flag, changed) = &*pair;
                *block_on(flag.lock()) = true;
                changed.notify_one();
            })
        };
        drop(first);
        notifier.join().unwrap();
        second.join().unwrap();
        assert!(!flag.is_locked());
    });
}

/// 31. A barrier of two: one party arrives, and gives up while the other
///     arrives. Either the barrier tripped first (the other party is then
///     released, with one leader), or the cancelled arrival is no longer
///     counted, so the other party waits for a fresh arrival, which trips
///     the barrier with exactly one leader.
#[test]
fn barrier_does_not_count_a_cancelled_arrival() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let other_done = Arc::new(Event::new());
        let leaders = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let count_leader = |leader: bool| {
            if leader {
                leaders.fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
            }
        };
        let mut first = Box::pin(barrier.wait());
        assert!(poll_noop(first.as_mut()).is_pending(), "alone: waits");
        let other = {
            let (barrier, other_done) = (Arc::clone(&barrier), Arc::clone(&other_done));
            let leaders = Arc::clone(&leaders);
            thread::spawn(move || {
                if block_on(barrier.wait()).is_leader() {
                    leaders.fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
                }
                other_done.set();
            })
        };
        drop(first);
        // Arrive again, unless the other party is already through: then
        // this arrival is alone in the next generation and gives up.
        let mut again = Box::pin(barrier.wait());
        let mut done = Box::pin(other_done.wait());
        let mut other_finished = false;
        loop {
            other_finished = other_finished || poll_noop(done.as_mut()).is_ready();
            match poll_noop(again.as_mut()) {
                Poll::Ready(result) => {
                    count_leader(result.is_leader());
                    break;
                }
                Poll::Pending if other_finished => break,
                Poll::Pending => thread::yield_now(),
            }
        }
        drop(again);
        other.join().unwrap();
        assert_eq!(
            leaders.load(loom::sync::atomic::Ordering::Relaxed),
            1,
            "one leader per generation"
        );
        assert_eq!(format!("{barrier:?}"), "Barrier { parties: 2, waiting: 0 }");
    });
}

/// 32. `set` races a waiter's arrival: the waiter either sees the flag or
///     is queued in time to be released, never missed.
#[test]
fn event_set_racing_a_waiter_always_releases_it() {
    model(|| {
        let event = Arc::new(Event::new());
        let waiter = {
            let event = Arc::clone(&event);
            thread::spawn(move || block_on(event.wait()))
        };
        event.set();
        waiter.join().unwrap();
        assert!(event.is_set());
    });
}

/// 33. A queued waiter is released by `set` even when `clear` follows at
///     once, before the waiter runs again.
#[test]
fn event_set_then_clear_still_releases_queued_waiters() {
    model(|| {
        let event = Arc::new(Event::new());
        let mut wait = Box::pin(event.wait());
        assert!(poll_noop(wait.as_mut()).is_pending(), "unset: queues");
        let setter = {
            let event = Arc::clone(&event);
            thread::spawn(move || {
                event.set();
                event.clear();
            })
        };
        block_on(wait.as_mut());
        setter.join().unwrap();
        assert!(!event.is_set());
    });
}
