//! Guards release during panic unwinding, including a panicking
//! `MutexGuard::map` closure and a waker that panics inside an `RwLock`
//! downgrade, and nothing is poisoned afterwards.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::Arc;

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, on_every_wake, watchdog,
};
use fairsync::{
    Lock, Mutex, MutexGuard, RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard, Semaphore,
};
#[cfg(feature = "alloc")]
use fairsync::{OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard};
use futures::FutureExt;

fn panics(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

#[test]
fn semaphore_permits_are_returned_during_unwinding() {
    let sem = Arc::new(Semaphore::new(3));
    assert!(panics(|| {
        let _one = sem.try_acquire().unwrap();
        #[cfg(feature = "alloc")]
        let _two = sem.try_acquire_many_owned(2).unwrap();
        #[cfg(not(feature = "alloc"))]
        let _two = sem.try_acquire_many(2).unwrap();
        assert_eq!(sem.available_permits(), 0);
        panic!("boom");
    }));
    assert_eq!(sem.available_permits(), 3);

    // A waiter in line gets the permits released by the unwind.
    let held = sem.try_acquire_many(3).unwrap();
    let (wakes, waker) = counting_waker();
    let mut waiter = pin!(sem.acquire_many(3));
    assert_pending(waiter.as_mut(), &waker, "waiter");
    assert!(panics(move || {
        let _held = held;
        panic!("boom");
    }));
    assert_eq!(wakes.count(), 1);
    drop(expect_ready(waiter.as_mut(), &waker, "waiter"));
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn lock_guards_are_released_during_unwinding() {
    let lock = Arc::new(Lock::new());
    assert!(panics(|| {
        let _guard = lock.try_acquire().unwrap();
        panic!("boom");
    }));
    assert!(!lock.is_locked());
    #[cfg(feature = "alloc")]
    {
        assert!(panics(|| {
            let _guard = lock.try_acquire_owned().unwrap();
            panic!("boom");
        }));
        assert!(!lock.is_locked());
    }
    assert!(lock.try_acquire().is_some(), "no poisoning");
}

#[test]
fn mutex_guards_are_released_during_unwinding_without_poisoning() {
    let mutex = Arc::new(Mutex::new(vec![1]));
    assert!(panics(|| {
        let mut guard = mutex.try_lock().unwrap();
        guard.push(2);
        panic!("boom");
    }));
    assert!(!mutex.is_locked());
    assert!(panics(|| {
        #[cfg(feature = "alloc")]
        let mut guard = mutex.try_lock_owned().unwrap();
        #[cfg(not(feature = "alloc"))]
        let mut guard = mutex.try_lock().unwrap();
        guard.push(3);
        panic!("boom");
    }));
    assert!(!mutex.is_locked());
    assert!(panics(|| {
        let mut mapped = MutexGuard::map(mutex.try_lock().unwrap(), |v| &mut v[0]);
        *mapped = 10;
        panic!("boom");
    }));
    assert!(!mutex.is_locked());
    let guard = mutex.try_lock().expect("not poisoned");
    assert_eq!(
        *guard,
        vec![10, 2, 3],
        "changes made before the panic persist"
    );
}

#[test]
fn panicking_map_closure_releases_the_lock() {
    let mutex = Mutex::new(5);
    let (wakes, waker) = counting_waker();
    let guard = mutex.try_lock().unwrap();
    let mut waiter = Box::pin(mutex.lock());
    assert_pending(waiter.as_mut(), &waker, "waiter");
    assert!(panics(|| {
        let _mapped = MutexGuard::map(guard, |value: &mut i32| -> &mut i32 {
            *value += 1;
            panic!("map closure panics");
        });
    }));
    assert_eq!(wakes.count(), 1, "the guard moved into map was released");
    let mut next = expect_ready(waiter.as_mut(), &waker, "waiter");
    assert_eq!(*next, 6);
    *next += 1;
    drop(next);
    drop(waiter);
    assert!(!mutex.is_locked());
    assert_eq!(mutex.into_inner(), 7);
}

#[test]
fn panicking_task_releases_its_guards_to_waiting_tasks() {
    on_all_runtimes(|rt| async move {
        let mutex = Arc::new(Mutex::new(0));
        let sem = Arc::new(Semaphore::new(1));
        let entered = Arc::new(Lock::new());
        let gate = entered.try_acquire().unwrap();
        let doomed = rt.spawn({
            let (mutex, sem, entered) =
                (Arc::clone(&mutex), Arc::clone(&sem), Arc::clone(&entered));
            async move {
                let mut guard = mutex.lock().await;
                let _permit = sem.acquire().await;
                *guard = 1;
                // Wait across an await point while holding both.
                let _gate = entered.acquire().await;
                panic!("task panics while holding a guard");
            }
        });
        rt.wait_until("the task holds both", || sem.available_permits() == 0)
            .await;
        let waiter = rt.spawn({
            let (mutex, sem) = (Arc::clone(&mutex), Arc::clone(&sem));
            async move {
                let _permit = sem.acquire().await;
                let mut guard = mutex.lock().await;
                *guard += 1;
            }
        });
        rt.wait_until("the waiter is queued", || sem.waiters() == 1)
            .await;
        drop(gate);
        let outcome = AssertUnwindSafe(doomed).catch_unwind().await;
        assert!(outcome.is_err(), "the task was expected to panic");
        waiter.await;
        assert_eq!(*mutex.lock().await, 2);
        assert_eq!(sem.available_permits(), 1);
        assert!(!entered.is_locked());
    });
}

/// Makes `$lock` with `$new`, then downgrades the guard `$take` takes
/// while the waiter `$behind` it lets in has a waker that panics, with a
/// writer queued behind that waiter. The kept access must be owned by a
/// guard: the unwind releases it, and the lock is fully usable afterwards.
macro_rules! downgrade_with_a_panicking_waiter_in_line {
    ($lock:ident = $new:expr; $take:expr, $behind:ident, $downgrade:path) => {
        watchdog(|| {
            let $lock = $new;
            let held = $take;
            let panicky = on_every_wake(|| panic!("a queued waiter's waker panics"));
            let mut waiter = pin!($lock.$behind());
            assert_pending(waiter.as_mut(), &panicky, "waiter behind the guard");
            let (writer_wakes, waker) = counting_waker();
            let mut writer = pin!($lock.write());
            assert_pending(writer.as_mut(), &waker, "writer behind the waiter");

            assert!(
                panics(move || drop($downgrade(held))),
                "the waker's panic reaches downgrade"
            );

            // The waiter was granted before its waker panicked.
            let access = expect_ready(waiter.as_mut(), &waker, "waiter");
            assert_eq!(*access, 1);
            assert_pending(writer.as_mut(), &waker, "writer while the waiter reads");
            assert_eq!(writer_wakes.count(), 0);
            drop(access);
            // Only the downgraded guard, dropped by the unwind, gave its
            // access back: had the kept permits belonged to nobody, the
            // writer would wait forever.
            assert_eq!(writer_wakes.count(), 1, "the writer was handed the lock");
            *expect_ready(writer.as_mut(), &waker, "writer") += 1;
            assert!(!$lock.is_locked());
            let write = $lock.try_write().expect("the lock is usable");
            assert_eq!(*write, 2);
            assert!($lock.try_read().is_none(), "no access was given back twice");
            drop(write);
            assert_eq!($lock.waiters(), 0);
        })
    };
}

#[test]
fn write_downgrade_with_a_panicking_waker_leaves_nothing_locked() {
    downgrade_with_a_panicking_waiter_in_line!(
        lock = RwLock::new(1); lock.try_write().unwrap(),
        read,
        RwLockWriteGuard::downgrade
    );
}

#[test]
fn downgrade_to_upgradable_with_a_panicking_waker_leaves_nothing_locked() {
    downgrade_with_a_panicking_waiter_in_line!(
        lock = RwLock::new(1); lock.try_write().unwrap(),
        read,
        RwLockWriteGuard::downgrade_to_upgradable
    );
}

#[test]
fn upgradable_downgrade_with_a_panicking_waker_leaves_nothing_locked() {
    // Plain readers share the lock with an upgradable read; another
    // upgradable read is what waits for its downgrade.
    downgrade_with_a_panicking_waiter_in_line!(
        lock = RwLock::new(1); lock.try_upgradable_read().unwrap(),
        upgradable_read,
        RwLockUpgradableReadGuard::downgrade
    );
}

#[cfg(feature = "alloc")]
#[test]
fn owned_write_downgrade_with_a_panicking_waker_leaves_nothing_locked() {
    downgrade_with_a_panicking_waiter_in_line!(
        lock = Arc::new(RwLock::new(1)); lock.try_write_owned().unwrap(),
        read,
        OwnedRwLockWriteGuard::downgrade
    );
}

#[cfg(feature = "alloc")]
#[test]
fn owned_downgrade_to_upgradable_with_a_panicking_waker_leaves_nothing_locked() {
    downgrade_with_a_panicking_waiter_in_line!(
        lock = Arc::new(RwLock::new(1)); lock.try_write_owned().unwrap(),
        read,
        OwnedRwLockWriteGuard::downgrade_to_upgradable
    );
}

#[cfg(feature = "alloc")]
#[test]
fn owned_upgradable_downgrade_with_a_panicking_waker_leaves_nothing_locked() {
    downgrade_with_a_panicking_waiter_in_line!(
        lock = Arc::new(RwLock::new(1)); lock.try_upgradable_read_owned().unwrap(),
        upgradable_read,
        OwnedRwLockUpgradableReadGuard::downgrade
    );
}
