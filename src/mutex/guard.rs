//! The guards of [`Mutex`]: each one proves the lock is held, and dropping
//! it hands the lock to the next waiter.

use super::Mutex;
use crate::queue::RawSemaphore;
use crate::track::Held;
use core::marker::PhantomData;
use core::mem;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// Holds a [`Mutex`] locked and gives access to its value; dropping it
/// unlocks. `Debug` and `Display` format exactly like `T`.
///
/// The guard is `Send` when `T` is, so it may be held across `.await` in a
/// task on a multi-threaded runtime.
#[must_use = "dropping a guard unlocks the mutex at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    held: Held,
    // Sync only when `T: Sync`: a shared guard hands out `&T`.
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Wraps a mutex whose lock the caller has just acquired, and the
    /// record of that acquire.
    pub(super) fn new((mutex, held): (&'a Mutex<T>, Held)) -> Self {
        Self {
            mutex,
            held,
            _marker: PhantomData,
        }
    }

    /// Narrows the guard to a part of the value, keeping the mutex locked.
    ///
    /// If `f` panics, the mutex is unlocked as the guard drops.
    ///
    /// ```
    /// use fairsync::{MutexGuard, Mutex};
    ///
    /// let mutex = Mutex::new((1, String::from("a")));
    /// let mut name = MutexGuard::map(mutex.try_lock().unwrap(), |pair| &mut pair.1);
    /// name.push('b');
    /// drop(name);
    /// assert_eq!(mutex.try_lock().unwrap().1, "ab");
    /// ```
    pub fn map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> MappedMutexGuard<'a, U> {
        // SAFETY: `this` holds the lock, and the reference lives no longer
        // than the mapped guard, which keeps the lock held until it drops.
        let value = this.mutex.value.with_mut(|value| unsafe { &mut *value });
        // Should `f` panic, `this` is still owned here and unlocks on unwind.
        let value = NonNull::from(f(value));
        let raw = &this.mutex.raw;
        let held = this.held.take();
        mem::forget(this);
        MappedMutexGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged, still locked.
    ///
    /// If `f` panics, the mutex is unlocked as the guard drops.
    ///
    /// ```
    /// use fairsync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(vec![1, 2]);
    /// let guard = mutex.try_lock().unwrap();
    /// let guard = MutexGuard::try_map(guard, |v| v.get_mut(5)).unwrap_err();
    /// let mut first = MutexGuard::try_map(guard, |v| v.first_mut()).unwrap();
    /// *first = 10;
    /// drop(first);
    /// assert_eq!(*mutex.try_lock().unwrap(), [10, 2]);
    /// ```
    #[doc(alias = "filter_map")]
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        // The pointer stays valid after `this` is forgotten: it points into
        // the mutex's value, which the mapped guard keeps locked.
        let value = match f(&mut *this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        let raw = &this.mutex.raw;
        let held = this.held.take();
        mem::forget(this);
        Ok(MappedMutexGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        })
    }

    /// The mutex this guard holds.
    ///
    /// No bound is needed here, unlike [`RwLockReadGuard::rwlock`](crate::RwLockReadGuard::rwlock):
    /// a `MutexGuard` crosses threads only when `T: Send`, and that is when
    /// `&Mutex<T>` may too.
    ///
    /// ```
    /// use fairsync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(0);
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(std::ptr::eq(MutexGuard::mutex(&guard), &mutex));
    /// assert!(MutexGuard::mutex(&guard).is_locked());
    /// ```
    #[doc(alias = "source")]
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

/// A [`MutexGuard`] narrowed by [`MutexGuard::map`] to a part `U` of the
/// value; dropping it unlocks the mutex.
#[must_use = "dropping a guard unlocks the mutex at once"]
pub struct MappedMutexGuard<'a, U: ?Sized> {
    raw: &'a RawSemaphore,
    held: Held,
    value: NonNull<U>,
    _marker: PhantomData<&'a mut U>,
}

// SAFETY: the guard is a `&mut U` plus the duty to unlock, which any thread
// may do: it can move to another thread when `U` can, like `&mut U`.
unsafe impl<U: ?Sized + Send> Send for MappedMutexGuard<'_, U> {}

// SAFETY: a shared guard only hands out `&U`; the bound follows
// `MutexGuard`, which needs `T: Send + Sync`.
unsafe impl<U: ?Sized + Send + Sync> Sync for MappedMutexGuard<'_, U> {}

impl<'a, U: ?Sized> MappedMutexGuard<'a, U> {
    /// Narrows the guard further, keeping the mutex locked. If `f` panics,
    /// the mutex is unlocked as the guard drops.
    ///
    /// ```
    /// use fairsync::{MappedMutexGuard, Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new((0, vec![1, 2]));
    /// let list = MutexGuard::map(mutex.try_lock().unwrap(), |pair| &mut pair.1);
    /// let mut last = MappedMutexGuard::map(list, |list| list.last_mut().unwrap());
    /// *last = 20;
    /// assert!(mutex.is_locked()); // still held by `last`
    /// drop(last);
    /// assert_eq!(mutex.try_lock().unwrap().1, [1, 20]);
    /// ```
    pub fn map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> MappedMutexGuard<'a, V> {
        let value = NonNull::from(f(&mut *this));
        let raw = this.raw;
        let held = this.held.take();
        mem::forget(this);
        MappedMutexGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), for a part that may be missing: when `f`
    /// returns `None`, the guard comes back unchanged, still locked. If `f`
    /// panics, the mutex is unlocked as the guard drops.
    #[doc(alias = "filter_map")]
    pub fn try_map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> Option<&mut V>,
    ) -> Result<MappedMutexGuard<'a, V>, Self> {
        let value = match f(&mut *this) {
            Some(value) => NonNull::from(value),
            None => return Err(this),
        };
        let raw = this.raw;
        let held = this.held.take();
        mem::forget(this);
        Ok(MappedMutexGuard {
            raw,
            held,
            value,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        self.mutex.value.with(|value| unsafe { &*value })
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed mutably, so this
        // is the only reference to the value.
        self.mutex.value.with_mut(|value| unsafe { &mut *value })
    }
}

impl<U: ?Sized> Deref for MappedMutexGuard<'_, U> {
    type Target = U;

    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: `value` points into the value of a mutex this guard keeps
        // locked, so no `&mut` to it exists elsewhere.
        unsafe { self.value.as_ref() }
    }
}

impl<U: ?Sized> DerefMut for MappedMutexGuard<'_, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference derived from the guard.
        unsafe { self.value.as_mut() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.held.end();
        self.mutex.raw.release(1);
    }
}

impl<U: ?Sized> Drop for MappedMutexGuard<'_, U> {
    #[inline]
    fn drop(&mut self) {
        self.held.end();
        self.raw.release(1);
    }
}

format_like_target!(MutexGuard<'a, T>, MappedMutexGuard<'a, U>);
