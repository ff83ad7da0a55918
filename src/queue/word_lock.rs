//! The queue's internal lock: one bit of the word that already holds the
//! queue's state, so the lock costs no memory and needs nothing beyond an
//! atomic read-modify-write (no `std`, no allocation).
//!
//! It guards a few pointer writes, never user code: wakers are cloned,
//! dropped and woken outside it. So a thread that finds it held spins
//! briefly; with `std`, one that keeps finding it held (its holder was
//! preempted) yields its time slice instead of burning it.
//!
//! The other bits of the word belong to the owner, who may change them at
//! any time, locked or not, provided every change keeps the `LOCKED` bit as
//! it found it: a read-modify-write that touches other bits
//! (`fetch_add`/`fetch_sub` of a field above it, `fetch_and`/`fetch_or` of
//! other bits, or a compare-and-swap from a freshly loaded value), never a
//! plain store.

use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use crate::sync::{AtomicUsize, Ordering};

/// Set while a thread holds the lock. Owners keep their own flags below it
/// and their fields above it.
pub(super) const LOCKED: usize = 1 << 2;

/// A `T` guarded by the `LOCKED` bit of `word`.
pub(crate) struct WordLock<T> {
    word: AtomicUsize,
    #[cfg(not(fairsync_loom))]
    value: core::cell::UnsafeCell<T>,
    #[cfg(fairsync_loom)]
    value: loom::cell::UnsafeCell<T>,
    /// Under loom a contended thread sleeps here instead of spinning: loom
    /// explores every iteration of a spin loop as a new branch. Exclusion
    /// still rests on the `LOCKED` bit alone.
    #[cfg(fairsync_loom)]
    parking: loom::sync::Mutex<()>,
    #[cfg(fairsync_loom)]
    unlocked: loom::sync::Condvar,
    /// How many threads sleep (or are about to) on `unlocked`, so that an
    /// unlock nobody waits for adds only one step to a model.
    #[cfg(fairsync_loom)]
    sleepers: AtomicUsize,
}

// SAFETY: the value is reached only through a guard, and the `LOCKED` bit
// lets one guard exist at a time, so `T` moves between threads but is never
// shared: `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: Send> Send for WordLock<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for WordLock<T> {}

// No user code runs while the lock is held, so a panic never leaves the
// value half-updated for the next holder: what poisoning guards against in
// `std::sync::Mutex` cannot happen here.
impl<T> core::panic::UnwindSafe for WordLock<T> {}
impl<T> core::panic::RefUnwindSafe for WordLock<T> {}

impl<T> WordLock<T> {
    crate::sync::const_fn! {
        /// A lock, unlocked, whose word starts as `word`.
        pub(super) const fn new(word: usize, value: T) -> WordLock<T> {
            assert!(word & LOCKED == 0, "a new word lock must start unlocked");
            WordLock {
                word: AtomicUsize::new(word),
                #[cfg(not(fairsync_loom))]
                value: core::cell::UnsafeCell::new(value),
                #[cfg(fairsync_loom)]
                value: loom::cell::UnsafeCell::new(value),
                #[cfg(fairsync_loom)]
                parking: loom::sync::Mutex::new(()),
                #[cfg(fairsync_loom)]
                unlocked: loom::sync::Condvar::new(),
                #[cfg(fairsync_loom)]
                sleepers: AtomicUsize::new(0),
            }
        }
    }

    /// The word, for the owner's bits (see the module docs).
    #[inline]
    pub(super) fn word(&self) -> &AtomicUsize {
        &self.word
    }

