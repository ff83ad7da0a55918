#![cfg(feature = "alloc")]
//! Owned (`Arc`-holding) acquires and guards of `Lock`, `Mutex`, `RwLock`
//! and `Semaphore`: the `self: &Arc<Self>` receivers, the owned blocking
//! calls, owned upgradable reads with their upgrades and downgrades, owned
//! downgrades of write guards, `map` / `try_map` on every guard that maps,
//! and `waiters()`.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::pin::pin;
use std::sync::Arc;
use std::thread;

use common::{assert_pending, counting_waker, expect_ready, on_all_runtimes, spin_until, watchdog};
use fairsync::{
    Lock, MappedMutexGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex, MutexGuard,
    OwnedMappedMutexGuard, OwnedMappedRwLockReadGuard, OwnedMappedRwLockWriteGuard,
    OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard,
    RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore,
};
use futures::future::FusedFuture;
use futures::task::noop_waker;

/// The lock is completely free: nobody holds it, nobody waits, and no
/// guard or future still holds a clone of its `Arc`.
#[track_caller]
fn assert_free<T: ?Sized>(lock: &Arc<RwLock<T>>) {
    assert_eq!(lock.waiters(), 0, "a waiter was left behind");
    assert!(!lock.is_locked(), "the lock is still held");
    assert!(
        lock.try_write().is_some(),
        "try_write failed on a free lock"
    );
    assert_eq!(Arc::strong_count(lock), 1, "an Arc clone was kept");
}

fn panics(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

// ------------------------------------------------------------ receivers

#[test]
fn owned_acquires_take_the_arc_by_reference_and_move_into_tasks() {
    on_all_runtimes(|rt| async move {
        let lock = Arc::new(Lock::new());
        drop(lock.acquire_owned().await);
        drop(Arc::clone(&lock).acquire_owned().await);
        let guard = lock.acquire_owned().await;
        rt.spawn(async move { drop(guard) }).await;
        assert!(!lock.is_locked());
        assert_eq!(Arc::strong_count(&lock), 1);

        let mutex = Arc::new(Mutex::new(0));
        *mutex.lock_owned().await += 1;
        *Arc::clone(&mutex).lock_owned().await += 1;
        let mut guard = mutex.lock_owned().await;
        rt.spawn(async move { *guard += 1 }).await;
        assert_eq!(*mutex.lock().await, 3);
        assert_eq!(Arc::strong_count(&mutex), 1);

        let rwlock = Arc::new(RwLock::new(0));
        *rwlock.write_owned().await += 1;
        *Arc::clone(&rwlock).write_owned().await += 1;
        let (a, b) = futures::join!(rwlock.read_owned(), Arc::clone(&rwlock).read_owned());
        assert_eq!((*a, *b), (2, 2));
        drop((a, b));
        let upgradable = rwlock.upgradable_read_owned().await;
        {
            let mut second = pin!(Arc::clone(&rwlock).upgradable_read_owned());
            assert_pending(second.as_mut(), &noop_waker(), "second upgradable read");
        }
        let mut write = rt
            .spawn(async move { OwnedRwLockUpgradableReadGuard::upgrade(upgradable).await })
            .await;
        *write += 1;
        drop(write);
        assert_eq!(*rwlock.read().await, 3);
        assert_free(&rwlock);

        let sem = Arc::new(Semaphore::new(3));
        drop(sem.acquire_owned().await);
        drop(Arc::clone(&sem).acquire_owned().await);
        let permit = sem.acquire_many_owned(2).await;
        let other = Arc::clone(&sem).acquire_many_owned(1).await;
        rt.spawn(async move { drop((permit, other)) }).await;
        assert_eq!(sem.available_permits(), 3);
        assert_eq!(Arc::strong_count(&sem), 1);
    });
}

// ------------------------------------------------------------ blocking

/// Spawns a thread that runs `acquire` and records when it got through,
/// waits until `queued` says it is queued, and returns its handle.
fn blocked_thread<G: Send + 'static>(
    acquire: impl FnOnce() -> G + Send + 'static,
    queued: impl Fn() -> bool,
) -> thread::JoinHandle<G> {
    let handle = thread::spawn(acquire);
    spin_until("the thread is queued", queued);
    handle
}

