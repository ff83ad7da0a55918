//! The guards of a [`Mutex`] held by `Arc`: they keep the mutex alive and
//! have no lifetime, so they can move into spawned tasks and threads.

use alloc::sync::Arc;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use super::Mutex;
use crate::track::Held;

/// The lock of an `Arc<Mutex<T>>`, unlocked on drop.
///
/// The owned guards hold one and have no `Drop` of their own, so `map`
/// can move it into the mapped guard: the lock always has exactly one
/// owner, also while a `map` closure unwinds.
struct Locked<T: ?Sized>(Arc<Mutex<T>>, Held);

impl<T: ?Sized> Drop for Locked<T> {
    #[inline]
    fn drop(&mut self) {
        self.1.end();
        self.0.raw.release(1);
    }
}

/// Holds an `Arc<Mutex<T>>` locked; dropping it unlocks. `Debug` and
/// `Display` format exactly like `T`.
#[must_use = "dropping a guard unlocks the mutex at once"]
pub struct OwnedMutexGuard<T: ?Sized> {
    locked: Locked<T>,
    // Sync only when `T: Sync`: a shared guard hands out `&T`.
    _marker: PhantomData<T>,
}

/// An [`OwnedMutexGuard`] narrowed by [`OwnedMutexGuard::map`] to a part
/// `U` of the value. It keeps the `Arc<Mutex<T>>` alive and locked;
/// dropping it unlocks. `Debug` and `Display` format exactly like `U`.
#[must_use = "dropping a guard unlocks the mutex at once"]
pub struct OwnedMappedMutexGuard<T: ?Sized, U: ?Sized> {
    locked: Locked<T>,
    value: NonNull<U>,
    // Invariant in `U`, like the `&mut U` it stands for.
    _marker: PhantomData<*mut U>,
}

// SAFETY: the guard is a `&mut U` plus an `Arc<Mutex<T>>` (which may drop
// the mutex, and `T` with it, on the thread it is sent to) and the duty to
// unlock, which any thread may do.
unsafe impl<T: ?Sized + Send, U: ?Sized + Send> Send for OwnedMappedMutexGuard<T, U> {}

// SAFETY: a shared guard only hands out `&U`; the bound on `U` follows
// `MappedMutexGuard`, and sharing the `Arc<Mutex<T>>` needs `T: Send`.
unsafe impl<T: ?Sized + Send, U: ?Sized + Send + Sync> Sync for OwnedMappedMutexGuard<T, U> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// Wraps a mutex whose lock the caller has just acquired, and the
    /// record of that acquire.
    pub(super) fn new((mutex, held): (Arc<Mutex<T>>, Held)) -> Self {
        Self {
            locked: Locked(mutex, held),
            _marker: PhantomData,
        }
    }

    /// Narrows the guard to a part of the value, keeping the mutex locked
    /// and alive. If `f` panics, the mutex is unlocked as the guard drops.
    ///
    /// ```
    /// use fairsync::{Mutex, OwnedMutexGuard};
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(Mutex::new((1, String::from("a"))));
    /// let mut name = OwnedMutexGuard::map(mutex.try_lock_owned().unwrap(), |pair| &mut pair.1);
    /// std::thread::spawn(move || name.push('b')).join().unwrap();
    /// assert_eq!(mutex.try_lock().unwrap().1, "ab");
    /// ```
    pub fn map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> OwnedMappedMutexGuard<T, U> {
        // Should `f` panic, `this` still owns the lock and unlocks on unwind.
        let value = NonNull::from(f(&mut *this));
        OwnedMappedMutexGuard {
            locked: this.locked,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged, still locked. If `f`
    /// panics, the mutex is unlocked as the guard drops.
    ///
    /// ```
    /// use fairsync::{Mutex, OwnedMutexGuard};
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(Mutex::new(vec![1, 2]));
    /// let guard = mutex.try_lock_owned().unwrap();
    /// let guard = OwnedMutexGuard::try_map(guard, |v| v.get_mut(5)).unwrap_err();
    /// let mut first = OwnedMutexGuard::try_map(guard, |v| v.first_mut()).unwrap();
    /// std::thread::spawn(move || *first = 10).join().unwrap();
    /// assert_eq!(*mutex.try_lock().unwrap(), [10, 2]);
    /// ```
    #[doc(alias = "filter_map")]
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<OwnedMappedMutexGuard<T, U>, Self> {
        let value = match f(&mut *this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        Ok(OwnedMappedMutexGuard {
            locked: this.locked,
            value,
            _marker: PhantomData,
        })
    }

    /// The mutex this guard holds.
    ///
    /// ```
    /// use fairsync::{Mutex, OwnedMutexGuard};
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(Mutex::new(0));
    /// let guard = mutex.try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(OwnedMutexGuard::mutex(&guard), &mutex));
    /// ```
    #[doc(alias = "source")]
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.locked.0
    }
}

impl<T: ?Sized, U: ?Sized> OwnedMappedMutexGuard<T, U> {
    /// Narrows the guard further, keeping the mutex locked and alive. If
    /// `f` panics, the mutex is unlocked as the guard drops.
    pub fn map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> OwnedMappedMutexGuard<T, V> {
        let value = NonNull::from(f(&mut *this));
        OwnedMappedMutexGuard {
            locked: this.locked,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged, still locked.
    #[doc(alias = "filter_map")]
    pub fn try_map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> Option<&mut V>,
    ) -> Result<OwnedMappedMutexGuard<T, V>, Self> {
        let value = match f(&mut *this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        Ok(OwnedMappedMutexGuard {
            locked: this.locked,
            value,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        self.locked.0.value.with(|value| unsafe { &*value })
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed mutably, so this
        // is the only reference to the value.
        self.locked.0.value.with_mut(|value| unsafe { &mut *value })
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedMutexGuard<T, U> {
    type Target = U;

    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: `value` points into the value of a mutex this guard keeps
        // locked and alive, so no `&mut` to it exists elsewhere.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedMutexGuard<T, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference derived from the guard.
        unsafe { self.value.as_mut() }
    }
}

format_like_target!(OwnedMutexGuard<T>);
format_like_target!(mapped OwnedMappedMutexGuard<T, U>);
