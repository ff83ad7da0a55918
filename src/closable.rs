//! A semaphore that can be closed: on shutdown, waiters fail instead of
//! waiting forever.

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
use crate::queue::{HasQueue, RawAcquire, RawSemaphore, MAX_PERMITS};
use crate::semaphore::check_request;
#[cfg(feature = "std")]
use crate::semaphore::wait_forever;
use crate::track::Held;
#[cfg(feature = "alloc")]
use crate::OwnedSemaphorePermit;
use crate::{Semaphore, SemaphorePermit};

/// A [`Semaphore`] that can be closed, like `tokio::sync::Semaphore`: its
/// acquires return `Result`, and after [`close`](Self::close) they fail
/// with [`Closed`].
///
/// It is the same engine as [`Semaphore`] (the same FIFO line, hand-off,
/// cancel safety and permits) with one more state: closed. Closing
///
/// - fails every waiter queued at that moment with `Err(Closed)` and wakes
///   it. A waiter that was handed its permits before `close` keeps them and
///   completes with `Ok`, even if it had not been polled again;
/// - returns the permits a queued weighted request had collected to the
///   counter;
/// - makes every later acquire, blocking call and `try_*` fail at once, also
///   for zero permits and also while permits are free;
/// - leaves permits already held valid: dropping them returns them to the
///   counter, as do [`add_permits`](Self::add_permits) calls, which never
///   fail because the semaphore is closed. `close` never waits for holders.
///
/// There is no reopening. The permits are the ordinary [`SemaphorePermit`]
/// and [`OwnedSemaphorePermit`].
///
/// # Examples
///
/// A pool that stops handing out connections on shutdown, while the
/// connections in use finish their work:
///
/// ```
/// use std::pin::pin;
/// use std::sync::Arc;
/// use fairsync::{ClosableSemaphore, Closed};
/// use futures::poll;
///
/// let pool = Arc::new(ClosableSemaphore::new(2));
///
/// futures::executor::block_on(async {
///     let in_use = pool.acquire().await.unwrap();
///     let _other = pool.acquire().await.unwrap();
///
///     // A third request waits for a connection ...
///     let mut waiting = pin!(pool.acquire_owned());
///     assert!(poll!(waiting.as_mut()).is_pending());
///
///     // ... when shutdown begins.
///     pool.close();
///     assert_eq!(waiting.await.unwrap_err(), Closed);
///     assert!(pool.acquire().await.is_err(), "no new work after close");
///
///     // Work in progress keeps its permit and returns it when done.
///     drop(in_use);
///     assert_eq!(pool.available_permits(), 1);
/// });
/// ```
pub struct ClosableSemaphore {
    sem: Semaphore,
}

impl HasQueue for ClosableSemaphore {
    #[inline]
    fn queue(&self) -> &RawSemaphore {
        self.sem.queue()
    }

    #[cfg(feature = "diagnostics")]
    fn info(&self) -> crate::track::Info {
        crate::track::Info {
            kind: "ClosableSemaphore",
            ..self.sem.info()
        }
    }
}

impl ClosableSemaphore {
    /// The most permits a semaphore can hold, and the most one call can ask
    /// for; the same as [`Semaphore::MAX_PERMITS`].
    pub const MAX_PERMITS: usize = MAX_PERMITS;

    crate::sync::const_fn! {
        /// Creates an open semaphore with `permits` permits. `const`, so it
        /// can be a `static`.
        ///
        /// ```
        /// use fairsync::ClosableSemaphore;
        ///
        /// static WORKERS: ClosableSemaphore = ClosableSemaphore::new(8);
        /// assert!(!WORKERS.is_closed());
        /// assert_eq!(WORKERS.available_permits(), 8);
        /// ```
        ///
        /// # Panics
        ///
        /// If `permits` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
        #[doc(alias = "const_new")]
        pub const fn new(permits: usize) -> ClosableSemaphore {
            ClosableSemaphore {
                sem: Semaphore::new(permits),
            }
        }
    }

