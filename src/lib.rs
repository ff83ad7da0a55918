#![doc = include_str!("crate_docs.md")]
#![deny(missing_docs)]
#![warn(
    unsafe_op_in_unsafe_fn,
    missing_debug_implementations,
    rust_2018_idioms
)]

mod blocking;
mod lock;
mod mutex;
mod queue;
mod semaphore;
mod sync;

pub use lock::{Lock, LockAcquire, LockAcquireOwned, LockGuard, OwnedLockGuard};
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, MutexLock, MutexLockOwned, OwnedMutexGuard};
pub use semaphore::{Acquire, AcquireOwned, OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
