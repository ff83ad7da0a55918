//! A fair, fenced lock and semaphore shared by every process of a fleet, on
//! PostgreSQL.
//!
//! [`PgLock`] lets one holder in at a time and [`PgSemaphore`] up to `n`,
//! across every process and machine connected to one PostgreSQL database.
//! Both are built on PostgreSQL's session-level advisory locks: the server
//! queues waiters in arrival order and releases a lock by itself when the
//! session holding it ends, so a crashed holder never leaves a lock behind
//! and there is nothing to clean up by hand.
//!
//! - **Fair**: waiters are served in arrival order, across processes in
//!   PostgreSQL's lock queue and within a process in a fairsync FIFO line.
//! - **Fenced**: every grant carries a [fencing token](PgLockGuard::fencing_token)
//!   from a per-name counter that only grows.
//! - **Loss is visible**: [`PgLockGuard::lost`] completes if the holding
//!   session ends (terminated, connection cut), so the holder can stop.
//! - **Cancel-safe**: dropping an acquire future withdraws the wait.
//! - **Runtime-agnostic**: works on tokio, smol, async-std or a plain
//!   `block_on`; the sockets are driven by one background thread.
//! - **Cheap on connections**: a process's waiters for one name share one
//!   waiting session.
//!
//! ```no_run
//! use fairsync_postgres::Client;
//!
//! # async fn demo() -> Result<(), fairsync_postgres::Error> {
//! let client = Client::connect("postgres://app@127.0.0.1:5432/app").await?;
//!
//! // At most 8 requests in flight to the downstream service, fleet-wide.
//! let limit = client.semaphore("downstream", 8);
//! let permit = limit.acquire().await?;
//! futures_lite::future::or(
//!     async { /* the request */ },
//!     permit.lost(), // stop if the permit is lost
//! )
//! .await;
//! permit.release().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What the guarantees rest on
//!
//! Exclusion holds while the holders' sessions live. When a session ends
//! (process killed, `pg_terminate_backend`, network cut, server restart),
//! its locks are released and may be granted to the next waiter at once;
//! the old holder learns it from [`is_lost`](PgLockGuard::is_lost) /
//! [`lost`](PgLockGuard::lost), but it may be paused or cut off and learn it
//! late. A resource that must never see two writers therefore checks the
//! [fencing token](PgLockGuard::fencing_token): it remembers the largest
//! token it has accepted and rejects smaller ones.
//!
//! # Schema
//!
//! [`Client::connect`] creates a schema `fairsync` with a table `names`
//! (one row per lock or semaphore name: its id, capacity and fencing
//! counter) and a few plpgsql functions. Advisory lock keys are the
//! two-integer keys `(id, n)`; applications that use two-integer advisory
//! keys of their own in the same database should keep clear of small
//! positive first keys.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod conn;
mod driver;
mod error;
mod heartbeat;
mod held;
mod lock;
mod semaphore;
mod sql;

use std::future::Future;
use std::time::Duration;

pub use client::{Builder, Client};
pub use error::Error;
pub use lock::{PgLock, PgLockGuard};
pub use semaphore::{PgPermit, PgSemaphore, MAX_PERMITS};

/// Runs `acquire` for at most `timeout`; dropping it on timeout withdraws
/// the wait.
async fn with_timeout<T>(
    acquire: impl Future<Output = Result<T, Error>>,
    timeout: Duration,
) -> Result<Option<T>, Error> {
    futures_lite::future::or(async { acquire.await.map(Some) }, async {
        async_io::Timer::after(timeout).await;
        Ok(None)
    })
    .await
}
