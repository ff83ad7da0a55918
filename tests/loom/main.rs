#![cfg(fairsync_loom)]
//! Model checks of the waiter queue with loom.
//!
//! Under `--cfg fairsync_loom` the crate uses loom's atomics and `UnsafeCell`
//! (the value inside `Mutex<T>`, and the list under the queue's own lock
//! bit), so loom reports a missing happens-before on hand-off, or two
//! threads inside the queue's lock at once, as a causality violation. A
//! blocking call without a deadline runs
//! on `loom::future::block_on`; a call with a deadline polls once and then
//! gives up, a timeout firing at the worst moment.
//!
//! Three departures from tokio's design are checked here: the `WAITERS` bit
//! that lets an uncontended release skip the lock (`release_racing_enqueue_*`),
//! the lock-free completion of a granted waiter
//! (`granted_waiter_completes_*`), and the queue's lock as a bit of the same
//! word the fast paths change (`word_lock.rs`).
//!
//! Each model runs on the main thread plus at most two more. The bound on
//! preemptions is `LOOM_MAX_PREEMPTIONS`, or [`DEFAULT_PREEMPTIONS`] without
//! it.
//!
//! # Running
//!
//! ```text
//! RUSTFLAGS="--cfg fairsync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release \
//!     --test loom --target-dir target/loom -- --test-threads=1
//! ```
//!
//! CI also runs most models with three preemptions; `.ci/run` lists the
//! seven it skips there, which take minutes each.
//!
//! The runtimes and peer crates the other tests use are not dependencies
//! under `--cfg fairsync_loom` (see `Cargo.toml`), so only this file builds
//! there. The cfg has the crate's name in it so that a downstream crate
//! model-checking its own code with `--cfg loom` still gets fairsync's
//! `const` constructors.
//!
//! With `LOOM_MAX_PREEMPTIONS` set, `LOOM_LOG=trace LOOM_LOCATION=1` prints
//! the interleaving of a failing model.

mod cancel;
mod close;
mod exclusion;
mod family;
mod handoff;
mod support;
mod word_lock;
