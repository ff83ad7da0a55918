//! A fair async mutex guarding a value.

mod guard;
#[cfg(feature = "alloc")]
mod owned;

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

pub use self::guard::{MappedMutexGuard, MutexGuard};
#[cfg(feature = "alloc")]
pub use self::owned::{OwnedMappedMutexGuard, OwnedMutexGuard};
#[cfg(feature = "std")]
use crate::blocking::{block_on, deadline};
use crate::queue::{HasQueue, RawAcquire, RawSemaphore};
#[cfg(feature = "std")]
use crate::semaphore::wait_forever;
use crate::sync::UnsafeCell;
use crate::track::{Held, Site};

/// An async mutex: a [`Lock`](crate::Lock) that guards a value of type `T`.
///
/// The lock passes in strict FIFO order straight from the releasing guard to
/// the oldest waiter, so no task starves, and a guard may be held across
/// `.await`. Dropping a [`lock`](Self::lock) future at any point is safe.
/// There is no poisoning: a guard dropped during a panic unlocks normally.
///
/// # Examples
///
/// ```
/// use fairsync::Mutex;
/// use std::sync::Arc;
///
/// # futures::executor::block_on(async {
/// let counter = Arc::new(Mutex::new(0u32));
/// let tasks = (0..4).map(|_| {
///     let counter = Arc::clone(&counter);
///     async move { *counter.lock().await += 1 }
/// });
/// futures::future::join_all(tasks).await;
/// assert_eq!(*counter.lock().await, 4);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawSemaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the guarded value is reached only through a guard, and at most one
// guard exists at a time, so sharing the mutex hands `T` from thread to
// thread but never shares it: `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

// SAFETY: the mutex owns its value; sending it sends the `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T: ?Sized> HasQueue for Mutex<T> {
    #[inline]
    fn queue(&self) -> &RawSemaphore {
        &self.raw
    }

    #[cfg(feature = "diagnostics")]
    fn info(&self) -> crate::track::Info {
        crate::track::Info::exclusive(core::any::type_name::<Self>())
    }
}

impl<T> Mutex<T> {
    crate::sync::const_fn! {
        /// Creates an unlocked mutex holding `value`. `const`, so a mutex
        /// can be a `static`.
        ///
        /// ```
        /// use fairsync::Mutex;
        ///
        /// static NAMES: Mutex<Vec<&str>> = Mutex::new(Vec::new());
        /// NAMES.try_lock().unwrap().push("a");
        /// assert_eq!(*NAMES.try_lock().unwrap(), ["a"]);
        /// ```
        #[doc(alias = "const_new")]
        pub const fn new(value: T) -> Mutex<T> {
            Mutex {
                raw: RawSemaphore::new(1),
                value: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the mutex and returns its value.
    ///
    /// ```
    /// use fairsync::Mutex;
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(Mutex::new(String::from("a")));
    /// let clone = Arc::clone(&mutex);
    /// std::thread::spawn(move || clone.lock_blocking().push('b')).join().unwrap();
    /// let mutex = Arc::into_inner(mutex).unwrap(); // the last `Arc`
    /// assert_eq!(mutex.into_inner(), "ab");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits until the mutex is free and this caller is first in line, then
    /// locks it.
    ///
    /// Cancel safe: dropping the future at any point, even after the lock
    /// was handed to it, passes the lock on to the next waiter.
    ///
    /// Waiters get the lock in the order they first polled:
    ///
    /// ```
    /// use fairsync::Mutex;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let mutex = Mutex::new(Vec::new());
    /// let held = mutex.lock().await;
    /// let mut first = pin!(async { mutex.lock().await.push(1) });
    /// let mut second = pin!(async { mutex.lock().await.push(2) });
    /// assert!(poll!(first.as_mut()).is_pending());
    /// assert!(poll!(second.as_mut()).is_pending());
    ///
    /// drop(held);
    /// futures::join!(second, first); // polls `second` first; `first` still wins
    /// assert_eq!(*mutex.lock().await, [1, 2]);
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn lock(&self) -> MutexLock<'_, T> {
        MutexLock {
            inner: RawAcquire::new(self, 1),
        }
    }

    /// Locks the mutex if it is free and nobody is waiting for it.
    ///
    /// ```
    /// use fairsync::Mutex;
    ///
    /// let mutex = Mutex::new(1);
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.try_lock().is_none());
    /// drop(guard);
    /// assert_eq!(*mutex.try_lock().unwrap(), 1);
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if !self.raw.try_acquire(1) {
            return None;
        }
        Some(MutexGuard::new((self, Held::tried(self, 1))))
    }