#[cfg(feature = "std")]
#[test]
fn owned_blocking_calls_wait_for_the_holder_and_join_the_line() {
    watchdog(|| {
        let lock = Arc::new(Lock::new());
        let held = lock.try_acquire().unwrap();
        let thread = blocked_thread(
            {
                let lock = Arc::clone(&lock);
                move || lock.acquire_owned_blocking()
            },
            || lock.waiters() == 1,
        );
        drop(held);
        let guard = thread.join().unwrap();
        assert!(lock.try_acquire().is_none());
        drop(guard);
        assert_eq!(Arc::strong_count(&lock), 1);

        let sem = Arc::new(Semaphore::new(3));
        let held = sem.try_acquire_many(3).unwrap();
        let one = blocked_thread(
            {
                let sem = Arc::clone(&sem);
                move || sem.acquire_owned_blocking()
            },
            || sem.waiters() == 1,
        );
        let two = blocked_thread(
            {
                let sem = Arc::clone(&sem);
                move || sem.acquire_many_owned_blocking(2)
            },
            || sem.waiters() == 2,
        );
        drop(held);
        let (one, two) = (one.join().unwrap(), two.join().unwrap());
        assert_eq!((one.permits(), two.permits()), (1, 2));
        drop((one, two));
        assert_eq!(sem.available_permits(), 3);
        assert_eq!(Arc::strong_count(&sem), 1);

        let rwlock = Arc::new(RwLock::new(0));
        let write = rwlock.try_write().unwrap();
        let reader = blocked_thread(
            {
                let rwlock = Arc::clone(&rwlock);
                move || rwlock.read_owned_blocking()
            },
            || rwlock.waiters() == 1,
        );
        let upgradable = blocked_thread(
            {
                let rwlock = Arc::clone(&rwlock);
                move || rwlock.upgradable_read_owned_blocking()
            },
            || rwlock.waiters() == 2,
        );
        let writer = blocked_thread(
            {
                let rwlock = Arc::clone(&rwlock);
                move || {
                    let mut write = rwlock.write_owned_blocking();
                    *write += 1;
                    write
                }
            },
            || rwlock.waiters() == 3,
        );
        drop(write);
        // The reader and the upgradable read are admitted together; the
        // writer waits for both.
        let (read, upgradable) = (reader.join().unwrap(), upgradable.join().unwrap());
        assert_eq!((*read, *upgradable), (0, 0));
        assert_eq!(rwlock.waiters(), 1, "the writer still waits");
        drop((read, upgradable));
        let write = writer.join().unwrap();
        assert_eq!(*write, 1);
        drop(write);
        assert_free(&rwlock);
    });
}

#[cfg(feature = "std")]
#[test]
fn owned_blocking_mutex_waits_in_fifo_order_with_async_waiters() {
    watchdog(|| {
        let mutex = Arc::new(Mutex::new(Vec::new()));
        let held = mutex.try_lock().unwrap();
        let waker = noop_waker();
        let mut first = pin!(mutex.lock_owned());
        assert_pending(first.as_mut(), &waker, "async waiter");
        let thread = blocked_thread(
            {
                let mutex = Arc::clone(&mutex);
                move || mutex.lock_owned_blocking().push("thread")
            },
            || mutex.waiters() == 2,
        );
        let mut last = pin!(mutex.lock());
        assert_pending(last.as_mut(), &waker, "async waiter behind the thread");
        assert_eq!(mutex.waiters(), 3);
        drop(held);
        expect_ready(first.as_mut(), &waker, "first").push("first");
        thread.join().unwrap();
        expect_ready(last.as_mut(), &waker, "last").push("last");
        assert_eq!(*mutex.try_lock().unwrap(), ["first", "thread", "last"]);
        assert_eq!(Arc::strong_count(&mutex), 1);
    });
}

