//! A fair async reader-writer lock.
//!
//! It is a semaphore of `MAX_READERS` permits: a reader takes one, a writer
//! all of them, and an upgradable reader more than half, so that it excludes
//! writers and other upgradable readers but not plain readers. The queue's
//! FIFO order then gives the fairness: a queued writer makes later readers
//! wait, and consecutive queued readers are admitted together.

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

pub use self::guard::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLockReadGuard, RwLockUpgradableReadGuard,
    RwLockWriteGuard,
};
#[cfg(feature = "alloc")]
pub use self::owned::{
    OwnedMappedRwLockReadGuard, OwnedMappedRwLockWriteGuard, OwnedRwLockReadGuard,
    OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard, RwLockUpgradeOwned,
};
#[cfg(feature = "std")]
use crate::blocking::{block_on, deadline};
use crate::queue::{HasQueue, RawAcquire, RawSemaphore, MAX_PERMITS};
#[cfg(feature = "std")]
use crate::semaphore::wait_forever;
use crate::sync::UnsafeCell;
use crate::track::Held;

const READ: usize = 1;
const WRITE: usize = MAX_PERMITS;
/// More than half of `WRITE`: two upgradable reads, or one and a writer,
/// never fit together.
const UPGRADABLE: usize = WRITE / 2 + 1;

/// An async reader-writer lock: many readers or one writer at a time, with
/// strict FIFO fairness between them.
///
/// - A queued writer makes every later reader wait, so writers never starve;
///   the readers queued behind one writer are admitted together once it is
///   done, so readers never starve either.
/// - An [upgradable read](Self::upgradable_read) shares the lock with plain
///   readers but excludes writers and other upgradable reads; it can later
///   [upgrade](RwLockUpgradableReadGuard::upgrade) to write access without
///   letting a writer in between.
/// - Every future is cancel safe, and guards may be held across `.await`.
///
/// # Examples
///
/// ```
/// use fairsync::RwLock;
///
/// # futures::executor::block_on(async {
/// let config = RwLock::new(String::from("v1"));
/// {
///     let (a, b) = futures::join!(config.read(), config.read());
///     assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
/// }
/// config.write().await.push_str("-patched");
/// assert_eq!(*config.read().await, "v1-patched");
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawSemaphore,
    value: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T`, so `T: Sync`; a writer may
// be on any thread and takes `&mut T`, so `T: Send`, as for
// `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

// SAFETY: the lock owns its value; sending it sends the `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}

impl<T: ?Sized> HasQueue for RwLock<T> {
    #[inline]
    fn queue(&self) -> &RawSemaphore {
        &self.raw
    }

    #[cfg(feature = "diagnostics")]
    fn info(&self) -> crate::track::Info {
        use crate::diagnostics::Access;
        crate::track::Info {
            kind: core::any::type_name::<Self>(),
            capacity: WRITE,
            access: |permits| match permits {
                READ => Access::Read,
                WRITE => Access::Write,
                UPGRADABLE => Access::UpgradableRead,
                n if n == WRITE - UPGRADABLE => Access::Upgrade,
                n => Access::Permits(n),
            },
        }
    }
}

