//! `PgLock`: one holder at a time across every process.
//!
//! A lock is the session-level advisory lock `(id, 0)`, where `id` is the
//! name's row in `fairsync.names`. `pg_advisory_lock` waits in PostgreSQL's
//! lock queue, which grants in arrival order, and the lock dies with the
//! session that holds it. Within a process, tasks first queue in a fairsync
//! `Lock`; only its head waits in PostgreSQL, on a pooled session. Once that
//! head is granted it leaves the local line, so the next local task starts
//! waiting in PostgreSQL at once, behind whoever queued there meanwhile.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_channel::oneshot;

use crate::client::{Kind, NameState, Pooled, Shared};
use crate::held::{Held, Session};
use crate::{driver, Client, Error};

/// A lock shared by every process that uses the same name in the same
/// database. Made by [`Client::lock`].
///
/// ```no_run
/// # async fn demo(client: fairsync_postgres::Client) -> Result<(), fairsync_postgres::Error> {
/// let lock = client.lock("invoice-1842");
/// let guard = lock.acquire().await?;
/// // Hand the token to the storage, which refuses writes with older tokens.
/// let token = guard.fencing_token();
/// # let _ = token;
/// drop(guard); // released in the background; `guard.release().await` confirms it
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgLock {
    client: Client,
    state: Arc<NameState>,
}

impl fmt::Debug for PgLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLock")
            .field("name", &self.state.name)
            .field("local_waiting", &self.state.local.is_locked())
            .finish()
    }
}

impl PgLock {
    pub(crate) fn new(client: Client, name: &str) -> Self {
        let state = client.shared.name(Kind::Lock, name);
        PgLock { client, state }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Waits until this task holds the lock. Waiters are served in arrival
    /// order, across processes and within one. Dropping the future at any
    /// point withdraws the wait.
    ///
    /// Uncontended, this is one round trip: the lock is taken with
    /// `pg_try_advisory_lock` on the client's holder session. Otherwise
    /// the task waits in PostgreSQL's queue on a session of the pool.
    pub async fn acquire(&self) -> Result<PgLockGuard, Error> {
        let shared = &self.client.shared;
        let id = self.state.id(shared, None).await?;
        let local = Arc::clone(&self.state.local).acquire_owned().await;
        let (local, fast) = try_on_holder(shared, &self.state, id, local).await?;
        if let Some(held) = fast {
            return Ok(PgLockGuard { held });
        }
        let session = shared.waiting_session().await?;
        let (tx, rx) = oneshot::channel();
        driver::spawn(wait_task(
            Arc::clone(shared),
            Arc::clone(&self.state),
            id,
            session,
            local,
            tx,
        ));
        let held = rx.await.map_err(|_| Error::Lost)??;
        Ok(PgLockGuard { held })
    }

    /// Like [`acquire`](Self::acquire), but gives up after `timeout` and
    /// returns `Ok(None)`.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<PgLockGuard>, Error> {
        crate::with_timeout(self.acquire(), timeout).await
    }

    /// Takes the lock if nobody holds it and nobody in this process waits
    /// for it; never waits for the lock.
    pub async fn try_acquire(&self) -> Result<Option<PgLockGuard>, Error> {
        let shared = &self.client.shared;
        let id = self.state.id(shared, None).await?;
        let Some(local) = Arc::clone(&self.state.local).try_acquire_owned() else {
            return Ok(None);
        };
        let (_local, held) = try_on_holder(shared, &self.state, id, local).await?;
        Ok(held.map(|held| PgLockGuard { held }))
    }
}

