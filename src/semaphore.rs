//! A counting semaphore with strictly FIFO, weighted acquires.

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
use crate::closable::ClosableSemaphore;
use crate::queue::{HasQueue, RawAcquire, RawSemaphore, MAX_PERMITS};
use crate::sync::{AtomicUsize, Ordering};
use crate::track::Held;

/// A counting semaphore: a pool of interchangeable permits.
///
/// Permits are handed out in strict FIFO order. A released permit goes
/// straight to the oldest waiter, and a weighted request at the head of the
/// line ([`acquire_many`](Self::acquire_many)) collects permits as they are
/// released, so later, smaller requests never overtake it. Dropping an
/// acquire future at any point loses no permit.
///
/// # Examples
///
/// Bound how many requests are in flight:
///
/// ```
/// use fairsync::Semaphore;
///
/// static IN_FLIGHT: Semaphore = Semaphore::new(2);
///
/// async fn request(id: u32) -> u32 {
///     let _permit = IN_FLIGHT.acquire().await;
///     // At most two requests run this part at once.
///     id * 10
/// }
///
/// # futures::executor::block_on(async {
/// let results = futures::future::join_all((0..5).map(request)).await;
/// assert_eq!(results, [0, 10, 20, 30, 40]);
/// assert_eq!(IN_FLIGHT.available_permits(), 2);
/// # });
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
    /// Permits the semaphore owns: available, held or collected by a waiter.
    /// Changes only in `add_permits` and `forget`, so it bounds the counter.
    total: AtomicUsize,
}

impl HasQueue for Semaphore {
    #[inline]
    fn queue(&self) -> &RawSemaphore {
        &self.raw
    }

    #[cfg(feature = "diagnostics")]
    fn info(&self) -> crate::track::Info {
        crate::track::Info::permits("Semaphore", self.total.load(Ordering::Relaxed))
    }
}

impl Semaphore {
    /// The most permits a semaphore can hold, and the most one call can ask
    /// for. [`new`](Self::new), `acquire_many*` and `try_acquire_many*` with
    /// more panic at the call, and [`add_permits`](Self::add_permits) panics
    /// rather than raise the available permits past it.
    pub const MAX_PERMITS: usize = MAX_PERMITS;

    crate::sync::const_fn! {
        /// Creates a semaphore with `permits` permits. `const`, so a
        /// semaphore can be a `static`.
        ///
        /// ```
        /// use fairsync::Semaphore;
        ///
        /// static DOWNLOADS: Semaphore = Semaphore::new(3);
        /// assert_eq!(DOWNLOADS.available_permits(), 3);
        /// assert_eq!(DOWNLOADS.waiters(), 0);
        /// ```
        ///
        /// # Panics
        ///
        /// If `permits` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
        #[doc(alias = "const_new")]
        pub const fn new(permits: usize) -> Semaphore {
            Semaphore {
                raw: RawSemaphore::new(permits),
                total: AtomicUsize::new(permits),
            }
        }
    }

