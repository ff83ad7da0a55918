//! The guards of [`RwLock`]. Each holds the permits of its kind of access
//! (see the weights in the parent module) and returns them on drop.

use core::marker::PhantomData;
use core::mem;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use super::{RwLock, RwLockUpgrade, READ, UPGRADABLE, WRITE};
use crate::queue::{RawAcquire, RawSemaphore};
use crate::track::Held;

/// Shared read access to an [`RwLock`]'s value; dropping it releases the
/// read lock.
///
/// The guard is invariant in `T`: it can hand back the `&RwLock<T>` it
/// reads ([`rwlock`](Self::rwlock)), through which a writer could later
/// store a `T`. [`map`](Self::map) gives a guard that is covariant.
#[must_use = "dropping a guard releases the lock at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    held: Held,
}

/// Exclusive write access to an [`RwLock`]'s value; dropping it releases
/// the write lock.
#[must_use = "dropping a guard releases the lock at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    held: Held,
    // Not `Sync` unless `T: Sync`: a shared guard hands out `&T`.
    _marker: PhantomData<&'a mut T>,
}

/// Read access to an [`RwLock`]'s value that can be
/// [upgraded](Self::upgrade) to write access. It shares the lock with plain
/// readers but excludes writers and other upgradable reads.
///
/// Like [`RwLockReadGuard`], it is invariant in `T`.
#[must_use = "dropping a guard releases the lock at once"]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    held: Held,
}

/// An [`RwLockReadGuard`] narrowed by [`RwLockReadGuard::map`] to a part
/// `U` of the value.
#[must_use = "dropping a guard releases the lock at once"]
pub struct MappedRwLockReadGuard<'a, U: ?Sized> {
    raw: &'a RawSemaphore,
    held: Held,
    value: NonNull<U>,
    _marker: PhantomData<&'a U>,
}

/// An [`RwLockWriteGuard`] narrowed by [`RwLockWriteGuard::map`] to a part
/// `U` of the value.
#[must_use = "dropping a guard releases the lock at once"]
pub struct MappedRwLockWriteGuard<'a, U: ?Sized> {
    raw: &'a RawSemaphore,
    held: Held,
    value: NonNull<U>,
    _marker: PhantomData<&'a mut U>,
}

// Auto traits: a read guard is a `&T`. Write and upgradable guards can turn
// into read guards, which other threads may share, so sending one needs
// `T: Sync` as well as `T: Send`.

