//! Fuzz targets that drive fairsync's primitives through random operation
//! sequences and compare them, step by step, with reference models.
//!
//! Each target (`fuzz_targets/<name>.rs`) decodes its input into a list of
//! operations and hands it to `run` in the module of the same name (the
//! `closable` target to `semaphore::run_closable`, which shares the plain
//! semaphore's operations and model). Futures
//! are polled by hand on one thread with counting wakers, so a run depends on
//! its input only and a crash input replays exactly. A divergence from the
//! model panics with the step, the operation and the model's state.

pub mod condvar;
pub mod rwlock;
pub mod semaphore;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Panics with the failing step's context unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($runner:expr, $cond:expr, $($fmt:tt)*) => {
        if !$cond {
            $runner.fail(format_args!($($fmt)*));
        }
    };
}

struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The waker a waiter last polled with, and how often it had been woken by
/// the end of that poll: a wake after that is a wake-up the model must
/// explain.
pub struct Wakes {
    count: Arc<WakeCount>,
    waker: Waker,
    seen: usize,
}

impl Wakes {
    pub fn new() -> Self {
        let count = Arc::new(WakeCount(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        Wakes {
            count,
            waker,
            seen: 0,
        }
    }

    /// Polls `f` with this waker, or with a new one if `new_waker`, and
    /// takes note of the wakes seen so far.
    pub fn poll<T>(
        &mut self,
        new_waker: bool,
        f: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        if new_waker {
            *self = Wakes::new();
        }
        let result = f(&mut Context::from_waker(&self.waker));
        self.seen = self.count.0.load(Ordering::Relaxed);
        result
    }

    /// Whether the waker was woken since the end of the last poll.
    pub fn woken(&self) -> bool {
        self.count.0.load(Ordering::Relaxed) > self.seen
    }
}

impl Default for Wakes {
    fn default() -> Self {
        Self::new()
    }
}

/// The position of the `n`-th (modulo their number) item that satisfies
/// `pred`, so that most fuzzer choices hit something.
pub fn pick<T>(items: &[T], n: u8, mut pred: impl FnMut(&T) -> bool) -> Option<usize> {
    let count = items.iter().filter(|item| pred(item)).count();
    if count == 0 {
        return None;
    }
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| pred(item))
        .nth(usize::from(n) % count)
        .map(|(i, _)| i)
}