    /// Waits for one permit.
    ///
    /// Cancel safe: dropping the future returns any permit it was handed to
    /// the next waiter.
    ///
    /// Waiters are served in the order they first polled:
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(1);
    /// let held = sem.acquire().await;
    /// let mut first = pin!(sem.acquire());
    /// let mut second = pin!(sem.acquire());
    /// assert!(poll!(first.as_mut()).is_pending());
    /// assert!(poll!(second.as_mut()).is_pending());
    ///
    /// drop(held); // handed to `first`, not to whoever polls next
    /// assert!(poll!(second.as_mut()).is_pending());
    /// drop(first.await);
    /// assert!(poll!(second.as_mut()).is_ready());
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, taking them together.
    ///
    /// The request keeps its place in line while it collects permits, so a
    /// later request, however small, waits behind it. `n == 0` is ready at
    /// the first poll, even while others wait. Asking for more permits than
    /// the semaphore will ever have waits forever and holds up everyone
    /// queued behind.
    ///
    /// # Panics
    ///
    /// At the call, if `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// use fairsync::Semaphore;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(5);
    /// let three = sem.acquire_many(3).await;
    /// assert_eq!(three.permits(), 3);
    /// assert_eq!(sem.available_permits(), 2);
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            inner: RawAcquire::new(self, n),
        }
    }

    /// Takes one permit if one is free and nobody is waiting.
    ///
    /// It never overtakes a waiter, however small its request: a weighted
    /// request at the head of the line collects the permits that come free.
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(3);
    /// let held = sem.try_acquire_many(2).unwrap();
    /// let mut big = pin!(sem.acquire_many(2));
    /// assert!(poll!(big.as_mut()).is_pending()); // collected the free permit
    /// assert!(sem.try_acquire().is_none());
    ///
    /// drop(held);
    /// let _big = big.await;
    /// assert!(sem.try_acquire().is_some()); // the third permit
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if that many are free and nobody is waiting.
    /// `try_acquire_many(0)` always succeeds. All or nothing: a failed call
    /// takes no permit.
    ///
    /// ```
    /// use fairsync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_none());
    /// assert_eq!(sem.available_permits(), 2); // nothing taken
    /// let both = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(both.permits(), 2);
    /// assert_eq!(sem.try_acquire_many(0).unwrap().permits(), 0);
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        check_request(n);
        if !self.raw.try_acquire(n) {
            return None;
        }
        Some(SemaphorePermit {
            sem: Source::Plain(self),
            permits: n,
            held: Held::tried(self, n),
        })
    }
}

#[cfg(feature = "std")]
impl Semaphore {
    /// Blocks the current thread until a permit is available, queueing in
    /// the same FIFO line as async waiters.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run a
    /// permit holder is a deadlock; on a multi-threaded one it takes a
    /// worker away until a permit is handed over. It never panics, also not
    /// inside a runtime (tokio's `blocking_acquire` does). From async code
    /// use [`acquire`](Self::acquire).
    ///
    /// ```
    /// use fairsync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// let held = sem.acquire_blocking();
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| sem.acquire_blocking().permits());
    ///     while sem.waiters() == 0 {
    ///         std::thread::yield_now(); // until the thread has queued
    ///     }
    ///     drop(held); // hands the permit to the waiting thread
    ///     assert_eq!(waiter.join().unwrap(), 1);
    /// });
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[doc(alias = "blocking_acquire")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_blocking(&self) -> SemaphorePermit<'_> {
        self.acquire_many_blocking(1)
    }

    /// Blocks the current thread until `n` permits are available, taking
    /// them together; see [`acquire_many`](Self::acquire_many) for how the
    /// request keeps its place in line.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking): not
    /// on an executor thread, and it never panics. From async code use
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// ```
    /// use fairsync::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// let held = sem.try_acquire_many(2).unwrap();
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| sem.acquire_many_blocking(3).permits());
    ///     while sem.waiters() == 0 {
    ///         std::thread::yield_now(); // until the thread has queued
    ///     }
    ///     drop(held); // the waiter now has all three
    ///     assert_eq!(waiter.join().unwrap(), 3);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[doc(alias = "blocking_acquire_many")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_many_blocking(&self, n: usize) -> SemaphorePermit<'_> {
        // The fast path first: it keeps FIFO (it fails while anyone waits)
        // and skips the blocking machinery when uncontended.
        check_request(n);
        if self.raw.try_acquire(n) {
            return SemaphorePermit {
                sem: Source::Plain(self),
                permits: n,
                held: Held::blocking(self, n),
            };
        }
        wait_forever(self.acquire_many(n))
    }

    /// Blocks the current thread for at most `timeout` waiting for a permit,
    /// like Python's `acquire(timeout=...)`. Returns `None` if the time ran
    /// out; the caller then no longer waits. `Duration::ZERO` behaves like
    /// [`try_acquire`](Self::try_acquire); `Duration::MAX` waits without a
    /// deadline.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking), and
    /// never panics. On a single-threaded runtime a permit holder cannot
    /// run meanwhile, so the call waits out all of `timeout` and fails,
    /// however soon the permit would have come back. From async code, run
    /// [`acquire`](Self::acquire) under your runtime's timeout instead:
    /// dropping the timed-out future loses no permit.
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use std::time::Duration;
    ///
    /// let sem = Semaphore::new(1);
    /// let held = sem.acquire_blocking_timeout(Duration::from_millis(10)).unwrap();
    /// assert!(sem.acquire_blocking_timeout(Duration::from_millis(10)).is_none());
    /// assert_eq!(sem.waiters(), 0); // the timed-out caller left the line
    /// drop(held);
    /// assert!(sem.acquire_blocking_timeout(Duration::ZERO).is_some());
    /// ```
    #[doc(alias = "try_acquire_for")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_blocking_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_many_blocking_timeout(1, timeout)
    }

    /// Like [`acquire_blocking_timeout`](Self::acquire_blocking_timeout),
    /// for `n` permits taken together. If the time runs out, the permits
    /// the request had collected go back.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking). From
    /// async code, run [`acquire_many`](Self::acquire_many) under your
    /// runtime's timeout instead.
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use std::time::Duration;
    ///
    /// let sem = Semaphore::new(2);
    /// let held = sem.try_acquire().unwrap();
    /// assert!(sem.acquire_many_blocking_timeout(2, Duration::from_millis(1)).is_none());
    /// assert_eq!(sem.available_permits(), 1); // the collected permit is back
    /// drop(held);
    /// let both = sem.acquire_many_blocking_timeout(2, Duration::ZERO).unwrap();
    /// assert_eq!(both.permits(), 2);
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
    ) -> Option<SemaphorePermit<'_>> {
        check_request(n);
        if self.raw.try_acquire(n) {
            return Some(SemaphorePermit {
                sem: Source::Plain(self),
                permits: n,
                held: Held::blocking(self, n),
            });
        }
        if timeout.is_zero() {
            return None;
        }
        block_on(self.acquire_many(n), deadline(timeout))
    }
}