// SAFETY: the guard only hands out `&T`, like `&T` itself.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: as for `Send`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: the guard gives `&mut T` to its holder and can downgrade to a read
// guard shared with other threads.
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockWriteGuard<'_, T> {}
// SAFETY: a shared write guard only hands out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}
// SAFETY: the guard can upgrade to a write guard on the thread it was sent
// to, which then holds `&mut T`.
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockUpgradableReadGuard<'_, T> {}
// SAFETY: a shared upgradable guard only hands out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockUpgradableReadGuard<'_, T> {}
// SAFETY: like `&U`.
unsafe impl<U: ?Sized + Sync> Send for MappedRwLockReadGuard<'_, U> {}
// SAFETY: like `&U`.
unsafe impl<U: ?Sized + Sync> Sync for MappedRwLockReadGuard<'_, U> {}
// SAFETY: like `&mut U`; releasing the lock is allowed from any thread.
unsafe impl<U: ?Sized + Send> Send for MappedRwLockWriteGuard<'_, U> {}
// SAFETY: a shared guard only hands out `&U`.
unsafe impl<U: ?Sized + Sync> Sync for MappedRwLockWriteGuard<'_, U> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// Wraps a lock whose read access the caller has just acquired.
    pub(super) fn new((lock, held): (&'a RwLock<T>, Held)) -> Self {
        Self { lock, held }
    }

    /// Narrows the guard to a part of the value, keeping the read lock.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::new((1, "one"));
    /// let name = RwLockReadGuard::map(lock.try_read().unwrap(), |pair| &pair.1);
    /// assert_eq!(*name, "one");
    /// ```
    pub fn map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&T) -> &U,
    ) -> MappedRwLockReadGuard<'a, U> {
        // SAFETY: read access is held, so no `&mut T` exists; the reference
        // lives as long as the mapped guard, which keeps that access.
        let value = this.lock.value.with(|value| unsafe { &*value });
        // Should `f` panic, `this` still releases the lock on unwind.
        let value = NonNull::from(f(value));
        let raw = &this.lock.raw;
        let held = this.held.take();
        mem::forget(this);
        MappedRwLockReadGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged. If `f` panics, the
    /// read lock is released as the guard drops.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::new(vec![1, 2]);
    /// let read = lock.try_read().unwrap();
    /// let read = RwLockReadGuard::try_map(read, |v| v.get(5)).unwrap_err();
    /// let first = RwLockReadGuard::try_map(read, |v| v.first()).unwrap();
    /// assert_eq!(*first, 1);
    /// ```
    #[doc(alias = "filter_map")]
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U>, Self> {
        let value = match f(&*this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        let raw = &this.lock.raw;
        let held = this.held.take();
        mem::forget(this);
        Ok(MappedRwLockReadGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        })
    }

    /// The lock this guard reads.
    ///
    /// Needs `T: Send`. A read guard may move to another thread when `T` is
    /// only `Sync`, but the `&RwLock<T>` it returns outlives the guard and
    /// could take write access there, and with it the `T` itself: a
    /// `&RwLock<T>` may only reach another thread when `T: Send + Sync`.
    /// For a `T` that is not `Sync` the guard stays on its thread, so the
    /// bound costs nothing there.
    ///
    /// ```compile_fail,E0277
    /// use fairsync::{RwLock, RwLockReadGuard};
    /// use std::sync::{Mutex, MutexGuard};
    ///
    /// static STD: Mutex<()> = Mutex::new(());
    /// // `Sync` but not `Send`: must be unlocked on the thread that locked it.
    /// let lock: RwLock<Option<MutexGuard<'static, ()>>> = RwLock::new(Some(STD.lock().unwrap()));
    /// let read = lock.try_read().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(move || {
    ///         let lock = RwLockReadGuard::rwlock(&read); // error: not `Send`
    ///         drop(read);
    ///         drop(lock.write_blocking().take()); // would unlock `STD` here
    ///     });
    /// });
    /// ```
    ///
    /// The guard is invariant in `T`, because it hands this `&RwLock<T>`
    /// back; [`map`](Self::map) gives a guard that is covariant.
    pub fn rwlock(this: &Self) -> &'a RwLock<T>
    where
        T: Send,
    {
        this.lock
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Wraps a lock whose write access the caller has just acquired.
    pub(super) fn new((lock, held): (&'a RwLock<T>, Held)) -> Self {
        Self {
            lock,
            held,
            _marker: PhantomData,
        }
    }

    /// Turns write access into read access without unlocking, and admits
    /// the readers at the head of the line at once. A writer at the head
    /// keeps waiting, and everyone behind it too.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut writer = lock.try_write().unwrap();
    /// *writer = 2;
    /// let reader = RwLockWriteGuard::downgrade(writer);
    /// assert_eq!(*reader, 2);
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// ```
    pub fn downgrade(mut this: Self) -> RwLockReadGuard<'a, T> {
        let lock = this.lock;
        let held = this.held.take();
        held.set_permits(READ);
        mem::forget(this);
        // The new guard owns the kept read before the release runs wakers:
        // should one panic, the unwind drops the guard and frees the read.
        let read = RwLockReadGuard::new((lock, held));
        lock.raw.release(WRITE - READ);
        read
    }

    /// Turns write access into upgradable read access without unlocking,
    /// admitting the readers at the head of the line.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(0);
    /// let mut write = lock.try_write().unwrap();
    /// *write = 1;
    /// let upgradable = RwLockWriteGuard::downgrade_to_upgradable(write);
    /// assert!(lock.try_read().is_some()); // readers may join
    /// assert!(lock.try_write().is_none()); // writers may not
    /// let write = RwLockUpgradableReadGuard::try_upgrade(upgradable).unwrap();
    /// assert_eq!(*write, 1);
    /// ```
    pub fn downgrade_to_upgradable(mut this: Self) -> RwLockUpgradableReadGuard<'a, T> {
        let lock = this.lock;
        let held = this.held.take();
        held.set_permits(UPGRADABLE);
        mem::forget(this);
        // Owned before any waker runs, as in `downgrade`.
        let upgradable = RwLockUpgradableReadGuard::new((lock, held));
        lock.raw.release(WRITE - UPGRADABLE);
        upgradable
    }

    /// Narrows the guard to a part of the value, keeping the write lock.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new((1, String::new()));
    /// let mut name = RwLockWriteGuard::map(lock.try_write().unwrap(), |pair| &mut pair.1);
    /// name.push_str("one");
    /// drop(name);
    /// assert_eq!(lock.try_read().unwrap().1, "one");
    /// ```
    pub fn map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> MappedRwLockWriteGuard<'a, U> {
        // SAFETY: write access is held, so this is the only reference; it
        // lives as long as the mapped guard, which keeps that access.
        let value = this.lock.value.with_mut(|value| unsafe { &mut *value });
        // Should `f` panic, `this` still releases the lock on unwind.
        let value = NonNull::from(f(value));
        let raw = &this.lock.raw;
        let held = this.held.take();
        mem::forget(this);
        MappedRwLockWriteGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged. If `f` panics, the
    /// write lock is released as the guard drops.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(vec![1, 2]);
    /// let write = lock.try_write().unwrap();
    /// let write = RwLockWriteGuard::try_map(write, |v| v.get_mut(5)).unwrap_err();
    /// let mut last = RwLockWriteGuard::try_map(write, |v| v.last_mut()).unwrap();
    /// *last = 20;
    /// drop(last);
    /// assert_eq!(*lock.try_read().unwrap(), [1, 20]);
    /// ```
    #[doc(alias = "filter_map")]
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedRwLockWriteGuard<'a, U>, Self> {
        let value = match f(&mut *this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        let raw = &this.lock.raw;
        let held = this.held.take();
        mem::forget(this);
        Ok(MappedRwLockWriteGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        })
    }

    /// The lock this guard writes.
    ///
    /// Needs `T: Send`, for the reason given at
    /// [`RwLockReadGuard::rwlock`]: a write guard is `Sync` when `T` is, and
    /// the returned reference outlives the guard.
    ///
    /// ```compile_fail,E0277
    /// use fairsync::{RwLock, RwLockWriteGuard};
    /// use std::sync::{Mutex, MutexGuard};
    ///
    /// static STD: Mutex<()> = Mutex::new(());
    /// let lock: RwLock<Option<MutexGuard<'static, ()>>> = RwLock::new(Some(STD.lock().unwrap()));
    /// let write = lock.try_write().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let lock = RwLockWriteGuard::rwlock(&write); // error: not `Send`
    ///         let _ = lock.try_read();
    ///     });
    /// });
    /// ```
    pub fn rwlock(this: &Self) -> &'a RwLock<T>
    where
        T: Send,
    {
        this.lock
    }
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// Wraps a lock whose upgradable read access the caller has just
    /// acquired.
    pub(super) fn new((lock, held): (&'a RwLock<T>, Held)) -> Self {
        Self { lock, held }
    }

    /// Waits until the other readers are gone, then turns this guard into
    /// write access. The upgrade is served before every queued waiter and,
    /// like a queued writer, makes later readers wait.
    ///
    /// Cancel safe: dropping the future releases everything it holds, the
    /// upgradable read included.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(1);
    /// let read = lock.upgradable_read().await;
    /// if *read == 1 {
    ///     let mut write = RwLockUpgradableReadGuard::upgrade(read).await;
    ///     *write = 2;
    /// }
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade(this: Self) -> RwLockUpgrade<'a, T> {
        RwLockUpgrade {
            inner: RawAcquire::new_front(this.lock, WRITE - UPGRADABLE),
            upgradable: Some(this),
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
    /// use fairsync::{RwLock, RwLockUpgradableReadGuard};
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(RwLock::new(0));
    /// let read = lock.read_blocking();
    /// let writer = {
    ///     let lock = Arc::clone(&lock);
    ///     std::thread::spawn(move || {
    ///         let upgradable = lock.upgradable_read_blocking();
    ///         *RwLockUpgradableReadGuard::upgrade_blocking(upgradable) += 1;
    ///     })
    /// };
    /// // A waiting upgrade holds back new readers, like a queued writer.
    /// while lock.try_read().is_some() {
    ///     std::thread::yield_now();
    /// }
    /// drop(read); // the last other reader: the upgrade goes through
    /// writer.join().unwrap();
    /// assert_eq!(*lock.read_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "blocking_upgrade")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade_blocking(this: Self) -> RwLockWriteGuard<'a, T> {
        crate::semaphore::wait_forever(Self::upgrade(this))
    }

    /// Turns this guard into write access if no other reader holds the
    /// lock; otherwise gives it back.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockUpgradableReadGuard as Upgradable};
    ///
    /// let lock = RwLock::new(0);
    /// let upgradable = lock.try_upgradable_read().unwrap();
    /// let read = lock.try_read().unwrap();
    /// let upgradable = Upgradable::try_upgrade(upgradable).unwrap_err(); // `read`
    /// drop(read);
    /// *Upgradable::try_upgrade(upgradable).unwrap() += 1;
    /// assert_eq!(*lock.try_read().unwrap(), 1);
    /// ```
    pub fn try_upgrade(this: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        if this.lock.raw.try_acquire_front(WRITE - UPGRADABLE) {
            Ok(Self::into_write(this))
        } else {
            Err(this)
        }
    }

    /// Turns this guard into a plain read guard, letting another
    /// upgradable read or the readers behind it in line proceed.
    ///
    /// ```
    /// use fairsync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(0);
    /// let upgradable = lock.try_upgradable_read().unwrap();
    /// assert!(lock.try_upgradable_read().is_none());
    /// let read = RwLockUpgradableReadGuard::downgrade(upgradable);
    /// assert!(lock.try_upgradable_read().is_some());
    /// # drop(read);
    /// ```
    pub fn downgrade(mut this: Self) -> RwLockReadGuard<'a, T> {
        let lock = this.lock;
        let held = this.held.take();
        held.set_permits(READ);
        mem::forget(this);
        // Owned before any waker runs, as in `RwLockWriteGuard::downgrade`.
        let read = RwLockReadGuard::new((lock, held));
        lock.raw.release(UPGRADABLE - READ);
        read
    }

    /// The lock this guard reads.
    ///
    /// Needs `T: Send`, for the reason given at
    /// [`RwLockReadGuard::rwlock`]: an upgradable guard is `Sync` when `T`
    /// is, and the returned reference outlives the guard.
    ///
    /// ```compile_fail,E0277
    /// use fairsync::{RwLock, RwLockUpgradableReadGuard};
    /// use std::sync::{Mutex, MutexGuard};
    ///
    /// static STD: Mutex<()> = Mutex::new(());
    /// let lock: RwLock<Option<MutexGuard<'static, ()>>> = RwLock::new(Some(STD.lock().unwrap()));
    /// let read = lock.try_upgradable_read().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let lock = RwLockUpgradableReadGuard::rwlock(&read); // error: not `Send`
    ///         let _ = lock.try_read();
    ///     });
    /// });
    /// ```
    pub fn rwlock(this: &Self) -> &'a RwLock<T>
    where
        T: Send,
    {
        this.lock
    }

    /// Converts a guard whose upgrade permits have been acquired.
    pub(super) fn into_write(mut this: Self) -> RwLockWriteGuard<'a, T> {
        let lock = this.lock;
        let held = this.held.take();
        held.set_permits(WRITE);
        mem::forget(this);
        RwLockWriteGuard::new((lock, held))
    }
}

