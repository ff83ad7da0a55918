//! The guards of an [`RwLock`] held by `Arc`: they keep the lock alive and
//! have no lifetime, so they can move into spawned tasks and threads.
//!
//! Every owned guard holds one [`OwnedAccess`]: the `Arc` plus how many
//! permits it holds. The guards have no `Drop` of their own, so a
//! conversion (downgrade, upgrade, map) moves the access into the new guard
//! and re-tags its permits before it releases the ones it gives up: the
//! permits always have an owner, also when a waker woken by that release
//! panics, and no `unsafe` is needed to move the `Arc` out of a guard.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};

use alloc::sync::Arc;
use futures_core::future::FusedFuture;
use pin_project_lite::pin_project;

use super::{RwLock, READ, UPGRADABLE, WRITE};
use crate::queue::RawAcquire;
use crate::track::Held;

/// Access of one kind to an `Arc<RwLock<T>>`: `permits` is `READ`,
/// `UPGRADABLE` or `WRITE`. Gives the permits back on drop.
pub(super) struct OwnedAccess<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    permits: usize,
    held: Held,
}

impl<T: ?Sized> OwnedAccess<T> {
    #[inline]
    fn new(lock: Arc<RwLock<T>>, permits: usize, held: Held) -> Self {
        Self {
            lock,
            permits,
            held,
        }
    }

    /// Keeps `permits` of the permits held and releases the rest. The new
    /// count is recorded first: the release may run a waker that panics.
    fn keep(&mut self, permits: usize) {
        let released = self.permits - permits;
        self.permits = permits;
        self.held.set_permits(permits);
        self.lock.raw.release(released);
    }

    /// Read access to the value.
    #[inline]
    fn value(&self) -> &T {
        // SAFETY: every access holds read access at least, so no `&mut T`
        // exists elsewhere while `&self` lives.
        self.lock.value.with(|value| unsafe { &*value })
    }

    /// Write access to the value; only for an access holding `WRITE`.
    #[inline]
    fn value_mut(&mut self) -> &mut T {
        debug_assert_eq!(self.permits, WRITE);
        // SAFETY: the access holds write access (only write guards call
        // this) and is borrowed mutably, so this is the only reference.
        self.lock.value.with_mut(|value| unsafe { &mut *value })
    }
}

/// The handle of an owned upgrade: the upgradable read it started from.
impl<T: ?Sized> Deref for OwnedAccess<T> {
    type Target = RwLock<T>;

    #[inline]
    fn deref(&self) -> &RwLock<T> {
        &self.lock
    }
}

impl<T: ?Sized> Drop for OwnedAccess<T> {
    #[inline]
    fn drop(&mut self) {
        self.held.end();
        self.lock.raw.release(self.permits);
    }
}

/// Read access to an `Arc<RwLock<T>>`'s value; dropping it releases the
/// read lock.
///
/// Like [`RwLockReadGuard`](crate::RwLockReadGuard), it is invariant in
/// `T`: it hands back the `Arc<RwLock<T>>` ([`rwlock`](Self::rwlock)).
/// [`map`](Self::map) gives a guard that is covariant in the part it shows.
#[must_use = "dropping a guard releases the lock at once"]
pub struct OwnedRwLockReadGuard<T: ?Sized> {
    access: OwnedAccess<T>,
}

/// Write access to an `Arc<RwLock<T>>`'s value; dropping it releases the
/// write lock.
#[must_use = "dropping a guard releases the lock at once"]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    access: OwnedAccess<T>,
}

/// Read access to an `Arc<RwLock<T>>`'s value that can be
/// [upgraded](Self::upgrade) to write access. It shares the lock with plain
/// readers but excludes writers and other upgradable reads.
#[must_use = "dropping a guard releases the lock at once"]
pub struct OwnedRwLockUpgradableReadGuard<T: ?Sized> {
    access: OwnedAccess<T>,
}

/// An [`OwnedRwLockReadGuard`] narrowed by [`OwnedRwLockReadGuard::map`]
/// to a part `U` of the value. It keeps the `Arc<RwLock<T>>` alive.
#[must_use = "dropping a guard releases the lock at once"]
pub struct OwnedMappedRwLockReadGuard<T: ?Sized, U: ?Sized> {
    access: OwnedAccess<T>,
    value: NonNull<U>,
    _marker: PhantomData<*const U>,
}

/// An [`OwnedRwLockWriteGuard`] narrowed by [`OwnedRwLockWriteGuard::map`]
/// to a part `U` of the value. It keeps the `Arc<RwLock<T>>` alive.
#[must_use = "dropping a guard releases the lock at once"]
pub struct OwnedMappedRwLockWriteGuard<T: ?Sized, U: ?Sized> {
    access: OwnedAccess<T>,
    value: NonNull<U>,
    // Invariant in `U`, like the `&mut U` it stands for.
    _marker: PhantomData<*mut U>,
}

