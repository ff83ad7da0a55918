//! `PgSemaphore`: at most `permits` holders across every process.
//!
//! # Design
//!
//! PostgreSQL has no counting advisory lock, so a semaphore of `n` permits
//! named `id` is built from `n + 1` ordinary ones:
//!
//! - the *turnstile* `(id, 0)`, which orders the waiters, and
//! - one *slot* `(id, i)` per permit, `i = 1..=n`. Holding a slot is holding
//!   a permit.
//!
//! Acquiring, in one process:
//!
//! 1. The task queues in the process's fairsync `Lock` for the name. Only
//!    its head goes on, so a process has at most one session in step 2.
//! 2. The head waits for the turnstile with `pg_advisory_lock` on a pooled
//!    session. PostgreSQL grants it in arrival order, so the heads of all
//!    processes pass the turnstile one at a time, in the order they queued.
//! 3. Holding the turnstile, the head asks the client's *holder* session to
//!    take the first free slot with `pg_try_advisory_lock` (one statement,
//!    `fairsync.slot_take`, which also counts the fencing token and checks
//!    the capacity on record). If it got one, it releases the turnstile and
//!    leaves the local line: the permit is held by the holder session.
//! 4. If every slot is taken, the head keeps the turnstile, so nobody can
//!    overtake it, and waits for a release: a releaser sends `NOTIFY
//!    fairsync_release` with the id right after unlocking, which the holder
//!    session (it `LISTEN`s) turns into a wake-up. A slot can also be freed
//!    without notice, when its holder's session ends; the head therefore
//!    also re-checks every `recheck_interval`. Then step 3 again.
//!
//! # Why it is correct
//!
//! - *Exclusion.* A permit is a slot lock; PostgreSQL lets one session hold
//!   each of the `n` slots, so at most `n` sessions' worth of permits exist.
//!   Within one session advisory locks are re-entrant, so the holder session
//!   is never asked for a slot it holds: slot attempts for a name are
//!   serialized by the turnstile, and the client tracks the slots its holder
//!   has (`NameState::on_holder`), passing them as the skip list.
//! - *Crash safety.* Turnstile and slots are session locks: a dead process's
//!   sessions end and PostgreSQL releases them, with no state to repair.
//!   A freed slot is found by the next re-check at the latest.
//! - *Fairness.* Only the turnstile's holder takes slots, and it keeps the
//!   turnstile until it has one, so permits go out in turnstile order, which
//!   is PostgreSQL's arrival order of the process heads; within a process,
//!   the fairsync line is FIFO. `try_acquire` takes the turnstile with
//!   `pg_try_advisory_lock`, which fails while anyone holds or waits for it,
//!   so it never overtakes a waiter.
//! - *No lost wake-up.* The head clears its wake-up flag before each slot
//!   attempt and the holder session listens from the moment it opens, so a
//!   release that the attempt missed is announced after it.
//! - *Capacity agreement.* `fairsync.names.permits` records the capacity.
//!   Under the turnstile a different capacity is an error while any slot is
//!   held, and is replaced by the caller's while none is (a redeploy with a
//!   new limit takes over once the old holders are gone).
//! - *Cancel safety.* The waits run on the driver thread; a dropped acquire
//!   withdraws the turnstile wait with a cancel request (see
//!   `Conn::withdraw`) or releases the turnstile, and a slot taken for an
//!   acquirer that is gone is released by its grant's `Drop`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_io::Timer;
use futures_channel::oneshot;

use crate::client::{Kind, NameState, Pooled, Shared};
use crate::held::{Held, Session};
use crate::sql::{column, first_row, int_array};
use crate::{driver, Client, Error};

/// A semaphore shared by every process that uses the same name in the same
/// database. Made by [`Client::semaphore`].
///
/// ```no_run
/// # async fn demo(client: fairsync_postgres::Client) -> Result<(), fairsync_postgres::Error> {
/// // At most 50 calls to the paid API in flight, across all replicas.
/// let api = client.semaphore("paid-api", 50);
/// let permit = api.acquire().await?;
/// // ... call the API ...
/// drop(permit);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgSemaphore {
    client: Client,
    state: Arc<NameState>,
    permits: u32,
}

impl fmt::Debug for PgSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSemaphore")
            .field("name", &self.state.name)
            .field("permits", &self.permits)
            .field("held_here", &self.state.on_holder.lock().unwrap().len())
            .finish()
    }
}

/// The largest number of permits a semaphore can have.
pub const MAX_PERMITS: u32 = 100_000;

impl PgSemaphore {
    pub(crate) fn new(client: Client, name: &str, permits: u32) -> Self {
        let state = client.shared.name(Kind::Semaphore, name);
        PgSemaphore {
            client,
            state,
            permits,
        }
    }

    /// The semaphore's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The number of permits this handle was made with.
    pub fn permits(&self) -> u32 {
        self.permits
    }

