//! `Client`: settings, the holder session, the pool of waiting sessions, and
//! the per-name state that a process's waiters share.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use fairsync::{Event, Lock, OwnedSemaphorePermit, Semaphore};

use crate::conn::{Conn, Settings};
use crate::{Error, PgLock, PgSemaphore};

/// A handle on one PostgreSQL database, shared by every lock and semaphore
/// made from it. Cloning is cheap: clones share the sessions and settings.
///
/// A `Client` keeps one *holder* session, which takes and releases locks
/// that need no waiting (`try_acquire`, semaphore permit slots) and listens
/// for released permits, plus a pool of sessions for waits in PostgreSQL's
/// lock queue: one per name that this process is waiting for, and one per
/// [`PgLockGuard`](crate::PgLockGuard) obtained by waiting. Tasks of the
/// process queue in a fairsync queue first, so a thousand tasks waiting for
/// one name cost one session.
///
/// ```no_run
/// # async fn demo() -> Result<(), fairsync_postgres::Error> {
/// let client = fairsync_postgres::Client::connect("postgres://app@127.0.0.1:5432/app").await?;
/// let migrations = client.lock("migrations");
/// let guard = migrations.acquire().await?;
/// println!("migrating with fencing token {}", guard.fencing_token());
/// guard.release().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.shared.names.lock().map(|n| n.len()).unwrap_or(0);
        f.debug_struct("Client")
            .field("max_connections", &self.shared.settings.max_connections)
            .field("keepalive", &self.shared.settings.keepalive)
            .field("recheck_interval", &self.shared.settings.recheck)
            .field("connect_timeout", &self.shared.settings.connect_timeout)
            .field(
                "idle_sessions",
                &self.shared.idle.lock().map(|i| i.len()).unwrap_or(0),
            )
            .field("names", &names)
            .finish()
    }
}

/// Settings for a [`Client`] beyond the URL.
///
/// ```no_run
/// # async fn demo() -> Result<(), fairsync_postgres::Error> {
/// use std::time::Duration;
/// let client = fairsync_postgres::Client::builder("postgres://app@db.internal/app")
///     .max_connections(8)
///     .keepalive(Duration::from_secs(20))
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    url: String,
    keepalive: Duration,
    recheck: Duration,
    max_connections: usize,
    connect_timeout: Duration,
}

impl Builder {
    /// How long opening a session may take (connect, authenticate, set
    /// up) before it fails with [`Error::Connection`]. Default 10 seconds.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a silent peer may stay silent before its session is
    /// declared dead: the server then ends the session of a vanished client
    /// (releasing its locks), and the client gives up on a vanished server.
    /// Split into TCP keep-alive idle time, probe interval and probe count.
    /// Sessions that hold grants are also pinged every tenth of it and
    /// closed (their guards lost) if a ping takes over a quarter of it, so
    /// a cut-off holder learns of the loss before the server hands its
    /// locks on. At least 3 seconds; default 30 seconds.
    pub fn keepalive(mut self, keepalive: Duration) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// How often the process at the head of a full semaphore's line checks
    /// for a permit released without notice (its holder's session ended).
    /// Regular releases wake the head at once. Only the head of the line
    /// checks, so this costs one small query per interval per full
    /// semaphore, fleet-wide. Default 100 ms.
    pub fn recheck_interval(mut self, interval: Duration) -> Self {
        self.recheck = interval;
        self
    }