    /// Waits until the lock is free and takes it.
    #[inline]
    pub(super) fn lock(&self) -> WordGuard<'_, T> {
        // `Acquire` pairs with the `Release` of the previous holder's unlock.
        if self.word.fetch_or(LOCKED, Ordering::Acquire) & LOCKED != 0 {
            self.lock_contended();
        }
        WordGuard {
            lock: self,
            #[cfg(fairsync_loom)]
            access: Some(self.value.get_mut()),
            _not_send: PhantomData,
        }
    }

    #[cfg(fairsync_loom)]
    #[cold]
    fn lock_contended(&self) {
        let mut parked = self.parking.lock().unwrap();
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        // The bit is tried under `parking`, and an unlock that sees a
        // sleeper takes `parking` before it notifies, so no unlock slips in
        // between the try and the wait. A failed try is a `Release` the
        // unlock reads (see `WordGuard::drop`), so that unlock sees the
        // count above.
        while self.word.fetch_or(LOCKED, Ordering::AcqRel) & LOCKED != 0 {
            parked = self.unlocked.wait(parked).unwrap();
        }
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
    }

    #[cfg(not(fairsync_loom))]
    #[cold]
    fn lock_contended(&self) {
        let mut backoff = Backoff::new();
        loop {
            // Waiting on a load keeps the cache line shared until the holder
            // lets go; only then try to take it.
            while self.word.load(Ordering::Relaxed) & LOCKED != 0 {
                backoff.snooze();
            }
            if self.word.fetch_or(LOCKED, Ordering::Acquire) & LOCKED == 0 {
                return;
            }
        }
    }
}

/// Proof that the lock is held; unlocks on drop.
pub(crate) struct WordGuard<'a, T> {
    lock: &'a WordLock<T>,
    /// Loom's record of the access, checked against every other access.
    /// Ended before the unlock, so the next holder's access never overlaps.
    #[cfg(fairsync_loom)]
    access: Option<loom::cell::MutPtr<T>>,
    /// A guard is dropped on the thread that took the lock.
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for WordGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the `LOCKED` bit, so no other reference to
        // the value exists while it lives (only a guard reaches the value).
        #[cfg(not(fairsync_loom))]
        unsafe {
            &*self.lock.value.get()
        }
        // SAFETY: as above.
        #[cfg(fairsync_loom)]
        unsafe {
            &*self.access.as_ref().expect("held until drop").deref()
        }
    }
}

impl<T> DerefMut for WordGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the `LOCKED` bit, so no other reference to
        // the value exists while it lives, and `&mut self` makes this one
        // unique among the guard's own.
        #[cfg(not(fairsync_loom))]
        unsafe {
            &mut *self.lock.value.get()
        }
        // SAFETY: as above.
        #[cfg(fairsync_loom)]
        unsafe {
            self.access.as_ref().expect("held until drop").deref()
        }
    }
}

impl<T> Drop for WordGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        #[cfg(fairsync_loom)]
        drop(self.access.take());
        // `Release` publishes the critical section to the next holder.
        let was = self.lock.word.fetch_and(!LOCKED, Ordering::Release);
        debug_assert!(
            was & LOCKED != 0,
            "the queue's lock bit was cleared while held"
        );
        #[cfg(fairsync_loom)]
        {
            loom::sync::atomic::fence(Ordering::Acquire);
            if self.lock.sleepers.load(Ordering::Relaxed) != 0 {
                drop(self.lock.parking.lock().unwrap());
                self.lock.unlocked.notify_all();
            }
        }
    }
}

/// Spins with exponentially growing pauses, then (with `std`) yields the
/// thread: a holder that was preempted needs the CPU more than we do.
#[cfg(not(fairsync_loom))]
struct Backoff {
    step: u32,
}

#[cfg(not(fairsync_loom))]
impl Backoff {
    /// Pauses of 1, 2, 4, ... 64 spin hints before yielding: about as long
    /// as a critical section of a few pointer writes takes even when its
    /// cache lines must be fetched from another core.
    const SPIN_STEPS: u32 = 6;

    fn new() -> Self {
        Self { step: 0 }
    }

    fn snooze(&mut self) {
        if self.step <= Self::SPIN_STEPS {
            for _ in 0..1u32 << self.step {
                core::hint::spin_loop();
            }
            self.step += 1;
        } else {
            Self::yield_now();
        }
    }

    #[cfg(feature = "std")]
    fn yield_now() {
        std::thread::yield_now();
    }

    #[cfg(not(feature = "std"))]
    fn yield_now() {
        for _ in 0..1u32 << Self::SPIN_STEPS {
            core::hint::spin_loop();
        }
    }
}
