#![cfg(feature = "std")]
//! Blocking calls from plain threads: one FIFO line with async waiters,
//! `*_timeout` deadlines, `Duration::ZERO`/`Duration::MAX`, and calls made
//! from inside a runtime.

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{assert_pending, expect_ready, on_all_runtimes, report_queued, spin_until, watchdog};
use fairsync::{Lock, Mutex, Semaphore};
use futures::task::noop_waker;

const SHORT: Duration = Duration::from_millis(40);

#[test]
fn blocking_callers_queue_in_the_same_fifo_line_as_async_waiters() {
    on_all_runtimes(|rt| async move {
        let sem = Arc::new(Semaphore::new(1));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let held = sem.try_acquire().unwrap();
        let mut tasks = Vec::new();
        let mut threads = Vec::new();
        for i in 0..8usize {
            let (sem2, order) = (Arc::clone(&sem), Arc::clone(&order));
            match i % 4 {
                0 => tasks.push(rt.spawn(async move {
                    let _permit = sem2.acquire().await;
                    order.lock().unwrap().push(i);
                })),
                1 => threads.push(thread::spawn(move || {
                    let _permit = sem2.acquire_blocking();
                    order.lock().unwrap().push(i);
                })),
                2 => tasks.push(rt.spawn(async move {
                    let _permit = Arc::clone(&sem2).acquire_many_owned(1).await;
                    order.lock().unwrap().push(i);
                })),
                _ => threads.push(thread::spawn(move || {
                    let permit = if i == 3 {
                        sem2.acquire_many_blocking(1)
                    } else {
                        sem2.acquire_blocking_timeout(Duration::MAX)
                            .expect("no deadline")
                    };
                    order.lock().unwrap().push(i);
                    drop(permit);
                })),
            }
            rt.wait_until("the caller is queued", || sem.waiters() == i + 1)
                .await;
        }
        drop(held);
        for task in tasks {
            task.await;
        }
        rt.wait_until("every caller got its turn", || {
            order.lock().unwrap().len() == 8
        })
        .await;
        for handle in threads {
            handle.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
        assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));
    });
}