    /// The most sessions this client opens, the holder session included
    /// (at least 2; default 16). Waits beyond that queue, in FIFO order, for
    /// a session to become free.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Connects: checks the server, creates the `fairsync` schema if it is
    /// missing, and opens the holder session.
    pub async fn connect(self) -> Result<Client, Error> {
        if self.max_connections < 2 {
            return Err(Error::Config("max_connections must be at least 2".into()));
        }
        if self.keepalive < Duration::from_secs(3) {
            return Err(Error::Config("keepalive must be at least 3 seconds".into()));
        }
        let mut pg: tokio_postgres::Config = self
            .url
            .parse()
            .map_err(|e| Error::Config(format!("{e}")))?;
        if pg.get_application_name().is_none() {
            pg.application_name("fairsync-postgres");
        }
        let settings = Arc::new(Settings {
            pg,
            keepalive: self.keepalive,
            recheck: self.recheck,
            max_connections: self.max_connections,
            connect_timeout: self.connect_timeout,
        });
        let shared = Arc::new(Shared {
            waiting_sessions: Arc::new(Semaphore::new(self.max_connections - 1)),
            settings,
            holder: fairsync::Mutex::new(None),
            idle: Mutex::new(Vec::new()),
            names: Mutex::new(HashMap::new()),
            by_id: Mutex::new(HashMap::new()),
            holding: crate::heartbeat::Holding::default(),
        });
        let holder = shared.holder().await?;
        crate::sql::ensure_schema(&holder.client).await?;
        crate::heartbeat::start(&shared);
        Ok(Client { shared })
    }
}

impl Client {
    /// Connects with default settings. The URL is PostgreSQL's usual
    /// `postgres://user:password@host:port/database`, or a key/value string.
    /// TLS is not supported: use it on a trusted network or a loopback
    /// tunnel.
    pub async fn connect(url: &str) -> Result<Client, Error> {
        Client::builder(url).connect().await
    }

    /// Starts a [`Builder`] for the URL.
    pub fn builder(url: &str) -> Builder {
        Builder {
            url: url.to_owned(),
            keepalive: Duration::from_secs(30),
            recheck: Duration::from_millis(100),
            max_connections: 16,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// A lock named `name`, shared with every process that uses the same
    /// name in the same database.
    pub fn lock(&self, name: &str) -> PgLock {
        PgLock::new(self.clone(), name)
    }

    /// A semaphore named `name` with `permits` permits, shared with every
    /// process that uses the same name in the same database. All of them
    /// must agree on `permits` (see [`Error::CapacityMismatch`]).
    pub fn semaphore(&self, name: &str, permits: u32) -> PgSemaphore {
        PgSemaphore::new(self.clone(), name, permits)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Lock,
    Semaphore,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Lock => "lock",
            Kind::Semaphore => "semaphore",
        }
    }
}

pub(crate) struct Shared {
    pub settings: Arc<Settings>,
    holder: fairsync::Mutex<Option<Arc<Conn>>>,
    /// Bounds the sessions that wait or hold a lock taken by waiting.
    waiting_sessions: Arc<Semaphore>,
    idle: Mutex<Vec<Arc<Conn>>>,
    names: Mutex<HashMap<(Kind, String), Arc<NameState>>>,
    by_id: Mutex<HashMap<i32, Weak<NameState>>>,
    /// Pooled sessions that hold grants, for the heartbeat.
    pub holding: crate::heartbeat::Holding,
}

/// What the tasks of one process share about one name.
pub(crate) struct NameState {
    pub kind: Kind,
    pub name: String,
    id: OnceLock<i32>,
    /// The process's own FIFO line: only its head waits in PostgreSQL.
    pub local: Arc<Lock>,
    /// Set when a permit of this semaphore may have been released.
    pub released: Event,
    /// Keys of this name that the holder session holds. Advisory locks are
    /// re-entrant within a session, so the holder must never be asked for a
    /// key it already has: PostgreSQL would grant it a second time.
    pub on_holder: Mutex<BTreeSet<i32>>,
}

impl NameState {
    /// The name's id in `fairsync.names`, created on first use.
    pub async fn id(&self, shared: &Arc<Shared>, permits: Option<u32>) -> Result<i32, Error> {
        if let Some(id) = self.id.get() {
            return Ok(*id);
        }
        let holder = shared.holder().await?;
        let row = holder
            .client
            .query_one(
                "SELECT fairsync.name_id($1, $2, $3)",
                &[&self.kind.as_str(), &self.name, &permits.map(|p| p as i32)],
            )
            .await?;
        let id: i32 = row.get(0);
        let _ = self.id.set(id);
        Ok(id)
    }
}

impl Shared {
    /// The per-name state, made on first use.
    pub fn name(self: &Arc<Self>, kind: Kind, name: &str) -> Arc<NameState> {
        let mut names = self.names.lock().unwrap();
        Arc::clone(names.entry((kind, name.to_owned())).or_insert_with(|| {
            Arc::new(NameState {
                kind,
                name: name.to_owned(),
                id: OnceLock::new(),
                local: Arc::new(Lock::new()),
                released: Event::new(),
                on_holder: Mutex::new(BTreeSet::new()),
            })
        }))
    }

