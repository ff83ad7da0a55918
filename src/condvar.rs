//! A condition variable for fairsync's [`Mutex`].

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
#[cfg(feature = "std")]
use core::time::Duration;

use futures_core::future::FusedFuture;
use futures_core::ready;
use pin_project_lite::pin_project;

#[cfg(feature = "std")]
use crate::blocking::{block_on, deadline};
use crate::mutex::{Mutex, MutexGuard, MutexLock};
#[cfg(feature = "std")]
use crate::queue::pin_on_stack;
use crate::queue::{Arrival, RawNotify, RawWait};
#[cfg(feature = "std")]
use crate::semaphore::wait_forever;
use crate::track::Site;

/// Lets tasks and threads holding a [`Mutex`] wait until another one
/// changes the guarded value and notifies them.
///
/// - **No lost wake-up.** A wait joins the line on its first poll, before it
///   unlocks the mutex, so a notification sent after that always reaches a
///   waiter.
/// - **No spurious wake-up.** A wait returns only when a notification chose
///   it: [`notify_one`](Self::notify_one) picks the oldest waiter,
///   [`notify_all`](Self::notify_all) every waiter queued at that moment. A
///   notification with nobody waiting has no effect.
/// - **Cancel safe.** A wait dropped after a notification chose it, even
///   while it re-locks the mutex, passes the notification on to the next
///   waiter.
///
/// Waits re-lock the mutex in the mutex's FIFO line before they return.
/// The value may still have changed since the notification, so check the
/// condition again, or use [`wait_while`](Self::wait_while).
///
/// # Examples
///
/// ```
/// use fairsync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let queue = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
/// let consumer = {
///     let queue = Arc::clone(&queue);
///     std::thread::spawn(move || {
///         let (items, ready) = &*queue;
///         let mut items = ready.wait_while_blocking(items.lock_blocking(), |items| items.is_empty());
///         items.pop().unwrap()
///     })
/// };
/// let (items, ready) = &*queue;
/// items.lock_blocking().push("job");
/// ready.notify_one();
/// assert_eq!(consumer.join().unwrap(), "job");
/// ```
pub struct Condvar {
    waiters: RawNotify,
}

impl Condvar {
    crate::sync::const_fn! {
        /// Creates a condition variable with nobody waiting. `const`, so a
        /// condition variable can be a `static`.
        ///
        /// ```
        /// use fairsync::Condvar;
        ///
        /// static CHANGED: Condvar = Condvar::new();
        /// CHANGED.notify_all(); // nobody waits: no effect
        /// ```
        pub const fn new() -> Condvar {
            Condvar {
                waiters: RawNotify::new(),
            }
        }
    }

    /// Unlocks the mutex behind `guard`, waits for a notification, then
    /// locks the mutex again and returns the new guard.
    ///
    /// The wait joins the line on the first poll, before the mutex is
    /// unlocked. Dropping the future before that only drops `guard`.
    ///
    /// ```
    /// use fairsync::{Condvar, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let (state, changed) = (Mutex::new("starting"), Condvar::new());
    /// let waiter = async {
    ///     let mut guard = state.lock().await;
    ///     while *guard != "running" {
    ///         guard = changed.wait(guard).await;
    ///     }
    /// };
    /// let starter = async {
    ///     *state.lock().await = "running";
    ///     changed.notify_one();
    /// };
    /// futures::join!(waiter, starter);
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait<'a, 'b, T: ?Sized>(&'b self, guard: MutexGuard<'a, T>) -> CondvarWait<'a, 'b, T> {
        self.wait_at(guard, Site::caller())
    }

    /// Like [`wait`](Self::wait), on behalf of a caller at `site`.
    fn wait_at<'a, 'b, T: ?Sized>(
        &'b self,
        guard: MutexGuard<'a, T>,
        site: Site,
    ) -> CondvarWait<'a, 'b, T> {
        CondvarWait {
            site,
            mutex: MutexGuard::mutex(&guard),
            guard: Some(guard),
            phase: Phase::Register,
            wait: RawWait::new_at(&self.waiters, site),
            relock: None,
        }
    }

    /// Waits, as [`wait`](Self::wait) does, for as long as `condition`
    /// returns `true` for the guarded value. The condition is checked under
    /// the lock first: if it is already `false`, the future returns the
    /// guard at once, without unlocking.
    ///
    /// ```
    /// use fairsync::{Condvar, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let (count, changed) = (Mutex::new(0), Condvar::new());
    /// let wait = async {
    ///     let count = changed.wait_while(count.lock().await, |n| *n < 2).await;
    ///     *count
    /// };
    /// let bump = async {
    ///     for _ in 0..2 {
    ///         *count.lock().await += 1;
    ///         changed.notify_all();
    ///     }
    /// };
    /// let (seen, ()) = futures::join!(wait, bump);
    /// assert_eq!(seen, 2);
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait_while<'a, 'b, T: ?Sized, F: FnMut(&mut T) -> bool>(
        &'b self,
        guard: MutexGuard<'a, T>,
        condition: F,
    ) -> CondvarWaitWhile<'a, 'b, T, F> {
        CondvarWaitWhile {
            condvar: self,
            condition,
            wait: self.wait(guard),
        }
    }
}