#[cfg(feature = "std")]
#[test]
fn owned_blocking_calls_work_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        let lock = Arc::new(Lock::new());
        let sem = Arc::new(Semaphore::new(2));
        let mutex = Arc::new(Mutex::new(0));
        let rwlock = Arc::new(RwLock::new(0));
        let guard = lock.acquire().await;
        let permits = sem.acquire_many(2).await;
        let held = mutex.lock().await;
        let write = rwlock.write().await;
        // One thread, one wait after the other, each released by this task.
        let thread = thread::spawn({
            let (lock, sem) = (Arc::clone(&lock), Arc::clone(&sem));
            let (mutex, rwlock) = (Arc::clone(&mutex), Arc::clone(&rwlock));
            move || {
                drop(lock.acquire_owned_blocking());
                drop(sem.acquire_many_owned_blocking(2));
                *mutex.lock_owned_blocking() += 1;
                *rwlock.write_owned_blocking() += 1;
            }
        });
        rt.wait_until("the thread waits for the lock", || lock.waiters() == 1)
            .await;
        drop(guard);
        rt.wait_until("the thread waits for the permits", || sem.waiters() == 1)
            .await;
        drop(permits);
        rt.wait_until("the thread waits for the mutex", || mutex.waiters() == 1)
            .await;
        drop(held);
        rt.wait_until("the thread waits for the rwlock", || rwlock.waiters() == 1)
            .await;
        drop(write);
        rt.wait_until("the thread is done", || thread.is_finished())
            .await;
        thread.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(*mutex.lock().await, 1);
        assert_eq!(*rwlock.read().await, 1);
    });
}

// ------------------------------------------------------------ waiters

#[test]
fn waiters_counts_queued_callers_of_lock_mutex_and_rwlock() {
    let waker = noop_waker();
    let lock = Arc::new(Lock::new());
    let held = lock.try_acquire().unwrap();
    assert_eq!(lock.waiters(), 0);
    let mut a = pin!(lock.acquire());
    let mut b = Box::pin(lock.acquire_owned());
    assert_pending(a.as_mut(), &waker, "a");
    assert_pending(b.as_mut(), &waker, "b");
    assert_eq!(lock.waiters(), 2);
    drop(b);
    assert_eq!(lock.waiters(), 1, "a cancelled waiter no longer counts");
    drop(held);
    assert_eq!(lock.waiters(), 0, "a granted waiter no longer counts");
    drop(expect_ready(a.as_mut(), &waker, "a"));

    let mutex = Arc::new(Mutex::new(()));
    let held = mutex.try_lock().unwrap();
    let mut a = pin!(mutex.lock_owned());
    assert_pending(a.as_mut(), &waker, "a");
    assert_eq!(mutex.waiters(), 1);
    drop(held);
    assert_eq!(mutex.waiters(), 0);
    drop(expect_ready(a.as_mut(), &waker, "a"));

    let rwlock = Arc::new(RwLock::new(()));
    let held = rwlock.try_write().unwrap();
    let mut r = pin!(rwlock.read_owned());
    let mut u = pin!(rwlock.upgradable_read_owned());
    let mut w = pin!(rwlock.write_owned());
    assert_pending(r.as_mut(), &waker, "r");
    assert_pending(u.as_mut(), &waker, "u");
    assert_pending(w.as_mut(), &waker, "w");
    assert_eq!(rwlock.waiters(), 3);
    drop(held);
    assert_eq!(rwlock.waiters(), 1, "the reader and upgradable read got in");
    drop(expect_ready(r.as_mut(), &waker, "r"));
    drop(expect_ready(u.as_mut(), &waker, "u"));
    assert_eq!(rwlock.waiters(), 0);
    drop(expect_ready(w.as_mut(), &waker, "w"));
    assert_free(&rwlock);
}

// ------------------------------------------------------------ owned upgradable reads

#[test]
fn owned_upgradable_read_shares_with_readers_and_excludes_writers() {
    let lock = Arc::new(RwLock::new(1));
    let upgradable = lock.try_upgradable_read_owned().unwrap();
    assert_eq!(*upgradable, 1);
    assert!(Arc::ptr_eq(
        OwnedRwLockUpgradableReadGuard::rwlock(&upgradable),
        &lock
    ));
    let read = lock.try_read_owned().expect("readers share");
    assert!(lock.try_write_owned().is_none());
    assert!(lock.try_upgradable_read_owned().is_none());
    assert!(lock.try_upgradable_read().is_none());

    // try_upgrade gives the guard back while another reader holds.
    let upgradable = OwnedRwLockUpgradableReadGuard::try_upgrade(upgradable).unwrap_err();
    drop(read);
    let mut write = OwnedRwLockUpgradableReadGuard::try_upgrade(upgradable).expect("alone");
    *write = 2;
    assert!(lock.try_read().is_none());
    drop(write);
    assert_eq!(*lock.try_read().unwrap(), 2);
    assert_free(&lock);
}

