//! The primitives' sizes, pinned. A program may keep a lock per map entry or
//! per connection and pay these bytes many times over, so a primitive that
//! grows (or shrinks) must be a decision, noticed here and noted in the
//! changelog, never an accident. The same in every feature configuration.

// `diagnostics` adds a record to every guard, permit and future on purpose.
#![cfg(not(feature = "diagnostics"))]

use std::mem::size_of;

use fairsync::{
    Acquire, Barrier, ClosableSemaphore, Condvar, Event, Lock, LockGuard, Mutex, MutexGuard,
    MutexLock, RwLock, Semaphore, SemaphorePermit,
};

const WORD: usize = size_of::<usize>();

#[test]
fn locks_and_notifications_are_three_words() {
    // The state word (with the queue's lock bit), the list head, the
    // waiter count.
    assert_eq!(size_of::<Lock>(), 3 * WORD, "Lock");
    assert_eq!(size_of::<Mutex<()>>(), 3 * WORD, "Mutex<()>");
    assert_eq!(size_of::<RwLock<()>>(), 3 * WORD, "RwLock<()>");
    assert_eq!(size_of::<Condvar>(), 3 * WORD, "Condvar");
    assert_eq!(size_of::<Event>(), 3 * WORD, "Event");
}

#[test]
fn semaphores_and_barrier_are_four_words() {
    // One word more: the semaphores' total (for `add_permits`' bound), the
    // barrier's party count.
    assert_eq!(size_of::<Semaphore>(), 4 * WORD, "Semaphore");
    assert_eq!(
        size_of::<ClosableSemaphore>(),
        4 * WORD,
        "ClosableSemaphore"
    );
    assert_eq!(size_of::<Barrier>(), 4 * WORD, "Barrier");
}

#[test]
fn a_mutex_adds_only_its_value() {
    assert_eq!(size_of::<Mutex<u64>>(), 3 * WORD + 8);
    assert_eq!(size_of::<RwLock<[u8; 3]>>(), 3 * WORD + WORD);
}

#[test]
fn guards_and_futures_keep_their_sizes() {
    assert_eq!(size_of::<LockGuard<'_>>(), WORD, "LockGuard");
    assert_eq!(size_of::<MutexGuard<'_, u64>>(), WORD, "MutexGuard");
    // The semaphore, the kind of semaphore, the count.
    assert_eq!(
        size_of::<SemaphorePermit<'_>>(),
        3 * WORD,
        "SemaphorePermit"
    );
    // The handle, the count, and the waiter node: two links, a waker, what
    // is owed and a status byte.
    assert_eq!(size_of::<Acquire<'_>>(), 8 * WORD, "Acquire");
    assert_eq!(size_of::<MutexLock<'_, u64>>(), 8 * WORD, "MutexLock");
}