#[cfg(feature = "alloc")]
impl Semaphore {
    /// Waits for one permit, holding the semaphore by `Arc` so the permit
    /// can outlive the borrow (for example, be moved into a spawned task).
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(Semaphore::new(1));
    /// let permit = sem.acquire_owned().await; // the permit keeps its own `Arc`
    /// let worker = std::thread::spawn(move || drop(permit));
    /// worker.join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    #[inline]
    #[doc(alias = "acquire_arc")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_owned(self: &Arc<Self>) -> AcquireOwned {
        self.acquire_many_owned(1)
    }

    /// Waits for `n` permits, holding the semaphore by `Arc`; see
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(Semaphore::new(4));
    /// let permit = sem.acquire_many_owned(3).await;
    /// let worker = std::thread::spawn(move || permit.permits());
    /// assert_eq!(worker.join().unwrap(), 3); // dropped on the thread
    /// assert_eq!(sem.available_permits(), 4);
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// At the call, if `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_many_owned(self: &Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned {
            inner: RawAcquire::new(Arc::clone(self), n),
        }
    }

    /// Takes one permit if one is free and nobody is waiting, holding the
    /// semaphore by `Arc`; see [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(Semaphore::new(1));
    /// let permit = sem.try_acquire_owned().unwrap(); // `sem` is still ours
    /// assert!(sem.try_acquire_owned().is_none());
    /// assert!(Arc::ptr_eq(permit.semaphore(), &sem));
    /// ```
    #[doc(alias = "try_acquire_arc")]
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedSemaphorePermit> {
        self.try_acquire_many_owned(1)
    }

    /// Takes `n` permits if that many are free and nobody is waiting,
    /// holding the semaphore by `Arc`; see
    /// [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(Semaphore::new(3));
    /// let two = sem.try_acquire_many_owned(2).unwrap();
    /// assert!(sem.try_acquire_many_owned(2).is_none()); // one left
    /// std::thread::spawn(move || drop(two)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is more than [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_acquire_many_owned(self: &Arc<Self>, n: usize) -> Option<OwnedSemaphorePermit> {
        check_request(n);
        if !self.raw.try_acquire(n) {
            return None;
        }
        Some(OwnedSemaphorePermit {
            sem: OwnedSource::Plain(Arc::clone(self)),
            permits: n,
            held: Held::tried(&**self, n),
        })
    }
}

