//! Closing a semaphore: the `CLOSED_BIT` of the state and the `CLOSED`
//! status of a node. Only a `ClosableSemaphore` ever calls this; the other
//! primitives never see the bit set.
//!
//! Under the lock, `close` sets `CLOSED_BIT` (which turns the permits the
//! head had collected back into free ones, see the state word's docs in
//! `mod.rs`), and fails queued waiters from the head on
//! (unlink, take the waker, store `CLOSED` as the last touch). Wakers are
//! woken after unlocking, at most a batch at a time; while the lock is
//! released between batches, the waiters still queued are failed in the next
//! batch, and a release meanwhile puts its permits in the counter instead of
//! handing them to one of them (`release_locked` checks the bit). A waiter
//! granted before `close` is no longer linked, so it keeps its permits.

use core::mem;
use core::ptr::NonNull;

use super::waiter::{Waiter, CLOSED};
use super::{RawSemaphore, WakeBatch, CLOSED_BIT, WAITERS};
use crate::sync::Ordering;

impl RawSemaphore {
    /// Fails every queued waiter, returns the permits the head collected to
    /// the counter, and makes every later acquire fail. Idempotent. Never
    /// waits for holders: their permits stay valid and come back to the
    /// counter when released.
    #[cold]
    pub(crate) fn close(&self) {
        let mut wake = WakeBatch::new();
        while self.close_batch(&mut wake) {
            // A full batch: wake it with the lock released. Should a waker
            // panic, the waiters still queued are failed (and woken) while
            // the panic unwinds, so nobody is left waiting forever.
            let rest = CloseOnUnwind(self);
            wake.wake_all();
            mem::forget(rest);
        }
        // `wake` wakes the last batch here, after the lock is released.
    }

    /// Under the lock: sets `CLOSED_BIT`, then fails queued waiters from the
    /// head until the batch is full. Returns whether waiters are left.
    fn close_batch(&self, wake: &mut WakeBatch) -> bool {
        let mut queue = self.queue.lock();
        // Set before any node is marked `CLOSED`, so a failed waiter sees
        // `is_closed()` through the `Release`/`Acquire` pair on its status.
        // With the bit set, the count is free permits again: what the head
        // collected returns to the counter. Only the head collects, and it
        // is failed below in this same critical section, so its
        // cancellation cannot pass these on again; once the bit is set
        // nobody collects any more.
        self.state().fetch_or(CLOSED_BIT, Ordering::Release);
        while !wake.is_full() {
            let head = match queue.pop_front() {
                Some(head) => head,
                None => break,
            };
            // Before `CLOSED`: the waiter may complete and read `waiters()`
            // without the lock as soon as it sees it.
            self.left();
            fail(head, wake);
        }
        let left = !queue.is_empty();
        if !left {
            // Fast paths may run once WAITERS is clear: a release adds to
            // the counter (an acquire fails on `CLOSED_BIT`).
            self.state().fetch_and(!WAITERS, Ordering::Release);
        }
        left
    }
}

/// Takes the waker of `node`, just unlinked, into `wake` and marks the node
/// `CLOSED`.
fn fail(node: NonNull<Waiter>, wake: &mut WakeBatch) {
    // SAFETY: `node` was linked until the caller unlinked it under the lock
    // it still holds, so it is live (list invariant) and nobody else touches
    // its fields. The reference is not used after the `CLOSED` store, after
    // which the owner may free the node.
    let node = unsafe { node.as_ref() };
    // SAFETY: `waker` is only accessed under the lock, which is held.
    wake.push(unsafe { (*node.waker.get()).take() });
    node.status.store(CLOSED, Ordering::Release);
}

/// Finishes closing if a waker panics while a batch is woken.
struct CloseOnUnwind<'a>(&'a RawSemaphore);

impl Drop for CloseOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}
