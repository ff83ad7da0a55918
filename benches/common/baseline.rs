//! The event-listener baseline: a mutex and a semaphore made of an atomic
//! for the fast path and an `event_listener::Event` to park the losers. This
//! is the design async-lock uses, cut to the bone: a woken waiter retries
//! and may lose to a newcomer (barging), and each wait allocates a listener.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use event_listener::{Event, Listener};

/// Runs `$try` until it returns `Some`, waiting with `$wait` on `$event`
/// in between. Listening before the second try means a release between the
/// two tries is never missed.
macro_rules! wait_until {
    ($event:expr, $try:expr, |$listener:ident| $wait:expr) => {
        loop {
            if let Some(done) = $try {
                break done;
            }
            let $listener = $event.listen();
            if let Some(done) = $try {
                break done;
            }
            $wait;
        }
    };
}

pub struct Mutex<T> {
    locked: AtomicBool,
    event: Event,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and the `locked` flag
// lets one guard exist at a time.
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            event: Event::new(),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| MutexGuard(self))
    }

    pub async fn lock(&self) -> MutexGuard<'_, T> {
        wait_until!(self.event, self.try_lock(), |listener| listener.await)
    }

    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        wait_until!(self.event, self.try_lock(), |listener| listener.wait())
    }
}

pub struct MutexGuard<'a, T>(&'a Mutex<T>);

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.0.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.0.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
        self.0.event.notify(1);
    }
}

pub struct Semaphore {
    permits: AtomicUsize,
    event: Event,
}

impl Semaphore {
    pub const fn new(permits: usize) -> Self {
        Self {
            permits: AtomicUsize::new(permits),
            event: Event::new(),
        }
    }

    #[inline]
    pub fn try_acquire_many(&self, n: usize) -> Option<Permit<'_>> {
        let mut cur = self.permits.load(Ordering::Relaxed);
        while cur >= n {
            match self.permits.compare_exchange_weak(
                cur,
                cur - n,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Permit { sem: self, n }),
                Err(actual) => cur = actual,
            }
        }
        None
    }

    pub async fn acquire_many(&self, n: usize) -> Permit<'_> {
        wait_until!(self.event, self.try_acquire_many(n), |listener| listener
            .await)
    }

    pub async fn acquire(&self) -> Permit<'_> {
        self.acquire_many(1).await
    }

    pub fn available_permits(&self) -> usize {
        self.permits.load(Ordering::Relaxed)
    }
}

pub struct Permit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.sem.permits.fetch_add(self.n, Ordering::Release);
        // Make sure `n` listeners are notified: one per returned permit.
        self.sem.event.notify(self.n);
    }
}
