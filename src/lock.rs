//! A lock that guards no data: a fair, async critical section.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
#[cfg(feature = "std")]
use core::time::Duration;

#[cfg(feature = "alloc")]
use alloc::sync::Arc;
use futures_core::future::FusedFuture;
use pin_project_lite::pin_project;

#[cfg(feature = "std")]
use crate::blocking::{block_on, deadline};
use crate::queue::{HasQueue, RawAcquire, RawSemaphore};
#[cfg(feature = "std")]
use crate::semaphore::wait_forever;
use crate::track::Held;

/// A lock with no data inside, like Python's `threading.Lock`: it marks a
/// critical section. Use [`Mutex`](crate::Mutex) when the section guards a
/// value.
///
/// Ownership passes in strict FIFO order straight from the releasing guard
/// to the oldest waiter, so nobody starves. Uncontended, acquiring and
/// releasing are one atomic compare-and-swap each.
///
/// # Examples
///
/// ```
/// use fairsync::Lock;
///
/// static LOG: Lock = Lock::new();
///
/// async fn write_lines(lines: &[&str]) {
///     let _guard = LOG.acquire().await;
///     for line in lines {
///         // Lines of one call are never interleaved with another's.
///         let _ = line;
///     }
/// }
///
/// # futures::executor::block_on(async {
/// futures::join!(write_lines(&["a", "b"]), write_lines(&["c"]));
/// assert!(!LOG.is_locked());
/// # });
/// ```
pub struct Lock {
    raw: RawSemaphore,
}

impl HasQueue for Lock {
    #[inline]
    fn queue(&self) -> &RawSemaphore {
        &self.raw
    }

    #[cfg(feature = "diagnostics")]
    fn info(&self) -> crate::track::Info {
        crate::track::Info::exclusive("Lock")
    }
}

impl Lock {
    crate::sync::const_fn! {
        /// Creates an unlocked lock. `const`, so a lock can be a `static`.
        ///
        /// ```
        /// use fairsync::Lock;
        ///
        /// static LOCK: Lock = Lock::new();
        /// assert!(!LOCK.is_locked());
        /// assert_eq!(LOCK.waiters(), 0);
        /// ```
        #[doc(alias = "const_new")]
        pub const fn new() -> Lock {
            Lock {
                raw: RawSemaphore::new(1),
            }
        }
    }