#[test]
fn owned_upgrade_waits_for_the_readers_and_goes_ahead_of_the_line() {
    let lock = Arc::new(RwLock::new(1));
    let (wakes, waker) = counting_waker();
    let upgradable = lock.try_upgradable_read_owned().unwrap();
    let read = lock.try_read().unwrap();
    let mut writer = pin!(lock.write_owned());
    assert_pending(writer.as_mut(), &waker, "writer");
    let mut upgrade = pin!(OwnedRwLockUpgradableReadGuard::upgrade(upgradable));
    assert!(!upgrade.is_terminated());
    assert_pending(upgrade.as_mut(), &waker, "upgrade");
    assert!(format!("{upgrade:?}").contains("RwLockUpgradeOwned"));
    assert!(
        lock.try_read().is_none(),
        "a pending upgrade blocks readers"
    );
    drop(read);
    assert_eq!(wakes.count(), 1, "only the upgrade was woken");
    let mut write = expect_ready(upgrade.as_mut(), &waker, "upgrade");
    assert!(upgrade.is_terminated());
    *write = 2;
    assert_pending(writer.as_mut(), &waker, "writer behind the upgrade");
    drop(write);
    let mut write = expect_ready(writer.as_mut(), &waker, "writer");
    *write += 1;
    drop(write);
    assert_eq!(*lock.try_read().unwrap(), 3);
    assert_free(&lock);
}

#[test]
fn owned_upgrade_runs_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        let lock = Arc::new(RwLock::new(Vec::new()));
        let read = lock.read_owned().await;
        let upgradable = lock.upgradable_read_owned().await;
        let upgrade = rt.spawn(async move {
            let mut write = OwnedRwLockUpgradableReadGuard::upgrade(upgradable).await;
            write.push("upgraded");
            OwnedRwLockWriteGuard::downgrade(write)
        });
        rt.wait_until("the upgrade waits", || lock.waiters() == 1)
            .await;
        assert!(read.is_empty());
        drop(read);
        let read = upgrade.await;
        assert_eq!(*read, ["upgraded"]);
        assert!(lock.try_read().is_some(), "downgraded to a plain read");
        drop(read);
        assert_free(&lock);
    });
}

#[test]
fn owned_upgrade_dropped_in_any_state_releases_everything() {
    let lock = Arc::new(RwLock::new(0));
    let waker = noop_waker();
    // Never polled.
    drop(OwnedRwLockUpgradableReadGuard::upgrade(
        lock.try_upgradable_read_owned().unwrap(),
    ));
    assert_free(&lock);

    // Pending, with a writer queued behind: the writer then waits only for
    // the plain reader.
    let upgradable = lock.try_upgradable_read_owned().unwrap();
    let read = lock.try_read().unwrap();
    let mut writer = pin!(lock.write());
    assert_pending(writer.as_mut(), &waker, "writer");
    {
        let mut upgrade = Box::pin(OwnedRwLockUpgradableReadGuard::upgrade(upgradable));
        assert_pending(upgrade.as_mut(), &waker, "upgrade");
    }
    assert_pending(writer.as_mut(), &waker, "writer behind the reader");
    drop(read);
    drop(expect_ready(writer.as_mut(), &waker, "writer"));
    assert_free(&lock);

    // Granted, dropped before its next poll.
    let upgradable = lock.try_upgradable_read_owned().unwrap();
    let read = lock.try_read().unwrap();
    {
        let mut upgrade = Box::pin(OwnedRwLockUpgradableReadGuard::upgrade(upgradable));
        assert_pending(upgrade.as_mut(), &waker, "upgrade");
        drop(read);
        assert!(lock.is_locked(), "the upgrade holds the write lock");
    }
    assert_free(&lock);
}

#[cfg(feature = "std")]
#[test]
fn owned_upgrade_blocking_waits_for_the_readers() {
    watchdog(|| {
        let lock = Arc::new(RwLock::new(0));
        let read = lock.try_read().unwrap();
        let upgradable = lock.try_upgradable_read_owned().unwrap();
        let thread = blocked_thread(
            move || {
                let mut write = OwnedRwLockUpgradableReadGuard::upgrade_blocking(upgradable);
                *write = 1;
            },
            || lock.waiters() == 1,
        );
        drop(read);
        thread.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1);
        assert_free(&lock);
    });
}

