//! Mutual exclusion, and guards that move between threads.

use super::support::*;

/// 1. Three threads increment a `Mutex<usize>` through their guards, with
///    `lock` on `block_on`, `lock_blocking` and `lock_owned`, so up to two
///    wait in line at once. The final value is exact, and the loom
///    `UnsafeCell` inside the mutex reports any access not ordered by a
///    hand-off.
#[test]
fn mutex_increments_are_mutually_exclusive() {
    model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let blocking = {
            let mutex = Arc::clone(&mutex);
            thread::spawn(move || {
                *mutex.lock_blocking() += 1;
            })
        };
        let owned = {
            let mutex = Arc::clone(&mutex);
            thread::spawn(move || {
                *block_on(Arc::clone(&mutex).lock_owned()) += 1;
            })
        };
        *block_on(mutex.lock()) += 1;
        blocking.join().unwrap();
        owned.join().unwrap();
        assert_eq!(*mutex.try_lock().expect("unlocked after all"), 3);
        assert!(!mutex.is_locked());
    });
}

/// 1b. A `Lock` guarding a loom cell of its own, taken twice by each of two
///     threads (async and blocking), so a thread that just released queues
///     again with a fresh node.
#[test]
fn lock_guards_a_critical_section() {
    model(|| {
        let lock = Arc::new(Lock::new());
        let cell = Arc::new(Guarded(loom::cell::UnsafeCell::new(0)));
        let other = {
            let (lock, cell) = (Arc::clone(&lock), Arc::clone(&cell));
            thread::spawn(move || {
                for _ in 0..2 {
                    let _guard = lock.acquire_blocking();
                    // SAFETY: the lock is held.
                    unsafe { cell.increment() };
                }
            })
        };
        for _ in 0..2 {
            let _guard = block_on(lock.acquire());
            // SAFETY: the lock is held.
            unsafe { cell.increment() };
        }
        other.join().unwrap();
        let _guard = lock.try_acquire().expect("unlocked after both");
        // SAFETY: the lock is held.
        assert_eq!(unsafe { cell.get() }, 4);
    });
}

/// 8. An `OwnedMutexGuard` taken on the main thread is moved to another
///    thread, which writes and drops it, while the main thread waits in
///    `lock_owned`.
#[test]
fn owned_mutex_guard_moves_across_threads() {
    model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let mut guard = block_on(Arc::clone(&mutex).lock_owned());
        let other = thread::spawn(move || {
            *guard += 1;
            drop(guard);
        });
        let mut guard = block_on(Arc::clone(&mutex).lock_owned());
        *guard += 1;
        drop(guard);
        other.join().unwrap();
        assert_eq!(*mutex.try_lock().expect("unlocked"), 2);
    });
}

/// 8b. An `OwnedSemaphorePermit` and an `OwnedLockGuard` are moved to
///     another thread and dropped there while the main thread waits for them
///     with `acquire_owned`.
#[test]
fn owned_permit_and_lock_guard_move_across_threads() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let lock = Arc::new(Lock::new());
        let permit = block_on(Arc::clone(&sem).acquire_owned());
        let guard = block_on(Arc::clone(&lock).acquire_owned());
        let other = thread::spawn(move || {
            drop(guard);
            drop(permit);
        });
        let permit = block_on(Arc::clone(&sem).acquire_owned());
        assert_eq!(permit.permits(), 1);
        drop(block_on(Arc::clone(&lock).acquire_owned()));
        drop(permit);
        other.join().unwrap();
        assert_all_returned(&sem, 1);
        assert!(!lock.is_locked());
    });
}
