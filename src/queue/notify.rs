//! A line of waiters released by notifications rather than permits: the base
//! of `Condvar`, `Event` and `Barrier`. It shares the list, the nodes and the
//! wake batching with the semaphore; only what releases a waiter differs.
//!
//! Each node records the epoch it arrived in (in its `remaining` field).
//! "Release all" starts a new epoch and releases the waiters of older ones.
//! The releaser may drop the lock to wake a full batch, so "older" matters:
//! a waiter that arrives meanwhile belongs to the new epoch and stays queued,
//! and a barrier can tell a cancelled waiter of the generation that tripped
//! from one of the next.
//!
//! Node life cycle, as in the semaphore: `IDLE` → `WAITING` (linked, under
//! the lock) → `GRANTED` (unlinked by a notifier, whose `Release` store of
//! the status is its last touch of the node). The owner turns a `GRANTED`
//! node back to `IDLE` when it consumes the notification, so each
//! notification is reported exactly once.

use core::fmt;
use core::mem;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::list::List;
use super::waiter::{Waiter, GRANTED, IDLE, WAITING};
use super::WakeBatch;
use crate::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};

/// State kept under the line's lock beside the waiters.
pub(crate) trait WaitState {
    /// A waiter that was never released left the line. `current` is whether
    /// it arrived in the current epoch (after the last "release all").
    fn waiter_left(&mut self, current: bool) {
        let _ = current;
    }
}

impl WaitState for () {}

/// What a waiter's first poll does, decided under the lock.
pub(crate) enum Arrival {
    /// Join the line and wait for a notification.
    Wait,
    /// Complete at once, without queueing.
    Pass,
    /// Complete at once, and release everyone queued.
    PassAndReleaseAll,
}

struct Inner<S> {
    list: List,
    epoch: usize,
    state: S,
}

/// A FIFO line of waiters that notifications release.
pub(crate) struct RawNotify<S> {
    inner: Mutex<Inner<S>>,
    /// The list's length, mirrored so `Debug` never locks.
    waiters: AtomicUsize,
}

impl<S> RawNotify<S> {
    crate::sync::const_fn! {
        pub(crate) const fn new(state: S) -> RawNotify<S> {
            RawNotify {
                inner: Mutex::new(Inner {
                    list: List::new(),
                    epoch: 0,
                    state,
                }),
                waiters: AtomicUsize::new(0),
            }
        }
    }

    /// Waiters queued and not yet released.
    #[inline]
    pub(crate) fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Releases the oldest waiter that no release-all has chosen yet, if
    /// there is one; returns whether there was.
    ///
    /// Waiters of older epochs are still queued only while a release-all
    /// that chose them has dropped the lock to wake a batch; it releases
    /// them anyway, so this notification goes to the first waiter after
    /// them, or to nobody.
    pub(crate) fn notify_one(&self) -> bool {
        let mut wake = WakeBatch::new();
        let mut inner = self.inner.lock();
        let mut candidate = inner.list.front();
        while let Some(node) = candidate {
            // SAFETY: `node` is linked, so live, and the lock is held.
            if unsafe { *node.as_ref().remaining.get() } == inner.epoch {
                break;
            }
            // SAFETY: as above.
            candidate = unsafe { inner.list.next(node) };
        }
        let Some(node) = candidate else {
            return false;
        };
        // SAFETY: `node` was found in this list, under the lock we hold.
        unsafe { inner.list.remove(node) };
        self.release(&mut inner, node, &mut wake);
        drop(inner);
        true
    }

    /// Runs `f` on the state, then releases every waiter queued before,
    /// all as one step under the lock: a waiter is either released or
    /// arrives after `f` ran.
    pub(crate) fn notify_all_with(&self, f: impl FnOnce(&mut S)) {
        let mut wake = WakeBatch::new();
        let mut inner = self.inner.lock();
        f(&mut inner.state);
        self.release_all(inner, &mut wake);
    }