#[test]
fn weighted_blocking_caller_is_not_overtaken_by_a_later_small_request() {
    on_all_runtimes(|rt| async move {
        let sem = Arc::new(Semaphore::new(3));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let held = sem.try_acquire_many(3).unwrap();
        let first = rt.spawn({
            let (sem, order) = (Arc::clone(&sem), Arc::clone(&order));
            async move {
                let permit = sem.acquire_many_owned(2).await;
                order.lock().unwrap().push("async 2");
                permit
            }
        });
        rt.wait_until("async acquire_many(2) is queued", || sem.waiters() == 1)
            .await;
        let blocking = thread::spawn({
            let (sem, order) = (Arc::clone(&sem), Arc::clone(&order));
            move || {
                let permit = sem.acquire_many_blocking(3);
                order.lock().unwrap().push("blocking 3");
                drop(permit);
            }
        });
        rt.wait_until("blocking acquire_many(3) is queued", || sem.waiters() == 2)
            .await;
        let last = rt.spawn({
            let (sem, order) = (Arc::clone(&sem), Arc::clone(&order));
            async move {
                let _permit = sem.acquire().await;
                order.lock().unwrap().push("async 1");
            }
        });
        rt.wait_until("async acquire() is queued", || sem.waiters() == 3)
            .await;
        drop(held);
        let permit = first.await;
        // One permit is not held by anyone, but the blocking head collects it.
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(sem.waiters(), 2);
        assert!(sem.try_acquire().is_none());
        drop(permit);
        last.await;
        rt.wait_until("the blocking thread finished", || blocking.is_finished())
            .await;
        blocking.join().unwrap();
        assert_eq!(
            *order.lock().unwrap(),
            vec!["async 2", "blocking 3", "async 1"]
        );
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn blocking_caller_queues_behind_earlier_async_lock_and_mutex_waiters() {
    on_all_runtimes(|rt| async move {
        let lock = Arc::new(Lock::new());
        let mutex = Arc::new(Mutex::new(Vec::new()));
        let queued = Arc::new(AtomicUsize::new(0));
        let lock_guard = lock.try_acquire().unwrap();
        let mutex_guard = mutex.try_lock().unwrap();
        let order = Arc::new(StdMutex::new(Vec::new()));
        let lock_task = rt.spawn({
            let (lock, order, q) = (Arc::clone(&lock), Arc::clone(&order), Arc::clone(&queued));
            async move {
                let _guard = report_queued(lock.acquire(), &q).await;
                order.lock().unwrap().push("async");
            }
        });
        let mutex_task = rt.spawn({
            let (mutex, q) = (Arc::clone(&mutex), Arc::clone(&queued));
            async move { report_queued(mutex.lock_owned(), &q).await.push("async") }
        });
        rt.wait_until("both tasks are queued", || {
            queued.load(Ordering::SeqCst) == 2
        })
        .await;
        let lock_thread = thread::spawn({
            let (lock, order) = (Arc::clone(&lock), Arc::clone(&order));
            move || {
                let _guard = lock.acquire_blocking();
                order.lock().unwrap().push("blocking");
            }
        });
        let mutex_thread = thread::spawn({
            let mutex = Arc::clone(&mutex);
            move || mutex.lock_blocking().push("blocking")
        });
        drop(lock_guard);
        drop(mutex_guard);
        lock_task.await;
        mutex_task.await;
        rt.wait_until("the threads finished", || {
            lock_thread.is_finished() && mutex_thread.is_finished()
        })
        .await;
        lock_thread.join().unwrap();
        mutex_thread.join().unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["async", "blocking"]);
        assert_eq!(*mutex.lock().await, vec!["async", "blocking"]);
        assert!(!lock.is_locked());
    });
}

#[test]
fn timeout_returns_none_after_the_deadline_and_leaves_no_waiter() {
    watchdog(|| {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let start = Instant::now();
        assert!(sem.acquire_blocking_timeout(SHORT).is_none());
        assert!(start.elapsed() >= SHORT, "returned before the deadline");
        assert_eq!((sem.waiters(), sem.available_permits()), (0, 0));
        drop(held);
        assert_eq!(sem.available_permits(), 1);

        let lock = Lock::new();
        let guard = lock.try_acquire().unwrap();
        let start = Instant::now();
        assert!(lock.acquire_blocking_timeout(SHORT).is_none());
        assert!(start.elapsed() >= SHORT);
        drop(guard);
        assert!(!lock.is_locked(), "the timed-out waiter left the lock held");

        let mutex = Mutex::new(1);
        let guard = mutex.try_lock().unwrap();
        let start = Instant::now();
        assert!(mutex.lock_blocking_timeout(SHORT).is_none());
        assert!(start.elapsed() >= SHORT);
        drop(guard);
        assert!(
            !mutex.is_locked(),
            "the timed-out waiter left the mutex locked"
        );
        assert_eq!(*mutex.try_lock().unwrap(), 1);
    });
}

#[test]
fn timed_out_waiter_leaves_the_line_intact_around_it() {
    watchdog(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let waker = noop_waker();
        // An async waiter ahead of the blocking one...
        let mut ahead = pin!(sem.acquire());
        assert_pending(ahead.as_mut(), &waker, "ahead");
        // ...and one queued behind it.
        let sem2 = Arc::clone(&sem);
        let timed = thread::spawn(move || {
            sem2.acquire_blocking_timeout(Duration::from_millis(200))
                .is_none()
        });
        spin_until("the blocking caller is queued", || sem.waiters() == 2);
        let mut behind = pin!(sem.acquire());
        assert_pending(behind.as_mut(), &waker, "behind");
        assert_eq!(sem.waiters(), 3);
        assert!(timed.join().unwrap(), "the permit stayed held");
        assert_eq!(sem.waiters(), 2);
        drop(held);
        let first = expect_ready(ahead.as_mut(), &waker, "ahead");
        assert_pending(behind.as_mut(), &waker, "behind");
        drop(first);
        drop(expect_ready(behind.as_mut(), &waker, "behind"));
        assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));
    });
}

#[test]
fn timeout_gets_the_permit_when_released_in_time() {
    watchdog(|| {
        for timeout in [Duration::from_secs(20), Duration::MAX] {
            let sem = Arc::new(Semaphore::new(1));
            let held = sem.try_acquire().unwrap();
            let sem2 = Arc::clone(&sem);
            let waiter =
                thread::spawn(move || sem2.acquire_blocking_timeout(timeout).map(|p| p.permits()));
            spin_until("the waiter is queued", || sem.waiters() == 1);
            drop(held);
            assert_eq!(waiter.join().unwrap(), Some(1), "timeout {timeout:?}");
            assert_eq!(sem.available_permits(), 1);

            let lock = Arc::new(Lock::new());
            let guard = lock.try_acquire().unwrap();
            let lock2 = Arc::clone(&lock);
            let waiter = thread::spawn(move || lock2.acquire_blocking_timeout(timeout).is_some());
            thread::sleep(Duration::from_millis(5));
            drop(guard);
            assert!(waiter.join().unwrap(), "timeout {timeout:?}");
            assert!(!lock.is_locked());

            let mutex = Arc::new(Mutex::new(0));
            let guard = mutex.try_lock().unwrap();
            let mutex2 = Arc::clone(&mutex);
            let waiter =
                thread::spawn(move || mutex2.lock_blocking_timeout(timeout).map(|mut g| *g += 1));
            thread::sleep(Duration::from_millis(5));
            drop(guard);
            assert_eq!(waiter.join().unwrap(), Some(()));
            assert_eq!(*mutex.try_lock().unwrap(), 1);
        }
    });
}