#[cfg(feature = "std")]
impl Condvar {
    /// Blocks the current thread in [`wait`](Self::wait): unlocks, waits
    /// for a notification in the same line as async waiters, re-locks.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could notify
    /// is a deadlock; on a multi-threaded one it takes a worker away until
    /// the notification. From async code use [`wait`](Self::wait).
    ///
    /// ```
    /// use fairsync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let waiter = {
    ///     let pair = Arc::clone(&pair);
    ///     std::thread::spawn(move || {
    ///         let (done, changed) = &*pair;
    ///         let mut done_guard = done.lock_blocking();
    ///         while !*done_guard {
    ///             done_guard = changed.wait_blocking(done_guard);
    ///         }
    ///     })
    /// };
    /// *pair.0.lock_blocking() = true;
    /// pair.1.notify_one();
    /// waiter.join().unwrap();
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait_blocking<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        wait_forever(self.wait(guard))
    }

    /// Blocks the current thread in [`wait_while`](Self::wait_while).
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could notify
    /// is a deadlock; on a multi-threaded one it takes a worker away until
    /// the notification. From async code use [`wait`](Self::wait).
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait_while_blocking<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        wait_forever(self.wait_while(guard, condition))
    }

    /// Blocks the current thread in [`wait`](Self::wait) for at most
    /// `timeout`. The guard comes back locked either way; the result tells
    /// whether the time ran out before a notification arrived.
    ///
    /// Re-locking the mutex is not limited by `timeout`. `Duration::ZERO`
    /// returns at once, timed out, without unlocking; `Duration::MAX` waits
    /// without a deadline.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could notify
    /// is a deadlock; on a multi-threaded one it takes a worker away until
    /// the notification. From async code use [`wait`](Self::wait).
    ///
    /// ```
    /// use fairsync::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    /// let (_guard, result) = condvar.wait_blocking_timeout(mutex.lock_blocking(), Duration::from_millis(1));
    /// assert!(result.timed_out());
    /// ```
    #[doc(alias = "wait_timeout")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait_blocking_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        if timeout.is_zero() {
            return (guard, WaitTimeoutResult(true));
        }
        let wait = self.wait(guard);
        pin_on_stack!(wait);
        if let Some(guard) = block_on(wait.as_mut(), deadline(timeout)) {
            return (guard, WaitTimeoutResult(false));
        }
        let notified = wait.as_mut().stop_waiting();
        (wait_forever(wait), WaitTimeoutResult(!notified))
    }
}

impl Condvar {
    /// Releases the oldest waiter, if any. A notification with nobody
    /// waiting has no effect (it is not stored for a later wait).
    ///
    /// ```
    /// use fairsync::{Condvar, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let (jobs, added) = (Mutex::new(Vec::new()), Condvar::new());
    /// let (job, ()) = futures::join!(
    ///     async { added.wait_while(jobs.lock().await, |jobs| jobs.is_empty()).await.pop() },
    ///     async {
    ///         jobs.lock().await.push(1);
    ///         added.notify_one();
    ///     },
    /// );
    /// assert_eq!(job, Some(1));
    /// # });
    /// ```
    #[doc(alias = "signal")]
    pub fn notify_one(&self) {
        self.waiters.notify_one();
    }

    /// Releases every waiter queued now; waits that start later wait for
    /// the next notification. A waker that panics while they are woken does
    /// not strand the others: all are released, then the panic reaches the
    /// caller.
    ///
    /// ```
    /// use fairsync::{Condvar, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let (open, changed) = (Mutex::new(false), Condvar::new());
    /// let gate = || async { drop(changed.wait_while(open.lock().await, |open| !*open).await) };
    /// futures::join!(gate(), gate(), async {
    ///     *open.lock().await = true;
    ///     changed.notify_all();
    /// });
    /// # });
    /// ```
    #[doc(alias = "broadcast")]
    #[doc(alias = "notify_waiters")]
    pub fn notify_all(&self) {
        self.waiters.notify_all_with(|| {});
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Condvar");
        d.field("waiters", &self.waiters.waiters());
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::debug_line_fields(&mut d, &self.waiters);
        d.finish()
    }
}

#[cfg(feature = "std")]
/// Whether [`Condvar::wait_blocking_timeout`] gave up because the time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

#[cfg(feature = "std")]
impl WaitTimeoutResult {
    /// `true` if the time ran out before a notification arrived.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Holding the guard; not queued yet.
    Register,
    /// Queued, mutex unlocked.
    Waiting,
    /// Notified; locking the mutex again.
    Relocking,
    Done,
}

