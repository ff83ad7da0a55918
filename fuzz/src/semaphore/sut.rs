//! The system under test of the semaphore targets: a `Semaphore` or a
//! `ClosableSemaphore` behind one interface, so that both run through the
//! same operations and checks. A plain semaphore's acquires never fail; its
//! `try_*` report a failure as `TryAcquireError::NoPermits`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use fairsync::{
    Acquire, AcquireOwned, ClosableAcquire, ClosableAcquireOwned, ClosableSemaphore, Closed,
    OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

use super::TryHow;

pub(super) enum Sem {
    Plain(Arc<Semaphore>),
    Closable(Arc<ClosableSemaphore>),
}

impl Sem {
    pub(super) fn new(closable: bool, permits: usize) -> Self {
        if closable {
            Sem::Closable(Arc::new(ClosableSemaphore::new(permits)))
        } else {
            Sem::Plain(Arc::new(Semaphore::new(permits)))
        }
    }

    /// The future of `acquire_many(weight)` or `acquire_many_owned`; the
    /// one-permit entry points for weight 1.
    pub(super) fn acquire(&self, weight: usize, owned: bool) -> Fut<'_> {
        match (self, owned, weight) {
            (Sem::Plain(s), true, 1) => Fut::Owned(Box::pin(s.acquire_owned())),
            (Sem::Plain(s), true, _) => Fut::Owned(Box::pin(s.acquire_many_owned(weight))),
            (Sem::Plain(s), false, 1) => Fut::Borrowed(Box::pin(s.acquire())),
            (Sem::Plain(s), false, _) => Fut::Borrowed(Box::pin(s.acquire_many(weight))),
            (Sem::Closable(s), true, 1) => Fut::ClosableOwned(Box::pin(s.acquire_owned())),
            (Sem::Closable(s), true, _) => {
                Fut::ClosableOwned(Box::pin(s.acquire_many_owned(weight)))
            }
            (Sem::Closable(s), false, 1) => Fut::ClosableBorrowed(Box::pin(s.acquire())),
            (Sem::Closable(s), false, _) => Fut::ClosableBorrowed(Box::pin(s.acquire_many(weight))),
        }
    }

    /// A non-blocking acquire of `n` permits.
    pub(super) fn try_acquire(&self, n: usize, how: TryHow) -> Result<Permit<'_>, TryAcquireError> {
        let no = TryAcquireError::NoPermits;
        match (self, how) {
            (Sem::Plain(s), TryHow::Try) if n == 1 => {
                s.try_acquire().map(Permit::Borrowed).ok_or(no)
            }
            (Sem::Plain(s), TryHow::Try) => s.try_acquire_many(n).map(Permit::Borrowed).ok_or(no),
            (Sem::Plain(s), TryHow::TryOwned) if n == 1 => {
                s.try_acquire_owned().map(Permit::Owned).ok_or(no)
            }
            (Sem::Plain(s), TryHow::TryOwned) => {
                s.try_acquire_many_owned(n).map(Permit::Owned).ok_or(no)
            }
            (Sem::Plain(s), TryHow::ZeroTimeout) if n == 1 => s
                .acquire_blocking_timeout(Duration::ZERO)
                .map(Permit::Borrowed)
                .ok_or(no),
            (Sem::Plain(s), TryHow::ZeroTimeout) => s
                .acquire_many_blocking_timeout(n, Duration::ZERO)
                .map(Permit::Borrowed)
                .ok_or(no),
            (Sem::Closable(s), TryHow::Try) if n == 1 => s.try_acquire().map(Permit::Borrowed),
            (Sem::Closable(s), TryHow::Try) => s.try_acquire_many(n).map(Permit::Borrowed),
            (Sem::Closable(s), TryHow::TryOwned) if n == 1 => {
                s.try_acquire_owned().map(Permit::Owned)
            }
            (Sem::Closable(s), TryHow::TryOwned) => s.try_acquire_many_owned(n).map(Permit::Owned),
            (Sem::Closable(s), TryHow::ZeroTimeout) if n == 1 => s
                .acquire_blocking_timeout(Duration::ZERO)
                .map(Permit::Borrowed),
            (Sem::Closable(s), TryHow::ZeroTimeout) => s
                .acquire_many_blocking_timeout(n, Duration::ZERO)
                .map(Permit::Borrowed),
        }
    }

    /// Closes a closable semaphore; `false` (and nothing done) for a plain
    /// one.
    pub(super) fn close(&self) -> bool {
        match self {
            Sem::Plain(_) => false,
            Sem::Closable(s) => {
                s.close();
                true
            }
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        match self {
            Sem::Plain(_) => false,
            Sem::Closable(s) => s.is_closed(),
        }
    }

    pub(super) fn add_permits(&self, n: usize) {
        match self {
            Sem::Plain(s) => s.add_permits(n),
            Sem::Closable(s) => s.add_permits(n),
        }
    }

    pub(super) fn forget_permits(&self, n: usize) -> usize {
        match self {
            Sem::Plain(s) => s.forget_permits(n),
            Sem::Closable(s) => s.forget_permits(n),
        }
    }

    pub(super) fn available_permits(&self) -> usize {
        match self {
            Sem::Plain(s) => s.available_permits(),
            Sem::Closable(s) => s.available_permits(),
        }
    }

    pub(super) fn waiters(&self) -> usize {
        match self {
            Sem::Plain(s) => s.waiters(),
            Sem::Closable(s) => s.waiters(),
        }
    }
}