    /// The engine the permits release into.
    #[inline]
    pub(crate) fn engine(&self) -> &Semaphore {
        &self.sem
    }

    /// Waits for one permit; `Err(Closed)` if the semaphore is closed
    /// before the permit is handed over.
    ///
    /// Cancel safe: dropping the future returns any permit it was handed to
    /// the next waiter.
    ///
    /// A waiter handed its permit before [`close`](Self::close) keeps it,
    /// even if it had not run since:
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = ClosableSemaphore::new(1);
    /// let held = sem.acquire().await.unwrap();
    /// let mut waiting = pin!(sem.acquire());
    /// assert!(poll!(waiting.as_mut()).is_pending());
    /// drop(held); // handed to `waiting`
    /// sem.close();
    /// assert!(waiting.await.is_ok());
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire(&self) -> ClosableAcquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, taking them together; `Err(Closed)` if the
    /// semaphore is closed before all of them are handed over (those already
    /// collected go back to the counter). See [`Semaphore::acquire_many`].
    ///
    /// ```
    /// use fairsync::{ClosableSemaphore, Closed};
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = ClosableSemaphore::new(3);
    /// let held = sem.try_acquire_many(2).unwrap();
    /// let mut big = pin!(sem.acquire_many(3));
    /// assert!(poll!(big.as_mut()).is_pending()); // collected the free one
    /// sem.close();
    /// assert_eq!(big.await.unwrap_err(), Closed);
    /// assert_eq!(sem.available_permits(), 1); // ... and gave it back
    /// # drop(held);
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// At the call, if `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_many(&self, n: usize) -> ClosableAcquire<'_> {
        ClosableAcquire {
            inner: RawAcquire::new(self, n),
        }
    }

    /// Waits for one permit, holding the semaphore by `Arc` so the permit
    /// can outlive the borrow (for example, be moved into a spawned task).
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(ClosableSemaphore::new(1));
    /// let permit = sem.acquire_owned().await.unwrap();
    /// sem.close(); // the permit stays valid
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// assert!(sem.acquire_owned().await.is_err());
    /// # });
    /// ```
    #[cfg(feature = "alloc")]
    #[inline]
    #[doc(alias = "acquire_arc")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_owned(self: &Arc<Self>) -> ClosableAcquireOwned {
        self.acquire_many_owned(1)
    }

    /// Waits for `n` permits, holding the semaphore by `Arc`; see
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(ClosableSemaphore::new(4));
    /// let permit = sem.acquire_many_owned(3).await.unwrap();
    /// let worker = std::thread::spawn(move || permit.permits());
    /// assert_eq!(worker.join().unwrap(), 3);
    /// assert_eq!(sem.available_permits(), 4);
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// At the call, if `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[cfg(feature = "alloc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_many_owned(self: &Arc<Self>, n: usize) -> ClosableAcquireOwned {
        ClosableAcquireOwned {
            inner: RawAcquire::new(Arc::clone(self), n),
        }
    }

    /// Takes one permit if one is free and nobody is waiting.
    ///
    /// Fails with [`TryAcquireError::Closed`] once the semaphore is closed,
    /// else with [`TryAcquireError::NoPermits`]. Closed wins, also while
    /// permits are free.
    ///
    /// ```
    /// use fairsync::{ClosableSemaphore, TryAcquireError};
    ///
    /// let sem = ClosableSemaphore::new(1);
    /// let held = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// sem.close();
    /// drop(held);
    /// assert_eq!(sem.available_permits(), 1);
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if that many are free and nobody is waiting.
    /// `try_acquire_many(0)` succeeds unless the semaphore is closed.
    ///
    /// ```
    /// use fairsync::{ClosableSemaphore, TryAcquireError};
    ///
    /// let sem = ClosableSemaphore::new(2);
    /// let err = sem.try_acquire_many(3).unwrap_err();
    /// assert_eq!(err, TryAcquireError::NoPermits);
    /// assert_eq!(sem.try_acquire_many(0).unwrap().permits(), 0);
    /// sem.close();
    /// let err = sem.try_acquire_many(0).unwrap_err();
    /// assert_eq!(err, TryAcquireError::Closed);
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_take(n)?;
        Ok(SemaphorePermit::from_closable(
            self,
            n,
            Held::tried(self, n),
        ))
    }

    /// Like [`try_acquire`](Self::try_acquire), holding the semaphore by
    /// `Arc`.
    ///
    /// ```
    /// use fairsync::{ClosableSemaphore, TryAcquireError};
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(ClosableSemaphore::new(1));
    /// let permit = sem.try_acquire_owned().unwrap();
    /// let err = sem.try_acquire_owned().unwrap_err();
    /// assert_eq!(err, TryAcquireError::NoPermits);
    /// assert!(Arc::ptr_eq(permit.closable_semaphore().unwrap(), &sem));
    /// ```
    #[cfg(feature = "alloc")]
    #[doc(alias = "try_acquire_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Like [`try_acquire_many`](Self::try_acquire_many), holding the
    /// semaphore by `Arc`.
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(ClosableSemaphore::new(3));
    /// let two = sem.try_acquire_many_owned(2).unwrap();
    /// assert!(sem.try_acquire_many_owned(2).is_err()); // one left
    /// std::thread::spawn(move || drop(two)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[cfg(feature = "alloc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire_many_owned(
        self: &Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(n)?;
        Ok(OwnedSemaphorePermit::from_closable(
            Arc::clone(self),
            n,
            Held::tried(&**self, n),
        ))
    }

    /// The fast path of every acquire: takes `n` permits from the counter.
    #[inline]
    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        check_request(n);
        if self.queue().try_acquire(n) {
            Ok(())
        } else if self.is_closed() {
            // Closing is for good, so a failure seen closed now was (or may
            // as well have been) a failure after close.
            Err(TryAcquireError::Closed)
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }
}