impl<T> RwLock<T> {
    crate::sync::const_fn! {
        /// Creates an unlocked lock holding `value`. `const`, so a lock can
        /// be a `static`.
        ///
        /// ```
        /// use fairsync::RwLock;
        ///
        /// static CONFIG: RwLock<&str> = RwLock::new("v1");
        /// *CONFIG.try_write().unwrap() = "v2";
        /// assert_eq!(*CONFIG.try_read().unwrap(), "v2");
        /// ```
        #[doc(alias = "const_new")]
        pub const fn new(value: T) -> RwLock<T> {
            RwLock {
                raw: RawSemaphore::new(WRITE),
                value: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the lock and returns its value.
    ///
    /// ```
    /// use fairsync::RwLock;
    ///
    /// let lock = RwLock::new(vec![1]);
    /// lock.try_write().unwrap().push(2);
    /// assert_eq!(lock.into_inner(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// The most read guards that can be held at once. While an upgradable
    /// read is held, `MAX_READERS / 2` plain readers can join it. A
    /// reader beyond the limit waits in line, and `try_read` returns `None`.
    pub const MAX_READERS: usize = WRITE;

    /// Waits until no writer holds the lock and nobody is ahead in line,
    /// then takes read access.
    ///
    /// Cancel safe: dropping the future at any point gives back whatever it
    /// was handed.
    ///
    /// Readers share the lock, but not with a writer that waits: a reader
    /// that comes after a queued writer waits for it.
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(0);
    /// let (a, b) = (lock.read().await, lock.read().await); // shared
    /// let mut writer = pin!(lock.write());
    /// assert!(poll!(writer.as_mut()).is_pending());
    /// let mut late = pin!(lock.read());
    /// assert!(poll!(late.as_mut()).is_pending()); // behind the writer
    ///
    /// drop((a, b));
    /// *writer.await = 1;
    /// assert_eq!(*late.await, 1); // it read after the write
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read(&self) -> RwLockRead<'_, T> {
        RwLockRead {
            inner: RawAcquire::new(self, READ),
        }
    }

    /// Waits until nobody holds the lock and nobody is ahead in line, then
    /// takes write access.
    ///
    /// Cancel safe: dropping the future at any point gives back whatever it
    /// was handed, including read access collected while it waited.
    ///
    /// The readers queued behind a writer are admitted together once it is
    /// done:
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(0);
    /// let mut writer = lock.write().await;
    /// let mut a = pin!(lock.read());
    /// let mut b = pin!(lock.read());
    /// assert!(poll!(a.as_mut()).is_pending());
    /// assert!(poll!(b.as_mut()).is_pending());
    ///
    /// *writer = 5;
    /// drop(writer);
    /// let (a, b) = futures::join!(a, b);
    /// assert_eq!((*a, *b), (5, 5));
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn write(&self) -> RwLockWrite<'_, T> {
        RwLockWrite {
            inner: RawAcquire::new(self, WRITE),
        }
    }

    /// Waits until neither a writer nor another upgradable reader holds the
    /// lock and nobody is ahead in line, then takes upgradable read access.
    ///
    /// Read, decide, then write, without another writer in between: of two
    /// tasks that fill an empty cache, only the first fills it.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockUpgradableReadGuard};
    /// use std::cell::Cell;
    ///
    /// # futures::executor::block_on(async {
    /// let (cache, fills) = (&RwLock::new(None), &Cell::new(0));
    /// let get = || async move {
    ///     let entry = cache.upgradable_read().await;
    ///     if entry.is_none() {
    ///         let mut entry = RwLockUpgradableReadGuard::upgrade(entry).await;
    ///         *entry = Some("value");
    ///         fills.set(fills.get() + 1);
    ///     }
    /// };
    /// futures::join!(get(), get());
    /// assert_eq!(fills.get(), 1);
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgradable_read(&self) -> RwLockUpgradableRead<'_, T> {
        RwLockUpgradableRead {
            inner: RawAcquire::new(self, UPGRADABLE),
        }
    }

