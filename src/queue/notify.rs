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
use super::word_lock::{WordGuard, WordLock, LOCKED};
use super::WakeBatch;
use crate::sync::{AtomicUsize, Ordering};
use crate::track::{Site, Waiting};

/// A flag of the line's owner (an `Event`'s "set"), kept in the word so it
/// costs no memory of its own.
const FLAG: usize = 1;
/// One epoch in the line's word: `word = epoch << 3 | LOCKED | FLAG`. Nodes record
/// the epoch as it sits in the word (`word & EPOCHS`), so epochs compare and
/// wrap as plain `usize`s.
const EPOCH: usize = 1 << 3;
/// The bits of the word that hold the epoch.
const EPOCHS: usize = !(EPOCH - 1);
const _: () = assert!(FLAG != LOCKED && LOCKED < EPOCH);

/// What a waiter's first poll does, decided under the lock.
pub(crate) enum Arrival {
    /// Join the line and wait for a notification.
    Wait,
    /// Complete at once, without queueing.
    Pass,
    /// Complete at once, and release everyone queued.
    PassAndReleaseAll,
}

/// A FIFO line of waiters that notifications release.
pub(crate) struct RawNotify {
    /// The waiters, under the lock bit of the word that also holds the
    /// current epoch.
    line: WordLock<List>,
    /// Waiters of the current epoch: those a notification can still reach.
    /// Waiters of older epochs are being released by a release-all and no
    /// longer count. Written only under the lock, read without it.
    waiting: AtomicUsize,
}

impl RawNotify {
    crate::sync::const_fn! {
        pub(crate) const fn new() -> RawNotify {
            RawNotify {
                line: WordLock::new(0, List::new()),
                waiting: AtomicUsize::new(0),
            }
        }
    }

    /// Waiters queued and not yet released (nor chosen by a release-all).
    #[inline]
    pub(crate) fn waiters(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// The owner's flag. `Acquire` pairs with the `Release` of
    /// [`set_flag`](Self::set_flag).
    #[inline]
    pub(crate) fn flag(&self) -> bool {
        self.line.word().load(Ordering::Acquire) & FLAG != 0
    }

    /// Sets or clears the owner's flag, with or without the lock.
    #[inline]
    pub(crate) fn set_flag(&self, on: bool) {
        if on {
            self.line.word().fetch_or(FLAG, Ordering::Release);
        } else {
            self.line.word().fetch_and(!FLAG, Ordering::Release);
        }
    }

    /// The current epoch, as nodes record it. Under the lock.
    fn epoch(&self) -> usize {
        self.line.word().load(Ordering::Relaxed) & EPOCHS
    }

    /// Adds `delta` (+1 or -1) to the current epoch's waiters. Under the
    /// lock, before the waiter concerned can learn it left.
    fn count_waiting(&self, delta: isize) {
        // The only writer is the lock holder, so no read-modify-write.
        let waiting = self.waiting.load(Ordering::Relaxed);
        self.waiting
            .store(waiting.wrapping_add(delta as usize), Ordering::Relaxed);
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
        let mut line = self.line.lock();
        let epoch = self.epoch();
        let mut candidate = line.front();
        while let Some(node) = candidate {
            // SAFETY: `node` is linked, so live, and the lock is held.
            if unsafe { *node.as_ref().remaining.get() } == epoch {
                break;
            }
            // SAFETY: as above.
            candidate = unsafe { line.next(node) };
        }
        let node = match candidate {
            Some(node) => node,
            None => return false,
        };
        // SAFETY: `node` was found in this list, under the lock we hold.
        unsafe { line.remove(node) };
        self.count_waiting(-1);
        release(node, &mut wake);
        drop(line);
        true
    }

    /// Runs `f`, then releases every waiter queued before, all as one step
    /// under the lock: a waiter is either released or arrives after `f` ran.
    pub(crate) fn notify_all_with(&self, f: impl FnOnce()) {
        let mut wake = WakeBatch::new();
        let line = self.line.lock();
        f();
        self.release_all(line, &mut wake);
    }

    /// Starts a new epoch and releases the waiters of older ones. Unlocks
    /// before returning.
    fn release_all<'a>(&'a self, line: WordGuard<'a, List>, wake: &mut WakeBatch) {
        // Wraps like the `usize` it is; epochs are compared by distance.
        let epoch = self
            .line
            .word()
            .fetch_add(EPOCH, Ordering::Relaxed)
            .wrapping_add(EPOCH)
            & EPOCHS;
        self.waiting.store(0, Ordering::Relaxed);
        self.release_older(line, epoch, wake);
    }