pin_project! {
    /// The future of [`Condvar::wait`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct CondvarWait<'a, 'b, T: ?Sized> {
        // Where `wait` was called: the re-lock's site (`diagnostics`).
        site: Site,
        mutex: &'a Mutex<T>,
        guard: Option<MutexGuard<'a, T>>,
        phase: Phase,
        #[pin]
        wait: RawWait<'b>,
        #[pin]
        relock: Option<MutexLock<'a, T>>,
    }

    impl<'a, 'b, T: ?Sized> PinnedDrop for CondvarWait<'a, 'b, T> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let notified = match this.phase {
                Phase::Waiting => this.wait.as_mut().cancel(),
                Phase::Relocking => {
                    this.relock.set(None);
                    true
                }
                Phase::Register | Phase::Done => false,
            };
            if notified {
                this.wait.queue().notify_one();
            }
        }
    }
}

impl<'a, T: ?Sized> CondvarWait<'a, '_, T> {
    /// The guard, while the wait has not started.
    fn registering_guard(self: Pin<&mut Self>) -> Option<&mut MutexGuard<'a, T>> {
        self.project().guard.as_mut()
    }

    /// Ends the wait without waiting: returns the guard, still locked.
    fn finish_early(self: Pin<&mut Self>) -> MutexGuard<'a, T> {
        let this = self.project();
        *this.phase = Phase::Done;
        this.guard.take().expect("the wait has not started")
    }

    /// Stops waiting for a notification (a timeout) and only re-locks the
    /// mutex from now on. Returns whether a notification had arrived.
    #[cfg(feature = "std")]
    fn stop_waiting(self: Pin<&mut Self>) -> bool {
        let mut this = self.project();
        match this.phase {
            Phase::Waiting => {
                let notified = this.wait.as_mut().cancel();
                *this.phase = Phase::Relocking;
                this.relock.set(Some(this.mutex.lock_at(*this.site)));
                notified
            }
            Phase::Relocking => true,
            Phase::Register | Phase::Done => false,
        }
    }
}

impl<'a, T: ?Sized> Future for CondvarWait<'a, '_, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.phase {
                Phase::Register => {
                    let queued = this
                        .wait
                        .as_mut()
                        .poll_wait(cx, "Condvar", |_| Arrival::Wait);
                    debug_assert!(queued.is_pending());
                    // Queued first, then unlocked: no notification is lost.
                    *this.phase = Phase::Waiting;
                    drop(this.guard.take());
                    return Poll::Pending;
                }
                Phase::Waiting => {
                    ready!(this
                        .wait
                        .as_mut()
                        .poll_wait(cx, "Condvar", |_| Arrival::Wait));
                    *this.phase = Phase::Relocking;
                    this.relock.set(Some(this.mutex.lock_at(*this.site)));
                }
                Phase::Relocking => {
                    let relock = this.relock.as_mut().as_pin_mut().expect("relocking");
                    let guard = ready!(relock.poll(cx));
                    *this.phase = Phase::Done;
                    this.relock.set(None);
                    return Poll::Ready(guard);
                }
                Phase::Done => panic!("`CondvarWait` polled after it completed"),
            }
        }
    }
}

impl<T: ?Sized> FusedFuture for CondvarWait<'_, '_, T> {
    fn is_terminated(&self) -> bool {
        self.phase == Phase::Done
    }
}

impl<T: ?Sized> fmt::Debug for CondvarWait<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondvarWait")
            .field("phase", &self.phase)
            .finish()
    }
}

pin_project! {
    /// The future of [`Condvar::wait_while`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct CondvarWaitWhile<'a, 'b, T: ?Sized, F> {
        condvar: &'b Condvar,
        condition: F,
        #[pin]
        wait: CondvarWait<'a, 'b, T>,
    }
}

impl<'a, T: ?Sized, F: FnMut(&mut T) -> bool> Future for CondvarWaitWhile<'a, '_, T, F> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let Some(guard) = this.wait.as_mut().registering_guard() {
                if !(this.condition)(&mut **guard) {
                    return Poll::Ready(this.wait.as_mut().finish_early());
                }
            }
            let site = this.wait.site;
            let guard = ready!(this.wait.as_mut().poll(cx));
            this.wait.set(this.condvar.wait_at(guard, site));
        }
    }
}

impl<T: ?Sized, F: FnMut(&mut T) -> bool> FusedFuture for CondvarWaitWhile<'_, '_, T, F> {
    fn is_terminated(&self) -> bool {
        self.wait.is_terminated()
    }
}

impl<T: ?Sized, F> fmt::Debug for CondvarWaitWhile<'_, '_, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondvarWaitWhile")
            .field("phase", &self.wait.phase)
            .finish()
    }
}