    /// Takes read access if no writer holds the lock and nobody waits.
    ///
    /// A waiting writer makes it fail, even while only readers hold the
    /// lock:
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(0);
    /// let read = lock.try_read().unwrap();
    /// assert!(lock.try_read().is_some()); // readers share
    /// let mut writer = pin!(lock.write());
    /// assert!(poll!(writer.as_mut()).is_pending());
    /// assert!(lock.try_read().is_none()); // a writer waits
    /// # drop(read);
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        if !self.raw.try_acquire(READ) {
            return None;
        }
        Some(RwLockReadGuard::new((self, Held::tried(self, READ))))
    }

    /// Takes write access if nobody holds the lock or waits for it.
    ///
    /// ```
    /// use fairsync::RwLock;
    ///
    /// let lock = RwLock::new(0);
    /// let read = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_none());
    /// drop(read);
    /// *lock.try_write().unwrap() += 1;
    /// assert_eq!(*lock.try_read().unwrap(), 1);
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        if !self.raw.try_acquire(WRITE) {
            return None;
        }
        Some(RwLockWriteGuard::new((self, Held::tried(self, WRITE))))
    }

    /// Takes upgradable read access if neither a writer nor an upgradable
    /// reader holds the lock and nobody waits.
    ///
    /// ```
    /// use fairsync::RwLock;
    ///
    /// let lock = RwLock::new(0);
    /// let upgradable = lock.try_upgradable_read().unwrap();
    /// assert!(lock.try_read().is_some()); // plain readers may join
    /// assert!(lock.try_upgradable_read().is_none());
    /// assert!(lock.try_write().is_none());
    /// # drop(upgradable);
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        if !self.raw.try_acquire(UPGRADABLE) {
            return None;
        }
        Some(RwLockUpgradableReadGuard::new((
            self,
            Held::tried(self, UPGRADABLE),
        )))
    }
}