#[cfg(feature = "std")]
impl ClosableSemaphore {
    /// Blocks the current thread until a permit is available, or fails when
    /// the semaphore is closed. It queues in the same FIFO line as async
    /// waiters, and [`close`](Self::close) wakes it with `Err(Closed)`.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run a
    /// permit holder (or the task that would close the semaphore) is a
    /// deadlock; on a multi-threaded one it takes a worker away until then.
    /// It never panics, also not inside a runtime (tokio's
    /// `blocking_acquire` does). From async code use
    /// [`acquire`](Self::acquire).
    ///
    /// ```
    /// use fairsync::{ClosableSemaphore, Closed};
    ///
    /// let sem = ClosableSemaphore::new(1);
    /// let held = sem.acquire_blocking().unwrap();
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| sem.acquire_blocking().map(drop));
    ///     while sem.waiters() == 0 {
    ///         std::thread::yield_now(); // until the thread has queued
    ///     }
    ///     sem.close(); // wakes the waiting thread with the error
    ///     assert_eq!(waiter.join().unwrap(), Err(Closed));
    /// });
    /// drop(held);
    /// ```
    #[doc(alias = "blocking_acquire")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_blocking(&self) -> Result<SemaphorePermit<'_>, Closed> {
        self.acquire_many_blocking(1)
    }

    /// Blocks the current thread until `n` permits are available, taking
    /// them together, or fails when the semaphore is closed; see
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking): not
    /// on an executor thread, and it never panics. From async code use
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    ///
    /// let sem = ClosableSemaphore::new(3);
    /// let held = sem.try_acquire_many(2).unwrap();
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| sem.acquire_many_blocking(3).map(|p| p.permits()));
    ///     while sem.waiters() == 0 {
    ///         std::thread::yield_now(); // until the thread has queued
    ///     }
    ///     drop(held); // the waiter now has all three
    ///     assert_eq!(waiter.join().unwrap(), Ok(3));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_many_blocking(&self, n: usize) -> Result<SemaphorePermit<'_>, Closed> {
        match self.try_take(n) {
            Ok(()) => Ok(SemaphorePermit::from_closable(
                self,
                n,
                Held::blocking(self, n),
            )),
            Err(TryAcquireError::Closed) => Err(Closed),
            Err(TryAcquireError::NoPermits) => wait_forever(self.acquire_many(n)),
        }
    }

    /// Like [`acquire_blocking`](Self::acquire_blocking), holding the
    /// semaphore by `Arc` so the permit can move to another thread.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking): not
    /// on an executor thread, and it never panics. From async code use
    /// [`acquire_owned`](Self::acquire_owned).
    ///
    /// ```
    /// use fairsync::{ClosableSemaphore, Closed};
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(ClosableSemaphore::new(1));
    /// let permit = sem.acquire_owned_blocking().unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// sem.close();
    /// assert_eq!(sem.acquire_owned_blocking().unwrap_err(), Closed);
    /// ```
    #[doc(alias("acquire_arc_blocking", "blocking_acquire_owned"))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_owned_blocking(self: &Arc<Self>) -> Result<OwnedSemaphorePermit, Closed> {
        self.acquire_many_owned_blocking(1)
    }

    /// Like [`acquire_many_blocking`](Self::acquire_many_blocking), holding
    /// the semaphore by `Arc`.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking): not
    /// on an executor thread, and it never panics. From async code use
    /// [`acquire_many_owned`](Self::acquire_many_owned).
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(ClosableSemaphore::new(2));
    /// let both = sem.acquire_many_owned_blocking(2).unwrap();
    /// let worker = std::thread::spawn(move || both.permits());
    /// assert_eq!(worker.join().unwrap(), 2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[doc(alias = "blocking_acquire_many_owned")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_many_owned_blocking(
        self: &Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, Closed> {
        match self.try_take(n) {
            Ok(()) => Ok(OwnedSemaphorePermit::from_closable(
                Arc::clone(self),
                n,
                Held::blocking(&**self, n),
            )),
            Err(TryAcquireError::Closed) => Err(Closed),
            Err(TryAcquireError::NoPermits) => wait_forever(self.acquire_many_owned(n)),
        }
    }

    /// Blocks the current thread for at most `timeout` waiting for a permit.
    /// Fails with [`TryAcquireError::NoPermits`] if the time ran out (the
    /// caller then no longer waits) and with [`TryAcquireError::Closed`] if
    /// the semaphore is closed first. `Duration::ZERO` behaves like
    /// [`try_acquire`](Self::try_acquire); `Duration::MAX` waits without a
    /// deadline.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking), and
    /// never panics. On a single-threaded runtime a permit holder cannot
    /// run meanwhile, so the call waits out all of `timeout` and fails with
    /// `NoPermits`, however soon the permit would have come back. From
    /// async code, run [`acquire`](Self::acquire) under your runtime's
    /// timeout instead: dropping the timed-out future loses no permit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fairsync::{ClosableSemaphore, TryAcquireError};
    ///
    /// let sem = ClosableSemaphore::new(1);
    /// let held = sem.acquire_blocking_timeout(Duration::from_millis(10)).unwrap();
    /// let late = sem.acquire_blocking_timeout(Duration::from_millis(10));
    /// assert_eq!(late.unwrap_err(), TryAcquireError::NoPermits);
    /// sem.close();
    /// let closed = sem.acquire_blocking_timeout(Duration::from_millis(10));
    /// assert_eq!(closed.unwrap_err(), TryAcquireError::Closed);
    /// drop(held);
    /// ```
    #[doc(alias = "try_acquire_for")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_blocking_timeout(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.acquire_many_blocking_timeout(1, timeout)
    }

    /// Like [`acquire_blocking_timeout`](Self::acquire_blocking_timeout), for
    /// `n` permits taken together. If the time runs out or the semaphore is
    /// closed first, the permits the request had collected go back.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking). From
    /// async code, run [`acquire_many`](Self::acquire_many) under your
    /// runtime's timeout instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fairsync::{ClosableSemaphore, TryAcquireError};
    ///
    /// let sem = ClosableSemaphore::new(2);
    /// let held = sem.try_acquire().unwrap();
    /// let late = sem.acquire_many_blocking_timeout(2, Duration::from_millis(1));
    /// assert_eq!(late.unwrap_err(), TryAcquireError::NoPermits);
    /// assert_eq!(sem.available_permits(), 1); // the collected permit is back
    /// drop(held);
    /// assert!(sem.acquire_many_blocking_timeout(2, Duration::ZERO).is_ok());
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_many_blocking_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        match self.try_take(n) {
            Ok(()) => Ok(SemaphorePermit::from_closable(
                self,
                n,
                Held::blocking(self, n),
            )),
            Err(TryAcquireError::NoPermits) if !timeout.is_zero() => {
                match block_on(self.acquire_many(n), deadline(timeout)) {
                    Some(acquired) => acquired.map_err(TryAcquireError::from),
                    None => Err(TryAcquireError::NoPermits),
                }
            }
            Err(error) => Err(error),
        }
    }
}