#[cfg(feature = "std")]
impl Semaphore {
    /// Like [`acquire_blocking`](Self::acquire_blocking), holding the
    /// semaphore by `Arc` so the permit can move to another thread.
    ///
    /// **Blocks**, like [`acquire_blocking`](Self::acquire_blocking): not
    /// on an executor thread, and it never panics. From async code use
    /// [`acquire_owned`](Self::acquire_owned).
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(Semaphore::new(1));
    /// let permit = sem.acquire_owned_blocking();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[doc(alias("acquire_arc_blocking", "blocking_acquire_owned"))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn acquire_owned_blocking(self: &Arc<Self>) -> OwnedSemaphorePermit {
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
    /// use fairsync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(Semaphore::new(2));
    /// let both = sem.acquire_many_owned_blocking(2);
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
    pub fn acquire_many_owned_blocking(self: &Arc<Self>, n: usize) -> OwnedSemaphorePermit {
        check_request(n);
        if self.raw.try_acquire(n) {
            return OwnedSemaphorePermit {
                sem: OwnedSource::Plain(Arc::clone(self)),
                permits: n,
                held: Held::blocking(&**self, n),
            };
        }
        wait_forever(self.acquire_many_owned(n))
    }
}

impl Semaphore {
    /// Adds `n` permits, handing them to waiters in FIFO order first.
    ///
    /// The oldest waiter collects what it still needs before anyone behind
    /// it gets a permit:
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(0);
    /// let mut first = pin!(sem.acquire_many(2));
    /// let mut second = pin!(sem.acquire());
    /// assert!(poll!(first.as_mut()).is_pending());
    /// assert!(poll!(second.as_mut()).is_pending());
    ///
    /// sem.add_permits(1); // goes to `first`, which needs one more
    /// assert!(poll!(second.as_mut()).is_pending());
    /// sem.add_permits(2); // completes `first`, then serves `second`
    /// assert_eq!(first.await.permits(), 2);
    /// assert_eq!(second.await.permits(), 1);
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// If the semaphore's permits (available, held and collected by waiters)
    /// would pass [`MAX_PERMITS`](Self::MAX_PERMITS); nothing changes then.
    pub fn add_permits(&self, n: usize) {
        let added = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                total.checked_add(n).filter(|&total| total <= MAX_PERMITS)
            });
        if let Err(total) = added {
            panic!(
                "add_permits({n}) would raise the semaphore's {total} permits past \
                 Semaphore::MAX_PERMITS ({MAX_PERMITS})"
            );
        }
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::set_capacity(&self.raw, self.total.load(Ordering::Relaxed));
        self.raw.release(n);
    }

    /// Removes up to `n` of the free permits for good, without waiting, and
    /// returns how many it removed: shrinks the semaphore's limit.
    ///
    /// Only free permits are taken: not those held, and not those a queued
    /// waiter has already collected (while anyone waits, none are free, so
    /// this returns 0). To take permits away as they are released, acquire
    /// them and [`forget`](SemaphorePermit::forget) the permit.
    ///
    /// ```
    /// use fairsync::Semaphore;
    ///
    /// let sem = Semaphore::new(10);
    /// let held = sem.try_acquire_many(4).unwrap();
    /// assert_eq!(sem.forget_permits(8), 6); // only 6 were free
    /// drop(held);
    /// assert_eq!(sem.available_permits(), 4);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        let taken = self.raw.forget(n);
        self.total.fetch_sub(taken, Ordering::Relaxed);
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::set_capacity(&self.raw, self.total.load(Ordering::Relaxed));
        taken
    }

    /// Permits free to take now: not held, and not already collected by a
    /// queued waiter. Always 0 while anyone waits.
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(3);
    /// let held = sem.acquire_many(2).await;
    /// assert_eq!(sem.available_permits(), 1);
    /// let mut big = pin!(sem.acquire_many(3));
    /// assert!(poll!(big.as_mut()).is_pending());
    /// assert_eq!(sem.available_permits(), 0); // collected by `big`
    /// # drop(held);
    /// # });
    /// ```
    #[inline]
    pub fn available_permits(&self) -> usize {
        self.raw.available()
    }

    /// Callers (async and blocking) queued and not yet granted. A cancelled
    /// waiter no longer counts.
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use futures::poll;
    /// use std::pin::pin;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(0);
    /// {
    ///     let mut waiting = pin!(sem.acquire());
    ///     assert!(poll!(waiting.as_mut()).is_pending());
    ///     assert_eq!(sem.waiters(), 1);
    /// } // cancelled
    /// assert_eq!(sem.waiters(), 0);
    /// # });
    /// ```
    #[inline]
    pub fn waiters(&self) -> usize {
        self.raw.waiters()
    }
}