impl<'a, U: ?Sized> MappedRwLockReadGuard<'a, U> {
    /// Narrows the guard further, keeping the read lock.
    pub fn map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&U) -> &V,
    ) -> MappedRwLockReadGuard<'a, V> {
        let value = NonNull::from(f(&*this));
        let raw = this.raw;
        let held = this.held.take();
        mem::forget(this);
        MappedRwLockReadGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged.
    #[doc(alias = "filter_map")]
    pub fn try_map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&U) -> Option<&V>,
    ) -> Result<MappedRwLockReadGuard<'a, V>, Self> {
        let value = match f(&*this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        let raw = this.raw;
        let held = this.held.take();
        mem::forget(this);
        Ok(MappedRwLockReadGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        })
    }
}

impl<'a, U: ?Sized> MappedRwLockWriteGuard<'a, U> {
    /// Narrows the guard further, keeping the write lock.
    pub fn map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> MappedRwLockWriteGuard<'a, V> {
        let value = NonNull::from(f(&mut *this));
        let raw = this.raw;
        let held = this.held.take();
        mem::forget(this);
        MappedRwLockWriteGuard {
            raw,
            held,
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
    ) -> Result<MappedRwLockWriteGuard<'a, V>, Self> {
        let value = match f(&mut *this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        let raw = this.raw;
        let held = this.held.take();
        mem::forget(this);
        Ok(MappedRwLockWriteGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        })
    }
}

