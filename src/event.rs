//! A flag that tasks and threads can wait for, like Python's `Event`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
#[cfg(feature = "std")]
use core::time::Duration;

use futures_core::future::FusedFuture;
use pin_project_lite::pin_project;

#[cfg(feature = "std")]
use crate::blocking::{block_on, deadline};
use crate::queue::{Arrival, RawNotify, RawWait};
#[cfg(feature = "std")]
use crate::semaphore::wait_forever;

/// A flag that starts unset; [`wait`](Self::wait) returns once it is set.
/// Python's `threading.Event` and `asyncio.Event`, for async tasks and
/// threads alike.
///
/// [`set`](Self::set) releases every waiter queued at that moment, even if
/// [`clear`](Self::clear) follows before they run. While the event is set,
/// waits return at once without queueing.
///
/// # Examples
///
/// ```
/// use fairsync::Event;
/// use std::sync::Arc;
///
/// let ready = Arc::new(Event::new());
/// let worker = {
///     let ready = Arc::clone(&ready);
///     std::thread::spawn(move || {
///         ready.wait_blocking();
///         "started"
///     })
/// };
/// ready.set();
/// assert_eq!(worker.join().unwrap(), "started");
/// assert!(ready.is_set());
/// ```
pub struct Event {
    /// The waiters, and the flag in the line's word.
    waiters: RawNotify,
}

impl Event {
    crate::sync::const_fn! {
        /// Creates an unset event. `const`, so an event can be a `static`.
        ///
        /// ```
        /// use fairsync::Event;
        ///
        /// static SHUTDOWN: Event = Event::new();
        /// assert!(!SHUTDOWN.is_set());
        /// ```
        #[doc(alias = "const_new")]
        pub const fn new() -> Event {
            Event {
                waiters: RawNotify::new(),
            }
        }
    }

    /// Sets the flag and releases every waiter queued now. Later waits
    /// return at once until [`clear`](Self::clear).
    ///
    /// A waker that panics while the waiters are woken does not strand the
    /// others: every queued waiter is released, then the panic reaches the
    /// caller of `set`.
    ///
    /// ```
    /// use fairsync::Event;
    ///
    /// let loaded = Event::new();
    /// futures::executor::block_on(async {
    ///     let ((), ()) = futures::join!(
    ///         loaded.wait(), // polled first: queues
    ///         async { loaded.set() }, // releases it
    ///     );
    /// });
    /// assert!(loaded.is_set());
    /// ```
    #[doc(alias = "notify_waiters")]
    pub fn set(&self) {
        // Under the line's lock, so a waiter either sees the flag or is
        // queued in time to be released.
        self.waiters.notify_all_with(|| self.waiters.set_flag(true));
    }

    /// Unsets the flag. Waiters already released by [`set`](Self::set)
    /// still complete; later waits queue again.
    ///
    /// ```
    /// use fairsync::Event;
    /// use std::time::Duration;
    ///
    /// let event = Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.wait_blocking_timeout(Duration::ZERO));
    /// ```
    #[doc(alias = "reset")]
    pub fn clear(&self) {
        self.waiters.set_flag(false);
    }

    /// Whether the flag is set. Never blocks.
    ///
    /// ```
    /// use fairsync::Event;
    ///
    /// let event = Event::new();
    /// assert!(!event.is_set());
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.waiters.flag()
    }

    /// Waits until the flag is set; ready at once if it already is.
    ///
    /// Cancel safe: dropping the future only gives up this wait.
    ///
    /// ```
    /// use fairsync::Event;
    /// use std::sync::Arc;
    ///
    /// let config_ready = Arc::new(Event::new());
    /// let reader = {
    ///     let config_ready = Arc::clone(&config_ready);
    ///     std::thread::spawn(move || {
    ///         futures::executor::block_on(async {
    ///             config_ready.wait().await;
    ///             "read the config"
    ///         })
    ///     })
    /// };
    /// config_ready.set();
    /// assert_eq!(reader.join().unwrap(), "read the config");
    /// ```
    #[doc(alias = "notified")]
    #[doc(alias = "listen")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            wait: RawWait::new(&self.waiters),
            done: false,
        }
    }
}

#[cfg(feature = "std")]
impl Event {
    /// Blocks the current thread until the flag is set, in the same line
    /// as async waiters.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could set the
    /// event is a deadlock; on a multi-threaded one it takes a worker away
    /// until then. From async code use [`wait`](Self::wait).
    ///
    /// ```
    /// use fairsync::Event;
    ///
    /// let event = Event::new();
    /// event.set();
    /// event.wait_blocking(); // set: returns at once
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait_blocking(&self) {
        wait_forever(self.wait());
    }

    /// Blocks the current thread for at most `timeout` until the flag is
    /// set. Returns whether it was set (`false`: the time ran out).
    /// `Duration::ZERO` only checks the flag; `Duration::MAX` waits without
    /// a deadline.
    ///
    /// **Blocks**, like [`wait_blocking`](Self::wait_blocking): not on an
    /// executor thread. From async code, run [`wait`](Self::wait) under
    /// your runtime's timeout.
    ///
    /// ```
    /// use fairsync::Event;
    /// use std::time::Duration;
    ///
    /// let event = Event::new();
    /// assert!(!event.wait_blocking_timeout(Duration::from_millis(5)));
    /// event.set();
    /// assert!(event.wait_blocking_timeout(Duration::from_millis(5)));
    /// ```
    #[doc(alias = "wait_timeout")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn wait_blocking_timeout(&self, timeout: Duration) -> bool {
        if timeout.is_zero() {
            return self.is_set();
        }
        block_on(self.wait(), deadline(timeout)).is_some()
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Event");
        d.field("is_set", &self.is_set())
            .field("waiters", &self.waiters.waiters());
        #[cfg(feature = "diagnostics")]
        crate::diagnostics::debug_line_fields(&mut d, &self.waiters);
        d.finish()
    }
}

pin_project! {
    /// The future of [`Event::wait`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct EventWait<'a> {
        event: &'a Event,
        #[pin]
        wait: RawWait<'a>,
        done: bool,
    }
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        assert!(!*this.done, "`EventWait` polled after it completed");
        if this.event.is_set() && !this.wait.is_queued() {
            *this.done = true;
            return Poll::Ready(());
        }
        let event = *this.event;
        let arrive = |_waiting: usize| {
            if event.is_set() {
                Arrival::Pass
            } else {
                Arrival::Wait
            }
        };
        let poll = this.wait.poll_wait(cx, "Event", arrive).map(drop);
        *this.done = poll.is_ready();
        poll
    }
}

impl FusedFuture for EventWait<'_> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("queued", &self.wait.is_queued())
            .field("done", &self.done)
            .finish()
    }
}
