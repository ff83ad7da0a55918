//! A waiter node: the part of an acquire future the queue links and grants.

use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};

use super::word_lock::WordLock;
use crate::sync::{AtomicU8, Ordering};

/// Never linked: the fast path may still succeed without touching the queue.
pub(super) const IDLE: u8 = 0;
/// Linked into the queue, waiting for `remaining` more permits.
pub(super) const WAITING: u8 = 1;
/// Unlinked by a releaser that handed over every requested permit. The store
/// of this value is the releaser's last access to the node.
pub(super) const GRANTED: u8 = 2;
/// Unlinked by `close` without permits: the acquire fails. Like `GRANTED`,
/// the store of this value is the closer's last access to the node.
pub(super) const CLOSED: u8 = 3;

/// The previous and next nodes while the node is linked.
#[derive(Default)]
pub(super) struct Links {
    pub(super) prev: Option<NonNull<Waiter>>,
    pub(super) next: Option<NonNull<Waiter>>,
}

/// One queued acquire.
///
/// The node lives inside a pinned future (or on a blocked thread's stack), so
/// it never allocates. Every field but `status` is touched only while the
/// queue's lock is held; `status` is written under the lock and read without
/// it by the owner to complete a grant lock-free.
///
/// The node is only ever mutated through its `UnsafeCell`s and its atomic, so
/// the list may keep pointers derived from a shared reference. It is
/// `!Unpin`, which stops the owner's `Pin<&mut _>` from asserting uniqueness
/// over the memory the list points into.
pub(crate) struct Waiter {
    pub(super) links: UnsafeCell<Links>,
    pub(super) waker: UnsafeCell<Option<Waker>>,
    /// In a semaphore's queue: permits still owed before the waiter is
    /// granted. In a notification queue: the epoch the waiter arrived in.
    pub(super) remaining: UnsafeCell<usize>,
    pub(super) status: AtomicU8,
    _pin: PhantomPinned,
}

impl Waiter {
    pub(crate) fn new() -> Self {
        Self {
            links: UnsafeCell::new(Links::default()),
            waker: UnsafeCell::new(None),
            remaining: UnsafeCell::new(0),
            status: AtomicU8::new(IDLE),
            _pin: PhantomPinned,
        }
    }

    /// The status as seen by the owner. `Acquire` pairs with the releaser's
    /// `Release` store of `GRANTED`, which makes the releaser's critical
    /// section (and the guarded data) visible to the new owner.
    #[inline]
    pub(super) fn status(&self) -> u8 {
        self.status.load(Ordering::Acquire)
    }

    /// A later poll of this node, linked in the list behind `lock`: under
    /// the lock, `finished` says whether the wait is over (granted, closed,
    /// ...); if not, the stored waker is replaced by `cx`'s unless it would
    /// wake the same task.
    ///
    /// Wakers are never cloned or dropped under the lock, as a clone or a
    /// drop may call back into the primitive: a new waker is cloned between
    /// two lock sections, and `finished` asked again after re-locking.
    pub(super) fn poll_linked<T, R>(
        self: Pin<&Self>,
        lock: &WordLock<T>,
        cx: &mut Context<'_>,
        mut finished: impl FnMut(&Waiter) -> Option<R>,
    ) -> Poll<R> {
        let mut guard = lock.lock();
        let mut fresh = None;
        loop {
            if let Some(done) = finished(&self) {
                drop(guard);
                drop(fresh);
                return Poll::Ready(done);
            }
            // SAFETY: the wait is not over, so the node is linked (only a
            // grant, a close or its owner, us, unlinks it), and the lock
            // guarding its fields is held.
            let slot = unsafe { &mut *self.waker.get() };
            // Whichever waker is left over is dropped after unlocking.
            let stale = if matches!(slot, Some(waker) if waker.will_wake(cx.waker())) {
                fresh.take()
            } else if let Some(fresh) = fresh.take() {
                slot.replace(fresh)
            } else {
                drop(guard);
                fresh = Some(cx.waker().clone());
                guard = lock.lock();
                continue;
            };
            drop(guard);
            drop(stale);
            return Poll::Pending;
        }
    }
}

// SAFETY: `links`, `waker` and `remaining` are only read or written while the
// queue's lock is held, which serializes every access across threads; the
// `Waker` inside is itself `Send + Sync`, and `status` is atomic.
unsafe impl Send for Waiter {}
// SAFETY: as for `Send`: shared access to the non-atomic fields only happens
// under the queue's lock.
unsafe impl Sync for Waiter {}
