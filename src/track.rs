//! The hooks through which the primitives tell `diagnostics` who holds and
//! who waits. Without the feature they are empty types whose methods do
//! nothing, so every guard and future keeps its size and code.

#[cfg(feature = "diagnostics")]
pub(crate) use crate::diagnostics::{Held, Info, Waiting};

/// Where an acquire was called, carried to an acquire that starts later on
/// the caller's behalf (a condition variable re-locking its mutex).
#[cfg(feature = "diagnostics")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site(pub(crate) &'static core::panic::Location<'static>);

/// Where an acquire was called: nothing, without `diagnostics`.
#[cfg(not(feature = "diagnostics"))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site;

impl Site {
    /// The caller of the `#[track_caller]` chain this is called from.
    #[inline(always)]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub(crate) fn caller() -> Site {
        #[cfg(feature = "diagnostics")]
        return Site(core::panic::Location::caller());
        #[cfg(not(feature = "diagnostics"))]
        Site
    }
}

#[cfg(not(feature = "diagnostics"))]
pub(crate) use self::off::{Held, Waiting};

#[cfg(not(feature = "diagnostics"))]
mod off {
    use core::task::Context;

    /// Records nothing.
    #[derive(Debug)]
    pub(crate) struct Held;

    #[allow(clippy::unused_self)]
    impl Held {
        #[inline(always)]
        pub(crate) fn tried<P: ?Sized>(_prim: &P, _permits: usize) -> Held {
            Held
        }

        #[cfg(feature = "std")]
        #[inline(always)]
        pub(crate) fn blocking<P: ?Sized>(_prim: &P, _permits: usize) -> Held {
            Held
        }

        #[inline(always)]
        pub(crate) fn take(&mut self) -> Held {
            Held
        }

        #[inline(always)]
        pub(crate) fn set_permits(&self, _permits: usize) {}

        #[inline(always)]
        pub(crate) fn split(&self, _permits: usize) -> Held {
            Held
        }

        #[inline(always)]
        pub(crate) fn end(&mut self) {}
    }

    /// Records nothing.
    #[derive(Debug)]
    pub(crate) struct Waiting;

    impl Waiting {
        #[inline(always)]
        pub(crate) fn at(_site: super::Site) -> Waiting {
            Waiting
        }

        #[inline(always)]
        pub(crate) fn pending<P: ?Sized>(
            &mut self,
            _prim: &P,
            _permits: usize,
            _front: bool,
            _cx: &Context<'_>,
        ) {
        }

        #[inline(always)]
        pub(crate) fn pending_notification<L: ?Sized>(
            &mut self,
            _line: &L,
            _kind: &'static str,
            _cx: &Context<'_>,
        ) {
        }

        #[inline(always)]
        pub(crate) fn granted<P: ?Sized>(
            &mut self,
            _prim: &P,
            _permits: usize,
            _cx: &Context<'_>,
        ) -> Held {
            Held
        }

        #[inline(always)]
        pub(crate) fn end(&mut self) {}
    }
}
