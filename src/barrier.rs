//! A reusable barrier: `n` parties wait until all of them have arrived.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::future::FusedFuture;
use pin_project_lite::pin_project;

use crate::queue::{Arrival, RawNotify, RawWait};
#[cfg(feature = "std")]
use crate::semaphore::wait_forever;

/// Lets `n` tasks or threads wait until all `n` have reached the same
/// point. The `n`-th arrival releases the others and is the generation's
/// leader; the barrier is then ready for the next generation.
///
/// Cancel safe: a waiter dropped before the barrier trips is no longer
/// counted, so the barrier then needs another arrival to trip.
///
/// # Examples
///
/// ```
/// use fairsync::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let threads: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = Arc::clone(&barrier);
///         std::thread::spawn(move || barrier.wait_blocking().is_leader())
///     })
///     .collect();
/// let leaders = threads
///     .into_iter()
///     .map(|thread| thread.join().unwrap())
///     .filter(|&leader| leader)
///     .count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    parties: usize,
    /// The parties of the current generation wait here: a line counts only
    /// the waiters of its current epoch, which is the generation, so a
    /// cancelled waiter of a generation that already tripped is not
    /// subtracted from the next one.
    waiters: RawNotify,
}

impl Barrier {
    crate::sync::const_fn! {
        /// Creates a barrier for `n` parties. `n == 0` behaves like `1`:
        /// every wait returns at once, as its generation's leader. `const`,
        /// so a barrier can be a `static`.
        ///
        /// ```
        /// use fairsync::Barrier;
        ///
        /// static START: Barrier = Barrier::new(1);
        /// assert!(START.wait_blocking().is_leader());
        /// ```
        pub const fn new(n: usize) -> Barrier {
            Barrier {
                parties: if n == 0 { 1 } else { n },
                waiters: RawNotify::new(),
            }
        }
    }

    /// Waits until `n` parties have called `wait` in this generation.
    /// Exactly one of them, the last to arrive, gets a result whose
    /// [`is_leader`](BarrierWaitResult::is_leader) is `true`.
    ///
    /// ```
    /// use fairsync::Barrier;
    ///
    /// # futures::executor::block_on(async {
    /// let barrier = Barrier::new(2);
    /// let (a, b) = futures::join!(barrier.wait(), barrier.wait());
    /// assert!(a.is_leader() != b.is_leader());
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            parties: self.parties,
            wait: RawWait::new(&self.waiters),
            done: false,
        }
    }

    /// Blocks the current thread until `n` parties have arrived; threads
    /// and async tasks can meet at the same barrier.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run the
    /// other parties is a deadlock; on a multi-threaded one it takes a
    /// worker away until they arrive. From async code use
    /// [`wait`](Self::wait).
    ///
    /// ```
    /// use fairsync::Barrier;
    /// use std::sync::Arc;
    ///
    /// let barrier = Arc::new(Barrier::new(2));
    /// let thread = {
    ///     let barrier = Arc::clone(&barrier);
    ///     std::thread::spawn(move || barrier.wait_blocking())
    /// };
    /// let task = futures::executor::block_on(barrier.wait());
    /// assert!(task.is_leader() != thread.join().unwrap().is_leader());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait_blocking(&self) -> BarrierWaitResult {
        wait_forever(self.wait())
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Barrier");
        d.field("parties", &self.parties)
            .field("waiting", &self.waiters.waiters());
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::debug_line_fields(&mut d, &self.waiters);
        d.finish()
    }
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this party was the generation's leader: the last to arrive,
    /// whose arrival released the others. Exactly one party per generation
    /// is.
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

pin_project! {
    /// The future of [`Barrier::wait`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct BarrierWait<'a> {
        parties: usize,
        #[pin]
        wait: RawWait<'a>,
        done: bool,
    }
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let this = self.project();
        assert!(!*this.done, "`BarrierWait` polled after it completed");
        let parties = *this.parties;
        let arrive = |waiting: usize| {
            if waiting + 1 == parties {
                Arrival::PassAndReleaseAll
            } else {
                Arrival::Wait
            }
        };
        let poll = this.wait.poll_wait(cx, "Barrier", arrive);
        *this.done = poll.is_ready();
        poll.map(|leader| BarrierWaitResult { leader })
    }
}

impl FusedFuture for BarrierWait<'_> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("queued", &self.wait.is_queued())
            .field("done", &self.done)
            .finish()
    }
}
