//! No allocation per wait: a contended acquire / wait / release cycle never
//! touches the heap, for every primitive. A counting global allocator counts the allocations made
//! by the measuring thread while its counting flag is on.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]
// `diagnostics` records every acquire in a registry that allocates: the
// promise holds with the feature off, as it is by default.
#![cfg(not(feature = "diagnostics"))]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::thread;
use std::time::{Duration, Instant};

use fairsync::{
    Barrier, ClosableSemaphore, Condvar, Event, Lock, Mutex, RwLock, RwLockUpgradableReadGuard,
    Semaphore,
};
#[cfg(feature = "alloc")]
use fairsync::{OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard};

struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns how many allocations this thread made meanwhile.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let result = f();
    COUNTING.with(|on| on.set(false));
    (result, ALLOCATIONS.with(|n| n.get()))
}

/// A waker that counts wakes in a static counter; cloning it allocates
/// nothing.
fn static_waker(counter: &'static AtomicUsize) -> Waker {
    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn wake(data: *const ()) {
        // SAFETY: `data` always comes from a `&'static AtomicUsize`.
        unsafe { &*(data as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
    }
    fn drop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);
    let raw = RawWaker::new(counter as *const AtomicUsize as *const (), &VTABLE);
    // SAFETY: the vtable functions uphold the RawWaker contract: the data
    // pointer is 'static and needs no clean-up.
    unsafe { Waker::from_raw(raw) }
}

fn poll<F: Future>(fut: std::pin::Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

#[test]
fn contended_semaphore_cycle_does_not_allocate() {
    static WAKES: AtomicUsize = AtomicUsize::new(0);
    let waker = static_waker(&WAKES);
    let sem = Arc::new(Semaphore::new(1));
    let (wakes, count) = allocations_in(|| {
        let held = sem.try_acquire().unwrap();
        let mut waiter = pin!(sem.acquire());
        assert!(poll(waiter.as_mut(), &waker).is_pending());
        // Owned where available, queued beside borrowed ones; a borrowed
        // stand-in keeps the cycle the same without alloc.
        #[cfg(feature = "alloc")]
        let mut behind = pin!(Arc::clone(&sem).acquire_owned());
        #[cfg(not(feature = "alloc"))]
        let mut behind = pin!(sem.acquire());
        assert!(poll(behind.as_mut(), &waker).is_pending());
        // Re-poll with a clone: the stored waker is kept or replaced.
        assert!(poll(behind.as_mut(), &waker.clone()).is_pending());
        drop(held);
        let Poll::Ready(permit) = poll(waiter.as_mut(), &waker) else {
            panic!("granted")
        };
        drop(permit);
        let Poll::Ready(behind_permit) = poll(behind.as_mut(), &waker) else {
            panic!("granted")
        };
        drop(behind_permit);
        WAKES.load(Ordering::SeqCst)
    });
    assert_eq!(count, 0, "a contended acquire/release cycle allocated");
    assert_eq!(wakes, 2);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn contended_closable_semaphore_cycle_and_close_do_not_allocate() {
    static WAKES: AtomicUsize = AtomicUsize::new(0);
    let waker = static_waker(&WAKES);
    let sem = Arc::new(ClosableSemaphore::new(2));
    let (wakes, count) = allocations_in(|| {
        let held = sem.try_acquire_many(2).unwrap();
        let mut granted = pin!(sem.acquire());
        assert!(poll(granted.as_mut(), &waker).is_pending());
        // Owned where available, queued beside borrowed ones; a borrowed
        // stand-in keeps the cycle the same without alloc.
        #[cfg(feature = "alloc")]
        let mut weighted = pin!(sem.acquire_many_owned(2));
        #[cfg(not(feature = "alloc"))]
        let mut weighted = pin!(sem.acquire_many(2));
        assert!(poll(weighted.as_mut(), &waker).is_pending());
        let mut behind = pin!(sem.acquire());
        assert!(poll(behind.as_mut(), &waker).is_pending());
        drop(held); // one to `granted`, one collected by `weighted`
        let Poll::Ready(Ok(permit)) = poll(granted.as_mut(), &waker) else {
            panic!("granted")
        };
        sem.close(); // fails `weighted` and `behind`
        assert!(matches!(
            poll(weighted.as_mut(), &waker),
            Poll::Ready(Err(_))
        ));
        assert!(matches!(poll(behind.as_mut(), &waker), Poll::Ready(Err(_))));
        drop(permit);
        WAKES.load(Ordering::SeqCst)
    });
    assert_eq!(count, 0, "a contended closable cycle or close allocated");
    assert_eq!(wakes, 3);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn weighted_acquire_with_partial_grants_and_cancellation_does_not_allocate() {
    static WAKES: AtomicUsize = AtomicUsize::new(0);
    let waker = static_waker(&WAKES);
    let sem = Semaphore::new(4);
    let ((), count) = allocations_in(|| {
        let mut held = sem.try_acquire_many(3).unwrap();
        let mut head = pin!(sem.acquire_many(3));
        assert!(poll(head.as_mut(), &waker).is_pending());
        let mut next = pin!(sem.acquire_many(2));
        assert!(poll(next.as_mut(), &waker).is_pending());
        {
            // Pending, then cancelled.
            let mut cancelled = pin!(sem.acquire());
            assert!(poll(cancelled.as_mut(), &waker).is_pending());
        }
        drop(held.split(2).unwrap()); // head complete (1 + 2)
        let Poll::Ready(head_permit) = poll(head.as_mut(), &waker) else {
            panic!("head")
        };
        drop(head_permit); // next is granted 2, 1 returns
        drop(held);
        let Poll::Ready(next_permit) = poll(next.as_mut(), &waker) else {
            panic!("next")
        };
        drop(next_permit);
        {
            // Granted, then dropped before being polled again.
            let hold = sem.try_acquire_many(4).unwrap();
            let mut granted = pin!(sem.acquire_many(4));
            assert!(poll(granted.as_mut(), &waker).is_pending());
            drop(hold);
        }
    });
    assert_eq!(count, 0, "a weighted contended cycle allocated");
    assert_eq!(sem.available_permits(), 4);
}

#[test]
fn contended_lock_and_mutex_cycles_do_not_allocate() {
    static WAKES: AtomicUsize = AtomicUsize::new(0);
    let waker = static_waker(&WAKES);
    let lock = Arc::new(Lock::new());
    let mutex = Arc::new(Mutex::new(0u64));
    let ((), count) = allocations_in(|| {
        let guard = lock.try_acquire().unwrap();
        let mut waiter = pin!(lock.acquire());
        assert!(poll(waiter.as_mut(), &waker).is_pending());
        // Owned where available, queued beside borrowed ones; a borrowed
        // stand-in keeps the cycle the same without alloc.
        #[cfg(feature = "alloc")]
        let mut second_waiter = pin!(Arc::clone(&lock).acquire_owned());
        #[cfg(not(feature = "alloc"))]
        let mut second_waiter = pin!(lock.acquire());
        assert!(poll(second_waiter.as_mut(), &waker).is_pending());
        drop(guard);
        let Poll::Ready(guard) = poll(waiter.as_mut(), &waker) else {
            panic!("lock")
        };
        drop(guard);
        let Poll::Ready(second) = poll(second_waiter.as_mut(), &waker) else {
            panic!("lock")
        };
        drop(second);

        let guard = mutex.try_lock().unwrap();
        let mut waiter = pin!(mutex.lock());
        assert!(poll(waiter.as_mut(), &waker).is_pending());
        #[cfg(feature = "alloc")]
        let mut second_waiter = pin!(Arc::clone(&mutex).lock_owned());
        #[cfg(not(feature = "alloc"))]
        let mut second_waiter = pin!(mutex.lock());
        assert!(poll(second_waiter.as_mut(), &waker).is_pending());
        drop(guard);
        let Poll::Ready(mut guard) = poll(waiter.as_mut(), &waker) else {
            panic!("mutex")
        };
        *guard += 1;
        drop(guard);
        let Poll::Ready(mut second) = poll(second_waiter.as_mut(), &waker) else {
            panic!("mutex")
        };
        *second += 1;
        drop(second);
    });
    assert_eq!(count, 0, "a contended lock/mutex cycle allocated");
    assert!(!lock.is_locked());
    assert_eq!(*mutex.try_lock().unwrap(), 2);
}

/// Starts a helper thread that takes the resource with `take`, waits until
/// `queued` says the main thread is blocked, and then releases it while
/// counting its own allocations. Returns (holding flag, release allocations).
fn release_when_queued<G: Send + 'static>(
    take: impl FnOnce() -> G + Send + 'static,
    queued: impl Fn() -> bool + Send + 'static,
) -> (Arc<AtomicBool>, thread::JoinHandle<usize>) {
    let holding = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&holding);
    let handle = thread::spawn(move || {
        let guard = take();
        flag.store(true, Ordering::SeqCst);
        let start = Instant::now();
        while !queued() {
            assert!(start.elapsed() < Duration::from_secs(10), "never queued");
            thread::yield_now();
        }
        // Give the waiter time to park rather than spin.
        thread::sleep(Duration::from_millis(2));
        let ((), count) = allocations_in(|| drop(guard));
        count
    });
    (holding, handle)
}

fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        thread::yield_now();
    }
}