impl fmt::Debug for Sem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sem::Plain(s) => s.fmt(f),
            Sem::Closable(s) => s.fmt(f),
        }
    }
}

pub(super) enum Fut<'a> {
    Borrowed(Pin<Box<Acquire<'a>>>),
    Owned(Pin<Box<AcquireOwned>>),
    ClosableBorrowed(Pin<Box<ClosableAcquire<'a>>>),
    ClosableOwned(Pin<Box<ClosableAcquireOwned>>),
}

impl<'a> Fut<'a> {
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Permit<'a>, Closed>> {
        match self {
            Fut::Borrowed(f) => f.as_mut().poll(cx).map(|p| Ok(Permit::Borrowed(p))),
            Fut::Owned(f) => f.as_mut().poll(cx).map(|p| Ok(Permit::Owned(p))),
            Fut::ClosableBorrowed(f) => f.as_mut().poll(cx).map(|r| r.map(Permit::Borrowed)),
            Fut::ClosableOwned(f) => f.as_mut().poll(cx).map(|r| r.map(Permit::Owned)),
        }
    }
}

pub(super) enum Permit<'a> {
    Borrowed(SemaphorePermit<'a>),
    Owned(OwnedSemaphorePermit),
}

impl Permit<'_> {
    pub(super) fn permits(&self) -> usize {
        match self {
            Permit::Borrowed(p) => p.permits(),
            Permit::Owned(p) => p.permits(),
        }
    }

    pub(super) fn split(&mut self, n: usize) -> Option<Self> {
        match self {
            Permit::Borrowed(p) => p.split(n).map(Permit::Borrowed),
            Permit::Owned(p) => p.split(n).map(Permit::Owned),
        }
    }

    pub(super) fn forget(self) {
        match self {
            Permit::Borrowed(p) => p.forget(),
            Permit::Owned(p) => p.forget(),
        }
    }

    pub(super) fn is_owned(&self) -> bool {
        matches!(self, Permit::Owned(_))
    }

    /// Whether the permit's accessors lead back to `sem`, and
    /// `closable_semaphore()` is `Some` exactly for a closable one.
    pub(super) fn belongs_to(&self, sem: &Sem) -> bool {
        match (self, sem) {
            (Permit::Borrowed(p), Sem::Plain(s)) => {
                p.closable_semaphore().is_none() && ptr::eq(p.semaphore(), &**s)
            }
            (Permit::Owned(p), Sem::Plain(s)) => {
                p.closable_semaphore().is_none() && Arc::ptr_eq(p.semaphore(), s)
            }
            (Permit::Borrowed(p), Sem::Closable(s)) => {
                p.closable_semaphore().is_some_and(|c| ptr::eq(c, &**s))
            }
            (Permit::Owned(p), Sem::Closable(s)) => {
                p.closable_semaphore().is_some_and(|c| Arc::ptr_eq(c, s))
            }
        }
    }
}