macro_rules! read_access {
    ($($guard:ident<$($lt:lifetime,)? T>),*) => {$(
        impl<$($lt,)? T: ?Sized> Deref for $guard<$($lt,)? T> {
            type Target = T;

            #[inline]
            fn deref(&self) -> &T {
                // SAFETY: the guard holds read access at least, so no
                // `&mut T` exists elsewhere.
                self.lock.value.with(|value| unsafe { &*value })
            }
        }
    )*};
}

read_access!(
    RwLockReadGuard<'a, T>,
    RwLockWriteGuard<'a, T>,
    RwLockUpgradableReadGuard<'a, T>
);

macro_rules! write_access {
    ($($guard:ident<$($lt:lifetime,)? T>),*) => {$(
        impl<$($lt,)? T: ?Sized> DerefMut for $guard<$($lt,)? T> {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                // SAFETY: the guard holds write access and is borrowed
                // mutably, so this is the only reference to the value.
                self.lock.value.with_mut(|value| unsafe { &mut *value })
            }
        }
    )*};
}

write_access!(RwLockWriteGuard<'a, T>);

impl<U: ?Sized> Deref for MappedRwLockReadGuard<'_, U> {
    type Target = U;

    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: `value` points into a value this guard holds read access
        // to, so no `&mut` to it exists elsewhere.
        unsafe { self.value.as_ref() }
    }
}

