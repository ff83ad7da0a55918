//! What the models share: the model runner, polling helpers, a waker that
//! counts its clones and drops, and a loom-checked counter.

pub(crate) use std::future::Future;
pub(crate) use std::mem::MaybeUninit;
pub(crate) use std::pin::Pin;
pub(crate) use std::ptr;
pub(crate) use std::sync::atomic::{
    AtomicBool as StdAtomicBool, AtomicIsize, AtomicUsize, Ordering as StdOrdering,
};
pub(crate) use std::sync::Arc;
pub(crate) use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
pub(crate) use std::time::Duration;

pub(crate) use fairsync::{Lock, Mutex, MutexLockOwned, Semaphore};
pub(crate) use loom::future::block_on;
pub(crate) use loom::thread;

/// The preemption bound when `LOOM_MAX_PREEMPTIONS` is not set.
pub(crate) const DEFAULT_PREEMPTIONS: usize = 2;

/// Long enough never to expire for real: under loom a wait with a deadline
/// polls once and gives up whatever the duration.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);

/// The branch bound when `LOOM_MAX_BRANCHES` is not set. loom's default
/// (1,000) is too few for a model that wakes a full batch of 32 waiters:
/// every queue lock and unlock is a step of its own.
pub(crate) const DEFAULT_MAX_BRANCHES: usize = 10_000;

/// Explores every interleaving of `f` within the preemption bound.
///
/// This is `loom::model` with loom's environment variables honoured
/// (`LOOM_MAX_PREEMPTIONS`, `LOOM_MAX_BRANCHES`, `LOOM_LOG` to print the
/// failing interleaving, `LOOM_LOCATION`), except that an unset preemption
/// bound is [`DEFAULT_PREEMPTIONS`] rather than loom's unbounded default and
/// an unset branch bound is [`DEFAULT_MAX_BRANCHES`]. The number of
/// interleavings explored is printed (shown with `--nocapture`).
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    let iterations = Arc::new(AtomicUsize::new(0));
    let counted = {
        let iterations = Arc::clone(&iterations);
        move || {
            iterations.fetch_add(1, StdOrdering::Relaxed);
            f();
        }
    };
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = DEFAULT_MAX_BRANCHES;
    }
    builder.check(counted);
    eprintln!(
        "explored {} interleavings",
        iterations.load(StdOrdering::Relaxed)
    );
}

/// Polls `fut` once with `waker`.
pub(crate) fn poll_with<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Polls `fut` once with a waker that does nothing.
pub(crate) fn poll_noop<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    poll_with(fut, Waker::noop())
}

/// Polls `fut` until it is ready, yielding to the other threads in between.
/// No wake-up is needed, so a poll may land at any point of a releaser's
/// grant, also before it wakes the waiter.
pub(crate) fn spin_until_ready<F: Future>(mut fut: Pin<&mut F>, waker: &Waker) -> F::Output {
    loop {
        if let Poll::Ready(output) = poll_with(fut.as_mut(), waker) {
            return output;
        }
        thread::yield_now();
    }
}

/// Counts the live references to a waker, to catch the queue dropping or
/// waking a waker it no longer owns (for instance one taken out of a node
/// that its owner has already dropped).
///
/// The counters are plain std atomics: loom runs its threads one at a time,
/// and this bookkeeping is not part of the algorithm under test.
pub(crate) struct WakerCount {
    live: AtomicIsize,
    underflow: StdAtomicBool,
}