#[cfg(feature = "std")]
impl<T: ?Sized> RwLock<T> {
    /// Blocks the current thread until it has read access, queueing in the
    /// same FIFO line as async waiters.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run the
    /// holder is a deadlock; on a multi-threaded one it takes a worker away
    /// until access is granted. It never panics, also not inside a runtime
    /// (tokio's `blocking_read` does). From async code use
    /// [`read`](Self::read).
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(5));
    /// let held = lock.read_blocking();
    /// let reader = {
    ///     let lock = Arc::clone(&lock);
    ///     std::thread::spawn(move || *lock.read_blocking()) // shares with `held`
    /// };
    /// assert_eq!(reader.join().unwrap(), *held);
    /// ```
    #[doc(alias = "blocking_read")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read_blocking(&self) -> RwLockReadGuard<'_, T> {
        if self.raw.try_acquire(READ) {
            return RwLockReadGuard::new((self, Held::blocking(self, READ)));
        }
        wait_forever(self.read())
    }

    /// Blocks the current thread until it has write access, queueing in the
    /// same FIFO line as async waiters.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run the
    /// holder is a deadlock; on a multi-threaded one it takes a worker away
    /// until access is granted. It never panics, also not inside a runtime
    /// (tokio's `blocking_write` does). From async code use
    /// [`write`](Self::write).
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let read = lock.read_blocking();
    /// let writer = {
    ///     let lock = Arc::clone(&lock);
    ///     std::thread::spawn(move || *lock.write_blocking() += 1)
    /// };
    /// while lock.waiters() == 0 {
    ///     std::thread::yield_now(); // until the writer has queued
    /// }
    /// assert!(lock.try_read().is_none()); // later readers wait for it
    /// drop(read);
    /// writer.join().unwrap();
    /// assert_eq!(*lock.read_blocking(), 1);
    /// ```
    #[doc(alias = "blocking_write")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn write_blocking(&self) -> RwLockWriteGuard<'_, T> {
        if self.raw.try_acquire(WRITE) {
            return RwLockWriteGuard::new((self, Held::blocking(self, WRITE)));
        }
        wait_forever(self.write())
    }

    /// Blocks the current thread until it has upgradable read access,
    /// queueing in the same FIFO line as async waiters.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run the
    /// holder is a deadlock; on a multi-threaded one it takes a worker away
    /// until access is granted. It never panics, also not inside a runtime
    /// (tokio's blocking calls do). From async code use
    /// [`upgradable_read`](Self::upgradable_read).
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(None);
    /// let entry = lock.upgradable_read_blocking();
    /// if entry.is_none() {
    ///     *RwLockUpgradableReadGuard::upgrade_blocking(entry) = Some(1);
    /// }
    /// assert_eq!(*lock.read_blocking(), Some(1));
    /// ```
    #[doc(alias = "blocking_upgradable_read")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgradable_read_blocking(&self) -> RwLockUpgradableReadGuard<'_, T> {
        if self.raw.try_acquire(UPGRADABLE) {
            return RwLockUpgradableReadGuard::new((self, Held::blocking(self, UPGRADABLE)));
        }
        wait_forever(self.upgradable_read())
    }

    /// Blocks the current thread for at most `timeout` waiting for read
    /// access. `None` if the time ran out; the caller then no longer waits.
    /// `Duration::ZERO` behaves like [`try_read`](Self::try_read);
    /// `Duration::MAX` waits without a deadline.
    ///
    /// **Blocks**, like [`read_blocking`](Self::read_blocking), and never
    /// panics. On a single-threaded runtime the task holding the lock
    /// cannot run meanwhile, so the call waits out all of `timeout` and
    /// fails, however soon the holder would have released. From async code,
    /// run [`read`](Self::read) under your runtime's timeout instead:
    /// dropping the timed-out future is safe.
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::time::Duration;
    ///
    /// let lock = RwLock::new(0);
    /// let write = lock.try_write().unwrap();
    /// assert!(lock.read_blocking_timeout(Duration::from_millis(1)).is_none());
    /// assert_eq!(lock.waiters(), 0); // the timed-out reader left the line
    /// drop(write);
    /// assert!(lock.read_blocking_timeout(Duration::ZERO).is_some());
    /// ```
    #[doc(alias = "try_read_for")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read_blocking_timeout(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        if self.raw.try_acquire(READ) {
            return Some(RwLockReadGuard::new((self, Held::blocking(self, READ))));
        }
        if timeout.is_zero() {
            return None;
        }
        block_on(self.read(), deadline(timeout))
    }

    /// Blocks the current thread for at most `timeout` waiting for write
    /// access. `None` if the time ran out; the caller then no longer waits.
    /// `Duration::ZERO` behaves like [`try_write`](Self::try_write);
    /// `Duration::MAX` waits without a deadline.
    ///
    /// **Blocks**, like [`write_blocking`](Self::write_blocking), and never
    /// panics. On a single-threaded runtime the task holding the lock
    /// cannot run meanwhile, so the call waits out all of `timeout` and
    /// fails, however soon the holder would have released. From async code,
    /// run [`write`](Self::write) under your runtime's timeout instead:
    /// dropping the timed-out future is safe.
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::time::Duration;
    ///
    /// let lock = RwLock::new(0);
    /// let read = lock.try_read().unwrap();
    /// assert!(lock.write_blocking_timeout(Duration::from_millis(1)).is_none());
    /// assert!(lock.try_read().is_some()); // no writer waits any more
    /// drop(read);
    /// *lock.write_blocking_timeout(Duration::ZERO).unwrap() += 1;
    /// assert_eq!(lock.into_inner(), 1);
    /// ```
    #[doc(alias = "try_write_for")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn write_blocking_timeout(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        if self.raw.try_acquire(WRITE) {
            return Some(RwLockWriteGuard::new((self, Held::blocking(self, WRITE))));
        }
        if timeout.is_zero() {
            return None;
        }
        block_on(self.write(), deadline(timeout))
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized> RwLock<T> {
    /// Like [`read`](Self::read), holding the lock by `Arc` so the guard
    /// has no lifetime and can move into a spawned task. The future keeps
    /// its own clone of the `Arc`.
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(String::from("v1")));
    /// let read = lock.read_owned().await;
    /// let reader = std::thread::spawn(move || read.len());
    /// assert_eq!(reader.join().unwrap(), 2);
    /// assert!(!lock.is_locked());
    /// # });
    /// ```
    #[doc(alias = "read_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read_owned(self: &Arc<Self>) -> RwLockReadOwned<T> {
        RwLockReadOwned {
            inner: RawAcquire::new(Arc::clone(self), READ),
        }
    }

    /// Like [`write`](Self::write), holding the lock by `Arc` so the guard
    /// has no lifetime. The future keeps its own clone of the `Arc`.
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(Vec::new()));
    /// let mut write = lock.write_owned().await;
    /// std::thread::spawn(move || write.push(1)).join().unwrap();
    /// assert_eq!(*lock.read().await, [1]);
    /// # });
    /// ```
    #[doc(alias = "write_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn write_owned(self: &Arc<Self>) -> RwLockWriteOwned<T> {
        RwLockWriteOwned {
            inner: RawAcquire::new(Arc::clone(self), WRITE),
        }
    }

    /// Like [`upgradable_read`](Self::upgradable_read), holding the lock by
    /// `Arc` so the guard has no lifetime. The future keeps its own clone of
    /// the `Arc`.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockUpgradableReadGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let cache = Arc::new(RwLock::new(None));
    /// let entry = cache.upgradable_read_owned().await;
    /// if entry.is_none() {
    ///     let mut entry = OwnedRwLockUpgradableReadGuard::upgrade(entry).await;
    ///     *entry = Some("filled");
    /// }
    /// assert_eq!(*cache.read().await, Some("filled"));
    /// # });
    /// ```
    #[doc(alias = "upgradable_read_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgradable_read_owned(self: &Arc<Self>) -> RwLockUpgradableReadOwned<T> {
        RwLockUpgradableReadOwned {
            inner: RawAcquire::new(Arc::clone(self), UPGRADABLE),
        }
    }

    /// Like [`try_read`](Self::try_read), holding the lock by `Arc`.
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(7));
    /// let read = lock.try_read_owned().unwrap();
    /// assert!(lock.try_write_owned().is_none());
    /// assert_eq!(std::thread::spawn(move || *read).join().unwrap(), 7);
    /// ```
    #[doc(alias = "try_read_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_read_owned(self: &Arc<Self>) -> Option<OwnedRwLockReadGuard<T>> {
        if !self.raw.try_acquire(READ) {
            return None;
        }
        Some(OwnedRwLockReadGuard::new((
            Arc::clone(self),
            Held::tried(&**self, READ),
        )))
    }

    /// Like [`try_write`](Self::try_write), holding the lock by `Arc`.
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let mut write = lock.try_write_owned().unwrap();
    /// assert!(lock.try_read_owned().is_none());
    /// std::thread::spawn(move || *write += 1).join().unwrap();
    /// assert_eq!(*lock.try_read().unwrap(), 1);
    /// ```
    #[doc(alias = "try_write_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_write_owned(self: &Arc<Self>) -> Option<OwnedRwLockWriteGuard<T>> {
        if !self.raw.try_acquire(WRITE) {
            return None;
        }
        Some(OwnedRwLockWriteGuard::new((
            Arc::clone(self),
            Held::tried(&**self, WRITE),
        )))
    }

    /// Like [`try_upgradable_read`](Self::try_upgradable_read), holding the
    /// lock by `Arc`.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockUpgradableReadGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let upgradable = lock.try_upgradable_read_owned().unwrap();
    /// assert!(lock.try_upgradable_read_owned().is_none());
    /// let mut write = OwnedRwLockUpgradableReadGuard::try_upgrade(upgradable).unwrap();
    /// *write += 1;
    /// drop(write);
    /// assert_eq!(*lock.try_read().unwrap(), 1);
    /// ```
    #[doc(alias = "try_upgradable_read_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_upgradable_read_owned(
        self: &Arc<Self>,
    ) -> Option<OwnedRwLockUpgradableReadGuard<T>> {
        if !self.raw.try_acquire(UPGRADABLE) {
            return None;
        }
        Some(OwnedRwLockUpgradableReadGuard::new((
            Arc::clone(self),
            Held::tried(&**self, UPGRADABLE),
        )))
    }

    /// Like [`read_blocking`](Self::read_blocking), holding the lock by
    /// `Arc` so the guard can move to another thread.
    ///
    /// **Blocks**, like [`read_blocking`](Self::read_blocking): not on an
    /// executor thread, and it never panics. From async code use
    /// [`read_owned`](Self::read_owned).
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(3));
    /// let read = lock.read_owned_blocking();
    /// assert_eq!(std::thread::spawn(move || *read).join().unwrap(), 3);
    /// assert!(!lock.is_locked());
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias("read_arc_blocking", "blocking_read_owned"))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read_owned_blocking(self: &Arc<Self>) -> OwnedRwLockReadGuard<T> {
        if self.raw.try_acquire(READ) {
            return OwnedRwLockReadGuard::new((Arc::clone(self), Held::blocking(&**self, READ)));
        }
        wait_forever(self.read_owned())
    }

    /// Like [`write_blocking`](Self::write_blocking), holding the lock by
    /// `Arc` so the guard can move to another thread.
    ///
    /// **Blocks**, like [`write_blocking`](Self::write_blocking): not on an
    /// executor thread, and it never panics. From async code use
    /// [`write_owned`](Self::write_owned).
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let mut write = lock.write_owned_blocking();
    /// std::thread::spawn(move || *write += 1).join().unwrap();
    /// assert_eq!(*lock.read_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias("write_arc_blocking", "blocking_write_owned"))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn write_owned_blocking(self: &Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        if self.raw.try_acquire(WRITE) {
            return OwnedRwLockWriteGuard::new((Arc::clone(self), Held::blocking(&**self, WRITE)));
        }
        wait_forever(self.write_owned())
    }

    /// Like [`upgradable_read_blocking`](Self::upgradable_read_blocking),
    /// holding the lock by `Arc` so the guard can move to another thread.
    ///
    /// **Blocks**, like
    /// [`upgradable_read_blocking`](Self::upgradable_read_blocking): not on
    /// an executor thread, and it never panics. From async code use
    /// [`upgradable_read_owned`](Self::upgradable_read_owned).
    ///
    /// ```
    /// use fairsync::{OwnedRwLockUpgradableReadGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let upgradable = lock.upgradable_read_owned_blocking();
    /// std::thread::spawn(move || {
    ///     *OwnedRwLockUpgradableReadGuard::upgrade_blocking(upgradable) += 1;
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(*lock.read_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "upgradable_read_arc_blocking")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgradable_read_owned_blocking(self: &Arc<Self>) -> OwnedRwLockUpgradableReadGuard<T> {
        if self.raw.try_acquire(UPGRADABLE) {
            return OwnedRwLockUpgradableReadGuard::new((
                Arc::clone(self),
                Held::blocking(&**self, UPGRADABLE),
            ));
        }
        wait_forever(self.upgradable_read_owned())
    }
}