/// Tries the lock on the holder session, as the head of the local line.
/// The attempt runs on the driver with the local guard, so a caller that
/// goes away mid-way cannot let a second attempt on the same session (which
/// PostgreSQL would grant again: advisory locks are re-entrant) start before
/// the first one is booked.
async fn try_on_holder(
    shared: &Arc<Shared>,
    state: &Arc<NameState>,
    id: i32,
    local: fairsync::OwnedLockGuard,
) -> Result<(fairsync::OwnedLockGuard, Option<Held>), Error> {
    if state.on_holder.lock().unwrap().contains(&0) {
        return Ok((local, None));
    }
    let (shared, state) = (Arc::clone(shared), Arc::clone(state));
    let outcome = driver::detached(async move {
        let attempt = async {
            let holder = shared.holder().await?;
            let token: Option<u64> = holder
                .value(&format!("SELECT fairsync.lock_try({id})"))
                .await?
                .map(|t| t.parse())
                .transpose()
                .map_err(|_| Error::Protocol("fencing token".into()))?;
            Ok(token.map(|token| {
                state.on_holder.lock().unwrap().insert(0);
                Held::new(
                    &shared,
                    Arc::clone(&state),
                    id,
                    0,
                    token,
                    Session::Holder(holder),
                )
            }))
        };
        let result = attempt.await;
        result.map(|held| (local, held))
    })
    .await;
    outcome.unwrap_or(Err(Error::Lost))
}

/// Waits in PostgreSQL's queue on the driver thread and hands the grant to
/// the acquiring task, or withdraws the wait if that task went away.
async fn wait_task(
    shared: Arc<Shared>,
    state: Arc<NameState>,
    id: i32,
    session: Pooled,
    local: fairsync::OwnedLockGuard,
    mut tx: oneshot::Sender<Result<Held, Error>>,
) {
    let sql = format!("SELECT fairsync.lock_wait({id})");
    let wait = session.conn.value(&sql);
    let outcome = futures_lite::future::or(async { Some(wait.await) }, async {
        tx.cancellation().await;
        None
    })
    .await;
    drop(local);
    match outcome {
        Some(Ok(Some(token))) => {
            let Ok(token) = token.parse() else {
                session.discard();
                let _ = tx.send(Err(Error::Protocol("fencing token".into())));
                return;
            };
            let held = Held::new(&shared, state, id, 0, token, Session::Waited(session));
            // If the acquirer is gone, `send` hands the grant back and
            // dropping it releases the lock.
            let _ = tx.send(Ok(held));
        }
        Some(Ok(None)) => {
            session.discard();
            let _ = tx.send(Err(Error::Protocol("no fencing token".into())));
        }
        Some(Err(e)) => {
            // The session may or may not hold the lock: closing it settles that.
            session.discard();
            let _ = tx.send(Err(e));
        }
        None => {
            session.conn.withdraw().await;
            session.discard();
        }
    }
}

/// Proof of holding a [`PgLock`]. Dropping it releases the lock.
pub struct PgLockGuard {
    held: Held,
}

impl fmt::Debug for PgLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLockGuard")
            .field("name", &self.held.name.name)
            .field("fencing_token", &self.held.token)
            .field("lost", &self.is_lost())
            .finish()
    }
}

impl PgLockGuard {
    /// This grant's fencing token: larger than the token of every earlier
    /// grant of the same name, in any process. Pass it along with every
    /// write to a resource that rejects tokens smaller than the largest it
    /// has seen, so that a holder that was paused past the loss of its lock
    /// cannot overwrite its successor's work.
    pub fn fencing_token(&self) -> u64 {
        self.held.token
    }

    /// Whether the session that holds the lock has ended (killed by an
    /// administrator, a network failure, a server restart). Then the lock
    /// is free for others, and this holder should stop.
    pub fn is_lost(&self) -> bool {
        self.held.is_lost()
    }

    /// Completes when the lock is lost (see [`is_lost`](Self::is_lost));
    /// race it against the work the lock guards.
    pub async fn lost(&self) {
        self.held.lost().await
    }

    /// Releases the lock and waits for the server to confirm it.
    /// [`Error::Lost`] if the lock had been lost before.
    pub async fn release(self) -> Result<(), Error> {
        self.held.release().await
    }

    /// The session's backend process id on the server (for
    /// `pg_terminate_backend`, or to find it in `pg_locks`).
    pub fn backend_pid(&self) -> i32 {
        self.held.conn().pid
    }
}