#[test]
fn owned_upgradable_downgrade_lets_the_next_upgradable_read_in() {
    let lock = Arc::new(RwLock::new(5));
    let waker = noop_waker();
    let upgradable = lock.try_upgradable_read_owned().unwrap();
    let mut next = pin!(lock.upgradable_read_owned());
    assert_pending(next.as_mut(), &waker, "second upgradable read");
    assert!(format!("{next:?}").contains("RwLockUpgradableReadOwned"));
    let read: OwnedRwLockReadGuard<i32> = OwnedRwLockUpgradableReadGuard::downgrade(upgradable);
    let next = expect_ready(next.as_mut(), &waker, "second upgradable read");
    assert_eq!((*read, *next), (5, 5));
    assert!(lock.try_write().is_none());
    drop((read, next));
    assert_free(&lock);
}

// ------------------------------------------------------------ owned downgrades

#[test]
fn owned_write_downgrade_admits_the_readers_at_the_head_only() {
    let lock = Arc::new(RwLock::new(0));
    let waker = noop_waker();
    let mut write = lock.try_write_owned().unwrap();
    *write = 1;
    let mut r1 = pin!(lock.read_owned());
    let mut r2 = pin!(lock.read());
    let mut w = pin!(lock.write_owned());
    let mut r3 = pin!(lock.read());
    assert_pending(r1.as_mut(), &waker, "r1");
    assert_pending(r2.as_mut(), &waker, "r2");
    assert_pending(w.as_mut(), &waker, "w");
    assert_pending(r3.as_mut(), &waker, "r3");
    let read = OwnedRwLockWriteGuard::downgrade(write);
    assert_eq!(*read, 1);
    let (g1, g2) = (
        expect_ready(r1.as_mut(), &waker, "r1"),
        expect_ready(r2.as_mut(), &waker, "r2"),
    );
    assert_pending(w.as_mut(), &waker, "the writer waits for the readers");
    assert_pending(r3.as_mut(), &waker, "the reader behind the writer waits");
    drop((g1, g2, read));
    drop(expect_ready(w.as_mut(), &waker, "w"));
    drop(expect_ready(r3.as_mut(), &waker, "r3"));
    assert_free(&lock);
}

#[test]
fn owned_write_downgrade_to_upgradable_admits_readers_but_not_writers() {
    let lock = Arc::new(RwLock::new(0));
    let waker = noop_waker();
    let write = lock.try_write_owned().unwrap();
    let mut r = pin!(lock.read());
    assert_pending(r.as_mut(), &waker, "r");
    let upgradable = OwnedRwLockWriteGuard::downgrade_to_upgradable(write);
    drop(expect_ready(r.as_mut(), &waker, "r"));
    assert!(lock.try_read().is_some());
    assert!(lock.try_upgradable_read().is_none());
    assert!(lock.try_write().is_none());
    let write = OwnedRwLockUpgradableReadGuard::try_upgrade(upgradable).expect("alone again");
    drop(write);
    assert_free(&lock);
}

// ------------------------------------------------------------ map and try_map

#[test]
fn mutex_guards_try_map_and_map_again() {
    let mutex = Mutex::new((1, vec![10, 20]));
    let guard = mutex.try_lock().unwrap();
    let guard = MutexGuard::try_map(guard, |v| v.1.get_mut(9)).unwrap_err();
    assert!(mutex.is_locked(), "a failed try_map keeps the lock");
    let list = MutexGuard::try_map(guard, |v| Some(&mut v.1)).unwrap();
    let list = MappedMutexGuard::try_map(list, |v| v.get_mut(9)).unwrap_err();
    let mut second = MappedMutexGuard::try_map(list, |v| v.get_mut(1)).unwrap();
    *second += 1;
    let mut second = MappedMutexGuard::map(second, |x| x);
    *second += 1;
    assert_eq!(format!("{second:?} {second}"), "22 22");
    assert!(mutex.try_lock().is_none());
    drop(second);
    assert_eq!(mutex.try_lock().unwrap().1, [10, 22]);
}