#[cfg(feature = "std")]
#[test]
fn blocking_acquire_does_not_allocate_after_the_first_call() {
    // A lost wake-up would block forever: fail after a deadline instead.
    common::watchdog(|| {
        let sem = Arc::new(Semaphore::new(2));
        let lock = Arc::new(Lock::new());
        let mutex = Arc::new(Mutex::new(0u32));
        for round in 0..3 {
            // Semaphore: acquire_blocking, acquire_many_blocking, acquire_blocking_timeout.
            for kind in 0..3 {
                let (s1, s2) = (Arc::clone(&sem), Arc::clone(&sem));
                let (holding, helper) = release_when_queued(
                    move || s1.try_acquire_many_owned(2).unwrap(),
                    move || s2.waiters() == 1,
                );
                wait_for(&holding);
                let (permits, count) = allocations_in(|| {
                    let permit = match kind {
                        0 => sem.acquire_blocking(),
                        1 => sem.acquire_many_blocking(2),
                        _ => sem
                            .acquire_blocking_timeout(Duration::from_secs(10))
                            .expect("released"),
                    };
                    permit.permits()
                });
                assert!(permits >= 1);
                let helper_count = helper.join().unwrap();
                if round > 0 {
                    assert_eq!(count, 0, "blocking semaphore acquire #{kind} allocated");
                    assert_eq!(helper_count, 0, "releasing to a blocked thread allocated");
                }
            }

            let (l1, l2) = (Arc::clone(&lock), Arc::clone(&lock));
            let (holding, helper) = release_when_queued(
                move || l1.try_acquire_owned().unwrap(),
                move || {
                    // Lock has no waiter count: wait until the main thread has
                    // had time to queue, which only weakens the check.
                    thread::sleep(Duration::from_millis(5));
                    l2.is_locked()
                },
            );
            wait_for(&holding);
            let ((), count) = allocations_in(|| drop(lock.acquire_blocking()));
            let helper_count = helper.join().unwrap();
            if round > 0 {
                assert_eq!(count, 0, "Lock::acquire_blocking allocated");
                assert_eq!(helper_count, 0);
            }

            let (m1, m2) = (Arc::clone(&mutex), Arc::clone(&mutex));
            let (holding, helper) = release_when_queued(
                move || m1.try_lock_owned().unwrap(),
                move || {
                    thread::sleep(Duration::from_millis(5));
                    m2.is_locked()
                },
            );
            wait_for(&holding);
            let ((), count) = allocations_in(|| *mutex.lock_blocking() += 1);
            let helper_count = helper.join().unwrap();
            if round > 0 {
                assert_eq!(count, 0, "Mutex::lock_blocking allocated");
                assert_eq!(helper_count, 0);
            }
        }
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(*mutex.try_lock().unwrap(), 3);
    });
}