impl<T: ?Sized> RwLock<T> {
    /// A mutable reference to the value, without locking: `&mut self`
    /// proves nobody else can reach it.
    ///
    /// ```
    /// use fairsync::RwLock;
    ///
    /// let mut lock = RwLock::new(0);
    /// *lock.get_mut() = 10; // no guard, no waiting
    /// assert_eq!(*lock.try_read().unwrap(), 10);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Whether anyone holds the lock, for reading or writing.
    ///
    /// ```
    /// use fairsync::RwLock;
    ///
    /// let lock = RwLock::new(0);
    /// assert!(!lock.is_locked());
    /// let read = lock.try_read().unwrap();
    /// assert!(lock.is_locked()); // a reader counts too
    /// drop(read);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.available() < WRITE
    }

    /// Callers (async and blocking) queued for the lock and not yet
    /// admitted. A cancelled waiter no longer counts.
    ///
    /// ```
    /// use fairsync::RwLock;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(0);
    /// let write = lock.write().await;
    /// {
    ///     let mut a = pin!(lock.read());
    ///     let mut b = pin!(lock.read());
    ///     assert!(poll!(a.as_mut()).is_pending());
    ///     assert!(poll!(b.as_mut()).is_pending());
    ///     assert_eq!(lock.waiters(), 2);
    /// } // both cancelled
    /// assert_eq!(lock.waiters(), 0);
    /// # drop(write);
    /// # });
    /// ```
    pub fn waiters(&self) -> usize {
        self.raw.waiters()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("value", &&*guard),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.field("waiters", &self.waiters());
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::debug_fields(&mut d, &self.raw);
        d.finish()
    }
}