impl ClosableSemaphore {
    /// Closes the semaphore: every queued waiter fails with `Err(Closed)`
    /// and is woken, and every later acquire fails at once. Permits already
    /// handed out stay valid. Idempotent; there is no reopening. Never
    /// blocks on permit holders.
    ///
    /// ```
    /// use fairsync::{ClosableSemaphore, Closed};
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = ClosableSemaphore::new(1);
    /// let held = sem.acquire().await.unwrap();
    /// let mut queued = pin!(sem.acquire());
    /// assert!(poll!(queued.as_mut()).is_pending());
    ///
    /// sem.close();
    /// sem.close(); // idempotent
    /// assert_eq!(queued.await.unwrap_err(), Closed);
    /// drop(held); // held across close, still returned
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    ///
    /// Draining a pool on shutdown: close it, then wait until every permit
    /// is back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use fairsync::ClosableSemaphore;
    ///
    /// const CONNECTIONS: usize = 4;
    /// let pool = Arc::new(ClosableSemaphore::new(CONNECTIONS));
    /// let workers: Vec<_> = (0..8)
    ///     .map(|_| {
    ///         let pool = Arc::clone(&pool);
    ///         std::thread::spawn(move || {
    ///             let mut served = 0;
    ///             // Each worker serves requests until the pool is closed.
    ///             while let Ok(_connection) = pool.acquire_blocking() {
    ///                 served += 1;
    ///                 std::thread::yield_now();
    ///             }
    ///             served
    ///         })
    ///     })
    ///     .collect();
    ///
    /// pool.close();
    /// let served: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    /// // Every connection is back; nothing was lost to the shutdown.
    /// assert_eq!(pool.available_permits(), CONNECTIONS);
    /// # let _ = served;
    /// ```
    pub fn close(&self) {
        self.queue().close();
    }

