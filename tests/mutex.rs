//! Mutex<T> behaviour: exclusion, FIFO hand-off, guards (plain, mapped,
//! owned), unsized values, constructors, `Debug`/`Display`.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::fmt::{Debug, Display};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, poll_once, report_queued,
    watchdog,
};
#[cfg(feature = "alloc")]
use fairsync::OwnedMutexGuard;
use fairsync::{MappedMutexGuard, Mutex, MutexGuard};
use futures::task::noop_waker;

static STATIC_MUTEX: Mutex<u32> = Mutex::new(0);

#[test]
fn const_constructor_works_in_a_static() {
    {
        let mut guard = STATIC_MUTEX.try_lock().expect("unlocked");
        *guard += 5;
        assert!(STATIC_MUTEX.is_locked());
    }
    assert!(!STATIC_MUTEX.is_locked());
    assert_eq!(*futures::executor::block_on(STATIC_MUTEX.lock()), 5);
}

#[test]
fn default_and_from_construct_an_unlocked_mutex() {
    let m: Mutex<Vec<u8>> = Mutex::default();
    assert!(!m.is_locked());
    assert!(m.try_lock().unwrap().is_empty());
    let m = Mutex::from(String::from("hello"));
    assert_eq!(m.try_lock().unwrap().as_str(), "hello");
    let m: Mutex<u8> = 7.into();
    assert_eq!(m.into_inner(), 7);
}

#[test]
fn get_mut_and_into_inner_need_no_locking() {
    let mut m = Mutex::new(vec![1, 2]);
    m.get_mut().push(3);
    assert!(!m.is_locked());
    {
        let mut guard = m.try_lock().unwrap();
        guard.push(4);
    }
    assert_eq!(m.into_inner(), vec![1, 2, 3, 4]);
}

#[test]
fn try_lock_excludes_until_the_guard_drops() {
    let m = Arc::new(Mutex::new(1));
    let mut guard = m.try_lock().unwrap();
    *guard = 2;
    assert!(m.is_locked());
    assert!(m.try_lock().is_none());
    #[cfg(feature = "alloc")]
    assert!(m.try_lock_owned().is_none());
    drop(guard);
    assert!(!m.is_locked());
    assert_eq!(*m.try_lock().unwrap(), 2);
}

#[test]
fn mutex_is_handed_to_waiters_in_fifo_order() {
    const N: usize = 12;
    let m = Mutex::new(Vec::new());
    let holder = m.try_lock().unwrap();
    let mut futs: Vec<_> = (0..N).map(|_| Box::pin(m.lock())).collect();
    let wakers: Vec<_> = (0..N).map(|_| counting_waker()).collect();
    for (i, fut) in futs.iter_mut().enumerate() {
        assert_pending(fut.as_mut(), &wakers[i].1, "queued");
    }
    let mut current = holder;
    for i in 0..N {
        drop(current);
        assert!(m.is_locked());
        assert!(m.try_lock().is_none(), "try_lock overtook waiter {i}");
        assert_eq!(wakers[i].0.count(), 1, "waiter {i} must be woken");
        for (j, fut) in futs.iter_mut().enumerate().skip(i + 1) {
            assert_pending(fut.as_mut(), &wakers[j].1, "later waiter");
        }
        current = expect_ready(futs[i].as_mut(), &wakers[i].1, "oldest waiter");
        current.push(i);
    }
    drop(current);
    drop(futs);
    assert_eq!(m.into_inner(), (0..N).collect::<Vec<_>>());
}

#[test]
fn map_narrows_the_guard_and_unlocks_on_drop() {
    let m = Mutex::new((1u8, String::from("a")));
    let guard = m.try_lock().unwrap();
    let mut mapped: MappedMutexGuard<'_, String> = MutexGuard::map(guard, |pair| &mut pair.1);
    mapped.push('b');
    assert_eq!(mapped.as_str(), "ab");
    assert!(m.is_locked(), "a mapped guard keeps the lock");
    assert!(m.try_lock().is_none());
    assert_eq!(format!("{mapped:?}"), format!("{:?}", "ab"));
    assert_eq!(format!("{mapped}"), "ab");
    drop(mapped);
    assert!(!m.is_locked());
    assert_eq!(m.into_inner(), (1, String::from("ab")));
}