#[test]
fn owned_mapped_mutex_guard_keeps_the_mutex_alive_and_locked() {
    let mutex = Arc::new(Mutex::new((1, String::from("a"))));
    let weak = Arc::downgrade(&mutex);
    let guard = mutex.try_lock_owned().unwrap();
    assert!(Arc::ptr_eq(OwnedMutexGuard::mutex(&guard), &mutex));
    let guard = OwnedMutexGuard::try_map(guard, |_| None::<&mut u8>).unwrap_err();
    let name: OwnedMappedMutexGuard<(i32, String), String> =
        OwnedMutexGuard::map(guard, |pair| &mut pair.1);
    let name = OwnedMappedMutexGuard::try_map(name, |_| None::<&mut u8>).unwrap_err();
    let mut name = OwnedMappedMutexGuard::map(name, |s| s);
    assert!(mutex.try_lock().is_none());
    drop(mutex);
    // The mapped guard alone keeps the mutex alive, on another thread too.
    thread::spawn(move || name.push('b')).join().unwrap();
    assert!(weak.upgrade().is_none(), "the last guard freed the mutex");

    let mutex = Arc::new(Mutex::new(vec![1, 2]));
    let guard = mutex.try_lock_owned().unwrap();
    let mut first = OwnedMutexGuard::try_map(guard, |v| v.first_mut()).unwrap();
    *first = 7;
    let first = OwnedMappedMutexGuard::try_map(first, |x| Some(x)).unwrap();
    assert_eq!(format!("{first:?} {first}"), "7 7");
    drop(first);
    assert_eq!(*mutex.try_lock().unwrap(), [7, 2]);
    assert_eq!(Arc::strong_count(&mutex), 1);
}

#[test]
fn rwlock_guards_try_map_and_map_again() {
    let lock = RwLock::new((1, vec![10, 20]));
    let read = lock.try_read().unwrap();
    let read = RwLockReadGuard::try_map(read, |v| v.1.get(9)).unwrap_err();
    let list = RwLockReadGuard::try_map(read, |v| Some(&v.1)).unwrap();
    let list = MappedRwLockReadGuard::try_map(list, |v| v.get(9)).unwrap_err();
    let second = MappedRwLockReadGuard::try_map(list, |v| v.get(1)).unwrap();
    assert_eq!(*second, 20);
    assert!(lock.try_write().is_none());
    assert!(lock.try_read().is_some());
    drop(second);

    let write = lock.try_write().unwrap();
    let write = RwLockWriteGuard::try_map(write, |v| v.1.get_mut(9)).unwrap_err();
    let list = RwLockWriteGuard::try_map(write, |v| Some(&mut v.1)).unwrap();
    let list = MappedRwLockWriteGuard::try_map(list, |v| v.get_mut(9)).unwrap_err();
    let mut second = MappedRwLockWriteGuard::try_map(list, |v| v.get_mut(1)).unwrap();
    *second += 1;
    assert!(lock.try_read().is_none());
    drop(second);
    assert_eq!(lock.try_read().unwrap().1, [10, 21]);
}

#[test]
fn owned_rwlock_guards_map_and_keep_the_lock_alive() {
    let lock = Arc::new(RwLock::new((1, vec![10, 20])));
    let weak = Arc::downgrade(&lock);

    let read = lock.try_read_owned().unwrap();
    let read = OwnedRwLockReadGuard::try_map(read, |v| v.1.get(9)).unwrap_err();
    let list: OwnedMappedRwLockReadGuard<(i32, Vec<i32>), Vec<i32>> =
        OwnedRwLockReadGuard::map(read, |v| &v.1);
    let list = OwnedMappedRwLockReadGuard::try_map(list, |v| v.get(9)).unwrap_err();
    let first = OwnedMappedRwLockReadGuard::try_map(list, |v| v.first()).unwrap();
    let first = OwnedMappedRwLockReadGuard::map(first, |x| x);
    let other = OwnedRwLockReadGuard::try_map(lock.try_read_owned().unwrap(), |v| Some(&v.0))
        .expect("Some");
    assert_eq!(format!("{first:?} {other}"), "10 1");
    assert!(lock.try_write().is_none());
    drop((first, other));

    let write = lock.try_write_owned().unwrap();
    let write = OwnedRwLockWriteGuard::try_map(write, |v| v.1.get_mut(9)).unwrap_err();
    let list: OwnedMappedRwLockWriteGuard<(i32, Vec<i32>), Vec<i32>> =
        OwnedRwLockWriteGuard::map(write, |v| &mut v.1);
    let list = OwnedMappedRwLockWriteGuard::try_map(list, |v| v.get_mut(9)).unwrap_err();
    let list = OwnedMappedRwLockWriteGuard::map(list, |v| v);
    let mut last = OwnedMappedRwLockWriteGuard::try_map(list, |v| v.last_mut()).unwrap();
    assert!(lock.try_read().is_none());
    drop(lock);
    // The mapped guard alone keeps the lock alive, on another thread too.
    thread::spawn(move || *last += 1).join().unwrap();
    assert!(weak.upgrade().is_none(), "the last guard freed the lock");

    let lock = Arc::new(RwLock::new(vec![1]));
    let write = lock.try_write_owned().unwrap();
    let mut first = OwnedRwLockWriteGuard::try_map(write, |v| v.first_mut()).unwrap();
    *first = 2;
    assert_eq!(format!("{first:?} {first}"), "2 2");
    drop(first);
    assert_eq!(*lock.try_read().unwrap(), [2]);
    assert_free(&lock);
}