/// Polls `fut` once, expecting it to wait.
#[track_caller]
fn pending<F: Future>(fut: std::pin::Pin<&mut F>, waker: &Waker) {
    assert!(poll(fut, waker).is_pending(), "expected the future to wait");
}

/// Polls `fut` once, expecting it to be done.
#[track_caller]
fn ready<F: Future>(fut: std::pin::Pin<&mut F>, waker: &Waker) -> F::Output {
    match poll(fut, waker) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("expected the future to be done"),
    }
}

/// Runs `cycle` once to warm up (thread-locals, lazily built statics), then
/// again counting allocations.
fn allocations_after_warm_up(mut cycle: impl FnMut()) -> usize {
    cycle();
    let ((), count) = allocations_in(cycle);
    count
}

#[test]
fn contended_rwlock_cycles_do_not_allocate() {
    static WAKES: AtomicUsize = AtomicUsize::new(0);
    let waker = static_waker(&WAKES);
    let lock = Arc::new(RwLock::new(0u64));
    let count = allocations_after_warm_up(|| {
        // Readers and writers queued behind a writer, owned ones too.
        let writer = lock.try_write().unwrap();
        let mut read = pin!(lock.read());
        pending(read.as_mut(), &waker);
        // Owned where available, queued beside borrowed ones; a borrowed
        // stand-in keeps the cycle the same without alloc.
        #[cfg(feature = "alloc")]
        let mut second_read = pin!(Arc::clone(&lock).read_owned());
        #[cfg(not(feature = "alloc"))]
        let mut second_read = pin!(lock.read());
        pending(second_read.as_mut(), &waker);
        let mut write = pin!(lock.write());
        pending(write.as_mut(), &waker);
        #[cfg(feature = "alloc")]
        let mut second_write = pin!(Arc::clone(&lock).write_owned());
        #[cfg(not(feature = "alloc"))]
        let mut second_write = pin!(lock.write());
        pending(second_write.as_mut(), &waker);
        // Re-poll with a clone: the stored waker is kept or replaced.
        pending(write.as_mut(), &waker.clone());
        drop(writer);
        let r = ready(read.as_mut(), &waker);
        let second_r = ready(second_read.as_mut(), &waker);
        drop((r, second_r));
        *ready(write.as_mut(), &waker) += 1;
        *ready(second_write.as_mut(), &waker) += 1;

        // An upgrade waiting for a reader, ahead of a queued writer, and a
        // queued upgradable read.
        let upgradable = lock.try_upgradable_read().unwrap();
        let reader = lock.try_read().unwrap();
        let mut writer = pin!(lock.write());
        pending(writer.as_mut(), &waker);
        let mut upgradable_read = pin!(lock.upgradable_read());
        pending(upgradable_read.as_mut(), &waker);
        let mut upgrade = pin!(RwLockUpgradableReadGuard::upgrade(upgradable));
        pending(upgrade.as_mut(), &waker);
        drop(reader);
        *ready(upgrade.as_mut(), &waker) += 1;
        *ready(writer.as_mut(), &waker) += 1;
        drop(ready(upgradable_read.as_mut(), &waker));

        // A pending upgrade cancelled.
        let upgradable = lock.try_upgradable_read().unwrap();
        let reader = lock.try_read().unwrap();
        {
            let mut upgrade = pin!(RwLockUpgradableReadGuard::upgrade(upgradable));
            pending(upgrade.as_mut(), &waker);
        }
        drop(reader);
    });
    assert_eq!(count, 0, "a contended RwLock cycle allocated");
    assert_eq!(*lock.try_read().unwrap(), 8);
}