// Auto traits: the unmapped owned guards get theirs from the `Arc`, which
// crosses threads only when `T: Send + Sync`. The mapped ones add `U`.

// SAFETY: the guard is a `&U` plus the `Arc<RwLock<T>>`, which may cross
// threads when `T: Send + Sync`.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Send for OwnedMappedRwLockReadGuard<T, U> {}
// SAFETY: as for `Send`.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Sync for OwnedMappedRwLockReadGuard<T, U> {}
// SAFETY: the guard is a `&mut U` plus the `Arc<RwLock<T>>`; it cannot
// downgrade, so like `&mut U` it needs `U: Send` only.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send> Send for OwnedMappedRwLockWriteGuard<T, U> {}
// SAFETY: a shared guard only hands out `&U`.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Sync for OwnedMappedRwLockWriteGuard<T, U> {}

impl<T: ?Sized> OwnedRwLockReadGuard<T> {
    /// Wraps a lock whose read access the caller has just acquired.
    pub(super) fn new((lock, held): (Arc<RwLock<T>>, Held)) -> Self {
        Self {
            access: OwnedAccess::new(lock, READ, held),
        }
    }

    /// The lock this guard reads.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.access.lock
    }

    /// Narrows the guard to a part of the value, keeping the read lock and
    /// the `Arc`. If `f` panics, the read lock is released as the guard
    /// drops.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockReadGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new((1, String::from("one"))));
    /// let read = lock.try_read_owned().unwrap();
    /// let name = OwnedRwLockReadGuard::map(read, |pair| &pair.1);
    /// let len = std::thread::spawn(move || name.len()).join().unwrap();
    /// assert_eq!(len, 3);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> &U,
    ) -> OwnedMappedRwLockReadGuard<T, U> {
        let value = NonNull::from(f(this.access.value()));
        OwnedMappedRwLockReadGuard {
            access: this.access,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockReadGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(vec![1, 2]));
    /// let read = lock.try_read_owned().unwrap();
    /// let read = OwnedRwLockReadGuard::try_map(read, |v| v.get(5)).unwrap_err();
    /// let first = OwnedRwLockReadGuard::try_map(read, |v| v.first()).unwrap();
    /// assert_eq!(*first, 1);
    /// ```
    #[doc(alias = "filter_map")]
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<OwnedMappedRwLockReadGuard<T, U>, Self> {
        let value = match f(this.access.value()) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        Ok(OwnedMappedRwLockReadGuard {
            access: this.access,
            value,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Wraps a lock whose write access the caller has just acquired.
    pub(super) fn new((lock, held): (Arc<RwLock<T>>, Held)) -> Self {
        Self {
            access: OwnedAccess::new(lock, WRITE, held),
        }
    }

    /// The lock this guard writes.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.access.lock
    }

    /// Turns write access into read access without unlocking, and admits
    /// the readers at the head of the line at once, like
    /// [`RwLockWriteGuard::downgrade`](crate::RwLockWriteGuard::downgrade).
    ///
    /// ```
    /// use fairsync::{OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let mut writer = lock.try_write_owned().unwrap();
    /// *writer = 2;
    /// let reader = OwnedRwLockWriteGuard::downgrade(writer);
    /// assert_eq!(*reader, 2);
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// ```
    pub fn downgrade(mut this: Self) -> OwnedRwLockReadGuard<T> {
        this.access.keep(READ);
        OwnedRwLockReadGuard {
            access: this.access,
        }
    }

    /// Turns write access into upgradable read access without unlocking,
    /// admitting the readers at the head of the line.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let mut write = lock.try_write_owned().unwrap();
    /// *write = 1;
    /// let upgradable = OwnedRwLockWriteGuard::downgrade_to_upgradable(write);
    /// assert_eq!(*lock.try_read().unwrap(), 1); // readers may join
    /// assert!(lock.try_write().is_none()); // writers may not
    /// # drop(upgradable);
    /// ```
    pub fn downgrade_to_upgradable(mut this: Self) -> OwnedRwLockUpgradableReadGuard<T> {
        this.access.keep(UPGRADABLE);
        OwnedRwLockUpgradableReadGuard {
            access: this.access,
        }
    }

    /// Narrows the guard to a part of the value, keeping the write lock and
    /// the `Arc`. If `f` panics, the write lock is released as the guard
    /// drops.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new((1, String::new())));
    /// let write = lock.try_write_owned().unwrap();
    /// let mut name = OwnedRwLockWriteGuard::map(write, |pair| &mut pair.1);
    /// std::thread::spawn(move || name.push_str("one")).join().unwrap();
    /// assert_eq!(lock.try_read().unwrap().1, "one");
    /// ```
    pub fn map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> OwnedMappedRwLockWriteGuard<T, U> {
        let value = NonNull::from(f(this.access.value_mut()));
        OwnedMappedRwLockWriteGuard {
            access: this.access,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(vec![1, 2]));
    /// let write = lock.try_write_owned().unwrap();
    /// let write = OwnedRwLockWriteGuard::try_map(write, |v| v.get_mut(5)).unwrap_err();
    /// let mut last = OwnedRwLockWriteGuard::try_map(write, |v| v.last_mut()).unwrap();
    /// *last = 20;
    /// drop(last);
    /// assert_eq!(*lock.try_read().unwrap(), [1, 20]);
    /// ```
    #[doc(alias = "filter_map")]
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<OwnedMappedRwLockWriteGuard<T, U>, Self> {
        let value = match f(this.access.value_mut()) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        Ok(OwnedMappedRwLockWriteGuard {
            access: this.access,
            value,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> OwnedRwLockUpgradableReadGuard<T> {
    /// Wraps a lock whose upgradable read access the caller has just
    /// acquired.
    pub(super) fn new((lock, held): (Arc<RwLock<T>>, Held)) -> Self {
        Self {
            access: OwnedAccess::new(lock, UPGRADABLE, held),
        }
    }

    /// The lock this guard reads.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.access.lock
    }

    /// Waits until the other readers are gone, then turns this guard into
    /// write access, like
    /// [`RwLockUpgradableReadGuard::upgrade`](crate::RwLockUpgradableReadGuard::upgrade):
    /// the upgrade is served before every queued waiter.
    ///
    /// Cancel safe: dropping the future releases everything it holds, the
    /// upgradable read included.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockUpgradableReadGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(1));
    /// let read = lock.upgradable_read_owned().await;
    /// let task = async move {
    ///     if *read == 1 {
    ///         let mut write = OwnedRwLockUpgradableReadGuard::upgrade(read).await;
    ///         *write = 2;
    ///     }
    /// };
    /// task.await;
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade(this: Self) -> RwLockUpgradeOwned<T> {
        RwLockUpgradeOwned {
            inner: RawAcquire::new_front(this.access, WRITE - UPGRADABLE),
        }
    }

    /// Blocks the current thread in [`upgrade`](Self::upgrade) until the
    /// other readers are gone.
    ///
    /// **Blocks.** Do not call it on an executor thread: on a
    /// single-threaded runtime, parking the only thread that could run the
    /// other readers is a deadlock; on a multi-threaded one it takes a
    /// worker away until they are gone. A read guard held by this same
    /// thread never goes away, on any runtime or none. It never panics.
    /// From async code use [`upgrade`](Self::upgrade).
    ///
    /// ```
    /// use fairsync::{OwnedRwLockUpgradableReadGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(None));
    /// let entry = lock.upgradable_read_owned_blocking();
    /// if entry.is_none() {
    ///     *OwnedRwLockUpgradableReadGuard::upgrade_blocking(entry) = Some(1);
    /// }
    /// assert_eq!(*lock.read_blocking(), Some(1));
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "blocking_upgrade")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade_blocking(this: Self) -> OwnedRwLockWriteGuard<T> {
        crate::semaphore::wait_forever(Self::upgrade(this))
    }

    /// Turns this guard into write access if no other reader holds the
    /// lock; otherwise gives it back.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockUpgradableReadGuard as Upgradable, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let upgradable = lock.try_upgradable_read_owned().unwrap();
    /// let read = lock.try_read().unwrap();
    /// let upgradable = Upgradable::try_upgrade(upgradable).unwrap_err(); // `read`
    /// drop(read);
    /// *Upgradable::try_upgrade(upgradable).unwrap() += 1;
    /// assert_eq!(*lock.try_read().unwrap(), 1);
    /// ```
    pub fn try_upgrade(this: Self) -> Result<OwnedRwLockWriteGuard<T>, Self> {
        if this.access.lock.raw.try_acquire_front(WRITE - UPGRADABLE) {
            Ok(into_write(this.access))
        } else {
            Err(this)
        }
    }

    /// Turns this guard into a plain read guard, letting another
    /// upgradable read or the readers behind it in line proceed.
    ///
    /// ```
    /// use fairsync::{OwnedRwLockUpgradableReadGuard, RwLock};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let upgradable = lock.try_upgradable_read_owned().unwrap();
    /// assert!(lock.try_upgradable_read().is_none());
    /// let read = OwnedRwLockUpgradableReadGuard::downgrade(upgradable);
    /// assert!(lock.try_upgradable_read().is_some());
    /// # drop(read);
    /// ```
    pub fn downgrade(mut this: Self) -> OwnedRwLockReadGuard<T> {
        this.access.keep(READ);
        OwnedRwLockReadGuard {
            access: this.access,
        }
    }
}

/// Re-tags an upgradable access whose upgrade permits have been acquired.
fn into_write<T: ?Sized>(mut access: OwnedAccess<T>) -> OwnedRwLockWriteGuard<T> {
    debug_assert_eq!(access.permits, UPGRADABLE);
    access.permits = WRITE;
    access.held.set_permits(WRITE);
    OwnedRwLockWriteGuard { access }
}

impl<T: ?Sized, U: ?Sized> OwnedMappedRwLockReadGuard<T, U> {
    /// Narrows the guard further, keeping the read lock and the `Arc`.
    pub fn map<V: ?Sized>(
        this: Self,
        f: impl FnOnce(&U) -> &V,
    ) -> OwnedMappedRwLockReadGuard<T, V> {
        let value = NonNull::from(f(&*this));
        OwnedMappedRwLockReadGuard {
            access: this.access,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged.
    #[doc(alias = "filter_map")]
    pub fn try_map<V: ?Sized>(
        this: Self,
        f: impl FnOnce(&U) -> Option<&V>,
    ) -> Result<OwnedMappedRwLockReadGuard<T, V>, Self> {
        let value = match f(&*this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        Ok(OwnedMappedRwLockReadGuard {
            access: this.access,
            value,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized, U: ?Sized> OwnedMappedRwLockWriteGuard<T, U> {
    /// Narrows the guard further, keeping the write lock and the `Arc`.
    pub fn map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> OwnedMappedRwLockWriteGuard<T, V> {
        let value = NonNull::from(f(&mut *this));
        OwnedMappedRwLockWriteGuard {
            access: this.access,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged.
    #[doc(alias = "filter_map")]
    pub fn try_map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> Option<&mut V>,
    ) -> Result<OwnedMappedRwLockWriteGuard<T, V>, Self> {
        let value = match f(&mut *this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        Ok(OwnedMappedRwLockWriteGuard {
            access: this.access,
            value,
            _marker: PhantomData,
        })
    }
}

macro_rules! owned_read_access {
    ($($guard:ident),*) => {$(
        impl<T: ?Sized> Deref for $guard<T> {
            type Target = T;

            #[inline]
            fn deref(&self) -> &T {
                self.access.value()
            }
        }
    )*};
}

owned_read_access!(
    OwnedRwLockReadGuard,
    OwnedRwLockWriteGuard,
    OwnedRwLockUpgradableReadGuard
);

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.access.value_mut()
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedRwLockReadGuard<T, U> {
    type Target = U;

    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: `value` points into the value of a lock this guard holds
        // read access to (and keeps alive), so no `&mut` to it exists.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedRwLockWriteGuard<T, U> {
    type Target = U;

    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: `value` points into the value of a lock this guard holds
        // write access to (and keeps alive).
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedRwLockWriteGuard<T, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference derived from the guard.
        unsafe { self.value.as_mut() }
    }
}

format_like_target!(
    OwnedRwLockReadGuard<T>,
    OwnedRwLockWriteGuard<T>,
    OwnedRwLockUpgradableReadGuard<T>
);
format_like_target!(
    mapped OwnedMappedRwLockReadGuard<T, U>,
    OwnedMappedRwLockWriteGuard<T, U>
);

pin_project! {
    /// The future of [`OwnedRwLockUpgradableReadGuard::upgrade`].
    ///
    /// Dropping it releases everything it holds: the upgradable read, and
    /// the write access if it was already granted.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RwLockUpgradeOwned<T: ?Sized> {
        // The upgradable read is the handle: a cancelled upgrade first
        // passes on what it collected, then drops the handle, which gives
        // back the upgradable read.
        #[pin]
        inner: RawAcquire<OwnedAccess<T>>,
    }
}

impl<T: ?Sized> Future for RwLockUpgradeOwned<T> {
    type Output = OwnedRwLockWriteGuard<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The upgrade's own record folds into the upgradable read's.
        self.project()
            .inner
            .poll(cx)
            .map(|(access, _upgrade)| into_write(access))
    }
}

impl<T: ?Sized> FusedFuture for RwLockUpgradeOwned<T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<T: ?Sized> fmt::Debug for RwLockUpgradeOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLockUpgradeOwned")
            .field("state", &self.inner.state())
            .finish()
    }
}