#[test]
fn map_to_an_unsized_target() {
    let m = Mutex::new([1u8, 2, 3]);
    let mut mapped: MappedMutexGuard<'_, [u8]> =
        MutexGuard::map(m.try_lock().unwrap(), |arr| &mut arr[1..]);
    mapped[0] = 20;
    assert_eq!(&*mapped, &[20, 3]);
    drop(mapped);
    assert_eq!(m.into_inner(), [1, 20, 3]);
}

#[test]
fn guard_mutex_returns_the_locked_mutex() {
    let a = Mutex::new(1);
    let b = Mutex::new(1);
    let guard = a.try_lock().unwrap();
    assert!(std::ptr::eq(MutexGuard::mutex(&guard), &a));
    assert!(!std::ptr::eq(MutexGuard::mutex(&guard), &b));
    assert!(MutexGuard::mutex(&guard).is_locked());
}

#[cfg(feature = "alloc")]
#[test]
fn owned_guards_hold_the_lock_across_threads() {
    let m = Arc::new(Mutex::new(0u64));
    let mut guard: OwnedMutexGuard<u64> = m.try_lock_owned().expect("unlocked");
    *guard = 1;
    assert!(m.try_lock_owned().is_none());
    let handle = std::thread::spawn(move || {
        *guard += 1;
        drop(guard);
    });
    handle.join().unwrap();
    assert!(!m.is_locked());
    let mut guard = futures::executor::block_on(Arc::clone(&m).lock_owned());
    *guard += 1;
    assert_eq!(format!("{guard:?}"), "3");
    assert_eq!(format!("{guard:>4}"), "   3");
    drop(guard);
    assert_eq!(*m.try_lock().unwrap(), 3);
}

#[test]
fn unsized_slice_mutex_through_arc_coercion() {
    let m: Arc<Mutex<[u8]>> = Arc::new(Mutex::new([1u8, 2, 3]));
    {
        let mut guard = m.try_lock().unwrap();
        guard[2] = 30;
        assert_eq!(guard.len(), 3);
    }
    let guard = futures::executor::block_on(m.lock());
    assert_eq!(&*guard, &[1, 2, 30]);
    drop(guard);
    #[cfg(feature = "alloc")]
    {
        let mut owned: OwnedMutexGuard<[u8]> =
            futures::executor::block_on(Arc::clone(&m).lock_owned());
        owned[0] = 10;
        drop(owned);
        assert_eq!(&*m.try_lock_owned().unwrap(), &[10, 2, 30]);
    }
    #[cfg(not(feature = "alloc"))]
    {
        m.try_lock().unwrap()[0] = 10;
    }
    let text = format!("{m:?}");
    assert!(text.contains("[10, 2, 30]"), "{text}");
}

#[test]
fn unsized_trait_object_mutex_through_box() {
    let m: Box<Mutex<dyn Debug + Send>> = Box::new(Mutex::new(vec![5u8]));
    let guard = m.try_lock().unwrap();
    assert_eq!(format!("{:?}", &*guard), "[5]");
    drop(guard);
    let d: Box<Mutex<dyn Display + Send + Sync>> = Box::new(Mutex::new(42u32));
    assert_eq!(format!("{}", d.try_lock().unwrap()), "42");
    assert!(!d.is_locked());
}

#[test]
fn guard_debug_and_display_format_exactly_like_the_value() {
    #[derive(Debug)]
    struct Point {
        x: i32,
        y: i32,
    }
    let m = Mutex::new(Point { x: 1, y: -2 });
    let guard = m.try_lock().unwrap();
    let value = Point { x: 1, y: -2 };
    assert_eq!(format!("{guard:?}"), format!("{value:?}"));
    assert_eq!(format!("{guard:#?}"), format!("{value:#?}"));
    assert_eq!(guard.x + guard.y, -1);
    drop(guard);

    let m = Mutex::new(1234.5678f64);
    let guard = m.try_lock().unwrap();
    assert_eq!(format!("{guard}"), format!("{}", 1234.5678f64));
    assert_eq!(format!("{guard:>10.2}"), format!("{:>10.2}", 1234.5678f64));
    assert_eq!(format!("{guard:?}"), format!("{:?}", 1234.5678f64));
}

