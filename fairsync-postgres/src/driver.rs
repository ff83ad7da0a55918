//! The one background thread that drives every connection of the process.
//!
//! tokio-postgres splits a session into a `Client` (requests, usable from any
//! executor) and a `Connection` future that does the socket I/O and must be
//! polled by someone. Polling it on the caller's runtime would tie the crate
//! to that runtime's spawn function; instead a single thread runs an
//! `async-executor` under `async-io`'s reactor and polls every connection,
//! plus the few jobs that must finish even when nobody awaits them (a release
//! after a guard was dropped, the clean-up after an acquire was cancelled).
//! The futures that users await only talk to `Client`s and channels, so they
//! run on tokio, smol, async-std or a plain `block_on` alike.

use std::future::Future;
use std::sync::OnceLock;

use async_executor::Executor;

static EXECUTOR: Executor<'static> = Executor::new();
static STARTED: OnceLock<()> = OnceLock::new();

/// Runs `job` to completion on the driver thread.
pub(crate) fn spawn(job: impl Future<Output = ()> + Send + 'static) {
    STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("fairsync-postgres".into())
            .spawn(|| async_io::block_on(EXECUTOR.run(futures_lite::future::pending::<()>())))
            .expect("cannot start the fairsync-postgres driver thread");
    });
    EXECUTOR.spawn(job).detach();
}

/// Runs `job` on the driver thread and waits for its result. If the caller
/// stops waiting, `job` still runs to the end and its result is dropped
/// there, so a result that owns a lock releases it (the guards' `Drop`).
pub(crate) async fn detached<T: Send + 'static>(
    job: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (tx, rx) = futures_channel::oneshot::channel();
    spawn(async move {
        let _ = tx.send(job.await);
    });
    rx.await.ok()
}