pin_project! {
    /// The future of [`RwLock::read`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RwLockRead<'a, T: ?Sized> {
        #[pin]
        inner: RawAcquire<&'a RwLock<T>>,
    }
}

pin_project! {
    /// The future of [`RwLock::write`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RwLockWrite<'a, T: ?Sized> {
        #[pin]
        inner: RawAcquire<&'a RwLock<T>>,
    }
}

pin_project! {
    /// The future of [`RwLock::upgradable_read`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RwLockUpgradableRead<'a, T: ?Sized> {
        #[pin]
        inner: RawAcquire<&'a RwLock<T>>,
    }
}

#[cfg(feature = "alloc")]
pin_project! {
    /// The future of [`RwLock::read_owned`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RwLockReadOwned<T: ?Sized> {
        #[pin]
        inner: RawAcquire<Arc<RwLock<T>>>,
    }
}

#[cfg(feature = "alloc")]
pin_project! {
    /// The future of [`RwLock::write_owned`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RwLockWriteOwned<T: ?Sized> {
        #[pin]
        inner: RawAcquire<Arc<RwLock<T>>>,
    }
}

#[cfg(feature = "alloc")]
pin_project! {
    /// The future of [`RwLock::upgradable_read_owned`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RwLockUpgradableReadOwned<T: ?Sized> {
        #[pin]
        inner: RawAcquire<Arc<RwLock<T>>>,
    }
}