#[test]
fn panicking_map_and_try_map_closures_release_owned_guards() {
    let mutex = Arc::new(Mutex::new(0));
    let guard = mutex.try_lock_owned().unwrap();
    assert!(panics(move || drop(OwnedMutexGuard::map(
        guard,
        |_| -> &mut u8 { panic!("map closure panics") }
    ))));
    let guard = mutex.try_lock_owned().expect("unlocked by the unwind");
    assert!(panics(move || drop(OwnedMutexGuard::try_map(
        guard,
        |_| -> Option<&mut u8> { panic!("try_map closure panics") }
    ))));
    let guard = mutex.try_lock().expect("unlocked by the unwind");
    assert!(panics(move || drop(MutexGuard::try_map(
        guard,
        |_| -> Option<&mut u8> { panic!("try_map closure panics") }
    ))));
    let guard = OwnedMutexGuard::map(mutex.try_lock_owned().unwrap(), |x| x);
    assert!(panics(move || drop(OwnedMappedMutexGuard::map(
        guard,
        |_| -> &mut u8 { panic!("map closure panics") }
    ))));
    assert!(!mutex.is_locked());
    assert_eq!(Arc::strong_count(&mutex), 1);

    let lock = Arc::new(RwLock::new(0));
    let read = lock.try_read_owned().unwrap();
    assert!(panics(move || drop(OwnedRwLockReadGuard::map(
        read,
        |_| -> &u8 { panic!("map closure panics") }
    ))));
    let read = lock.try_read_owned().unwrap();
    assert!(panics(move || drop(OwnedRwLockReadGuard::try_map(
        read,
        |_| -> Option<&u8> { panic!("try_map closure panics") }
    ))));
    let write = lock.try_write_owned().expect("unlocked by the unwind");
    assert!(panics(move || drop(OwnedRwLockWriteGuard::map(
        write,
        |_| -> &mut u8 { panic!("map closure panics") }
    ))));
    let write = lock.try_write_owned().expect("unlocked by the unwind");
    assert!(panics(move || drop(OwnedRwLockWriteGuard::try_map(
        write,
        |_| -> Option<&mut u8> { panic!("try_map closure panics") }
    ))));
    let write = lock.try_write().expect("unlocked by the unwind");
    assert!(panics(move || drop(RwLockWriteGuard::try_map(
        write,
        |_| -> Option<&mut u8> { panic!("try_map closure panics") }
    ))));
    let read = lock.try_read().unwrap();
    assert!(panics(move || drop(RwLockReadGuard::try_map(
        read,
        |_| -> Option<&u8> { panic!("try_map closure panics") }
    ))));
    assert_free(&lock);
}

#[test]
fn owned_guards_format_like_the_value() {
    let lock = Arc::new(RwLock::new(3));
    let upgradable = lock.try_upgradable_read_owned().unwrap();
    assert_eq!(format!("{upgradable:?} {upgradable}"), "3 3");
    drop(upgradable);
    let mutex = Arc::new(Mutex::new(4));
    let guard = mutex.try_lock_owned().unwrap();
    assert_eq!(format!("{guard:?} {guard}"), "4 4");
}