    /// Whether [`close`](Self::close) has been called.
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    ///
    /// let sem = ClosableSemaphore::new(1);
    /// assert!(!sem.is_closed());
    /// sem.close();
    /// assert!(sem.is_closed());
    /// ```
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.queue().is_closed()
    }

    /// Adds `n` permits, handing them to waiters in FIFO order first (see
    /// [`Semaphore::add_permits`]). After [`close`](Self::close) they go to
    /// the counter; closing never makes this panic.
    ///
    /// ```
    /// use fairsync::{ClosableSemaphore, TryAcquireError};
    ///
    /// let sem = ClosableSemaphore::new(0);
    /// sem.close();
    /// sem.add_permits(2); // no panic: counted, though nobody can take them
    /// assert_eq!(sem.available_permits(), 2);
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// ```
    ///
    /// # Panics
    ///
    /// If the semaphore's permits (available, held and collected by waiters)
    /// would pass [`MAX_PERMITS`](Self::MAX_PERMITS): that is bad input,
    /// closed or not. Nothing changes then.
    pub fn add_permits(&self, n: usize) {
        self.sem.add_permits(n);
    }

    /// Removes up to `n` of the free permits for good, without waiting, and
    /// returns how many; see [`Semaphore::forget_permits`]. Works the same
    /// after [`close`](Self::close).
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    ///
    /// let sem = ClosableSemaphore::new(5);
    /// let held = sem.try_acquire_many(2).unwrap();
    /// sem.close();
    /// assert_eq!(sem.forget_permits(4), 3); // only 3 were free
    /// drop(held);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        self.sem.forget_permits(n)
    }

    /// Permits free to take now: not held, and not already collected by a
    /// queued waiter. Always 0 while anyone waits. After close, the permits
    /// returned so far.
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    ///
    /// let sem = ClosableSemaphore::new(3);
    /// let held = sem.try_acquire_many(2).unwrap();
    /// sem.close();
    /// assert_eq!(sem.available_permits(), 1);
    /// drop(held);
    /// assert_eq!(sem.available_permits(), 3); // nothing lost to the close
    /// ```
    #[inline]
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// Callers (async and blocking) queued and not yet granted. 0 once
    /// [`close`](Self::close) has returned.
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = ClosableSemaphore::new(0);
    /// let mut waiting = pin!(sem.acquire());
    /// assert!(poll!(waiting.as_mut()).is_pending());
    /// assert_eq!(sem.waiters(), 1);
    /// sem.close();
    /// assert_eq!(sem.waiters(), 0); // failed, even before it runs again
    /// assert!(waiting.await.is_err());
    /// # });
    /// ```
    #[inline]
    pub fn waiters(&self) -> usize {
        self.sem.waiters()
    }
}