#[test]
fn zero_timeout_behaves_like_try() {
    watchdog(|| {
        let sem = Semaphore::new(3);
        let p = sem
            .acquire_blocking_timeout(Duration::ZERO)
            .expect("free permit");
        assert_eq!(sem.available_permits(), 2);
        let held = sem.try_acquire_many(2).unwrap();
        let start = Instant::now();
        assert!(sem.acquire_blocking_timeout(Duration::ZERO).is_none());
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "ZERO must not wait"
        );
        drop(p);
        // One permit is free but a weighted head has collected it.
        let waker = noop_waker();
        let mut head = pin!(sem.acquire_many(2));
        assert_pending(head.as_mut(), &waker, "head");
        assert!(
            sem.acquire_blocking_timeout(Duration::ZERO).is_none(),
            "overtook the head"
        );
        assert_eq!(sem.waiters(), 1);
        drop(held);
        drop(expect_ready(head.as_mut(), &waker, "head"));
        assert_eq!(sem.available_permits(), 3);

        let lock = Lock::new();
        let guard = lock
            .acquire_blocking_timeout(Duration::ZERO)
            .expect("unlocked");
        assert!(lock.acquire_blocking_timeout(Duration::ZERO).is_none());
        drop(guard);
        assert!(!lock.is_locked());

        let mutex = Mutex::new(0);
        let guard = mutex
            .lock_blocking_timeout(Duration::ZERO)
            .expect("unlocked");
        assert!(mutex.lock_blocking_timeout(Duration::ZERO).is_none());
        drop(guard);
        assert!(!mutex.is_locked());
    });
}

#[test]
fn max_timeout_on_a_free_resource_does_not_panic() {
    watchdog(|| {
        let sem = Semaphore::new(1);
        assert!(sem.acquire_blocking_timeout(Duration::MAX).is_some());
        let lock = Lock::new();
        assert!(lock.acquire_blocking_timeout(Duration::MAX).is_some());
        let mutex = Mutex::new(1);
        assert_eq!(
            mutex.lock_blocking_timeout(Duration::MAX).map(|g| *g),
            Some(1)
        );
        assert_eq!(sem.available_permits(), 1);
        assert!(!lock.is_locked() && !mutex.is_locked());
    });
}

#[test]
fn blocking_calls_from_inside_a_runtime_do_not_panic() {
    on_all_runtimes(|rt| async move {
        // Free resources: the calls return at once, also on an executor thread.
        let sem = Arc::new(Semaphore::new(2));
        let lock = Arc::new(Lock::new());
        let mutex = Arc::new(Mutex::new(0));
        drop(sem.acquire_blocking());
        drop(sem.acquire_many_blocking(2));
        drop(lock.acquire_blocking());
        *mutex.lock_blocking() += 1;
        assert!(sem
            .acquire_blocking_timeout(Duration::from_secs(1))
            .is_some());

        // Contended, inside a spawned task, released by a plain thread.
        let held = sem.try_acquire_many_owned(2).unwrap();
        let lock_guard = lock.try_acquire_owned().unwrap();
        let mutex_guard = mutex.try_lock_owned().unwrap();
        let task = rt.spawn({
            let (sem, lock, mutex) = (Arc::clone(&sem), Arc::clone(&lock), Arc::clone(&mutex));
            async move {
                let permit = sem.acquire_many_blocking(2);
                let guard = lock.acquire_blocking();
                *mutex.lock_blocking() += 1;
                drop((permit, guard));
            }
        });
        let releaser = thread::spawn({
            let sem = Arc::clone(&sem);
            move || {
                spin_until("the task blocks on the semaphore", || sem.waiters() == 1);
                drop(held);
                thread::sleep(Duration::from_millis(5));
                drop(lock_guard);
                thread::sleep(Duration::from_millis(5));
                drop(mutex_guard);
            }
        });
        task.await;
        releaser.join().unwrap();
        assert_eq!(*mutex.lock().await, 2);
        assert_eq!(sem.available_permits(), 2);
        assert!(!lock.is_locked());
    });
}

#[test]
fn blocking_threads_exclude_each_other_and_async_tasks() {
    on_all_runtimes(|rt| async move {
        const THREADS: usize = 3;
        // Fewer under Miri, whose interpreter is about 100x slower.
        const ROUNDS: usize = common::iterations(100, 10);
        let mutex = Arc::new(Mutex::new(0usize));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let mutex = Arc::clone(&mutex);
                thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        let mut guard = mutex.lock_blocking();
                        let seen = *guard;
                        thread::yield_now();
                        *guard = seen + 1;
                    }
                })
            })
            .collect();
        let task = rt.spawn({
            let mutex = Arc::clone(&mutex);
            async move {
                for _ in 0..ROUNDS {
                    let mut guard = mutex.lock().await;
                    let seen = *guard;
                    rt.yield_now().await;
                    *guard = seen + 1;
                }
            }
        });
        task.await;
        rt.wait_until("the threads finished", || {
            threads.iter().all(|t| t.is_finished())
        })
        .await;
        for handle in threads {
            handle.join().unwrap();
        }
        assert_eq!(*mutex.lock().await, (THREADS + 1) * ROUNDS);
    });
}