    /// Makes notifications about `state`'s id reach it.
    pub fn register(&self, id: i32, state: &Arc<NameState>) {
        self.by_id.lock().unwrap().insert(id, Arc::downgrade(state));
    }

    /// The holder session as it is, if it is open and not being replaced.
    pub fn current_holder(&self) -> Option<Arc<Conn>> {
        let slot = self.holder.try_lock()?;
        slot.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// The holder session, reopened if the previous one ended. Everything
    /// the previous one held is lost (and its guards say so).
    pub async fn holder(self: &Arc<Self>) -> Result<Arc<Conn>, Error> {
        let mut slot = self.holder.lock().await;
        if let Some(conn) = &*slot {
            if !conn.is_closed() {
                return Ok(Arc::clone(conn));
            }
        }
        let weak = Arc::downgrade(self);
        let on_notify = Box::new(move |payload: &str| {
            let Some(shared) = weak.upgrade() else { return };
            let Ok(id) = payload.parse::<i32>() else {
                return;
            };
            let state = shared
                .by_id
                .lock()
                .unwrap()
                .get(&id)
                .and_then(Weak::upgrade);
            if let Some(state) = state {
                state.released.set();
            }
        });
        let conn = Arc::new(Conn::open(&self.settings, Some(on_notify)).await?);
        conn.client.batch_execute("LISTEN fairsync_release").await?;
        // Keys held by the old session are gone with it.
        for state in self.names.lock().unwrap().values() {
            state.on_holder.lock().unwrap().clear();
            state.released.set();
        }
        *slot = Some(Arc::clone(&conn));
        Ok(conn)
    }

    /// A session free to wait, from the pool or newly opened. Waits (FIFO)
    /// while `max_connections` sessions are in use.
    pub async fn waiting_session(self: &Arc<Self>) -> Result<Pooled, Error> {
        let permit = Arc::clone(&self.waiting_sessions).acquire_owned().await;
        loop {
            let idle = self.idle.lock().unwrap().pop();
            match idle {
                Some(conn) if conn.is_closed() => continue,
                Some(conn) => {
                    return Ok(Pooled {
                        conn,
                        shared: Arc::downgrade(self),
                        _permit: permit,
                    })
                }
                None => break,
            }
        }
        // Opened on the driver: if the caller stops waiting, the session
        // still lands in the pool instead of being thrown away half open,
        // so that short timeouts cannot keep a process from ever waiting.
        let (tx, rx) = futures_channel::oneshot::channel();
        let shared = Arc::clone(self);
        crate::driver::spawn(async move {
            let opened = Conn::open(&shared.settings, None).await.map(Arc::new);
            if let Err(Ok(conn)) = tx.send(opened) {
                shared.idle.lock().unwrap().push(conn);
            }
        });
        let conn = rx.await.map_err(|_| Error::Lost)??;
        Ok(Pooled {
            conn,
            shared: Arc::downgrade(self),
            _permit: permit,
        })
    }
}

/// A session taken from the pool, to be given back clean (holding no lock)
/// or closed.
pub(crate) struct Pooled {
    pub conn: Arc<Conn>,
    shared: Weak<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Pooled {
    /// Returns the session to the pool; the caller vouches that it holds no
    /// advisory lock and runs no statement.
    pub fn give_back(self) {
        if self.conn.is_closed() {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            shared.idle.lock().unwrap().push(Arc::clone(&self.conn));
        }
    }

    /// Closes the session, which releases whatever it held.
    pub fn discard(self) {
        self.conn.kill();
    }
}

impl fmt::Debug for Pooled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled").field("conn", &self.conn).finish()
    }
}