    /// Waits until the lock is free and this caller is first in line, then
    /// takes it. Cancel safe: dropping the future at any point passes the
    /// lock on if it had already been handed to this caller.
    ///
    /// Waiters get the lock in the order they first polled:
    ///
    /// ```
    /// use fairsync::Lock;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Lock::new();
    /// let held = lock.acquire().await;
    /// let mut first = pin!(lock.acquire());
    /// let mut second = pin!(lock.acquire());
    /// assert!(poll!(first.as_mut()).is_pending());
    /// assert!(poll!(second.as_mut()).is_pending());
    ///
    /// drop(held); // handed to `first`, not to whoever polls next
    /// assert!(poll!(second.as_mut()).is_pending());
    /// drop(first.await);
    /// assert!(poll!(second.as_mut()).is_ready());
    /// # });
    /// ```
    #[doc(alias = "lock")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire(&self) -> LockAcquire<'_> {
        LockAcquire {
            inner: RawAcquire::new(self, 1),
        }
    }

    /// Takes the lock if it is free and nobody is waiting for it.
    ///
    /// It never overtakes a waiter: once a releasing guard has handed the
    /// lock to a queued caller, `try_acquire` fails even though that caller
    /// has not run yet.
    ///
    /// ```
    /// use fairsync::Lock;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Lock::new();
    /// let held = lock.try_acquire().unwrap();
    /// let mut waiting = pin!(lock.acquire());
    /// assert!(poll!(waiting.as_mut()).is_pending());
    ///
    /// drop(held); // the lock now belongs to `waiting`
    /// assert!(lock.try_acquire().is_none());
    /// drop(waiting.await);
    /// assert!(lock.try_acquire().is_some());
    /// # });
    /// ```
    #[doc(alias = "try_lock")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        if !self.raw.try_acquire(1) {
            return None;
        }
        Some(LockGuard {
            lock: self,
            held: Held::tried(self, 1),
        })
    }

    /// Blocks the current thread until it holds the lock, queueing in the
    /// same FIFO line as async waiters.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run the
    /// holder is a deadlock; on a multi-threaded one it takes a worker away
    /// until the lock is handed over. It never panics, also not inside a
    /// runtime (tokio's `blocking_lock` does). From async code use
    /// [`acquire`](Self::acquire).
    ///
    /// ```
    /// use fairsync::Lock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(Lock::new());
    /// let held = lock.acquire_blocking();
    /// let thread = {
    ///     let lock = Arc::clone(&lock);
    ///     std::thread::spawn(move || drop(lock.acquire_blocking()))
    /// };
    /// while lock.waiters() == 0 {
    ///     std::thread::yield_now(); // until the thread has queued
    /// }
    /// drop(held); // hands the lock to the waiting thread
    /// thread.join().unwrap();
    /// assert!(!lock.is_locked());
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias("blocking_lock", "lock_blocking"))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_blocking(&self) -> LockGuard<'_> {
        if self.raw.try_acquire(1) {
            return LockGuard {
                lock: self,
                held: Held::blocking(self, 1),
            };
        }
        wait_forever(self.acquire())
    }

    /// Blocks the current thread for at most `timeout` waiting for the
    /// lock. Returns `None` if the time ran out; the caller then no longer
    /// waits. `Duration::ZERO` behaves like [`try_acquire`](Self::try_acquire);
    /// `Duration::MAX` waits without a deadline.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking), and
    /// never panics. On a single-threaded runtime the task holding the lock
    /// cannot run meanwhile, so the call waits out all of `timeout` and
    /// fails, however soon the holder would have released. From async code,
    /// run [`acquire`](Self::acquire) under your runtime's timeout instead:
    /// dropping the timed-out future is safe.
    ///
    /// ```
    /// use fairsync::Lock;
    /// use std::time::Duration;
    ///
    /// let lock = Lock::new();
    /// let held = lock.try_acquire().unwrap();
    /// assert!(lock.acquire_blocking_timeout(Duration::from_millis(1)).is_none());
    /// assert_eq!(lock.waiters(), 0); // the timed-out caller left the line
    /// drop(held);
    /// assert!(lock.acquire_blocking_timeout(Duration::ZERO).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "try_lock_for")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_blocking_timeout(&self, timeout: Duration) -> Option<LockGuard<'_>> {
        if self.raw.try_acquire(1) {
            return Some(LockGuard {
                lock: self,
                held: Held::blocking(self, 1),
            });
        }
        if timeout.is_zero() {
            return None;
        }
        block_on(self.acquire(), deadline(timeout))
    }

    /// Like [`acquire`](Self::acquire), holding the lock by `Arc` so the
    /// guard has no lifetime and can move into a spawned task. The future
    /// keeps its own clone of the `Arc`.
    ///
    /// ```
    /// use fairsync::Lock;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(Lock::new());
    /// let guard = lock.acquire_owned().await;
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(!lock.is_locked());
    /// # });
    /// ```
    #[cfg(feature = "alloc")]
    #[doc(alias("acquire_arc", "lock_arc", "lock_owned"))]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_owned(self: &Arc<Self>) -> LockAcquireOwned {
        LockAcquireOwned {
            inner: RawAcquire::new(Arc::clone(self), 1),
        }
    }

    /// Like [`try_acquire`](Self::try_acquire), holding the lock by `Arc`.
    ///
    /// ```
    /// use fairsync::{Lock, OwnedLockGuard};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(Lock::new());
    /// let guard = lock.try_acquire_owned().unwrap();
    /// assert!(lock.try_acquire_owned().is_none());
    /// assert!(Arc::ptr_eq(OwnedLockGuard::lock(&guard), &lock));
    /// ```
    #[cfg(feature = "alloc")]
    #[doc(alias("try_acquire_arc", "try_lock_arc", "try_lock_owned"))]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedLockGuard> {
        if !self.raw.try_acquire(1) {
            return None;
        }
        Some(OwnedLockGuard {
            lock: Arc::clone(self),
            held: Held::tried(&**self, 1),
        })
    }

    /// Like [`acquire_blocking`](Self::acquire_blocking), holding the lock
    /// by `Arc` so the guard can move to another thread.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking): not
    /// on an executor thread, and it never panics. From async code use
    /// [`acquire_owned`](Self::acquire_owned).
    ///
    /// ```
    /// use fairsync::Lock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(Lock::new());
    /// let guard = lock.acquire_owned_blocking();
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(!lock.is_locked());
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias("acquire_arc_blocking", "lock_arc_blocking", "blocking_lock_owned"))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_owned_blocking(self: &Arc<Self>) -> OwnedLockGuard {
        if self.raw.try_acquire(1) {
            return OwnedLockGuard {
                lock: Arc::clone(self),
                held: Held::blocking(&**self, 1),
            };
        }
        wait_forever(self.acquire_owned())
    }

    /// Whether someone holds the lock. Stays `true` while ownership passes
    /// from a releasing guard to a waiter.
    ///
    /// ```
    /// use fairsync::Lock;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Lock::new();
    /// let held = lock.acquire().await;
    /// {
    ///     let mut waiting = pin!(lock.acquire());
    ///     assert!(poll!(waiting.as_mut()).is_pending());
    ///     drop(held);
    ///     assert!(lock.is_locked()); // handed to `waiting`, not free
    /// } // `waiting` is cancelled and passes the lock on: nobody is left
    /// assert!(!lock.is_locked());
    /// # });
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.available() == 0
    }

    /// Callers (async and blocking) queued for the lock and not yet
    /// handed it. A cancelled waiter no longer counts.
    ///
    /// ```
    /// use fairsync::Lock;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Lock::new();
    /// let held = lock.acquire().await;
    /// {
    ///     let mut waiting = pin!(lock.acquire());
    ///     assert!(poll!(waiting.as_mut()).is_pending());
    ///     assert_eq!(lock.waiters(), 1);
    /// } // cancelled
    /// assert_eq!(lock.waiters(), 0);
    /// # drop(held);
    /// # });
    /// ```
    #[inline]
    pub fn waiters(&self) -> usize {
        self.raw.waiters()
    }
}

