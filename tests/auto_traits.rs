//! Compile-time checks of the auto traits (SPEC promise 8, and the rules
//! for the RwLock family), positive and negative, and of `Debug` on every
//! public type. This file fails to compile if a bound is wrong.
//!
//! Negative checks use the "ambiguous impl" trick: `Ambiguous<_>` has a
//! blanket impl for every type and a second impl for types with the trait.
//! Naming `<T as Ambiguous<_>>::some_item` is unambiguous (and compiles) only
//! when `T` lacks the trait.
//!
//! Auto traits do not depend on features: only the checks of the owned
//! types (`alloc`) and of the `std`-only ones are gated.

use std::cell::Cell;
use std::fmt::Debug;
use std::rc::Rc;
use std::sync::MutexGuard as StdMutexGuard;

#[cfg(feature = "std")]
use fairsync::WaitTimeoutResult;
use fairsync::{
    Acquire, Barrier, BarrierWait, BarrierWaitResult, ClosableAcquire, ClosableSemaphore, Closed,
    Condvar, CondvarWait, CondvarWaitWhile, Event, EventWait, Lock, LockAcquire, LockGuard,
    MappedMutexGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex, MutexGuard, MutexLock,
    RwLock, RwLockRead, RwLockReadGuard, RwLockUpgradableRead, RwLockUpgradableReadGuard,
    RwLockUpgrade, RwLockWrite, RwLockWriteGuard, Semaphore, SemaphorePermit, TryAcquireError,
};
#[cfg(feature = "alloc")]
use fairsync::{
    AcquireOwned, ClosableAcquireOwned, LockAcquireOwned, MutexLockOwned, OwnedLockGuard,
    OwnedMappedMutexGuard, OwnedMappedRwLockReadGuard, OwnedMappedRwLockWriteGuard,
    OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard,
    OwnedSemaphorePermit, RwLockReadOwned, RwLockUpgradableReadOwned, RwLockUpgradeOwned,
    RwLockWriteOwned,
};

fn is_send<T: ?Sized + Send>() {}
fn is_sync<T: ?Sized + Sync>() {}
fn is_debug<T: ?Sized + Debug>() {}
fn is_future<T: std::future::Future>() {}
fn is_fused<T: futures::future::FusedFuture>() {}
#[cfg(feature = "std")]
fn is_error<T: std::error::Error + Clone + Copy + Eq + Send + Sync + 'static>() {}

macro_rules! assert_not_impl {
    ($t:ty, $trait:path, $name:ident) => {
        const _: fn() = || {
            trait $name<A> {
                fn some_item() {}
            }
            impl<T: ?Sized> $name<()> for T {}
            #[allow(dead_code)]
            struct Invalid;
            impl<T: ?Sized + $trait> $name<Invalid> for T {}
            let _ = <$t as $name<_>>::some_item;
        };
    };
}

macro_rules! assert_not_send {
    ($t:ty) => {
        assert_not_impl!($t, Send, AmbiguousIfSend);
    };
}

macro_rules! assert_not_sync {
    ($t:ty) => {
        assert_not_impl!($t, Sync, AmbiguousIfSync);
    };
}

/// `T: Sync` but `!Send`: tells "Sync when T: Send" apart from
/// "Sync when T: Sync".
type SyncNotSend = StdMutexGuard<'static, u8>;

// ------------------------------------------------------------ negative

// Mutex<T>: Send and Sync only when T: Send.
assert_not_send!(Mutex<Rc<u8>>);
assert_not_sync!(Mutex<Rc<u8>>);
assert_not_send!(Mutex<SyncNotSend>);
assert_not_sync!(Mutex<SyncNotSend>);

