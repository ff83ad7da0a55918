//! The one waiter queue every primitive is built on: a permit counter and an
//! intrusive FIFO list of waiters, with direct hand-off to the oldest waiter.
//!
//! This module holds all the pointer-level `unsafe` of the crate. Everything
//! above it (semaphore, lock, mutex) is safe code over [`RawSemaphore`] and
//! [`RawAcquire`].
//!
//! # State
//!
//! One word holds everything but the list head and the waiter count:
//! `state = count << 3 | LOCKED | CLOSED_BIT | WAITERS`, where `LOCKED` is
//! the queue's own lock (`word_lock.rs`). Invariants, upheld under the lock:
//! - `WAITERS` is set if and only if the list is non-empty;
//! - `WAITERS` and `CLOSED_BIT` change only while the lock is held, and
//!   `CLOSED_BIT` is never cleared;
//! - while `WAITERS` is set and `CLOSED_BIT` is not, `count` is the number
//!   of permits the head waiter has collected, not free permits: released
//!   permits go to the head (which may collect them over several releases),
//!   never to the counter, so nobody can take a permit ahead of a queued
//!   waiter. Only the lock holder changes `count` then, as every fast path
//!   fails on `WAITERS`;
//! - otherwise `count` is the number of free permits. `close` sets
//!   `CLOSED_BIT`, and with it the head's collected permits become free
//!   ones, as the head is about to fail (see `close.rs`).
//!
//! Without waiters, acquire and release are one CAS each and never lock.
//! With waiters, every counter change happens under the lock.
//!
//! # Node life cycle
//!
//! `IDLE` → (first poll, fast path wins) done, never linked.
//! `IDLE` → `WAITING` (under the lock: permits taken, node linked).
//! `WAITING` → `GRANTED` (a releaser, under the lock: unlinked, waker taken,
//! then the `Release` store of `GRANTED` as its last touch of the node).
//! `GRANTED` → done (the owner sees it with an `Acquire` load, no lock).
//! `WAITING` → `CLOSED` (`close`, under the lock: unlinked, waker taken,
//! then the `Release` store of `CLOSED`); the acquire fails.
//! Dropping a `WAITING` node unlinks it under the lock and passes on the
//! permits it had collected; dropping a `GRANTED` one releases them all.

mod close;
mod list;
mod notify;
#[cfg(feature = "std")]
mod pin;
mod waiter;
mod word_lock;

use core::cmp;
use core::fmt;
use core::future::Future;
use core::mem::{self, MaybeUninit};
use core::ops::Deref;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;

use self::list::List;
pub(crate) use self::notify::{Arrival, RawNotify, RawWait};
#[cfg(feature = "std")]
pub(crate) use self::pin::pin_on_stack;
pub(crate) use self::waiter::Waiter;
use self::waiter::{CLOSED, GRANTED, IDLE, WAITING};
use self::word_lock::{WordGuard, WordLock, LOCKED};
use crate::closable::Closed;
use crate::sync::{AtomicUsize, Ordering};
use crate::track::{Held, Site, Waiting};

/// The largest number of permits a semaphore can hold or a caller can ask for.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

const WAITERS: usize = 1;
/// Set by `close`: every fast path fails, and nobody joins the line.
const CLOSED_BIT: usize = 2;
const PERMIT_SHIFT: u32 = 3;
/// Every bit below the permit count: the flags and the lock.
const FLAGS: usize = (1 << PERMIT_SHIFT) - 1;
const _: () = assert!(FLAGS == WAITERS | CLOSED_BIT | LOCKED);
const _: () = assert!(MAX_PERMITS == usize::MAX >> PERMIT_SHIFT);

/// Set in a request (above every valid permit count) to queue it ahead of
/// every waiter: an upgrade of a read lock must not wait behind writers that
/// wait for that same read lock.
const FRONT: usize = 1 << (usize::BITS - 1);

/// A weighted, strictly FIFO semaphore: the engine under every primitive.
pub(crate) struct RawSemaphore {
    /// The waiters, under the lock bit of the state word (see the module
    /// docs for the word's layout).
    queue: WordLock<List>,
    /// The list's length, kept so `waiters()` and `Debug` never lock.
    /// Written only under the lock.
    waiters: AtomicUsize,
}