    /// Releases the waiters that arrived before `epoch`. Unlocks before
    /// returning.
    fn release_older<'a>(
        &'a self,
        mut line: WordGuard<'a, List>,
        epoch: usize,
        wake: &mut WakeBatch,
    ) {
        while let Some(head) = line.front() {
            // SAFETY: `head` is linked, so live, and the lock is held.
            let arrived = unsafe { *head.as_ref().remaining.get() };
            // Wrapping distance: positive means an older epoch.
            if epoch.wrapping_sub(arrived) as isize <= 0 {
                break;
            }
            if wake.is_full() {
                drop(line);
                // Should a waker panic, the chosen waiters still queued are
                // released all the same: `notify_one` skips them, so
                // nobody else ever would.
                let finish = ReleaseOlderOnUnwind { line: self, epoch };
                wake.wake_all();
                mem::forget(finish);
                line = self.line.lock();
                continue;
            }
            line.pop_front();
            release(head, wake);
        }
    }

    /// Polls the wait whose node is `node`. On the first poll, `arrive`
    /// decides under the lock whether to queue, given how many wait in the
    /// current epoch. `Ready(true)` means the wait completed on arrival,
    /// `Ready(false)` that a notification released it.
    fn poll_wait(
        &self,
        node: Pin<&Waiter>,
        cx: &mut Context<'_>,
        arrive: impl FnOnce(usize) -> Arrival,
    ) -> Poll<bool> {
        match node.status() {
            GRANTED => {
                node.status.store(IDLE, Ordering::Relaxed);
                return Poll::Ready(false);
            }
            IDLE => return self.arrive(node, cx, arrive),
            _ => {}
        }
        node.poll_linked(&self.line, cx, |node| {
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
        arrive: impl FnOnce(usize) -> Arrival,
    ) -> Poll<bool> {
        // Cloned before locking, so a clone that calls back into this line
        // cannot deadlock, and one that panics leaves nothing half done
        // (such as an arrival counted for a waiter never queued).
        let waker = cx.waker().clone();
        let mut wake = WakeBatch::new();
        let mut line = self.line.lock();
        match arrive(self.waiters()) {
            Arrival::Pass => {
                drop(line);
                drop(waker);
                return Poll::Ready(true);
            }
            Arrival::PassAndReleaseAll => {
                self.release_all(line, &mut wake);
                drop(waker);
                return Poll::Ready(true);
            }
            Arrival::Wait => {}
        }
        // SAFETY: the node is not linked yet, so only its owner (us) reaches
        // it; from `push_back` on, the lock we hold guards these fields.
        unsafe {
            *node.remaining.get() = self.epoch();
            *node.waker.get() = Some(waker);
        }
        node.status.store(WAITING, Ordering::Relaxed);
        // SAFETY: the node is pinned and unlinked; `RawWait`'s drop unlinks
        // it under this lock before its memory can go away.
        unsafe { line.push_back(NonNull::from(node.get_ref())) };
        self.count_waiting(1);
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
        let mut line = self.line.lock();
        // A notifier may have released the node since the load above.
        if node.status() == GRANTED {
            node.status.store(IDLE, Ordering::Relaxed);
            return true;
        }
        // SAFETY: the status is WAITING and cannot change while we hold the
        // lock, so the node is linked in this list.
        unsafe { line.remove(NonNull::from(node.get_ref())) };
        // SAFETY: unlinked, so only we reach the node now.
        let (stale, arrived) = unsafe { ((*node.waker.get()).take(), *node.remaining.get()) };
        if arrived == self.epoch() {
            self.count_waiting(-1);
        }
        node.status.store(IDLE, Ordering::Relaxed);
        drop(line);
        drop(stale);
        false
    }
}

/// Marks `node`, just unlinked under the lock the caller holds, released;
/// its waker goes to `wake`.
fn release(node: NonNull<Waiter>, wake: &mut WakeBatch) {
    // SAFETY: `node` was linked until now, so it is live, and the lock is
    // held. The reference is not used after the `GRANTED` store, after
    // which the owner may free the node.
    let node = unsafe { node.as_ref() };
    // SAFETY: `waker` is only accessed under the lock.
    wake.push(unsafe { (*node.waker.get()).take() });
    node.status.store(GRANTED, Ordering::Release);
}

/// Finishes a release-all whose wake batch panicked.
struct ReleaseOlderOnUnwind<'a> {
    line: &'a RawNotify,
    epoch: usize,
}