pin_project! {
    /// The future of [`RwLockUpgradableReadGuard::upgrade`].
    ///
    /// Dropping it releases everything it holds: the upgradable read, and
    /// the write access if it was already granted.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RwLockUpgrade<'a, T: ?Sized> {
        // Dropped first: a cancelled upgrade passes on what it collected,
        // then `upgradable` gives back the upgradable read.
        #[pin]
        inner: RawAcquire<&'a RwLock<T>>,
        upgradable: Option<RwLockUpgradableReadGuard<'a, T>>,
    }
}

// SAFETY: the future only ever produces a read guard, which may go to
// another thread when `T: Sync`; cancelling it only touches the queue.
unsafe impl<T: ?Sized + Sync> Send for RwLockRead<'_, T> {}

macro_rules! rwlock_future {
    ($($future:ident<$($lt:lifetime,)? T> => $guard:ident;)*) => {$(
        impl<$($lt,)? T: ?Sized> Future for $future<$($lt,)? T> {
            type Output = $guard<$($lt,)? T>;

            #[inline]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                self.project().inner.poll(cx).map($guard::new)
            }
        }

        impl<$($lt,)? T: ?Sized> FusedFuture for $future<$($lt,)? T> {
            fn is_terminated(&self) -> bool {
                self.inner.is_terminated()
            }
        }

        impl<$($lt,)? T: ?Sized> fmt::Debug for $future<$($lt,)? T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($future))
                    .field("state", &self.inner.state())
                    .finish()
            }
        }
    )*};
}

rwlock_future! {
    RwLockRead<'a, T> => RwLockReadGuard;
    RwLockWrite<'a, T> => RwLockWriteGuard;
    RwLockUpgradableRead<'a, T> => RwLockUpgradableReadGuard;
}

#[cfg(feature = "alloc")]
rwlock_future! {
    RwLockReadOwned<T> => OwnedRwLockReadGuard;
    RwLockWriteOwned<T> => OwnedRwLockWriteGuard;
    RwLockUpgradableReadOwned<T> => OwnedRwLockUpgradableReadGuard;
}

impl<'a, T: ?Sized> Future for RwLockUpgrade<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The upgrade's own record folds into the upgradable read's.
        this.inner.poll(cx).map(|(_, _upgrade)| {
            let upgradable = this.upgradable.take().expect("polled after completion");
            RwLockUpgradableReadGuard::into_write(upgradable)
        })
    }
}

impl<T: ?Sized> FusedFuture for RwLockUpgrade<'_, T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<T: ?Sized> fmt::Debug for RwLockUpgrade<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLockUpgrade")
            .field("state", &self.inner.state())
            .finish()
    }
}