    async fn prepare(&self) -> Result<i32, Error> {
        if self.permits == 0 || self.permits > MAX_PERMITS {
            return Err(Error::Config(format!(
                "a semaphore needs 1 to {MAX_PERMITS} permits, not {}",
                self.permits
            )));
        }
        let id = self
            .state
            .id(&self.client.shared, Some(self.permits))
            .await?;
        self.client.shared.register(id, &self.state);
        Ok(id)
    }

    /// Waits for a permit. Waiters are served in arrival order, across
    /// processes and within one. Dropping the future at any point withdraws
    /// the wait. [`Error::CapacityMismatch`] if the semaphore is in use with
    /// another number of permits.
    ///
    /// Uncontended, this is one round trip (`fairsync.slot_try` on the
    /// holder session); otherwise the task goes through the turnstile.
    pub async fn acquire(&self) -> Result<PgPermit, Error> {
        let id = self.prepare().await?;
        let shared = &self.client.shared;
        let local = Arc::clone(&self.state.local).acquire_owned().await;
        let (local, fast) = try_on_holder(shared, &self.state, id, self.permits, local).await?;
        if let Some(held) = fast {
            return Ok(PgPermit { held });
        }
        let session = shared.waiting_session().await?;
        let (tx, rx) = oneshot::channel();
        driver::spawn(wait_task(
            Arc::clone(shared),
            Arc::clone(&self.state),
            id,
            self.permits,
            session,
            local,
            tx,
        ));
        let held = rx.await.map_err(|_| Error::Lost)??;
        Ok(PgPermit { held })
    }

    /// Like [`acquire`](Self::acquire), but gives up after `timeout` and
    /// returns `Ok(None)`.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<PgPermit>, Error> {
        crate::with_timeout(self.acquire(), timeout).await
    }

    /// Takes a permit if one is free and nobody waits for one; never waits.
    pub async fn try_acquire(&self) -> Result<Option<PgPermit>, Error> {
        let id = self.prepare().await?;
        let Some(local) = Arc::clone(&self.state.local).try_acquire_owned() else {
            return Ok(None);
        };
        let (_local, held) =
            try_on_holder(&self.client.shared, &self.state, id, self.permits, local).await?;
        Ok(held.map(|held| PgPermit { held }))
    }
}

/// Tries for a slot on the holder session without waiting, as the head of
/// the local line (see `lock::try_on_holder` for why on the driver).
async fn try_on_holder(
    shared: &Arc<Shared>,
    state: &Arc<NameState>,
    id: i32,
    permits: u32,
    local: fairsync::OwnedLockGuard,
) -> Result<(fairsync::OwnedLockGuard, Option<Held>), Error> {
    let (shared, state) = (Arc::clone(shared), Arc::clone(state));
    let outcome = driver::detached(async move {
        let attempt = async {
            let holder = shared.holder().await?;
            let skip = int_array(state.on_holder.lock().unwrap().iter().copied());
            let rows = holder
                .client
                .simple_query(&format!(
                    "SELECT slot, token, agreed, busy FROM fairsync.slot_try({id}, {permits}, {skip})"
                ))
                .await?;
            let row = first_row(&rows).ok_or_else(|| Error::Protocol("slot_try".into()))?;
            if column::<String>(row, 3)?.as_deref() == Some("t") {
                return Ok(None);
            }
            grant(&shared, Arc::clone(&state), id, permits, holder.clone(), row)
        };
        let result = attempt.await;
        result.map(|held| (local, held))
    })
    .await;
    outcome.unwrap_or(Err(Error::Lost))
}

/// Turns a `slot_take` reply into a grant, a "none free", or a capacity
/// error.
fn grant(
    shared: &Arc<Shared>,
    state: Arc<NameState>,
    id: i32,
    permits: u32,
    holder: Arc<crate::conn::Conn>,
    row: &tokio_postgres::SimpleQueryRow,
) -> Result<Option<Held>, Error> {
    let slot: Option<i32> = column(row, 0)?;
    let token: Option<u64> = column(row, 1)?;
    let agreed: Option<u32> = column(row, 2)?;
    if agreed != Some(permits) {
        if let Some(slot) = slot {
            // Cannot happen with the shipped functions; never keep a slot
            // granted under a disagreement.
            let _ = Held::new(
                shared,
                Arc::clone(&state),
                id,
                slot,
                0,
                Session::Holder(holder),
            );
        }
        return Err(Error::CapacityMismatch {
            name: state.name.clone(),
            requested: permits,
            agreed: agreed.unwrap_or(0),
        });
    }
    match (slot, token) {
        (Some(slot), Some(token)) => {
            state.on_holder.lock().unwrap().insert(slot);
            Ok(Some(Held::new(
                shared,
                state,
                id,
                slot,
                token,
                Session::Holder(holder),
            )))
        }
        _ => Ok(None),
    }
}