impl fmt::Debug for ClosableSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClosableSemaphore");
        d.field("available_permits", &self.available_permits())
            .field("waiters", &self.waiters())
            .field("is_closed", &self.is_closed());
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::debug_fields(&mut d, self.queue());
        d.finish()
    }
}

/// The semaphore was closed: the error of every acquire of a closed
/// [`ClosableSemaphore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(alias = "AcquireError")]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Closed {}

/// Why a `try_*` or timed acquire of a [`ClosableSemaphore`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore is closed.
    Closed,
    /// Not enough permits were free (or someone was waiting), or the time
    /// ran out.
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryAcquireError::Closed => "semaphore closed",
            TryAcquireError::NoPermits => "no permits available",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TryAcquireError {}

impl From<Closed> for TryAcquireError {
    fn from(Closed: Closed) -> Self {
        TryAcquireError::Closed
    }
}

pin_project! {
    /// The future of [`ClosableSemaphore::acquire`] and
    /// [`ClosableSemaphore::acquire_many`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ClosableAcquire<'a> {
        #[pin]
        inner: RawAcquire<&'a ClosableSemaphore>,
    }
}

#[cfg(feature = "alloc")]
pin_project! {
    /// The future of [`ClosableSemaphore::acquire_owned`] and
    /// [`ClosableSemaphore::acquire_many_owned`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ClosableAcquireOwned {
        #[pin]
        inner: RawAcquire<Arc<ClosableSemaphore>>,
    }
}

macro_rules! closable_future {
    ($future:ident $(<$lt:lifetime>)?, $permit:ident) => {
        impl<$($lt)?> Future for $future<$($lt)?> {
            type Output = Result<$permit$(<$lt>)?, Closed>;

            #[inline]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                let mut inner = self.project().inner;
                let permits = inner.permits();
                inner
                    .as_mut()
                    .poll_closable(cx)
                    .map(|granted| granted.map(|(sem, held)| $permit::from_closable(sem, permits, held)))
            }
        }

        impl<$($lt)?> FusedFuture for $future<$($lt)?> {
            fn is_terminated(&self) -> bool {
                self.inner.is_terminated()
            }
        }

        impl<$($lt)?> fmt::Debug for $future<$($lt)?> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($future))
                    .field("permits", &self.inner.permits())
                    .field("state", &self.inner.state())
                    .finish()
            }
        }
    };
}

closable_future!(ClosableAcquire<'a>, SemaphorePermit);
#[cfg(feature = "alloc")]
closable_future!(ClosableAcquireOwned, OwnedSemaphorePermit);