#[inline]
pub(crate) fn check_request(n: usize) {
    if n > MAX_PERMITS {
        panic!("cannot acquire {n} permits: more than Semaphore::MAX_PERMITS ({MAX_PERMITS})");
    }
}

#[cfg(feature = "std")]
/// Drives an acquire that has no deadline on the current thread.
pub(crate) fn wait_forever<F: Future>(future: F) -> F::Output {
    block_on(future, None).expect("a wait without a deadline only ends when it completes")
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Semaphore");
        d.field("available_permits", &self.available_permits())
            .field("waiters", &self.waiters());
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::debug_fields(&mut d, &self.raw);
        d.finish()
    }
}

pin_project! {
    /// The future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Acquire<'a> {
        #[pin]
        inner: RawAcquire<&'a Semaphore>,
    }
}

#[cfg(feature = "alloc")]
pin_project! {
    /// The future of [`Semaphore::acquire_owned`] and
    /// [`Semaphore::acquire_many_owned`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AcquireOwned {
        #[pin]
        inner: RawAcquire<Arc<Semaphore>>,
    }
}

macro_rules! acquire_future {
    ($future:ident $(<$lt:lifetime>)?, $permit:ident) => {
        impl<$($lt)?> Future for $future<$($lt)?> {
            type Output = $permit$(<$lt>)?;

            #[inline]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                let mut inner = self.project().inner;
                let permits = inner.permits();
                inner
                    .as_mut()
                    .poll(cx)
                    .map(|(sem, held)| $permit {
                        sem: sem.into(),
                        permits,
                        held,
                    })
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

acquire_future!(Acquire<'a>, SemaphorePermit);
#[cfg(feature = "alloc")]
acquire_future!(AcquireOwned, OwnedSemaphorePermit);

/// Permits taken from a [`Semaphore`] or a [`ClosableSemaphore`]; dropping
/// it gives them back.
#[must_use = "dropping a permit releases it at once"]
pub struct SemaphorePermit<'a> {
    sem: Source<'a>,
    permits: usize,
    held: Held,
}

#[cfg(feature = "alloc")]
/// Permits taken from an `Arc<Semaphore>` or an `Arc<ClosableSemaphore>`;
/// dropping it gives them back.
#[must_use = "dropping a permit releases it at once"]
pub struct OwnedSemaphorePermit {
    sem: OwnedSource,
    permits: usize,
    held: Held,
}

/// Where a [`SemaphorePermit`] came from. Both kinds share one engine (a
/// `ClosableSemaphore` is a `Semaphore` that can also be closed), so
/// releasing needs no more than the engine; the kind is kept for the
/// accessors, which hand back what the caller acquired from.
#[derive(Clone, Copy)]
enum Source<'a> {
    Plain(&'a Semaphore),
    Closable(&'a ClosableSemaphore),
}

#[cfg(feature = "alloc")]
/// Where an [`OwnedSemaphorePermit`] came from; it keeps that `Arc` alive.
#[derive(Clone)]
enum OwnedSource {
    Plain(Arc<Semaphore>),
    Closable(Arc<ClosableSemaphore>),
}

impl<'a> Source<'a> {
    #[inline]
    fn engine(&self) -> &'a Semaphore {
        match *self {
            Source::Plain(sem) => sem,
            Source::Closable(sem) => sem.engine(),
        }
    }
}

#[cfg(feature = "alloc")]
impl OwnedSource {
    #[inline]
    fn engine(&self) -> &Semaphore {
        match self {
            OwnedSource::Plain(sem) => sem,
            OwnedSource::Closable(sem) => sem.engine(),
        }
    }
}

impl<'a> From<&'a Semaphore> for Source<'a> {
    fn from(sem: &'a Semaphore) -> Self {
        Source::Plain(sem)
    }
}

impl<'a> From<&'a ClosableSemaphore> for Source<'a> {
    fn from(sem: &'a ClosableSemaphore) -> Self {
        Source::Closable(sem)
    }
}

#[cfg(feature = "alloc")]
impl From<Arc<Semaphore>> for OwnedSource {
    fn from(sem: Arc<Semaphore>) -> Self {
        OwnedSource::Plain(sem)
    }
}

#[cfg(feature = "alloc")]
impl From<Arc<ClosableSemaphore>> for OwnedSource {
    fn from(sem: Arc<ClosableSemaphore>) -> Self {
        OwnedSource::Closable(sem)
    }
}

const FROM_CLOSABLE: &str = "this permit belongs to a ClosableSemaphore: \
                             use closable_semaphore() to reach it";

#[cfg(feature = "alloc")]
impl OwnedSemaphorePermit {
    /// Permits of `sem`, which the caller has just taken from its counter.
    pub(crate) fn from_closable(sem: Arc<ClosableSemaphore>, permits: usize, held: Held) -> Self {
        Self {
            sem: OwnedSource::Closable(sem),
            permits,
            held,
        }
    }

    /// The semaphore the permits belong to.
    ///
    /// ```
    /// use fairsync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(Semaphore::new(1));
    /// let permit = sem.try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(permit.semaphore(), &sem));
    /// ```
    ///
    /// # Panics
    ///
    /// If the permits belong to a [`ClosableSemaphore`]; use
    /// [`closable_semaphore`](Self::closable_semaphore) for those.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        match &self.sem {
            OwnedSource::Plain(sem) => sem,
            OwnedSource::Closable(_) => panic!("{FROM_CLOSABLE}"),
        }
    }

    /// The [`ClosableSemaphore`] the permits belong to, or `None` if they
    /// belong to a plain [`Semaphore`].
    ///
    /// A worker holding a permit can shut the pool down itself; its own
    /// permit stays valid:
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    /// use std::sync::Arc;
    ///
    /// let pool = Arc::new(ClosableSemaphore::new(1));
    /// let permit = pool.try_acquire_owned().unwrap();
    /// permit.closable_semaphore().unwrap().close();
    /// assert!(pool.is_closed());
    /// drop(permit);
    /// assert_eq!(pool.available_permits(), 1);
    /// ```
    pub fn closable_semaphore(&self) -> Option<&Arc<ClosableSemaphore>> {
        match &self.sem {
            OwnedSource::Plain(_) => None,
            OwnedSource::Closable(sem) => Some(sem),
        }
    }
}