impl WakerCount {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            live: AtomicIsize::new(0),
            underflow: StdAtomicBool::new(false),
        })
    }

    /// A new waker counted by `self`. `self` must outlive every clone.
    pub(crate) fn waker(self: &Arc<Self>) -> Waker {
        self.live.fetch_add(1, StdOrdering::Relaxed);
        let data = Arc::as_ptr(self).cast::<()>();
        // SAFETY: the vtable functions below follow the `RawWaker` contract;
        // `data` stays valid while the caller keeps the `Arc` alive.
        unsafe { Waker::from_raw(RawWaker::new(data, &COUNTED_WAKER)) }
    }

    pub(crate) fn release(&self) {
        if self.live.fetch_sub(1, StdOrdering::Relaxed) <= 0 {
            self.underflow.store(true, StdOrdering::Relaxed);
        }
    }

    /// Asserts that every waker was dropped exactly once.
    pub(crate) fn assert_balanced(&self) {
        assert!(
            !self.underflow.load(StdOrdering::Relaxed),
            "a waker was dropped or woken after its last reference was gone: \
             the queue used a node its owner had already dropped"
        );
        assert_eq!(
            self.live.load(StdOrdering::Relaxed),
            0,
            "wakers were leaked or dropped twice"
        );
    }
}

pub(crate) static COUNTED_WAKER: RawWakerVTable = RawWakerVTable::new(
    counted_clone,
    counted_wake,
    counted_wake_by_ref,
    counted_drop,
);

unsafe fn counted_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` came from `WakerCount::waker`, whose `Arc` outlives it.
    let count = unsafe { &*data.cast::<WakerCount>() };
    count.live.fetch_add(1, StdOrdering::Relaxed);
    RawWaker::new(data, &COUNTED_WAKER)
}

unsafe fn counted_wake(data: *const ()) {
    // SAFETY: as in `counted_clone`.
    unsafe { counted_drop(data) }
}

unsafe fn counted_wake_by_ref(_: *const ()) {}

unsafe fn counted_drop(data: *const ()) {
    // SAFETY: as in `counted_clone`.
    let count = unsafe { &*data.cast::<WakerCount>() };
    count.release();
}

/// The only permits of `sem` must be back in the counter, with nobody queued.
pub(crate) fn assert_all_returned(sem: &Semaphore, total: usize) {
    assert_eq!(
        sem.available_permits(),
        total,
        "permits were lost or minted"
    );
    assert_eq!(sem.waiters(), 0, "a waiter was left in the queue");
}

/// A counter that is only touched while a `Lock` is held. The loom cell
/// inside reports any two accesses not ordered by the lock's hand-off.
pub(crate) struct Guarded(pub(crate) loom::cell::UnsafeCell<usize>);

// SAFETY: the cell is only accessed by the holder of the lock that guards it,
// and loom checks exactly that claim.
unsafe impl Send for Guarded {}
// SAFETY: as for `Send`.
unsafe impl Sync for Guarded {}

impl Guarded {
    /// # Safety
    /// The caller holds the lock guarding `self`.
    pub(crate) unsafe fn increment(&self) {
        // SAFETY: forwarded from the caller.
        self.0.with_mut(|value| unsafe { *value += 1 });
    }

    /// # Safety
    /// The caller holds the lock guarding `self`.
    pub(crate) unsafe fn get(&self) -> usize {
        // SAFETY: forwarded from the caller.
        self.0.with(|value| unsafe { *value })
    }
}

/// A waker that releases a permit into the semaphore when woken, the way a
/// waker may call back into the primitive that woke it.
pub(crate) struct ReleasingWaker(pub(crate) Arc<Semaphore>);

impl std::task::Wake for ReleasingWaker {
    fn wake(self: Arc<Self>) {
        self.0.add_permits(1);
    }
}

/// Polls `fut` once with a no-op waker and returns its output, panicking with
/// `what` if it is still pending.
pub(crate) fn expect_ready<F: Future>(fut: Pin<&mut F>, what: &str) -> F::Output {
    match poll_noop(fut) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("{what}"),
    }
}

/// Spawns a thread that waits for one permit with an async acquire driven by
/// `block_on`, then releases it.
pub(crate) fn spawn_acquirer(sem: &Arc<Semaphore>) -> thread::JoinHandle<()> {
    let sem = Arc::clone(sem);
    thread::spawn(move || drop(block_on(sem.acquire())))
}