    /// Blocks the current thread until it holds the lock, queueing in the
    /// same FIFO line as async waiters.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run the
    /// holder is a deadlock; on a multi-threaded one it takes a worker away
    /// until the lock is handed over. It never panics, also not inside a
    /// runtime (tokio's `blocking_lock` does). From async code use
    /// [`lock`](Self::lock).
    ///
    /// ```
    /// use fairsync::Mutex;
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(Mutex::new(Vec::new()));
    /// let threads: Vec<_> = (0..3)
    ///     .map(|i| {
    ///         let mutex = Arc::clone(&mutex);
    ///         std::thread::spawn(move || mutex.lock_blocking().push(i))
    ///     })
    ///     .collect();
    /// for thread in threads {
    ///     thread.join().unwrap();
    /// }
    /// assert_eq!(mutex.lock_blocking().len(), 3);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "blocking_lock")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        if self.raw.try_acquire(1) {
            return MutexGuard::new((self, Held::blocking(self, 1)));
        }
        wait_forever(self.lock())
    }

    /// Blocks the current thread for at most `timeout` waiting for the
    /// lock. Returns `None` if the time ran out; the caller then no longer
    /// waits. `Duration::ZERO` behaves like [`try_lock`](Self::try_lock);
    /// `Duration::MAX` waits without a deadline.
    ///
    /// **Blocks**, like [`lock_blocking`](Self::lock_blocking), and never
    /// panics. On a single-threaded runtime the task holding the lock
    /// cannot run meanwhile, so the call waits out all of `timeout` and
    /// fails, however soon the holder would have unlocked. From async code,
    /// run [`lock`](Self::lock) under your runtime's timeout instead
    /// (`tokio::time::timeout(d, mutex.lock())`): dropping the timed-out
    /// future is safe.
    ///
    /// ```
    /// use fairsync::Mutex;
    /// use std::time::Duration;
    ///
    /// let mutex = Mutex::new(0);
    /// let held = mutex.try_lock().unwrap();
    /// assert!(mutex.lock_blocking_timeout(Duration::from_millis(1)).is_none());
    /// assert_eq!(mutex.waiters(), 0); // the timed-out caller left the line
    /// drop(held);
    /// *mutex.lock_blocking_timeout(Duration::ZERO).unwrap() += 1;
    /// assert_eq!(mutex.into_inner(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "try_lock_for")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn lock_blocking_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        if self.raw.try_acquire(1) {
            return Some(MutexGuard::new((self, Held::blocking(self, 1))));
        }
        if timeout.is_zero() {
            return None;
        }
        block_on(self.lock(), deadline(timeout))
    }

    /// Like [`lock`](Self::lock), holding the mutex by `Arc` so the guard
    /// has no lifetime (for example, to move it into a spawned task). The
    /// future keeps its own clone of the `Arc`.
    ///
    /// ```
    /// use fairsync::Mutex;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let mutex = Arc::new(Mutex::new(Vec::new()));
    /// let mut guard = mutex.lock_owned().await;
    /// let worker = std::thread::spawn(move || guard.push(1));
    /// worker.join().unwrap();
    /// assert_eq!(*mutex.lock().await, [1]);
    /// # });
    /// ```
    #[cfg(feature = "alloc")]
    #[doc(alias = "lock_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn lock_owned(self: &Arc<Self>) -> MutexLockOwned<T> {
        MutexLockOwned {
            inner: RawAcquire::new(Arc::clone(self), 1),
        }
    }

    /// Like [`try_lock`](Self::try_lock), holding the mutex by `Arc`.
    ///
    /// ```
    /// use fairsync::Mutex;
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(Mutex::new(0));
    /// let mut guard = mutex.try_lock_owned().unwrap(); // `m.clone()` not needed
    /// assert!(mutex.try_lock_owned().is_none());
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*mutex.try_lock().unwrap(), 1);
    /// ```
    #[cfg(feature = "alloc")]
    #[doc(alias = "try_lock_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_lock_owned(self: &Arc<Self>) -> Option<OwnedMutexGuard<T>> {
        if !self.raw.try_acquire(1) {
            return None;
        }
        Some(OwnedMutexGuard::new((
            Arc::clone(self),
            Held::tried(&**self, 1),
        )))
    }

    /// Like [`lock_blocking`](Self::lock_blocking), holding the mutex by
    /// `Arc` so the guard can move to another thread.
    ///
    /// **Blocks**, like [`lock_blocking`](Self::lock_blocking): not on an
    /// executor thread, and it never panics. From async code use
    /// [`lock_owned`](Self::lock_owned).
    ///
    /// ```
    /// use fairsync::Mutex;
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(Mutex::new(0));
    /// let mut guard = mutex.lock_owned_blocking();
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*mutex.lock_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias("lock_arc_blocking", "blocking_lock_owned"))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn lock_owned_blocking(self: &Arc<Self>) -> OwnedMutexGuard<T> {
        if self.raw.try_acquire(1) {
            return OwnedMutexGuard::new((Arc::clone(self), Held::blocking(&**self, 1)));
        }
        wait_forever(self.lock_owned())
    }

    /// A mutable reference to the value, without locking: `&mut self`
    /// proves nobody else can reach it.
    ///
    /// ```
    /// use fairsync::Mutex;
    ///
    /// let mut mutex = Mutex::new(0);
    /// *mutex.get_mut() = 10; // no guard, no waiting
    /// assert_eq!(*mutex.try_lock().unwrap(), 10);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Whether someone holds the lock. Stays `true` while ownership passes
    /// from a releasing guard to a waiter.
    ///
    /// ```
    /// use fairsync::Mutex;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let mutex = Mutex::new(());
    /// let held = mutex.lock().await;
    /// {
    ///     let mut waiting = pin!(mutex.lock());
    ///     assert!(poll!(waiting.as_mut()).is_pending());
    ///     drop(held);
    ///     assert!(mutex.is_locked()); // handed to `waiting`, not free
    /// } // `waiting` is cancelled and passes the lock on: nobody is left
    /// assert!(!mutex.is_locked());
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
    /// use fairsync::Mutex;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let mutex = Mutex::new(());
    /// let held = mutex.lock().await;
    /// {
    ///     let mut waiting = pin!(mutex.lock());
    ///     assert!(poll!(waiting.as_mut()).is_pending());
    ///     assert_eq!(mutex.waiters(), 1);
    /// } // cancelled
    /// assert_eq!(mutex.waiters(), 0);
    /// # drop(held);
    /// # });
    /// ```
    #[inline]
    pub fn waiters(&self) -> usize {
        self.raw.waiters()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Like [`lock`](Self::lock), on behalf of a caller at `site`.
    #[inline]
    pub(crate) fn lock_at(&self, site: Site) -> MutexLock<'_, T> {
        MutexLock {
            inner: RawAcquire::new_at(self, 1, site),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        d.field("is_locked", &self.is_locked());
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::debug_fields(&mut d, &self.raw);
        match self.try_lock() {
            Some(guard) => d.field("value", &&*guard),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

pin_project! {
    /// The future of [`Mutex::lock`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct MutexLock<'a, T: ?Sized> {
        #[pin]
        inner: RawAcquire<&'a Mutex<T>>,
    }
}

#[cfg(feature = "alloc")]
pin_project! {
    /// The future of [`Mutex::lock_owned`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct MutexLockOwned<T: ?Sized> {
        #[pin]
        inner: RawAcquire<Arc<Mutex<T>>>,
    }
}

impl<'a, T: ?Sized> Future for MutexLock<'a, T> {
    type Output = MutexGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx).map(MutexGuard::new)
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized> Future for MutexLockOwned<T> {
    type Output = OwnedMutexGuard<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx).map(OwnedMutexGuard::new)
    }
}

impl<T: ?Sized> FusedFuture for MutexLock<'_, T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized> FusedFuture for MutexLockOwned<T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<T: ?Sized> fmt::Debug for MutexLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexLock")
            .field("state", &self.inner.state())
            .finish()
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized> fmt::Debug for MutexLockOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexLockOwned")
            .field("state", &self.inner.state())
            .finish()
    }
}
