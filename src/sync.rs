//! The few synchronization types the crate is built on: `core`'s, or loom's
//! under `--cfg fairsync_loom` so the model checker sees every access.
//!
//! The shim answers to its own cfg, not to plain `loom`: a crate that
//! model-checks its own code with `--cfg loom` still gets our `const`
//! constructors and real atomics.

#[cfg(not(fairsync_loom))]
pub(crate) use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
#[cfg(fairsync_loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// An `UnsafeCell` with loom's closure-based access API, so the guarded value
/// of `Mutex<T>` is checked for data races under loom.
#[cfg(not(fairsync_loom))]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

#[cfg(not(fairsync_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

#[cfg(not(fairsync_loom))]
impl<T: ?Sized> UnsafeCell<T> {
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }

    #[inline]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

#[cfg(fairsync_loom)]
pub(crate) struct UnsafeCell<T: ?Sized>(loom::cell::UnsafeCell<T>);

#[cfg(fairsync_loom)]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(loom::cell::UnsafeCell::new(value))
    }

    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

#[cfg(fairsync_loom)]
impl<T: ?Sized> UnsafeCell<T> {
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }

    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves no other access to the value exists.
        self.0.with_mut(|ptr| unsafe { &mut *ptr })
    }
}

/// Declares a constructor that is `const` except under loom, whose types
/// cannot be built in a constant.
macro_rules! const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        $(#[$attr])*
        #[cfg(not(fairsync_loom))]
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        $(#[$attr])*
        #[cfg(fairsync_loom)]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use const_fn;