impl<'a> SemaphorePermit<'a> {
    /// Permits of `sem`, which the caller has just taken from its counter.
    pub(crate) fn from_closable(sem: &'a ClosableSemaphore, permits: usize, held: Held) -> Self {
        Self {
            sem: Source::Closable(sem),
            permits,
            held,
        }
    }

    /// The semaphore the permits belong to.
    ///
    /// ```
    /// use fairsync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(std::ptr::eq(permit.semaphore(), &sem));
    /// assert!(permit.closable_semaphore().is_none());
    /// ```
    ///
    /// # Panics
    ///
    /// If the permits belong to a [`ClosableSemaphore`]; use
    /// [`closable_semaphore`](Self::closable_semaphore) for those.
    pub fn semaphore(&self) -> &'a Semaphore {
        match self.sem {
            Source::Plain(sem) => sem,
            Source::Closable(_) => panic!("{FROM_CLOSABLE}"),
        }
    }

    /// The [`ClosableSemaphore`] the permits belong to, or `None` if they
    /// belong to a plain [`Semaphore`].
    ///
    /// ```
    /// use fairsync::ClosableSemaphore;
    ///
    /// let sem = ClosableSemaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(std::ptr::eq(permit.closable_semaphore().unwrap(), &sem));
    /// ```
    pub fn closable_semaphore(&self) -> Option<&'a ClosableSemaphore> {
        match self.sem {
            Source::Plain(_) => None,
            Source::Closable(sem) => Some(sem),
        }
    }
}