// MutexGuard<T>: Send when T: Send, Sync when T: Send + Sync.
assert_not_send!(MutexGuard<'static, Rc<u8>>);
assert_not_sync!(MutexGuard<'static, Rc<u8>>);
assert_not_sync!(MutexGuard<'static, Cell<u8>>);
assert_not_send!(MutexGuard<'static, SyncNotSend>);
assert_not_sync!(MutexGuard<'static, SyncNotSend>);

// Owned and mapped guards follow MutexGuard.
#[cfg(feature = "alloc")]
const _: () = {
    assert_not_send!(OwnedMutexGuard<Rc<u8>>);
    assert_not_sync!(OwnedMutexGuard<Rc<u8>>);
    assert_not_sync!(OwnedMutexGuard<Cell<u8>>);
    assert_not_send!(OwnedMutexGuard<SyncNotSend>);
    assert_not_sync!(OwnedMutexGuard<SyncNotSend>);
};
assert_not_send!(MappedMutexGuard<'static, Rc<u8>>);
assert_not_sync!(MappedMutexGuard<'static, Rc<u8>>);
assert_not_sync!(MappedMutexGuard<'static, Cell<u8>>);
assert_not_send!(MappedMutexGuard<'static, SyncNotSend>);
assert_not_sync!(MappedMutexGuard<'static, SyncNotSend>);

// Owned mapped guards: `U` as in `MappedMutexGuard`, and the `Arc<Mutex<T>>`
// they keep needs `T: Send`.
#[cfg(feature = "alloc")]
const _: () = {
    assert_not_send!(OwnedMappedMutexGuard<Rc<u8>, u8>);
    assert_not_sync!(OwnedMappedMutexGuard<Rc<u8>, u8>);
    assert_not_send!(OwnedMappedMutexGuard<SyncNotSend, u8>);
    assert_not_sync!(OwnedMappedMutexGuard<SyncNotSend, u8>);
    assert_not_send!(OwnedMappedMutexGuard<u8, Rc<u8>>);
    assert_not_sync!(OwnedMappedMutexGuard<u8, Rc<u8>>);
    assert_not_sync!(OwnedMappedMutexGuard<u8, Cell<u8>>);
    assert_not_send!(OwnedMappedMutexGuard<u8, SyncNotSend>);
    assert_not_sync!(OwnedMappedMutexGuard<u8, SyncNotSend>);
};

// Lock futures for a value that may not cross threads cannot either.
assert_not_send!(MutexLock<'static, Rc<u8>>);
#[cfg(feature = "alloc")]
assert_not_send!(MutexLockOwned<Rc<u8>>);
assert_not_send!(MutexLock<'static, SyncNotSend>);
#[cfg(feature = "alloc")]
assert_not_send!(MutexLockOwned<SyncNotSend>);

// RwLock<T>: Send when T: Send, Sync when T: Send + Sync.
assert_not_send!(RwLock<Rc<u8>>);
assert_not_sync!(RwLock<Rc<u8>>);
assert_not_sync!(RwLock<Cell<u8>>);
assert_not_send!(RwLock<SyncNotSend>);
assert_not_sync!(RwLock<SyncNotSend>);

// Read guards: Send and Sync when T: Sync.
assert_not_send!(RwLockReadGuard<'static, Cell<u8>>);
assert_not_sync!(RwLockReadGuard<'static, Cell<u8>>);
assert_not_send!(RwLockReadGuard<'static, Rc<u8>>);
assert_not_sync!(RwLockReadGuard<'static, Rc<u8>>);
assert_not_send!(MappedRwLockReadGuard<'static, Cell<u8>>);
assert_not_sync!(MappedRwLockReadGuard<'static, Cell<u8>>);

// Write and upgradable guards: Send when T: Send + Sync (they can downgrade
// to a shared read guard), Sync when T: Sync.
assert_not_send!(RwLockWriteGuard<'static, Cell<u8>>);
assert_not_sync!(RwLockWriteGuard<'static, Cell<u8>>);
assert_not_send!(RwLockWriteGuard<'static, SyncNotSend>);
assert_not_send!(RwLockWriteGuard<'static, Rc<u8>>);
assert_not_sync!(RwLockWriteGuard<'static, Rc<u8>>);
assert_not_send!(RwLockUpgradableReadGuard<'static, Cell<u8>>);
assert_not_sync!(RwLockUpgradableReadGuard<'static, Cell<u8>>);
assert_not_send!(RwLockUpgradableReadGuard<'static, SyncNotSend>);
assert_not_send!(RwLockUpgradableReadGuard<'static, Rc<u8>>);
assert_not_sync!(RwLockUpgradableReadGuard<'static, Rc<u8>>);
// A mapped write guard cannot downgrade: like `&mut U`.
assert_not_send!(MappedRwLockWriteGuard<'static, Rc<u8>>);
assert_not_send!(MappedRwLockWriteGuard<'static, SyncNotSend>);
assert_not_sync!(MappedRwLockWriteGuard<'static, Cell<u8>>);

// Owned guards: Send and Sync only when T: Send + Sync.
#[cfg(feature = "alloc")]
const _: () = {
    assert_not_send!(OwnedRwLockReadGuard<Cell<u8>>);
    assert_not_sync!(OwnedRwLockReadGuard<Cell<u8>>);
    assert_not_send!(OwnedRwLockReadGuard<SyncNotSend>);
    assert_not_sync!(OwnedRwLockReadGuard<SyncNotSend>);
    assert_not_send!(OwnedRwLockWriteGuard<Cell<u8>>);
    assert_not_sync!(OwnedRwLockWriteGuard<Cell<u8>>);
    assert_not_send!(OwnedRwLockWriteGuard<SyncNotSend>);
    assert_not_sync!(OwnedRwLockWriteGuard<SyncNotSend>);
};

#[cfg(feature = "alloc")]
const _: () = {
    assert_not_send!(OwnedRwLockUpgradableReadGuard<Cell<u8>>);
    assert_not_sync!(OwnedRwLockUpgradableReadGuard<Cell<u8>>);
    assert_not_send!(OwnedRwLockUpgradableReadGuard<SyncNotSend>);
    assert_not_sync!(OwnedRwLockUpgradableReadGuard<SyncNotSend>);
};

// Owned mapped guards: the `Arc` they keep needs `T: Send + Sync`, and `U`
// follows the borrowed mapped guards.
#[cfg(feature = "alloc")]
const _: () = {
    assert_not_send!(OwnedMappedRwLockReadGuard<Cell<u8>, u8>);
    assert_not_sync!(OwnedMappedRwLockReadGuard<Cell<u8>, u8>);
    assert_not_send!(OwnedMappedRwLockReadGuard<SyncNotSend, u8>);
    assert_not_sync!(OwnedMappedRwLockReadGuard<SyncNotSend, u8>);
    assert_not_send!(OwnedMappedRwLockReadGuard<u8, Cell<u8>>);
    assert_not_sync!(OwnedMappedRwLockReadGuard<u8, Cell<u8>>);
    assert_not_send!(OwnedMappedRwLockWriteGuard<Cell<u8>, u8>);
    assert_not_sync!(OwnedMappedRwLockWriteGuard<Cell<u8>, u8>);
    assert_not_send!(OwnedMappedRwLockWriteGuard<SyncNotSend, u8>);
    assert_not_sync!(OwnedMappedRwLockWriteGuard<SyncNotSend, u8>);
    assert_not_send!(OwnedMappedRwLockWriteGuard<u8, Rc<u8>>);
    assert_not_send!(OwnedMappedRwLockWriteGuard<u8, SyncNotSend>);
    assert_not_sync!(OwnedMappedRwLockWriteGuard<u8, Cell<u8>>);
};

// RwLock futures are not Send where their guard is not.
assert_not_send!(RwLockRead<'static, Cell<u8>>);
assert_not_send!(RwLockRead<'static, Rc<u8>>);
assert_not_send!(RwLockWrite<'static, Cell<u8>>);
assert_not_send!(RwLockWrite<'static, SyncNotSend>);
assert_not_send!(RwLockUpgradableRead<'static, Cell<u8>>);
assert_not_send!(RwLockUpgradableRead<'static, SyncNotSend>);
assert_not_send!(RwLockUpgrade<'static, Cell<u8>>);
assert_not_send!(RwLockUpgrade<'static, SyncNotSend>);
#[cfg(feature = "alloc")]
const _: () = {
    assert_not_send!(RwLockReadOwned<Cell<u8>>);
    assert_not_send!(RwLockReadOwned<SyncNotSend>);
    assert_not_send!(RwLockWriteOwned<Cell<u8>>);
    assert_not_send!(RwLockWriteOwned<SyncNotSend>);
    assert_not_send!(RwLockUpgradableReadOwned<Cell<u8>>);
    assert_not_send!(RwLockUpgradableReadOwned<SyncNotSend>);
    assert_not_send!(RwLockUpgradeOwned<Cell<u8>>);
    assert_not_send!(RwLockUpgradeOwned<SyncNotSend>);
};

// Condvar waits resolve to a MutexGuard: not Send where it is not, nor
// with a condition that is not Send.
assert_not_send!(CondvarWait<'static, 'static, Rc<u8>>);
assert_not_send!(CondvarWait<'static, 'static, SyncNotSend>);
assert_not_send!(CondvarWaitWhile<'static, 'static, Rc<u8>, fn(&mut Rc<u8>) -> bool>);
assert_not_send!(CondvarWaitWhile<'static, 'static, u8, Box<dyn FnMut(&mut u8) -> bool>>);

// The lock accessors of the borrowed RwLock guards need `T: Send`: a read
// guard is `Send` with `T: Sync` alone, and a write or upgradable guard is
// `Sync` with `T: Sync` alone, but the `&RwLock<T>` they return outlives the
// guard, and a `&RwLock<T>` on another thread can take the `T` through a
// write lock. The exploits are compile-fail doc tests on
// `RwLockReadGuard::rwlock`, `RwLockWriteGuard::rwlock` and
// `RwLockUpgradableReadGuard::rwlock`. `MutexGuard::mutex` needs no bound:
// a `MutexGuard` crosses threads only when `T: Send`, which is exactly when
// `&Mutex<T>` may. Owned guards cross only when their `Arc` may.

// ------------------------------------------------------------ positive

#[test]
fn lock_and_semaphore_types_are_send_and_sync() {
    is_send::<Lock>();
    is_sync::<Lock>();
    is_send::<LockGuard<'static>>();
    is_sync::<LockGuard<'static>>();
    is_send::<Semaphore>();
    is_sync::<Semaphore>();
    is_send::<SemaphorePermit<'static>>();
    is_sync::<SemaphorePermit<'static>>();
    #[cfg(feature = "alloc")]
    {
        is_send::<OwnedLockGuard>();
        is_sync::<OwnedLockGuard>();
        is_send::<OwnedSemaphorePermit>();
        is_sync::<OwnedSemaphorePermit>();
    }
}

#[test]
fn closable_semaphore_types_are_send_and_sync() {
    is_send::<ClosableSemaphore>();
    is_sync::<ClosableSemaphore>();
    is_send::<ClosableAcquire<'static>>();
    is_sync::<ClosableAcquire<'static>>();
    is_future::<ClosableAcquire<'static>>();
    is_fused::<ClosableAcquire<'static>>();
    is_send::<Closed>();
    is_sync::<Closed>();
    is_send::<TryAcquireError>();
    is_sync::<TryAcquireError>();
    #[cfg(feature = "alloc")]
    {
        is_send::<ClosableAcquireOwned>();
        is_sync::<ClosableAcquireOwned>();
        is_future::<ClosableAcquireOwned>();
        is_fused::<ClosableAcquireOwned>();
    }
    #[cfg(feature = "std")]
    {
        is_error::<Closed>();
        is_error::<TryAcquireError>();
    }
}

#[test]
fn mutex_is_send_and_sync_when_the_value_is_send() {
    is_send::<Mutex<u8>>();
    is_sync::<Mutex<u8>>();
    is_send::<Mutex<Cell<u8>>>();
    is_sync::<Mutex<Cell<u8>>>();
    is_send::<Mutex<[u8]>>();
    is_sync::<Mutex<[u8]>>();
    is_send::<Mutex<dyn Debug + Send>>();
    is_sync::<Mutex<dyn Debug + Send>>();
}

#[test]
fn mutex_guards_follow_the_value() {
    is_send::<MutexGuard<'static, u8>>();
    is_sync::<MutexGuard<'static, u8>>();
    is_send::<MutexGuard<'static, Cell<u8>>>();
    is_send::<MutexGuard<'static, [u8]>>();
    is_sync::<MutexGuard<'static, [u8]>>();

    #[cfg(feature = "alloc")]
    {
        is_send::<OwnedMutexGuard<u8>>();
        is_sync::<OwnedMutexGuard<u8>>();
        is_send::<OwnedMutexGuard<Cell<u8>>>();
        is_send::<OwnedMutexGuard<[u8]>>();
    }

    is_send::<MappedMutexGuard<'static, u8>>();
    is_sync::<MappedMutexGuard<'static, u8>>();
    is_send::<MappedMutexGuard<'static, Cell<u8>>>();
    is_send::<MappedMutexGuard<'static, [u8]>>();
    is_sync::<MappedMutexGuard<'static, str>>();

    #[cfg(feature = "alloc")]
    {
        is_send::<OwnedMappedMutexGuard<u8, u8>>();
        is_sync::<OwnedMappedMutexGuard<u8, u8>>();
        is_send::<OwnedMappedMutexGuard<Cell<u8>, u8>>();
        is_sync::<OwnedMappedMutexGuard<Cell<u8>, u8>>();
        is_send::<OwnedMappedMutexGuard<u8, Cell<u8>>>();
        is_send::<OwnedMappedMutexGuard<[u8], u8>>();
        is_sync::<OwnedMappedMutexGuard<Vec<u8>, [u8]>>();
    }
}

#[test]
fn every_acquire_future_is_send_where_its_output_is() {
    is_send::<Acquire<'static>>();
    is_send::<LockAcquire<'static>>();
    is_send::<MutexLock<'static, u8>>();
    is_send::<MutexLock<'static, Cell<u8>>>();
    is_send::<MutexLock<'static, [u8]>>();

    is_future::<Acquire<'static>>();
    is_future::<LockAcquire<'static>>();
    is_future::<MutexLock<'static, u8>>();
    #[cfg(feature = "alloc")]
    {
        is_send::<AcquireOwned>();
        is_send::<LockAcquireOwned>();
        is_send::<MutexLockOwned<u8>>();
        is_send::<MutexLockOwned<Cell<u8>>>();
        is_send::<MutexLockOwned<[u8]>>();
        is_future::<AcquireOwned>();
        is_future::<LockAcquireOwned>();
        is_future::<MutexLockOwned<u8>>();
    }
}

#[test]
fn rwlock_is_send_and_sync_by_the_value() {
    is_send::<RwLock<u8>>();
    is_sync::<RwLock<u8>>();
    is_send::<RwLock<Cell<u8>>>();
    is_send::<RwLock<[u8]>>();
    is_sync::<RwLock<[u8]>>();
    is_send::<RwLock<dyn Debug + Send>>();
    is_sync::<RwLock<dyn Debug + Send + Sync>>();
}

#[test]
fn rwlock_guards_follow_the_value() {
    // Read guards: T: Sync is enough, also when T is not Send.
    is_send::<RwLockReadGuard<'static, u8>>();
    is_sync::<RwLockReadGuard<'static, u8>>();
    is_send::<RwLockReadGuard<'static, SyncNotSend>>();
    is_sync::<RwLockReadGuard<'static, SyncNotSend>>();
    is_send::<RwLockReadGuard<'static, [u8]>>();
    is_send::<MappedRwLockReadGuard<'static, SyncNotSend>>();
    is_sync::<MappedRwLockReadGuard<'static, str>>();

    // Write and upgradable guards: Sync with T: Sync alone.
    is_send::<RwLockWriteGuard<'static, u8>>();
    is_sync::<RwLockWriteGuard<'static, u8>>();
    is_sync::<RwLockWriteGuard<'static, SyncNotSend>>();
    is_send::<RwLockWriteGuard<'static, [u8]>>();
    is_send::<RwLockUpgradableReadGuard<'static, u8>>();
    is_sync::<RwLockUpgradableReadGuard<'static, u8>>();
    is_sync::<RwLockUpgradableReadGuard<'static, SyncNotSend>>();
    is_send::<MappedRwLockWriteGuard<'static, u8>>();
    is_sync::<MappedRwLockWriteGuard<'static, u8>>();
    is_send::<MappedRwLockWriteGuard<'static, Cell<u8>>>();
    is_sync::<MappedRwLockWriteGuard<'static, SyncNotSend>>();
    is_send::<MappedRwLockWriteGuard<'static, [u8]>>();

    #[cfg(feature = "alloc")]
    {
        is_send::<OwnedRwLockReadGuard<u8>>();
        is_sync::<OwnedRwLockReadGuard<u8>>();
        is_send::<OwnedRwLockWriteGuard<u8>>();
        is_sync::<OwnedRwLockWriteGuard<u8>>();
        is_send::<OwnedRwLockWriteGuard<[u8]>>();
        is_send::<OwnedRwLockUpgradableReadGuard<u8>>();
        is_sync::<OwnedRwLockUpgradableReadGuard<u8>>();
        is_send::<OwnedRwLockUpgradableReadGuard<[u8]>>();
    }

    // Owned mapped guards: like their borrowed kin in `U`.
    #[cfg(feature = "alloc")]
    {
        is_send::<OwnedMappedRwLockReadGuard<u8, u8>>();
        is_sync::<OwnedMappedRwLockReadGuard<u8, u8>>();
        is_send::<OwnedMappedRwLockReadGuard<u8, SyncNotSend>>();
        is_sync::<OwnedMappedRwLockReadGuard<u8, SyncNotSend>>();
        is_send::<OwnedMappedRwLockReadGuard<Vec<u8>, [u8]>>();
        is_send::<OwnedMappedRwLockWriteGuard<u8, u8>>();
        is_sync::<OwnedMappedRwLockWriteGuard<u8, u8>>();
        is_send::<OwnedMappedRwLockWriteGuard<u8, Cell<u8>>>();
        is_sync::<OwnedMappedRwLockWriteGuard<u8, SyncNotSend>>();
        is_send::<OwnedMappedRwLockWriteGuard<Vec<u8>, [u8]>>();
    }
}

#[test]
fn rwlock_futures_are_send_where_their_guard_is() {
    is_send::<RwLockRead<'static, u8>>();
    is_send::<RwLockRead<'static, SyncNotSend>>();
    is_send::<RwLockRead<'static, [u8]>>();
    is_send::<RwLockWrite<'static, u8>>();
    is_send::<RwLockWrite<'static, [u8]>>();
    is_send::<RwLockUpgradableRead<'static, u8>>();
    is_send::<RwLockUpgrade<'static, u8>>();

    is_future::<RwLockRead<'static, u8>>();
    is_future::<RwLockWrite<'static, u8>>();
    is_future::<RwLockUpgradableRead<'static, u8>>();
    is_future::<RwLockUpgrade<'static, u8>>();
    #[cfg(feature = "alloc")]
    {
        is_send::<RwLockReadOwned<u8>>();
        is_send::<RwLockWriteOwned<u8>>();
        is_send::<RwLockUpgradableReadOwned<u8>>();
        is_send::<RwLockUpgradableReadOwned<[u8]>>();
        is_send::<RwLockUpgradeOwned<u8>>();
        is_send::<RwLockUpgradeOwned<[u8]>>();
        is_future::<RwLockUpgradableReadOwned<u8>>();
        is_future::<RwLockUpgradeOwned<u8>>();
        is_future::<RwLockReadOwned<u8>>();
        is_future::<RwLockWriteOwned<u8>>();
    }
}

#[test]
fn condvar_barrier_and_event_are_send_and_sync() {
    is_send::<Condvar>();
    is_sync::<Condvar>();
    is_send::<Barrier>();
    is_sync::<Barrier>();
    is_send::<Event>();
    is_sync::<Event>();
    is_send::<BarrierWaitResult>();
    is_sync::<BarrierWaitResult>();
    #[cfg(feature = "std")]
    {
        is_send::<WaitTimeoutResult>();
        is_sync::<WaitTimeoutResult>();
    }
}

#[test]
fn condvar_barrier_and_event_futures_are_send_where_their_output_is() {
    is_send::<CondvarWait<'static, 'static, u8>>();
    is_send::<CondvarWait<'static, 'static, Cell<u8>>>();
    is_send::<CondvarWait<'static, 'static, [u8]>>();
    is_send::<CondvarWaitWhile<'static, 'static, u8, fn(&mut u8) -> bool>>();
    is_send::<CondvarWaitWhile<'static, 'static, Cell<u8>, fn(&mut Cell<u8>) -> bool>>();
    is_send::<BarrierWait<'static>>();
    is_send::<EventWait<'static>>();

    is_future::<CondvarWait<'static, 'static, u8>>();
    is_future::<CondvarWaitWhile<'static, 'static, u8, fn(&mut u8) -> bool>>();
    is_future::<BarrierWait<'static>>();
    is_future::<EventWait<'static>>();
}

#[test]
fn rwlock_and_condvar_futures_can_be_spawned_on_a_multi_threaded_runtime() {
    // Guards held across .await: the whole async fn must be Send.
    async fn critical(
        lock: std::sync::Arc<RwLock<Vec<u8>>>,
        mutex: std::sync::Arc<Mutex<bool>>,
        condvar: std::sync::Arc<Condvar>,
        barrier: std::sync::Arc<Barrier>,
        event: std::sync::Arc<Event>,
    ) -> usize {
        let read = lock.read().await;
        futures::future::ready(()).await;
        let len = read.len();
        drop(read);
        let upgradable = lock.upgradable_read().await;
        futures::future::ready(()).await;
        let mut write = RwLockUpgradableReadGuard::upgrade(upgradable).await;
        futures::future::ready(()).await;
        write.push(1);
        let read = RwLockWriteGuard::downgrade(write);
        futures::future::ready(()).await;
        drop(read);
        #[cfg(feature = "alloc")]
        {
            let owned = lock.clone().write_owned().await;
            futures::future::ready(()).await;
            drop(owned);
            let owned = lock.upgradable_read_owned().await;
            futures::future::ready(()).await;
            let owned = OwnedRwLockUpgradableReadGuard::upgrade(owned).await;
            futures::future::ready(()).await;
            let owned = OwnedRwLockWriteGuard::map(owned, |v| &mut v[..]);
            futures::future::ready(()).await;
            drop(owned);
        }
        let mut flag = mutex.lock().await;
        *flag = true;
        condvar.notify_all();
        let flag = condvar.wait_while(flag, |set| !*set).await;
        futures::future::ready(()).await;
        drop(flag);
        barrier.wait().await;
        event.set();
        event.wait().await;
        len + lock.read().await.len()
    }
    fn assert_send_future<F: std::future::Future + Send>(_: &F) {}
    let fut = critical(
        std::sync::Arc::new(RwLock::new(Vec::new())),
        std::sync::Arc::new(Mutex::new(false)),
        std::sync::Arc::new(Condvar::new()),
        std::sync::Arc::new(Barrier::new(1)),
        std::sync::Arc::new(Event::new()),
    );
    assert_send_future(&fut);
    assert_eq!(futures::executor::block_on(fut), 1);
}

#[test]
fn futures_can_be_spawned_on_a_multi_threaded_runtime() {
    // The whole async fn, with guards held across .await, must be Send.
    async fn critical(
        sem: std::sync::Arc<Semaphore>,
        lock: std::sync::Arc<Lock>,
        mutex: std::sync::Arc<Mutex<Vec<u8>>>,
    ) -> usize {
        let permit = sem.acquire_many(2).await;
        let _guard = lock.acquire().await;
        let mut value = mutex.lock().await;
        futures::future::ready(()).await;
        value.push(1);
        assert!(mutex.try_lock().is_none());
        #[cfg(feature = "alloc")]
        assert!(mutex.clone().try_lock_owned().is_none());
        permit.permits() + value.len()
    }
    fn assert_send_future<F: std::future::Future + Send>(_: &F) {}
    let fut = critical(
        std::sync::Arc::new(Semaphore::new(2)),
        std::sync::Arc::new(Lock::new()),
        std::sync::Arc::new(Mutex::new(Vec::new())),
    );
    assert_send_future(&fut);
    assert_eq!(futures::executor::block_on(fut), 3);
}

#[test]
fn every_public_type_implements_debug() {
    is_debug::<Semaphore>();
    is_debug::<ClosableSemaphore>();
    is_debug::<ClosableAcquire<'static>>();
    is_debug::<Closed>();
    is_debug::<TryAcquireError>();
    is_debug::<SemaphorePermit<'static>>();
    is_debug::<Acquire<'static>>();
    is_debug::<Lock>();
    is_debug::<LockGuard<'static>>();
    is_debug::<LockAcquire<'static>>();
    is_debug::<Mutex<u8>>();
    is_debug::<Mutex<[u8]>>();
    is_debug::<MutexGuard<'static, u8>>();
    is_debug::<MappedMutexGuard<'static, u8>>();
    is_debug::<MutexLock<'static, u8>>();
    is_debug::<RwLock<u8>>();
    is_debug::<RwLock<[u8]>>();
    is_debug::<RwLockReadGuard<'static, u8>>();
    is_debug::<RwLockWriteGuard<'static, u8>>();
    is_debug::<RwLockUpgradableReadGuard<'static, u8>>();
    is_debug::<MappedRwLockReadGuard<'static, u8>>();
    is_debug::<MappedRwLockWriteGuard<'static, u8>>();
    is_debug::<RwLockRead<'static, u8>>();
    is_debug::<RwLockWrite<'static, u8>>();
    is_debug::<RwLockUpgradableRead<'static, u8>>();
    is_debug::<RwLockUpgrade<'static, u8>>();
    is_debug::<Condvar>();
    is_debug::<CondvarWait<'static, 'static, u8>>();
    is_debug::<CondvarWaitWhile<'static, 'static, u8, fn(&mut u8) -> bool>>();
    is_debug::<Barrier>();
    is_debug::<BarrierWait<'static>>();
    is_debug::<BarrierWaitResult>();
    is_debug::<Event>();
    is_debug::<EventWait<'static>>();
    #[cfg(feature = "alloc")]
    {
        is_debug::<ClosableAcquireOwned>();
        is_debug::<OwnedSemaphorePermit>();
        is_debug::<AcquireOwned>();
        is_debug::<OwnedLockGuard>();
        is_debug::<LockAcquireOwned>();
        is_debug::<OwnedMutexGuard<u8>>();
        is_debug::<OwnedMappedMutexGuard<u8, u8>>();
        is_debug::<OwnedMappedMutexGuard<Vec<u8>, [u8]>>();
        is_debug::<OwnedRwLockUpgradableReadGuard<u8>>();
        is_debug::<OwnedMappedRwLockReadGuard<u8, u8>>();
        is_debug::<OwnedMappedRwLockWriteGuard<u8, u8>>();
        is_debug::<RwLockUpgradableReadOwned<u8>>();
        is_debug::<RwLockUpgradeOwned<u8>>();
        is_debug::<MutexLockOwned<u8>>();
        is_debug::<OwnedRwLockReadGuard<u8>>();
        is_debug::<OwnedRwLockWriteGuard<u8>>();
        is_debug::<RwLockReadOwned<u8>>();
        is_debug::<RwLockWriteOwned<u8>>();
    }
    #[cfg(feature = "std")]
    {
        is_debug::<WaitTimeoutResult>();
    }
}

#[test]
fn lock_accessors_of_guards_work_for_values_that_stay_on_one_thread() {
    // `Cell` is `Send` but not `Sync`: its guards cannot leave the thread,
    // so the accessors are available.
    let lock = RwLock::new(Cell::new(1));
    {
        let read = lock.try_read().unwrap();
        assert!(std::ptr::eq(RwLockReadGuard::rwlock(&read), &lock));
    }
    {
        let upgradable = lock.try_upgradable_read().unwrap();
        assert!(std::ptr::eq(
            RwLockUpgradableReadGuard::rwlock(&upgradable),
            &lock
        ));
    }
    let write = lock.try_write().unwrap();
    assert!(std::ptr::eq(RwLockWriteGuard::rwlock(&write), &lock));
    drop(write);

    let mutex = Mutex::new(Rc::new(1));
    let guard = mutex.try_lock().unwrap();
    assert!(std::ptr::eq(MutexGuard::mutex(&guard), &mutex));
}

/// A mapped read guard only hands out `&U`, so unlike `RwLockReadGuard`
/// (invariant in `T`, because it hands back the `&RwLock<T>`) it may shrink
/// a lifetime inside `U`. This compiles only while that holds.
#[allow(dead_code)]
fn mapped_read_guards_are_covariant<'short>(
    guard: MappedRwLockReadGuard<'static, &'static str>,
) -> MappedRwLockReadGuard<'static, &'short str> {
    guard
}