#[test]
fn mutex_debug_shows_the_value_only_when_unlocked() {
    // Debug must not block: run it under a watchdog.
    watchdog(|| {
        let m = Mutex::new(424_242u32);
        let text = format!("{m:?}");
        assert!(text.contains("424242"), "{text}");
        assert!(text.contains("is_locked: false"), "{text}");
        let guard = m.try_lock().unwrap();
        let text = format!("{m:?}");
        assert!(!text.contains("424242"), "value shown while locked: {text}");
        assert!(text.contains("is_locked: true"), "{text}");
        // Debug does not block, also not with a queued waiter.
        let mut waiter = pin!(m.lock());
        assert_pending(waiter.as_mut(), &noop_waker(), "waiter");
        let text = format!("{m:?}");
        assert!(text.contains("is_locked: true"), "{text}");
        drop(guard);
        let text = format!("{m:?}");
        assert!(
            !text.contains("424242"),
            "owned by the granted waiter: {text}"
        );
        drop(expect_ready(waiter.as_mut(), &noop_waker(), "waiter"));
        assert!(format!("{m:?}").contains("424242"));
    });
}

#[test]
fn futures_and_guards_implement_debug() {
    let m = Arc::new(Mutex::new(1u8));
    assert!(!format!("{:?}", m.lock()).is_empty());
    #[cfg(feature = "alloc")]
    {
        assert!(!format!("{:?}", Arc::clone(&m).lock_owned()).is_empty());
        let owned = m.try_lock_owned().unwrap();
        assert_eq!(format!("{owned:?}"), "1");
        assert_eq!(format!("{owned}"), "1");
    }
}

#[test]
#[should_panic(expected = "polled after")]
fn polling_a_completed_lock_future_panics() {
    let m = Mutex::new(0);
    let waker = noop_waker();
    let mut fut = pin!(m.lock());
    let _guard = expect_ready(fut.as_mut(), &waker, "first poll");
    let _ = poll_once(fut.as_mut(), &waker);
}

// ---------------------------------------------------------------- runtimes

#[test]
fn mutex_grants_in_fifo_order_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        // Fewer under Miri, whose interpreter is about 100x slower.
        const N: usize = common::iterations(32, 8);
        let m = Arc::new(Mutex::new(Vec::new()));
        let queued = Arc::new(AtomicUsize::new(0));
        let guard = m.try_lock().unwrap();
        let mut tasks = Vec::new();
        for i in 0..N {
            let (m2, q) = (Arc::clone(&m), Arc::clone(&queued));
            tasks.push(rt.spawn(async move {
                // Owned waiters join the same line as borrowed ones.
                #[cfg(feature = "alloc")]
                if i % 2 == 1 {
                    report_queued(m2.lock_owned(), &q).await.push(i);
                    return;
                }
                report_queued(m2.lock(), &q).await.push(i);
            }));
            rt.wait_until("the task is queued", || {
                queued.load(Ordering::SeqCst) == i + 1
            })
            .await;
        }
        drop(guard);
        for task in tasks {
            task.await;
        }
        assert_eq!(*m.lock().await, (0..N).collect::<Vec<_>>());
    });
}

#[test]
fn mutex_guard_held_across_await_excludes_other_tasks() {
    on_all_runtimes(|rt| async move {
        // Fewer under Miri, whose interpreter is about 100x slower.
        const TASKS: usize = common::iterations(8, 4);
        const ROUNDS: usize = common::iterations(50, 10);
        let m = Arc::new(Mutex::new(0usize));
        let mut tasks = Vec::new();
        for _ in 0..TASKS {
            let m = Arc::clone(&m);
            tasks.push(rt.spawn(async move {
                for _ in 0..ROUNDS {
                    let mut guard = m.lock().await;
                    let seen = *guard;
                    rt.yield_now().await;
                    *guard = seen + 1;
                }
            }));
        }
        for task in tasks {
            task.await;
        }
        assert_eq!(*m.lock().await, TASKS * ROUNDS, "an update was lost");
        assert!(!m.is_locked());
    });
}
