#![doc = include_str!("crate_docs.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(
    unsafe_op_in_unsafe_fn,
    missing_debug_implementations,
    rust_2018_idioms
)]
// Unit tests build with the current toolchain only; `rust-version` covers
// the library.
#![cfg_attr(test, allow(clippy::incompatible_msrv))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

/// Implements `Debug` and `Display` for guards by formatting their target,
/// so a guard prints exactly like the value it guards.
macro_rules! format_like_target {
    ($($guard:ident<$($lt:lifetime,)? $t:ident>),*) => {$(
        impl<$($lt,)? $t: ?Sized + core::fmt::Debug> core::fmt::Debug for $guard<$($lt,)? $t> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($lt,)? $t: ?Sized + core::fmt::Display> core::fmt::Display for $guard<$($lt,)? $t> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
    // Owned mapped guards: `T` is the locked value, `U` the part shown.
    (mapped $($guard:ident<$t:ident, $u:ident>),*) => {$(
        impl<$t: ?Sized, $u: ?Sized + core::fmt::Debug> core::fmt::Debug for $guard<$t, $u> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$t: ?Sized, $u: ?Sized + core::fmt::Display> core::fmt::Display for $guard<$t, $u> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}

mod barrier;
#[cfg(feature = "std")]
mod blocking;
mod closable;
mod condvar;
#[cfg(feature = "diagnostics")]
#[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
pub mod diagnostics;
mod event;
mod lock;
mod mutex;
mod queue;
mod rwlock;
mod semaphore;
mod sync;
mod track;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use closable::{ClosableAcquire, ClosableSemaphore, Closed, TryAcquireError};
pub use condvar::{Condvar, CondvarWait, CondvarWaitWhile};
pub use event::{Event, EventWait};
pub use lock::{Lock, LockAcquire, LockGuard};
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, MutexLock};
pub use rwlock::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockRead, RwLockReadGuard,
    RwLockUpgradableRead, RwLockUpgradableReadGuard, RwLockUpgrade, RwLockWrite, RwLockWriteGuard,
};
pub use semaphore::{Acquire, Semaphore, SemaphorePermit};

#[cfg(feature = "std")]
pub use condvar::WaitTimeoutResult;

// The owned (`Arc`) variants.
#[cfg(feature = "alloc")]
pub use closable::ClosableAcquireOwned;
#[cfg(feature = "alloc")]
pub use lock::{LockAcquireOwned, OwnedLockGuard};
#[cfg(feature = "alloc")]
pub use mutex::{MutexLockOwned, OwnedMappedMutexGuard, OwnedMutexGuard};
#[cfg(feature = "alloc")]
pub use rwlock::{
    OwnedMappedRwLockReadGuard, OwnedMappedRwLockWriteGuard, OwnedRwLockReadGuard,
    OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard, RwLockReadOwned,
    RwLockUpgradableReadOwned, RwLockUpgradeOwned, RwLockWriteOwned,
};
#[cfg(feature = "alloc")]
pub use semaphore::{AcquireOwned, OwnedSemaphorePermit};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