impl Drop for ReleaseOlderOnUnwind<'_> {
    fn drop(&mut self) {
        let mut wake = WakeBatch::new();
        self.line
            .release_older(self.line.line.lock(), self.epoch, &mut wake);
    }
}

/// Dropping a line takes whatever is still recorded for it (a wait leaked
/// with `mem::forget`) out of the registry.
#[cfg(feature = "diagnostics")]
impl Drop for RawNotify {
    fn drop(&mut self) {
        crate::diagnostics::forget_line(self);
    }
}

impl fmt::Debug for RawNotify {
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
    pub(crate) struct RawWait<'a> {
        queue: &'a RawNotify,
        // Where the wait was called and its waiter record (`diagnostics`).
        waiting: Waiting,
        #[pin]
        node: Waiter,
    }

    impl<'a> PinnedDrop for RawWait<'a> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.waiting.end();
            this.queue.cancel(this.node.into_ref());
        }
    }
}

impl<'a> RawWait<'a> {
    /// A wait in `queue`'s line. Nothing happens until the first poll.
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub(crate) fn new(queue: &'a RawNotify) -> Self {
        Self::new_at(queue, Site::caller())
    }

    /// Like [`new`](Self::new), on behalf of a caller at `site`.
    pub(crate) fn new_at(queue: &'a RawNotify, site: Site) -> Self {
        Self {
            queue,
            waiting: Waiting::at(site),
            node: Waiter::new(),
        }
    }

    /// The line this wait is (or will be) in.
    pub(crate) fn queue(&self) -> &'a RawNotify {
        self.queue
    }

    /// See [`RawNotify::poll_wait`]. Once this returns `Ready`, the wait is
    /// over: polling again starts a new one. `kind` names the primitive
    /// for `diagnostics`.
    pub(crate) fn poll_wait(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        kind: &'static str,
        arrive: impl FnOnce(usize) -> Arrival,
    ) -> Poll<bool> {
        let this = self.project();
        let polled = this.queue.poll_wait(this.node.into_ref(), cx, arrive);
        match polled {
            Poll::Pending => this.waiting.pending_notification(this.queue, kind, cx),
            Poll::Ready(_) => this.waiting.end(),
        }
        polled
    }

    /// Leaves the line now. Returns whether a notification had released
    /// this wait and was not yet consumed.
    pub(crate) fn cancel(self: Pin<&mut Self>) -> bool {
        let this = self.project();
        this.waiting.end();
        this.queue.cancel(this.node.into_ref())
    }

    /// Whether the wait is queued or released but not yet consumed.
    pub(crate) fn is_queued(&self) -> bool {
        self.node.status.load(Ordering::Relaxed) != IDLE
    }
}