impl<U: ?Sized> Deref for MappedRwLockWriteGuard<'_, U> {
    type Target = U;

    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: `value` points into a value this guard holds write access
        // to.
        unsafe { self.value.as_ref() }
    }
}

impl<U: ?Sized> DerefMut for MappedRwLockWriteGuard<'_, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference derived from the guard.
        unsafe { self.value.as_mut() }
    }
}

macro_rules! release_on_drop {
    ($($guard:ident<$($lt:lifetime,)? $t:ident>: $permits:expr, $raw:ident => $get:expr;)*) => {$(
        impl<$($lt,)? $t: ?Sized> Drop for $guard<$($lt,)? $t> {
            #[inline]
            fn drop(&mut self) {
                self.held.end();
                let $raw = &*self;
                $get.release($permits);
            }
        }
    )*};
}

release_on_drop! {
    RwLockReadGuard<'a, T>: READ, g => g.lock.raw;
    RwLockWriteGuard<'a, T>: WRITE, g => g.lock.raw;
    RwLockUpgradableReadGuard<'a, T>: UPGRADABLE, g => g.lock.raw;
    MappedRwLockReadGuard<'a, U>: READ, g => g.raw;
    MappedRwLockWriteGuard<'a, U>: WRITE, g => g.raw;
}

format_like_target!(
    RwLockReadGuard<'a, T>,
    RwLockWriteGuard<'a, T>,
    RwLockUpgradableReadGuard<'a, T>,
    MappedRwLockReadGuard<'a, U>,
    MappedRwLockWriteGuard<'a, U>
);
