//! Runs an acquire future to completion on the calling thread, parking it
//! between polls. The future's node lives in this stack frame, so a blocked
//! thread queues in the same FIFO line as async waiters.

use core::future::Future;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::queue::pin_on_stack;

/// When a wait of `timeout` from now ends; `None` when it never does
/// (`Duration::MAX` and anything else past the clock's range).
pub(crate) fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Polls `future` until it completes, or until `deadline` passes, in which
/// case the future is dropped (cancelling its wait) and `None` returned.
#[cfg(not(fairsync_loom))]
pub(crate) fn block_on<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    pin_on_stack!(future);
    let cached = PARKER.try_with(|cached| {
        // A blocking call made inside a waker or a `Drop` that runs during
        // another blocking call on this thread must not touch the outer
        // call's parker: it would clear the outer call's wake-up.
        if cached.in_use.replace(true) {
            return None;
        }
        let _release = ReleaseOnExit(&cached.in_use);
        Some(cached.parker.block_on(future.as_mut(), deadline))
    });
    match cached {
        Ok(Some(output)) => output,
        // Nested, or during thread teardown (the cached parker is gone).
        Ok(None) | Err(_) => Parker::new().block_on(future, deadline),
    }
}

/// Whether this thread is inside a blocking call: its polls then come from
/// the thread's parker, so `diagnostics` names the thread, not a task.
#[cfg(all(feature = "diagnostics", not(fairsync_loom)))]
pub(crate) fn in_blocking_call() -> bool {
    PARKER
        .try_with(|cached| cached.in_use.get())
        .unwrap_or(false)
}

#[cfg(all(feature = "diagnostics", fairsync_loom))]
pub(crate) fn in_blocking_call() -> bool {
    false
}

#[cfg(not(fairsync_loom))]
std::thread_local! {
    // One parker per thread, so a blocking call does not allocate.
    static PARKER: CachedParker = CachedParker {
        parker: Parker::new(),
        in_use: core::cell::Cell::new(false),
    };
}

/// The thread's parker, and whether a blocking call on this thread is
/// using it.
#[cfg(not(fairsync_loom))]
struct CachedParker {
    parker: Parker,
    in_use: core::cell::Cell<bool>,
}

/// Marks the cached parker free again, also when the future panics.
#[cfg(not(fairsync_loom))]
struct ReleaseOnExit<'a>(&'a core::cell::Cell<bool>);

#[cfg(not(fairsync_loom))]
impl Drop for ReleaseOnExit<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Parks a thread between polls. Its waker sets `woken` before it unparks
/// the thread, so the thread can notice a wake-up while it spins.
#[cfg(not(fairsync_loom))]
struct Parker {
    state: std::sync::Arc<ParkerState>,
    waker: core::task::Waker,
}

#[cfg(not(fairsync_loom))]
struct ParkerState {
    thread: std::thread::Thread,
    woken: std::sync::atomic::AtomicBool,
}

#[cfg(not(fairsync_loom))]
impl std::task::Wake for ParkerState {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::Release);
        self.thread.unpark();
    }
}

#[cfg(not(fairsync_loom))]
impl Parker {
    /// Rounds of spinning before a blocked thread parks: exponential
    /// busy-waits of 1 to 64 pause instructions, then a few yields.
    const SPIN_ROUNDS: u32 = 10;

    fn new() -> Self {
        let state = std::sync::Arc::new(ParkerState {
            thread: std::thread::current(),
            woken: std::sync::atomic::AtomicBool::new(false),
        });
        let waker = core::task::Waker::from(std::sync::Arc::clone(&state));
        Self { state, waker }
    }

    fn block_on<F: Future>(
        &self,
        mut future: core::pin::Pin<&mut F>,
        deadline: Option<Instant>,
    ) -> Option<F::Output> {
        use std::sync::atomic::Ordering;

        let mut cx = Context::from_waker(&self.waker);
        loop {
            // A wake-up from before this poll is covered by the poll itself.
            self.state.woken.store(false, Ordering::Relaxed);
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return Some(output);
            }
            // A hand-off from a thread on another core often comes within
            // microseconds: catching it while spinning saves the sleep here
            // and the futex wake-up on the releasing side.
            if self.spin_for_wake() {
                continue;
            }
            match deadline {
                None => std::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    std::thread::park_timeout(deadline - now);
                }
            }
        }
    }

    /// Spins briefly for a wake-up; true if one came.
    fn spin_for_wake(&self) -> bool {
        use std::sync::atomic::Ordering;

        for round in 0..Self::SPIN_ROUNDS {
            if self.state.woken.load(Ordering::Acquire) {
                return true;
            }
            if round < 7 {
                for _ in 0..(1u32 << round) {
                    core::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
        }
        false
    }
}

/// Under loom there is no clock: a wait with a deadline polls once and then
/// gives up, which models a timeout firing at the worst moment.
#[cfg(fairsync_loom)]
pub(crate) fn block_on<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    if deadline.is_none() {
        return Some(loom::future::block_on(future));
    }
    let waker = futures_noop_waker();
    let mut cx = Context::from_waker(&waker);
    pin_on_stack!(future);
    match future.poll(&mut cx) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[cfg(fairsync_loom)]
fn futures_noop_waker() -> core::task::Waker {
    core::task::Waker::noop().clone()
}
