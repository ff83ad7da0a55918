//! Runs an acquire future to completion on the calling thread, parking it
//! between polls. The future's node lives in this stack frame, so a blocked
//! thread queues in the same FIFO line as async waiters.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

/// When a wait of `timeout` from now ends; `None` when it never does
/// (`Duration::MAX` and anything else past the clock's range).
pub(crate) fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Polls `future` until it completes, or until `deadline` passes, in which
/// case the future is dropped (cancelling its wait) and `None` returned.
#[cfg(not(loom))]
pub(crate) fn block_on<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::thread::{self, Thread};

    struct ThreadWaker(Thread);

    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    fn new_waker() -> Waker {
        Waker::from(Arc::new(ThreadWaker(thread::current())))
    }

    thread_local! {
        // One waker per thread, so a blocking call does not allocate.
        static WAKER: Waker = new_waker();
    }

    // Only during thread teardown is the cached waker gone.
    let waker = WAKER.try_with(Waker::clone).unwrap_or_else(|_| new_waker());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                thread::park_timeout(deadline - now);
            }
        }
    }
}

/// Under loom there is no clock: a wait with a deadline polls once and then
/// gives up, which models a timeout firing at the worst moment.
#[cfg(loom)]
pub(crate) fn block_on<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    if deadline.is_none() {
        return Some(loom::future::block_on(future));
    }
    let waker = futures_noop_waker();
    let mut cx = Context::from_waker(&waker);
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[cfg(loom)]
fn futures_noop_waker() -> core::task::Waker {
    core::task::Waker::noop().clone()
}