impl Default for Lock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        d.field("is_locked", &self.is_locked())
            .field("waiters", &self.waiters());
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::debug_fields(&mut d, &self.raw);
        d.finish()
    }
}

/// Holds a [`Lock`]; dropping it releases the lock to the next waiter.
#[must_use = "dropping a guard releases the lock at once"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    held: Held,
}

impl<'a> LockGuard<'a> {
    /// The lock this guard holds.
    pub fn lock(this: &Self) -> &'a Lock {
        this.lock
    }
}

#[cfg(feature = "alloc")]
/// Holds an `Arc<Lock>`; dropping it releases the lock to the next waiter.
#[must_use = "dropping a guard releases the lock at once"]
pub struct OwnedLockGuard {
    lock: Arc<Lock>,
    held: Held,
}

#[cfg(feature = "alloc")]
impl OwnedLockGuard {
    /// The lock this guard holds.
    pub fn lock(this: &Self) -> &Arc<Lock> {
        &this.lock
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.held.end();
        self.lock.raw.release(1);
    }
}

#[cfg(feature = "alloc")]
impl Drop for OwnedLockGuard {
    #[inline]
    fn drop(&mut self) {
        self.held.end();
        self.lock.raw.release(1);
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

#[cfg(feature = "alloc")]
impl fmt::Debug for OwnedLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedLockGuard").finish_non_exhaustive()
    }
}

pin_project! {
    /// The future of [`Lock::acquire`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct LockAcquire<'a> {
        #[pin]
        inner: RawAcquire<&'a Lock>,
    }
}

#[cfg(feature = "alloc")]
pin_project! {
    /// The future of [`Lock::acquire_owned`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct LockAcquireOwned {
        #[pin]
        inner: RawAcquire<Arc<Lock>>,
    }
}

impl<'a> Future for LockAcquire<'a> {
    type Output = LockGuard<'a>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|(lock, held)| LockGuard { lock, held })
    }
}

#[cfg(feature = "alloc")]
impl Future for LockAcquireOwned {
    type Output = OwnedLockGuard;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|(lock, held)| OwnedLockGuard { lock, held })
    }
}

impl FusedFuture for LockAcquire<'_> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

#[cfg(feature = "alloc")]
impl FusedFuture for LockAcquireOwned {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl fmt::Debug for LockAcquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockAcquire")
            .field("state", &self.inner.state())
            .finish()
    }
}

#[cfg(feature = "alloc")]
impl fmt::Debug for LockAcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockAcquireOwned")
            .field("state", &self.inner.state())
            .finish()
    }
}