    /// Starts a new epoch and releases the waiters of older ones. Unlocks
    /// before returning.
    fn release_all<'a>(&'a self, mut inner: MutexGuard<'a, Inner<S>>, wake: &mut WakeBatch) {
        inner.epoch = inner.epoch.wrapping_add(1);
        let epoch = inner.epoch;
        self.release_older(inner, epoch, wake);
    }

    /// Releases the waiters that arrived before `epoch`. Unlocks before
    /// returning.
    fn release_older<'a>(
        &'a self,
        mut inner: MutexGuard<'a, Inner<S>>,
        epoch: usize,
        wake: &mut WakeBatch,
    ) {
        while let Some(head) = inner.list.front() {
            // SAFETY: `head` is linked, so live, and the lock is held.
            let arrived = unsafe { *head.as_ref().remaining.get() };
            // Wrapping distance: positive means an older epoch.
            if epoch.wrapping_sub(arrived) as isize <= 0 {
                break;
            }
            if wake.is_full() {
                drop(inner);
                // Should a waker panic, the chosen waiters still queued are
                // released all the same: `notify_one` skips them, so
                // nobody else ever would.
                let finish = ReleaseOlderOnUnwind { line: self, epoch };
                wake.wake_all();
                mem::forget(finish);
                inner = self.inner.lock();
                continue;
            }
            inner.list.pop_front();
            self.release(&mut inner, head, wake);
        }
    }

    /// Marks `node`, just unlinked, released; its waker goes to `wake`.
    fn release(&self, inner: &mut Inner<S>, node: NonNull<Waiter>, wake: &mut WakeBatch) {
        self.waiters.store(inner.list.len(), Ordering::Relaxed);
        // SAFETY: `node` was linked until now, so it is live, and the lock is
        // held. The reference is not used after the `GRANTED` store, after
        // which the owner may free the node.
        let node = unsafe { node.as_ref() };
        // SAFETY: `waker` is only accessed under the lock.
        wake.push(unsafe { (*node.waker.get()).take() });
        node.status.store(GRANTED, Ordering::Release);
    }
}

impl<S: WaitState> RawNotify<S> {
    /// Polls the wait whose node is `node`. On the first poll, `arrive`
    /// decides under the lock whether to queue. `Ready(true)` means the wait
    /// completed on arrival, `Ready(false)` that a notification released it.
    fn poll_wait(
        &self,
        node: Pin<&Waiter>,
        cx: &mut Context<'_>,
        arrive: impl FnOnce(&mut S) -> Arrival,
    ) -> Poll<bool> {
        match node.status() {
            GRANTED => {
                node.status.store(IDLE, Ordering::Relaxed);
                return Poll::Ready(false);
            }
            IDLE => return self.arrive(node, cx, arrive),
            _ => {}
        }
        node.poll_linked(&self.inner, cx, |node| {
            (node.status() == GRANTED).then(|| {
                node.status.store(IDLE, Ordering::Relaxed);
                false
            })
        })
    }

    fn arrive(
        &self,
        node: Pin<&Waiter>,
        cx: &mut Context<'_>,
        arrive: impl FnOnce(&mut S) -> Arrival,
    ) -> Poll<bool> {
        // Cloned before locking, so a clone that calls back into this line
        // cannot deadlock, and one that panics leaves nothing half done
        // (such as an arrival counted for a waiter never queued).
        let waker = cx.waker().clone();
        let mut wake = WakeBatch::new();
        let mut inner = self.inner.lock();
        match arrive(&mut inner.state) {
            Arrival::Pass => {
                drop(inner);
                drop(waker);
                return Poll::Ready(true);
            }
            Arrival::PassAndReleaseAll => {
                self.release_all(inner, &mut wake);
                drop(waker);
                return Poll::Ready(true);
            }
            Arrival::Wait => {}
        }
        // SAFETY: the node is not linked yet, so only its owner (us) reaches
        // it; from `push_back` on, the lock we hold guards these fields.
        unsafe {
            *node.remaining.get() = inner.epoch;
            *node.waker.get() = Some(waker);
        }
        node.status.store(WAITING, Ordering::Relaxed);
        // SAFETY: the node is pinned and unlinked; `RawWait`'s drop unlinks
        // it under this lock before its memory can go away.
        unsafe { inner.list.push_back(NonNull::from(node.get_ref())) };
        self.waiters.store(inner.list.len(), Ordering::Relaxed);
        Poll::Pending
    }