#[cfg(feature = "alloc")]
#[test]
fn contended_owned_rwlock_cycles_do_not_allocate() {
    static WAKES: AtomicUsize = AtomicUsize::new(0);
    let waker = static_waker(&WAKES);
    let lock = Arc::new(RwLock::new(0u64));
    let count = allocations_after_warm_up(|| {
        // An owned upgradable read queued behind a writer, a writer behind it.
        let writer = lock.try_write_owned().unwrap();
        let mut upgradable = pin!(lock.upgradable_read_owned());
        pending(upgradable.as_mut(), &waker);
        let mut write = pin!(lock.write_owned());
        pending(write.as_mut(), &waker);
        // Downgrading the writer admits the upgradable read.
        let read = OwnedRwLockWriteGuard::downgrade(writer);
        let upgradable = ready(upgradable.as_mut(), &waker);
        // Its upgrade waits for the reader, ahead of the queued writer.
        let mut upgrade = pin!(OwnedRwLockUpgradableReadGuard::upgrade(upgradable));
        pending(upgrade.as_mut(), &waker);
        drop(read);
        let mut upgraded = ready(upgrade.as_mut(), &waker);
        *upgraded += 1;
        let upgradable = OwnedRwLockWriteGuard::downgrade_to_upgradable(upgraded);
        let read = OwnedRwLockUpgradableReadGuard::downgrade(upgradable);
        let read = OwnedRwLockReadGuard::map(read, |v| v);
        drop(read);
        let mut mapped = OwnedRwLockWriteGuard::map(ready(write.as_mut(), &waker), |v| v);
        *mapped += 1;
        drop(mapped);

        // A pending owned upgrade cancelled.
        let upgradable = lock.try_upgradable_read_owned().unwrap();
        let reader = lock.try_read().unwrap();
        {
            let mut upgrade = pin!(OwnedRwLockUpgradableReadGuard::upgrade(upgradable));
            pending(upgrade.as_mut(), &waker);
        }
        drop(reader);
    });
    assert_eq!(count, 0, "a contended owned RwLock cycle allocated");
    assert_eq!(*lock.try_read().unwrap(), 4);
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[cfg(feature = "std")]
#[test]
fn owned_blocking_waits_do_not_allocate_after_the_first_call() {
    common::watchdog(|| {
        let sem = Arc::new(Semaphore::new(2));
        let lock = Arc::new(Lock::new());
        let mutex = Arc::new(Mutex::new(0u32));
        let rwlock = Arc::new(RwLock::new(0u32));
        for round in 0..3 {
            let mut counts = Vec::with_capacity(16);
            for kind in 0..2 {
                let (s1, s2) = (Arc::clone(&sem), Arc::clone(&sem));
                let (holding, helper) = release_when_queued(
                    move || s1.try_acquire_many_owned(2).unwrap(),
                    move || s2.waiters() == 1,
                );
                wait_for(&holding);
                let ((), count) = allocations_in(|| match kind {
                    0 => drop(sem.acquire_owned_blocking()),
                    _ => drop(sem.acquire_many_owned_blocking(2)),
                });
                counts.push(("Semaphore owned blocking acquire", count));
                counts.push(("releasing to it", helper.join().unwrap()));
            }

            let (l1, l2) = (Arc::clone(&lock), Arc::clone(&lock));
            let (holding, helper) = release_when_queued(
                move || l1.try_acquire_owned().unwrap(),
                move || l2.waiters() == 1,
            );
            wait_for(&holding);
            let ((), count) = allocations_in(|| drop(lock.acquire_owned_blocking()));
            counts.push(("Lock::acquire_owned_blocking", count));
            counts.push(("releasing to it", helper.join().unwrap()));

            let (m1, m2) = (Arc::clone(&mutex), Arc::clone(&mutex));
            let (holding, helper) = release_when_queued(
                move || m1.try_lock_owned().unwrap(),
                move || m2.waiters() == 1,
            );
            wait_for(&holding);
            let ((), count) = allocations_in(|| *mutex.lock_owned_blocking() += 1);
            counts.push(("Mutex::lock_owned_blocking", count));
            counts.push(("releasing to it", helper.join().unwrap()));

            for kind in 0..4 {
                let (r1, r2) = (Arc::clone(&rwlock), Arc::clone(&rwlock));
                let (holding, helper) = if kind < 3 {
                    release_when_queued(
                        move || Ok::<_, OwnedRwLockReadGuard<u32>>(r1.try_write_owned().unwrap()),
                        move || r2.waiters() == 1,
                    )
                } else {
                    // A reader that the upgrade waits for.
                    release_when_queued(
                        move || Err::<OwnedRwLockWriteGuard<u32>, _>(r1.try_read_owned().unwrap()),
                        move || r2.waiters() == 1,
                    )
                };
                let upgradable = (kind == 3).then(|| {
                    wait_for(&holding);
                    rwlock.try_upgradable_read_owned().unwrap()
                });
                wait_for(&holding);
                let ((), count) = allocations_in(|| match kind {
                    0 => drop(rwlock.read_owned_blocking()),
                    1 => *rwlock.write_owned_blocking() += 1,
                    2 => drop(rwlock.upgradable_read_owned_blocking()),
                    _ => {
                        let upgradable = upgradable.expect("taken above");
                        *OwnedRwLockUpgradableReadGuard::upgrade_blocking(upgradable) += 1;
                    }
                });
                counts.push(("RwLock owned blocking wait", count));
                counts.push(("releasing to it", helper.join().unwrap()));
            }
            if round > 0 {
                for (what, count) in counts {
                    assert_eq!(count, 0, "{what} allocated");
                }
            }
        }
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(*mutex.try_lock().unwrap(), 3);
        assert_eq!(*rwlock.try_read().unwrap(), 6);
    });
}

#[test]
fn condvar_wait_and_notify_do_not_allocate() {
    static WAKES: AtomicUsize = AtomicUsize::new(0);
    let waker = static_waker(&WAKES);
    let mutex = Mutex::new(0u32);
    let condvar = Condvar::new();
    let count = allocations_after_warm_up(|| {
        let mut a = pin!(condvar.wait(mutex.try_lock().unwrap()));
        pending(a.as_mut(), &waker);
        let mut b = pin!(condvar.wait_while(mutex.try_lock().unwrap(), |v| *v % 2 == 0));
        pending(b.as_mut(), &waker);
        {
            // Notified, then cancelled: the notification passes on.
            let mut c = pin!(condvar.wait(mutex.try_lock().unwrap()));
            pending(c.as_mut(), &waker);
            pending(c.as_mut(), &waker.clone());
            let holder = mutex.try_lock().unwrap();
            condvar.notify_one(); // a
            pending(a.as_mut(), &waker); // re-locks behind the holder
            drop(holder);
            *ready(a.as_mut(), &waker) += 1;
            condvar.notify_one(); // b: condition now false
        }
        *ready(b.as_mut(), &waker) += 1;
        condvar.notify_all();
        #[cfg(feature = "std")]
        {
            let (guard, _) =
                condvar.wait_blocking_timeout(mutex.try_lock().unwrap(), Duration::ZERO);
            drop(guard);
        }
    });
    assert_eq!(count, 0, "a contended Condvar cycle allocated");
    assert_eq!(*mutex.try_lock().unwrap(), 4);
}

#[test]
fn barrier_and_event_waits_do_not_allocate() {
    static WAKES: AtomicUsize = AtomicUsize::new(0);
    let waker = static_waker(&WAKES);
    let barrier = Barrier::new(3);
    let event = Event::new();
    let count = allocations_after_warm_up(|| {
        let mut a = pin!(barrier.wait());
        pending(a.as_mut(), &waker);
        {
            let mut cancelled = pin!(barrier.wait());
            pending(cancelled.as_mut(), &waker);
        }
        let mut b = pin!(barrier.wait());
        pending(b.as_mut(), &waker);
        let mut c = pin!(barrier.wait());
        assert!(ready(c.as_mut(), &waker).is_leader());
        assert!(!ready(a.as_mut(), &waker).is_leader());
        assert!(!ready(b.as_mut(), &waker).is_leader());

        let mut d = pin!(event.wait());
        pending(d.as_mut(), &waker);
        {
            let mut cancelled = pin!(event.wait());
            pending(cancelled.as_mut(), &waker);
        }
        let mut e = pin!(event.wait());
        pending(e.as_mut(), &waker);
        event.set();
        event.clear();
        ready(d.as_mut(), &waker);
        ready(e.as_mut(), &waker);
        event.set();
        let mut f = pin!(event.wait());
        ready(f.as_mut(), &waker);
        event.clear();
    });
    assert_eq!(count, 0, "a contended Barrier or Event cycle allocated");
}

/// Runs its closure when dropped: the release action of a helper thread.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// How many wait, read from a `Debug` output with a `name: N` field.
fn debug_count(text: &str, name: &str) -> usize {
    let rest = text.split(name).nth(1).expect("the field is shown");
    rest.trim_start_matches(": ")
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

#[cfg(feature = "std")]
#[test]
fn blocking_waits_of_the_rest_of_the_family_do_not_allocate_after_the_first_call() {
    // A lost wake-up would block forever: fail after a deadline instead.
    common::watchdog(|| {
        let lock = Arc::new(RwLock::new(0u32));
        let shared = Arc::new((Mutex::new(0u32), Condvar::new()));
        let barrier = Arc::new(Barrier::new(2));
        let event = Arc::new(Event::new());
        for round in 0..3 {
            // RwLock: read_blocking and write_blocking behind a writer.
            for kind in 0..2 {
                let (l1, l2) = (Arc::clone(&lock), Arc::clone(&lock));
                let (holding, helper) = release_when_queued(
                    move || l1.try_write_owned().unwrap(),
                    move || l2.waiters() == 1,
                );
                wait_for(&holding);
                let ((), count) = allocations_in(|| match kind {
                    0 => drop(lock.read_blocking()),
                    _ => *lock.write_blocking() += 1,
                });
                let helper_count = helper.join().unwrap();
                if round > 0 {
                    assert_eq!(count, 0, "blocking RwLock wait #{kind} allocated");
                    assert_eq!(helper_count, 0, "releasing to a blocked thread allocated");
                }
            }

            // Condvar: wait_blocking, notified by the helper.
            let (s1, s2) = (Arc::clone(&shared), Arc::clone(&shared));
            let (holding, helper) = release_when_queued(
                move || OnDrop(move || s1.1.notify_one()),
                move || debug_count(&format!("{:?}", s2.1), "waiters") == 1,
            );
            wait_for(&holding);
            let (mutex, condvar) = &*shared;
            let ((), count) = allocations_in(|| {
                let guard = mutex.lock_blocking();
                *condvar.wait_blocking(guard) += 1;
            });
            let helper_count = helper.join().unwrap();
            if round > 0 {
                assert_eq!(count, 0, "Condvar::wait_blocking allocated");
                assert_eq!(helper_count, 0, "notify_one to a blocked thread allocated");
            }

            // Barrier: the helper arrives second.
            let (b1, b2) = (Arc::clone(&barrier), Arc::clone(&barrier));
            let (holding, helper) = release_when_queued(
                move || {
                    // The helper's first blocking call caches its thread's
                    // waker, which is allowed to allocate once.
                    Barrier::new(1).wait_blocking();
                    OnDrop(move || {
                        b1.wait_blocking();
                    })
                },
                move || debug_count(&format!("{b2:?}"), "waiting") == 1,
            );
            wait_for(&holding);
            let (result, count) = allocations_in(|| barrier.wait_blocking());
            assert!(!result.is_leader(), "the helper arrived last");
            let helper_count = helper.join().unwrap();
            if round > 0 {
                assert_eq!(count, 0, "Barrier::wait_blocking allocated");
                assert_eq!(helper_count, 0, "tripping the barrier allocated");
            }

            // Event: set by the helper.
            let (e1, e2) = (Arc::clone(&event), Arc::clone(&event));
            let (holding, helper) = release_when_queued(
                move || OnDrop(move || e1.set()),
                move || debug_count(&format!("{e2:?}"), "waiters") == 1,
            );
            wait_for(&holding);
            let ((), count) = allocations_in(|| event.wait_blocking());
            event.clear();
            let helper_count = helper.join().unwrap();
            if round > 0 {
                assert_eq!(count, 0, "Event::wait_blocking allocated");
                assert_eq!(helper_count, 0, "Event::set allocated");
            }
        }
        assert_eq!(*lock.try_read().unwrap(), 3);
        assert_eq!(*shared.0.try_lock().unwrap(), 3);
    });
}