/// The turnstile, held by a pooled session; dropping it releases it.
struct Turnstile {
    id: i32,
    session: Option<Pooled>,
}

impl Turnstile {
    /// Releases the turnstile and waits until the server has.
    async fn release(mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let sql = format!("SELECT pg_advisory_unlock({}, 0)", self.id);
        match session.conn.value(&sql).await {
            Ok(Some(v)) if v == "t" => session.give_back(),
            _ => session.discard(),
        }
    }
}

impl Drop for Turnstile {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let sql = format!("SELECT pg_advisory_unlock({}, 0)", self.id);
        driver::spawn(async move {
            match session.conn.value(&sql).await {
                Ok(Some(v)) if v == "t" => session.give_back(),
                _ => session.discard(),
            }
        });
    }
}

async fn wait_task(
    shared: Arc<Shared>,
    state: Arc<NameState>,
    id: i32,
    permits: u32,
    session: Pooled,
    local: fairsync::OwnedLockGuard,
    mut tx: oneshot::Sender<Result<Held, Error>>,
) {
    // Step 2: the turnstile.
    let sql = format!("SELECT pg_advisory_lock({id}, 0)");
    let wait = session.conn.value(&sql);
    let outcome = futures_lite::future::or(async { Some(wait.await) }, async {
        tx.cancellation().await;
        None
    })
    .await;
    match outcome {
        Some(Ok(_)) => {}
        Some(Err(e)) => {
            session.discard();
            let _ = tx.send(Err(e));
            return;
        }
        None => {
            drop(local);
            session.conn.withdraw().await;
            session.discard();
            return;
        }
    }
    let turnstile = Turnstile {
        id,
        session: Some(session),
    };
    // Steps 3 and 4: a slot, waiting for releases while all are taken.
    let result = loop {
        state.released.clear();
        let holder = match shared.holder().await {
            Ok(h) => h,
            Err(e) => break Err(e),
        };
        let skip = int_array(state.on_holder.lock().unwrap().iter().copied());
        let rows = holder
            .client
            .simple_query(&format!(
                "SELECT slot, token, agreed FROM fairsync.slot_take({id}, {permits}, {skip})"
            ))
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => break Err(e.into()),
        };
        let Some(row) = first_row(&rows) else {
            break Err(Error::Protocol("slot_take".into()));
        };
        match grant(
            &shared,
            Arc::clone(&state),
            id,
            permits,
            holder.clone(),
            row,
        ) {
            Ok(Some(held)) => break Ok(held),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        let recheck = shared.settings.recheck;
        let go_on = futures_lite::future::or(
            futures_lite::future::or(
                async {
                    state.released.wait().await;
                    true
                },
                async {
                    Timer::after(recheck).await;
                    true
                },
            ),
            async {
                tx.cancellation().await;
                false
            },
        )
        .await;
        if !go_on {
            return; // the turnstile and the local line are released on drop
        }
    };
    match result {
        Ok(held) => {
            // The acquirer goes on at once; the next head of this process
            // starts after the turnstile is free. If the acquirer is gone,
            // the grant comes back and is released on drop.
            let _ = tx.send(Ok(held));
            turnstile.release().await;
        }
        Err(e) => {
            // Free the turnstile first, so that whoever sees the error can
            // try again at once.
            turnstile.release().await;
            let _ = tx.send(Err(e));
        }
    }
    drop(local);
}

/// Proof of holding one permit of a [`PgSemaphore`]. Dropping it releases
/// the permit.
pub struct PgPermit {
    held: Held,
}

impl fmt::Debug for PgPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgPermit")
            .field("name", &self.held.name.name)
            .field("slot", &self.held.key)
            .field("fencing_token", &self.held.token)
            .field("lost", &self.is_lost())
            .finish()
    }
}

impl PgPermit {
    /// This grant's fencing token: larger than the token of every earlier
    /// grant of the same semaphore, in any process. Concurrent holders have
    /// distinct tokens.
    pub fn fencing_token(&self) -> u64 {
        self.held.token
    }

    /// Which of the semaphore's slots (`1..=permits`) this permit is.
    pub fn slot(&self) -> u32 {
        self.held.key as u32
    }

    /// Whether the session that holds the permit has ended. Then the
    /// permit is free for others, and this holder should stop.
    pub fn is_lost(&self) -> bool {
        self.held.is_lost()
    }

    /// Completes when the permit is lost (see [`is_lost`](Self::is_lost)).
    pub async fn lost(&self) {
        self.held.lost().await
    }

    /// Releases the permit and waits for the server to confirm it.
    /// [`Error::Lost`] if the permit had been lost before.
    pub async fn release(self) -> Result<(), Error> {
        self.held.release().await
    }

    /// The holding session's backend process id on the server.
    pub fn backend_pid(&self) -> i32 {
        self.held.conn().pid
    }
}