macro_rules! permit_methods {
    ($permit:ident $(<$lt:lifetime>)?) => {
        impl$(<$lt>)? $permit$(<$lt>)? {
            /// How many permits this holds.
            ///
            /// ```
            /// use fairsync::Semaphore;
            ///
            /// let sem = Semaphore::new(3);
            /// let permit = sem.try_acquire_many(2).unwrap();
            /// assert_eq!(permit.permits(), 2);
            /// ```
            #[doc(alias = "num_permits")]
            #[inline]
            pub fn permits(&self) -> usize {
                self.permits
            }

            /// Drops the permits without returning them: the semaphore
            /// ends up with that many fewer, for good. To take free
            /// permits away without acquiring them, see
            /// [`Semaphore::forget_permits`].
            ///
            /// ```
            /// use fairsync::Semaphore;
            ///
            /// let sem = Semaphore::new(3);
            /// sem.try_acquire_many(2).unwrap().forget();
            /// assert_eq!(sem.available_permits(), 1);
            /// let last = sem.try_acquire().unwrap();
            /// assert!(sem.try_acquire().is_none()); // one permit in all now
            /// drop(last);
            /// assert_eq!(sem.available_permits(), 1);
            /// ```
            pub fn forget(mut self) {
                self.held.end();
                let engine = self.sem.engine();
                engine.total.fetch_sub(self.permits, Ordering::Relaxed);
                #[cfg(feature = "diagnostics")]
                crate::diagnostics::set_capacity(&engine.raw, engine.total.load(Ordering::Relaxed));
                self.permits = 0;
            }

            /// Splits `n` permits off into a new permit of the same
            /// semaphore; `None` when `n` is more than this holds, and
            /// then nothing changes.
            ///
            /// ```
            /// use fairsync::Semaphore;
            ///
            /// let sem = Semaphore::new(5);
            /// let mut permit = sem.try_acquire_many(5).unwrap();
            /// let two = permit.split(2).unwrap();
            /// assert_eq!((permit.permits(), two.permits()), (3, 2));
            /// assert!(permit.split(4).is_none()); // it holds only 3
            /// assert_eq!(permit.permits(), 3);
            /// drop(two); // returns its 2; the other 3 stay held
            /// assert_eq!(sem.available_permits(), 2);
            /// ```
            pub fn split(&mut self, n: usize) -> Option<Self> {
                self.permits = self.permits.checked_sub(n)?;
                self.held.set_permits(self.permits);
                Some(Self {
                    sem: self.sem.clone(),
                    permits: n,
                    held: self.held.split(n),
                })
            }

            /// Moves the permits of `other` into this one.
            ///
            /// ```
            /// use fairsync::Semaphore;
            ///
            /// let sem = Semaphore::new(4);
            /// let mut permit = sem.try_acquire().unwrap();
            /// permit.merge(sem.try_acquire_many(2).unwrap());
            /// assert_eq!(permit.permits(), 3);
            /// drop(permit); // returns all three at once
            /// assert_eq!(sem.available_permits(), 4);
            /// ```
            ///
            /// # Panics
            ///
            /// If `other` belongs to another semaphore:
            ///
            /// ```should_panic
            /// use fairsync::Semaphore;
            ///
            /// let a = Semaphore::new(1);
            /// let b = Semaphore::new(1);
            /// let mut permit = a.try_acquire().unwrap();
            /// permit.merge(b.try_acquire().unwrap()); // panics
            /// ```
            pub fn merge(&mut self, mut other: Self) {
                assert!(
                    core::ptr::eq(self.sem.engine(), other.sem.engine()),
                    "cannot merge permits of different semaphores"
                );
                other.held.end();
                self.permits += other.permits;
                self.held.set_permits(self.permits);
                other.permits = 0;
            }
        }

        impl$(<$lt>)? Drop for $permit$(<$lt>)? {
            #[inline]
            fn drop(&mut self) {
                self.held.end();
                self.sem.engine().raw.release(self.permits);
            }
        }

        impl$(<$lt>)? fmt::Debug for $permit$(<$lt>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($permit))
                    .field("permits", &self.permits)
                    .finish()
            }
        }
    };
}

permit_methods!(SemaphorePermit<'a>);
#[cfg(feature = "alloc")]
permit_methods!(OwnedSemaphorePermit);