    /// Takes the node out of the line. Returns whether a notification had
    /// released it and was not yet consumed; it is consumed now.
    fn cancel(&self, node: Pin<&Waiter>) -> bool {
        match node.status() {
            IDLE => return false,
            GRANTED => {
                node.status.store(IDLE, Ordering::Relaxed);
                return true;
            }
            _ => {}
        }
        let mut inner = self.inner.lock();
        // A notifier may have released the node since the load above.
        if node.status() == GRANTED {
            node.status.store(IDLE, Ordering::Relaxed);
            return true;
        }
        // SAFETY: the status is WAITING and cannot change while we hold the
        // lock, so the node is linked in this list.
        unsafe { inner.list.remove(NonNull::from(node.get_ref())) };
        self.waiters.store(inner.list.len(), Ordering::Relaxed);
        // SAFETY: unlinked, so only we reach the node now.
        let (stale, arrived) = unsafe { ((*node.waker.get()).take(), *node.remaining.get()) };
        node.status.store(IDLE, Ordering::Relaxed);
        let current = arrived == inner.epoch;
        inner.state.waiter_left(current);
        drop(inner);
        drop(stale);
        false
    }
}

/// Finishes a release-all whose wake batch panicked.
struct ReleaseOlderOnUnwind<'a, S> {
    line: &'a RawNotify<S>,
    epoch: usize,
}

impl<S> Drop for ReleaseOlderOnUnwind<'_, S> {
    fn drop(&mut self) {
        let mut wake = WakeBatch::new();
        self.line
            .release_older(self.line.inner.lock(), self.epoch, &mut wake);
    }
}

impl<S> fmt::Debug for RawNotify<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawNotify")
            .field("waiters", &self.waiters())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// One wait in a [`RawNotify`] line. Dropping it leaves the line; a
    /// notification it had received and not consumed is then lost, unless
    /// the owner calls [`cancel`](Self::cancel) first and passes it on.
    pub(crate) struct RawWait<'a, S>
    where
        S: WaitState,
    {
        queue: &'a RawNotify<S>,
        #[pin]
        node: Waiter,
    }

    impl<'a, S> PinnedDrop for RawWait<'a, S>
    where
        S: WaitState,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.queue.cancel(this.node.into_ref());
        }
    }
}

impl<'a, S: WaitState> RawWait<'a, S> {
    /// A wait in `queue`'s line. Nothing happens until the first poll.
    pub(crate) fn new(queue: &'a RawNotify<S>) -> Self {
        Self {
            queue,
            node: Waiter::new(),
        }
    }

    /// The line this wait is (or will be) in.
    pub(crate) fn queue(&self) -> &'a RawNotify<S> {
        self.queue
    }

    /// See [`RawNotify::poll_wait`]. Once this returns `Ready`, the wait is
    /// over: polling again starts a new one.
    pub(crate) fn poll_wait(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        arrive: impl FnOnce(&mut S) -> Arrival,
    ) -> Poll<bool> {
        let this = self.project();
        this.queue.poll_wait(this.node.into_ref(), cx, arrive)
    }

    /// Leaves the line now. Returns whether a notification had released
    /// this wait and was not yet consumed.
    pub(crate) fn cancel(self: Pin<&mut Self>) -> bool {
        let this = self.project();
        this.queue.cancel(this.node.into_ref())
    }

    /// Whether the wait is queued or released but not yet consumed.
    pub(crate) fn is_queued(&self) -> bool {
        self.node.status.load(Ordering::Relaxed) != IDLE
    }
}
