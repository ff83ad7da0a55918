//! No allocation per wait: a contended acquire / wait / release cycle never
//! touches the heap. A counting global allocator counts the allocations made
//! by the measuring thread while its counting flag is on.

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

use fairsync::{Lock, Mutex, Semaphore};

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
        let mut behind = pin!(Arc::clone(&sem).acquire_owned());
        assert!(poll(behind.as_mut(), &waker).is_pending());
        // Re-poll with a clone: the stored waker is kept or replaced.
        assert!(poll(behind.as_mut(), &waker.clone()).is_pending());
        drop(held);
        let Poll::Ready(permit) = poll(waiter.as_mut(), &waker) else {
            panic!("granted")
        };
        drop(permit);
        let Poll::Ready(owned) = poll(behind.as_mut(), &waker) else {
            panic!("granted")
        };
        drop(owned);
        WAKES.load(Ordering::SeqCst)
    });
    assert_eq!(count, 0, "a contended acquire/release cycle allocated");
    assert_eq!(wakes, 2);
    assert_eq!(sem.available_permits(), 1);
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
        let mut owned_waiter = pin!(Arc::clone(&lock).acquire_owned());
        assert!(poll(owned_waiter.as_mut(), &waker).is_pending());
        drop(guard);
        let Poll::Ready(guard) = poll(waiter.as_mut(), &waker) else {
            panic!("lock")
        };
        drop(guard);
        let Poll::Ready(owned) = poll(owned_waiter.as_mut(), &waker) else {
            panic!("lock")
        };
        drop(owned);

        let guard = mutex.try_lock().unwrap();
        let mut waiter = pin!(mutex.lock());
        assert!(poll(waiter.as_mut(), &waker).is_pending());
        let mut owned_waiter = pin!(Arc::clone(&mutex).lock_owned());
        assert!(poll(owned_waiter.as_mut(), &waker).is_pending());
        drop(guard);
        let Poll::Ready(mut guard) = poll(waiter.as_mut(), &waker) else {
            panic!("mutex")
        };
        *guard += 1;
        drop(guard);
        let Poll::Ready(mut owned) = poll(owned_waiter.as_mut(), &waker) else {
            panic!("mutex")
        };
        *owned += 1;
        drop(owned);
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

#[test]
fn blocking_acquire_does_not_allocate_after_the_first_call() {
    // A lost wake-up would block forever: fail after a deadline instead.
    common::watchdog(|| {
        let sem = Arc::new(Semaphore::new(2));
        let lock = Arc::new(Lock::new());
        let mutex = Arc::new(Mutex::new(0u32));
        for round in 0..3 {
            // Semaphore: acquire_blocking, acquire_many_blocking, acquire_timeout.
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
                            .acquire_timeout(Duration::from_secs(10))
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
