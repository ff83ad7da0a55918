//! See inside the primitives: who holds each one, who waits for it and for
//! how long, and which tasks and threads wait for each other for ever.
//!
//! Available with the `diagnostics` feature (it needs `std`). With it on,
//! every acquire records where it was called (`#[track_caller]`) and when,
//! in a process-wide registry that lists the primitives somebody holds or
//! waits for. With it off, none of this exists and nothing costs anything.
//!
//! - [`snapshot`] copies the registry: every held or contended primitive,
//!   its holders (who, where, since when) and its waiters in line order,
//!   and every task or thread waiting for an `Event`, a `Condvar` or a
//!   `Barrier`.
//! - [`deadlocks`] searches a snapshot for tasks and threads that wait for
//!   each other in a cycle, a task awaiting a lock it already holds
//!   included.
//! - [`Watchdog`] runs that search on a thread of its own every interval and
//!   reports each deadlock that stood still for a whole interval (none of
//!   its waits polled in between), and each wait longer than a threshold,
//!   once.
//!
//! # Who is who
//!
//! No runtime helps: a task is recognised by its waker (two wakers that
//! [`will_wake`](core::task::Waker::will_wake) each other are one task), a
//! thread in a `*_blocking` call by its thread. A `try_*` call has no waker,
//! so what it acquires is shown but never taken as a link in a deadlock.
//! A guard moved to another task stays attributed to the task that acquired
//! it, and futures joined inside one task (`join!`, `select!`) count as that
//! one task: while one of them holds a lock another awaits, [`deadlocks`]
//! shows the task waiting for itself. The watchdog reports that only once
//! the task has not been polled for a whole interval.
//!
//! A guard leaked with [`mem::forget`](core::mem::forget) stays recorded as
//! a holder until its primitive is dropped, or until a new holder shows it
//! cannot still hold (together they would hold more than the primitive
//! has: the primitive moved away and another took its address).
//!
//! # Cost
//!
//! Each acquire takes one of 16 registry locks, allocates its record, and
//! keeps a clone of the task's waker until the hold or wait ends (so a
//! waker is dropped later than without the feature). It is meant for
//! debugging and tests; the numbers are in `BENCHMARKS.md`.

mod deadlock;
mod registry;
mod snapshot;
mod view;
mod watchdog;

pub use self::deadlock::{Blocker, Deadlock, Link};
pub use self::snapshot::{Access, Holder, Owner, Primitive, PrimitiveId, Snapshot, Waiter};
pub use self::watchdog::{LongWait, Report, Watchdog, WatchdogHandle};

pub(crate) use self::registry::{forget_line, forget_primitive, set_capacity, Held, Info, Waiting};
pub(crate) use self::view::{debug_fields, debug_line_fields};

/// Copies the registry: every primitive that is held or waited for right
/// now, with its holders and waiters. It never blocks a primitive.
pub fn snapshot() -> Snapshot {
    view::snapshot()
}

/// Every deadlock right now: see [`Snapshot::deadlocks`].
pub fn deadlocks() -> std::vec::Vec<Deadlock> {
    snapshot().deadlocks()
}
