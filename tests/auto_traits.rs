//! Compile-time checks of the auto traits (SPEC promise 8), positive and
//! negative, and of `Debug` on every public type. This file fails to compile
//! if a bound is wrong.
//!
//! Negative checks use the "ambiguous impl" trick: `Ambiguous<_>` has a
//! blanket impl for every type and a second impl for types with the trait.
//! Naming `<T as Ambiguous<_>>::some_item` is unambiguous (and compiles) only
//! when `T` lacks the trait.

use std::cell::Cell;
use std::fmt::Debug;
use std::rc::Rc;
use std::sync::MutexGuard as StdMutexGuard;

use fairsync::{
    Acquire, AcquireOwned, Lock, LockAcquire, LockAcquireOwned, LockGuard, MappedMutexGuard, Mutex,
    MutexGuard, MutexLock, MutexLockOwned, OwnedLockGuard, OwnedMutexGuard, OwnedSemaphorePermit,
    Semaphore, SemaphorePermit,
};

fn is_send<T: ?Sized + Send>() {}
fn is_sync<T: ?Sized + Sync>() {}
fn is_debug<T: ?Sized + Debug>() {}
fn is_future<T: std::future::Future>() {}

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
assert_not_send!(OwnedMutexGuard<Rc<u8>>);
assert_not_sync!(OwnedMutexGuard<Rc<u8>>);
assert_not_sync!(OwnedMutexGuard<Cell<u8>>);
assert_not_send!(OwnedMutexGuard<SyncNotSend>);
assert_not_sync!(OwnedMutexGuard<SyncNotSend>);
assert_not_send!(MappedMutexGuard<'static, Rc<u8>>);
assert_not_sync!(MappedMutexGuard<'static, Rc<u8>>);
assert_not_sync!(MappedMutexGuard<'static, Cell<u8>>);
assert_not_send!(MappedMutexGuard<'static, SyncNotSend>);
assert_not_sync!(MappedMutexGuard<'static, SyncNotSend>);

// Lock futures for a value that may not cross threads cannot either.
assert_not_send!(MutexLock<'static, Rc<u8>>);
assert_not_send!(MutexLockOwned<Rc<u8>>);
assert_not_send!(MutexLock<'static, SyncNotSend>);
assert_not_send!(MutexLockOwned<SyncNotSend>);

// ------------------------------------------------------------ positive

#[test]
fn lock_and_semaphore_types_are_send_and_sync() {
    is_send::<Lock>();
    is_sync::<Lock>();
    is_send::<LockGuard<'static>>();
    is_sync::<LockGuard<'static>>();
    is_send::<OwnedLockGuard>();
    is_sync::<OwnedLockGuard>();
    is_send::<Semaphore>();
    is_sync::<Semaphore>();
    is_send::<SemaphorePermit<'static>>();
    is_sync::<SemaphorePermit<'static>>();
    is_send::<OwnedSemaphorePermit>();
    is_sync::<OwnedSemaphorePermit>();
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

    is_send::<OwnedMutexGuard<u8>>();
    is_sync::<OwnedMutexGuard<u8>>();
    is_send::<OwnedMutexGuard<Cell<u8>>>();
    is_send::<OwnedMutexGuard<[u8]>>();

    is_send::<MappedMutexGuard<'static, u8>>();
    is_sync::<MappedMutexGuard<'static, u8>>();
    is_send::<MappedMutexGuard<'static, Cell<u8>>>();
    is_send::<MappedMutexGuard<'static, [u8]>>();
    is_sync::<MappedMutexGuard<'static, str>>();
}

#[test]
fn every_acquire_future_is_send_where_its_output_is() {
    is_send::<Acquire<'static>>();
    is_send::<AcquireOwned>();
    is_send::<LockAcquire<'static>>();
    is_send::<LockAcquireOwned>();
    is_send::<MutexLock<'static, u8>>();
    is_send::<MutexLockOwned<u8>>();
    is_send::<MutexLock<'static, Cell<u8>>>();
    is_send::<MutexLockOwned<Cell<u8>>>();
    is_send::<MutexLock<'static, [u8]>>();
    is_send::<MutexLockOwned<[u8]>>();

    is_future::<Acquire<'static>>();
    is_future::<AcquireOwned>();
    is_future::<LockAcquire<'static>>();
    is_future::<LockAcquireOwned>();
    is_future::<MutexLock<'static, u8>>();
    is_future::<MutexLockOwned<u8>>();
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
        let owned = mutex.clone().try_lock_owned();
        assert!(owned.is_none());
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
    is_debug::<SemaphorePermit<'static>>();
    is_debug::<OwnedSemaphorePermit>();
    is_debug::<Acquire<'static>>();
    is_debug::<AcquireOwned>();
    is_debug::<Lock>();
    is_debug::<LockGuard<'static>>();
    is_debug::<OwnedLockGuard>();
    is_debug::<LockAcquire<'static>>();
    is_debug::<LockAcquireOwned>();
    is_debug::<Mutex<u8>>();
    is_debug::<Mutex<[u8]>>();
    is_debug::<MutexGuard<'static, u8>>();
    is_debug::<OwnedMutexGuard<u8>>();
    is_debug::<MappedMutexGuard<'static, u8>>();
    is_debug::<MutexLock<'static, u8>>();
    is_debug::<MutexLockOwned<u8>>();
}