impl RawSemaphore {
    crate::sync::const_fn! {
        pub(crate) const fn new(permits: usize) -> RawSemaphore {
            assert!(
                permits <= MAX_PERMITS,
                "a semaphore cannot hold more than Semaphore::MAX_PERMITS permits"
            );
            RawSemaphore {
                queue: WordLock::new(permits << PERMIT_SHIFT, List::new()),
                waiters: AtomicUsize::new(0),
            }
        }
    }

    /// The state word (see the module docs).
    #[inline]
    fn state(&self) -> &AtomicUsize {
        self.queue.word()
    }

    /// Permits free to take now (0 while anyone waits).
    #[inline]
    pub(crate) fn available(&self) -> usize {
        free_permits(self.state().load(Ordering::Acquire))
    }

    /// Callers queued and not yet granted.
    #[inline]
    pub(crate) fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Whether [`close`](Self::close) has run (or is running).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.state().load(Ordering::Relaxed) & CLOSED_BIT != 0
    }

    /// Counts a waiter that joined the list. Under the lock.
    fn joined(&self) {
        // The only writer is the lock holder, so no read-modify-write.
        let waiters = self.waiters.load(Ordering::Relaxed);
        self.waiters.store(waiters + 1, Ordering::Relaxed);
    }

    /// Counts a waiter that left the list. Under the lock, and before the
    /// waiter learns it left: it may read `waiters()` at once.
    fn left(&self) {
        let waiters = self.waiters.load(Ordering::Relaxed);
        self.waiters.store(waiters - 1, Ordering::Relaxed);
    }

    /// Takes the head's collected permits out of the count, leaving it 0.
    /// Under the lock, with `WAITERS` set and the semaphore not closed.
    fn take_collected(&self) -> usize {
        // Usually nothing (a head that asks for one permit never collects),
        // and a load is cheaper than a read-modify-write; nobody else
        // changes the count meanwhile.
        if self.state().load(Ordering::Relaxed) >> PERMIT_SHIFT == 0 {
            return 0;
        }
        self.state().fetch_and(FLAGS, Ordering::Relaxed) >> PERMIT_SHIFT
    }

    /// Removes up to `n` permits from the counter for good and returns how
    /// many. Never touches permits a queued head has collected (the counter
    /// is empty while anyone waits), and never waits.
    pub(crate) fn forget(&self, n: usize) -> usize {
        let mut cur = self.state().load(Ordering::Relaxed);
        loop {
            let taken = cmp::min(n, free_permits(cur));
            if taken == 0 {
                return 0;
            }
            match self.state().compare_exchange_weak(
                cur,
                cur - (taken << PERMIT_SHIFT),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return taken,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes `n` permits if nobody waits, enough are free and the semaphore
    /// is not closed. Zero permits are always free, even while others wait,
    /// unless the semaphore is closed.
    #[inline]
    pub(crate) fn try_acquire(&self, n: usize) -> bool {
        if n == 0 {
            return !self.is_closed();
        }
        let mut cur = self.state().load(Ordering::Relaxed);
        loop {
            // One mask for both bits: a plain semaphore pays nothing for close.
            if cur & (WAITERS | CLOSED_BIT) != 0 || cur >> PERMIT_SHIFT < n {
                return false;
            }
            match self.state().compare_exchange_weak(
                cur,
                cur - (n << PERMIT_SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Returns `n` permits: to the oldest waiters first, the rest to the
    /// counter.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut cur = self.state().load(Ordering::Relaxed);
        while cur & WAITERS == 0 {
            match self.state().compare_exchange_weak(
                cur,
                cur + (n << PERMIT_SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        self.release_slow(n);
    }

    #[cold]
    fn release_slow(&self, n: usize) {
        let mut wake = WakeBatch::new();
        self.release_locked(self.queue.lock(), n, &mut wake);
        // `wake` wakes the granted waiters here, after the lock is released.
    }

    /// Hands `n` permits to the waiters from the head, then puts what is
    /// left in the counter if the list emptied. Once the semaphore is
    /// closed, hands nothing to anyone: the waiters still queued are about
    /// to fail, so every permit goes to the counter. Unlocks before
    /// returning.
    fn release_locked<'a>(
        &'a self,
        mut queue: WordGuard<'a, List>,
        mut n: usize,
        wake: &mut WakeBatch,
    ) {
        // Read under the lock, and again after each relock: `close` sets the
        // bit under the lock.
        let mut closed = self.is_closed();
        while n > 0 && !closed {
            let head = match queue.front() {
                Some(head) => head,
                None => break,
            };
            if wake.is_full() {
                drop(queue);
                // Should a waker panic, the permits in hand still go out.
                let in_hand = ReleaseOnUnwind {
                    sem: self,
                    permits: n,
                };
                wake.wake_all();
                mem::forget(in_hand);
                queue = self.queue.lock();
                closed = self.is_closed();
                continue;
            }
            // SAFETY: `head` is linked, so it is live (list invariant), and
            // the lock is held, so nobody else touches its fields. The
            // reference is not used after the `GRANTED` store below, after
            // which the owner may free the node.
            let node = unsafe { head.as_ref() };
            // SAFETY: `remaining` is only accessed under the lock.
            let remaining = unsafe { &mut *node.remaining.get() };
            let given = cmp::min(*remaining, n);
            *remaining -= given;
            n -= given;
            if *remaining == 0 {
                queue.pop_front();
                // What the head collected is now the granted waiter's.
                self.take_collected();
                self.left();
                // SAFETY: `waker` is only accessed under the lock.
                wake.push(unsafe { (*node.waker.get()).take() });
                node.status.store(GRANTED, Ordering::Release);
            } else {
                // Collected by the head, which is still short.
                self.state()
                    .fetch_add(given << PERMIT_SHIFT, Ordering::Relaxed);
            }
        }
        if queue.is_empty() {
            // Concurrent fast paths may run once WAITERS is clear (a
            // cancellation may have cleared it while the lock was released
            // to wake a batch), so update the counter with a CAS.
            let mut cur = self.state().load(Ordering::Relaxed);
            loop {
                let new = (cur & !WAITERS) + (n << PERMIT_SHIFT);
                match self.state().compare_exchange_weak(
                    cur,
                    new,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(actual) => cur = actual,
                }
            }
        } else if closed {
            // `close` is still failing the waiters, and clears WAITERS
            // when it has failed the last one.
            self.state().fetch_add(n << PERMIT_SHIFT, Ordering::Release);
        } else {
            debug_assert_eq!(n, 0, "permits left over while a waiter is queued");
        }
    }

    /// Polls a request (`n` permits, maybe with `FRONT`) whose node is `node`.
    #[inline]
    fn poll_acquire(
        &self,
        node: Pin<&Waiter>,
        request: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Closed>> {
        match node.status() {
            IDLE if self.try_acquire(request & !FRONT) => Poll::Ready(Ok(())),
            IDLE => self.enqueue(node, request, cx),
            GRANTED => Poll::Ready(Ok(())),
            CLOSED => Poll::Ready(Err(Closed)),
            _ => self.poll_waiting(node, cx),
        }
    }

    /// First poll after the fast path failed: take what the counter holds,
    /// and link the node, all under the lock so that no release can slip in
    /// between "too few permits" and "linked".
    #[cold]
    fn enqueue(
        &self,
        node: Pin<&Waiter>,
        request: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Closed>> {
        let (n, front) = (request & !FRONT, request & FRONT != 0);
        let waker = cx.waker().clone();
        let mut queue = self.queue.lock();
        let mut cur = self.state().load(Ordering::Relaxed);
        if cur & CLOSED_BIT != 0 {
            // Set under the lock we hold, and never cleared: nobody joins
            // the line of a closed semaphore.
            drop(queue);
            drop(waker);
            return Poll::Ready(Err(Closed));
        }
        let remaining = if cur & WAITERS != 0 {
            if front {
                self.take_parked(&queue, n)
            } else {
                n
            }
        } else {
            // Nobody else sets WAITERS or CLOSED_BIT while we hold the lock;
            // only fast paths move free permits meanwhile.
            loop {
                let available = cur >> PERMIT_SHIFT;
                let (new, remaining) = if available >= n {
                    (cur - (n << PERMIT_SHIFT), 0)
                } else {
                    // The free permits stay in the count, which now holds
                    // what the node about to be the head has collected.
                    (cur | WAITERS, n - available)
                };
                match self
                    .state()
                    .compare_exchange(cur, new, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => break remaining,
                    Err(actual) => cur = actual,
                }
            }
        };
        if remaining == 0 {
            drop(queue);
            drop(waker);
            return Poll::Ready(Ok(()));
        }
        // SAFETY: the node is not linked yet, so only its owner (us) reaches
        // it; from the push on, the lock we hold guards these fields.
        unsafe {
            *node.remaining.get() = remaining;
            *node.waker.get() = Some(waker);
        }
        node.status.store(WAITING, Ordering::Relaxed);
        let ptr = NonNull::from(node.get_ref());
        // SAFETY: the node is pinned and unlinked; `RawAcquire`'s drop
        // unlinks it under this lock before its memory can go away.
        unsafe {
            if front {
                queue.push_front(ptr);
            } else {
                queue.push_back(ptr);
            }
        }
        self.joined();
        Poll::Pending
    }

    /// For a request of `n` permits joining the line at the front: takes the
    /// permits the current head has collected, as the new head would have
    /// had them first. Returns how many are still missing; when that is not
    /// zero, the caller must link its node at the front, and the count then
    /// holds what that node collected. Under the lock, with `WAITERS` set
    /// and the semaphore not closed.
    fn take_parked(&self, queue: &List, n: usize) -> usize {
        let head = queue
            .front()
            .expect("WAITERS is set, so a waiter is queued");
        let parked = self.state().load(Ordering::Relaxed) >> PERMIT_SHIFT;
        let taken = cmp::min(parked, n);
        // SAFETY: `head` is linked, so live, and the lock is held.
        unsafe { *head.as_ref().remaining.get() += taken };
        if taken == n {
            // Served in full; the head keeps whatever is left.
            self.state()
                .fetch_sub(taken << PERMIT_SHIFT, Ordering::Relaxed);
            return 0;
        }
        // Everything parked moves to the node about to be the head, and the
        // count stays as it is.
        n - taken
    }

    /// Takes `n` permits ahead of every waiter if that many are free,
    /// counting those the head waiter has collected.
    pub(crate) fn try_acquire_front(&self, n: usize) -> bool {
        if self.try_acquire(n) {
            return true;
        }
        let queue = self.queue.lock();
        let cur = self.state().load(Ordering::Relaxed);
        if cur & WAITERS == 0 {
            // The line emptied meanwhile; `WAITERS` cannot be set again
            // while we hold the lock.
            return self.try_acquire(n);
        }
        if cur & CLOSED_BIT != 0 || cur >> PERMIT_SHIFT < n {
            return false;
        }
        self.take_parked(&queue, n) == 0
    }

    /// A later poll of a linked node: done if granted, else refresh the waker.
    #[cold]
    fn poll_waiting(&self, node: Pin<&Waiter>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        node.poll_linked(&self.queue, cx, |node| match node.status() {
            GRANTED => Some(Ok(())),
            CLOSED => Some(Err(Closed)),
            _ => None,
        })
    }

    /// Cancels the acquire of `n` permits whose node is `node`, passing on
    /// every permit it holds.
    fn cancel(&self, node: Pin<&Waiter>, n: usize) {
        match node.status() {
            IDLE | CLOSED => return,
            GRANTED => return self.release(n),
            _ => {}
        }
        let mut wake = WakeBatch::new();
        let mut queue = self.queue.lock();
        // A releaser may have granted the node since the load above, or
        // `close` failed it (then it holds nothing).
        match node.status() {
            GRANTED => {
                drop(queue);
                return self.release(n);
            }
            CLOSED => return,
            _ => {}
        }
        // SAFETY: the status is WAITING and cannot change while we hold the
        // lock, so the node is linked in this list.
        unsafe { queue.remove(NonNull::from(node.get_ref())) };
        self.left();
        // SAFETY: unlinked, so only we reach the node now.
        let (stale, collected) = unsafe { ((*node.waker.get()).take(), n - *node.remaining.get()) };
        node.status.store(IDLE, Ordering::Relaxed);
        if collected != 0 {
            // Only the head collects, and never once the semaphore is closed
            // (`close` fails the head in the critical section that sets the
            // bit), so the count holds exactly these permits.
            let parked = self.take_collected();
            debug_assert_eq!(parked, collected, "a waiter other than the head collected");
        }
        self.release_locked(queue, collected, &mut wake);
        drop(stale);
    }
}

/// The permits free to take in state `state`: none while the count holds
/// what a queued head collected.
#[inline]
fn free_permits(state: usize) -> usize {
    if state & (WAITERS | CLOSED_BIT) == WAITERS {
        0
    } else {
        state >> PERMIT_SHIFT
    }
}

impl fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSemaphore")
            .field("available", &self.available())
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// A type that owns a [`RawSemaphore`]: what an acquire future waits on.
pub(crate) trait HasQueue {
    fn queue(&self) -> &RawSemaphore;

    /// What `diagnostics` shows of the primitive.
    #[cfg(feature = "diagnostics")]
    fn info(&self) -> crate::track::Info;
}

/// Dropping a primitive takes whatever is still recorded for it (a guard
/// leaked with `mem::forget`) out of the registry, before the address can
/// be reused.
#[cfg(feature = "diagnostics")]
impl Drop for RawSemaphore {
    fn drop(&mut self) {
        crate::diagnostics::forget_primitive(self);
    }
}

pin_project! {
    /// The future under every acquire: waits for `permits` permits of the
    /// semaphore behind `handle` and resolves to the handle.
    ///
    /// `handle` is `None` once the future has completed.
    pub(crate) struct RawAcquire<H>
    where
        H: Deref,
        H::Target: HasQueue,
    {
        handle: Option<H>,
        permits: usize,
        // Where the acquire was called and its waiter record (`diagnostics`).
        waiting: Waiting,
        #[pin]
        node: Waiter,
    }

    impl<H> PinnedDrop for RawAcquire<H>
    where
        H: Deref,
        H::Target: HasQueue,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // The record goes first, so no snapshot sees a waiter that has
            // already left.
            this.waiting.end();
            if let Some(handle) = this.handle {
                handle.queue().cancel(this.node.into_ref(), *this.permits & !FRONT);
            }
        }
    }
}

impl<H> RawAcquire<H>
where
    H: Deref,
    H::Target: HasQueue,
{
    /// An acquire of `permits` permits. Nothing happens until the first poll.
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub(crate) fn new(handle: H, permits: usize) -> Self {
        Self::new_at(handle, permits, Site::caller())
    }

    /// Like [`new`](Self::new), on behalf of a caller at `site`.
    #[inline]
    pub(crate) fn new_at(handle: H, permits: usize, site: Site) -> Self {
        if permits > MAX_PERMITS {
            panic!(
                "cannot acquire {permits} permits: more than Semaphore::MAX_PERMITS ({MAX_PERMITS})"
            );
        }
        Self {
            handle: Some(handle),
            permits,
            waiting: Waiting::at(site),
            node: Waiter::new(),
        }
    }

    /// Like [`new`](Self::new), but the request joins the line ahead of
    /// every waiter, and takes the permits the head has collected.
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub(crate) fn new_front(handle: H, permits: usize) -> Self {
        let mut acquire = Self::new(handle, permits);
        acquire.permits |= FRONT;
        acquire
    }

    /// How many permits the future asks for.
    pub(crate) fn permits(&self) -> usize {
        self.permits & !FRONT
    }

    /// Whether the future has resolved.
    pub(crate) fn is_terminated(&self) -> bool {
        self.handle.is_none()
    }

    /// Where the future is in its life, for `Debug`.
    pub(crate) fn state(&self) -> &'static str {
        if self.handle.is_none() {
            return "done";
        }
        match self.node.status.load(Ordering::Relaxed) {
            IDLE => "idle",
            WAITING => "waiting",
            CLOSED => "closed",
            _ => "granted",
        }
    }

    /// Polls for the permits of a semaphore that may be closed: `Err` once
    /// `close` failed this request (or ran before its first poll). The
    /// permits come with their `diagnostics` record.
    #[inline]
    pub(crate) fn poll_closable(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(H, Held), Closed>> {
        let this = self.project();
        let handle = this
            .handle
            .as_ref()
            .expect("acquire future polled after it completed");
        let n = *this.permits & !FRONT;
        match handle
            .queue()
            .poll_acquire(this.node.into_ref(), *this.permits, cx)
        {
            Poll::Ready(Ok(())) => {
                let held = this.waiting.granted(&**handle, n, cx);
                Poll::Ready(Ok((this.handle.take().expect("checked above"), held)))
            }
            Poll::Ready(Err(Closed)) => {
                this.waiting.end();
                // Completed: nothing to cancel on drop.
                *this.handle = None;
                Poll::Ready(Err(Closed))
            }
            Poll::Pending => {
                let front = *this.permits & FRONT != 0;
                this.waiting.pending(&**handle, n, front, cx);
                Poll::Pending
            }
        }
    }
}

impl<H> Future for RawAcquire<H>
where
    H: Deref,
    H::Target: HasQueue,
{
    type Output = (H, Held);

    /// For the primitives that are never closed.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(H, Held)> {
        self.poll_closable(cx).map(|granted| {
            granted.unwrap_or_else(|Closed| {
                unreachable!("only a ClosableSemaphore is closed, and it polls with poll_closable")
            })
        })
    }
}

/// Returns permits a releaser holds while it has dropped the lock to wake a
/// batch, if a waker panics meanwhile.
struct ReleaseOnUnwind<'a> {
    sem: &'a RawSemaphore,
    permits: usize,
}

impl Drop for ReleaseOnUnwind<'_> {
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

/// Wakers of granted waiters, woken after the lock is released: a waker may
/// call back into the same primitive. Holds up to 32 without allocating;
/// dropping it wakes whatever is left. A granted waiter must be woken even if
/// another waiter's waker panics, or it would wait forever.
///
/// The slots are uninitialized memory, so that making and dropping a batch
/// (once per contended release) costs nothing for the slots left unused.
struct WakeBatch {
    /// Slots `next..len` hold wakers not yet woken; the others are empty.
    wakers: [MaybeUninit<Waker>; WakeBatch::CAPACITY],
    len: usize,
    next: usize,
}

impl WakeBatch {
    const CAPACITY: usize = 32;

    const fn new() -> Self {
        // A constant, not an inline `const` block: those need Rust 1.79.
        const EMPTY: MaybeUninit<Waker> = MaybeUninit::uninit();
        Self {
            wakers: [EMPTY; Self::CAPACITY],
            len: 0,
            next: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == Self::CAPACITY
    }

    /// Adds a granted waiter's waker (every linked waiter has one; `None`
    /// takes no slot).
    fn push(&mut self, waker: Option<Waker>) {
        debug_assert!(!self.is_full());
        if let Some(waker) = waker {
            self.wakers[self.len].write(waker);
            self.len += 1;
        }
    }

    /// Wakes in grant order. If a waker panics, the rest are still woken
    /// while the panic unwinds (a second panic then aborts).
    fn wake_all(&mut self) {
        struct WakeRestOnUnwind<'a>(&'a mut WakeBatch);

        impl Drop for WakeRestOnUnwind<'_> {
            fn drop(&mut self) {
                self.0.wake_all();
            }
        }

        let batch = WakeRestOnUnwind(self);
        while batch.0.next < batch.0.len {
            let slot = batch.0.next;
            // Advanced first: the slot is empty from here on, also if
            // `wake` panics.
            batch.0.next += 1;
            // SAFETY: `slot` was in `next..len`, so it holds a waker, and
            // moving `next` past it means it is read only this once.
            let waker = unsafe { batch.0.wakers[slot].assume_init_read() };
            waker.wake();
        }
        batch.0.len = 0;
        batch.0.next = 0;
        mem::forget(batch);
    }
}

impl Drop for WakeBatch {
    fn drop(&mut self) {
        self.wake_all();
    }
}

#[cfg(all(test, not(fairsync_loom)))]
mod tests;
