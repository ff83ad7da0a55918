//! One database session: the socket, its driver task, and loss detection.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, Timer};
use fairsync::Event;
use futures_lite::io::{AsyncRead as _, AsyncWrite as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::Host;
use tokio_postgres::{AsyncMessage, CancelToken, NoTls};

use crate::driver;
use crate::Error;

/// Connection settings shared by every session of a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub pg: tokio_postgres::Config,
    pub keepalive: Duration,
    pub recheck: Duration,
    pub max_connections: usize,
    pub connect_timeout: Duration,
}

/// A socket from `async-io` with tokio's I/O traits, which tokio-postgres
/// wants; the adapter is what lets the crate run without tokio's reactor.
pub(crate) enum Stream {
    Tcp(Async<TcpStream>),
    #[cfg(unix)]
    Unix(Async<std::os::unix::net::UnixStream>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        let n = match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, dst),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_read(cx, dst),
        };
        match n {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, b),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_write(cx, b),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_close(cx),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_close(cx),
        }
    }
}

/// Opens a socket to the first host that answers.
pub(crate) async fn dial(settings: &Settings) -> Result<Stream, Error> {
    let pg = &settings.pg;
    let hosts = pg.get_hosts();
    if hosts.is_empty() {
        return Err(Error::Config("the URL names no host".into()));
    }
    let mut last = None;
    for (i, host) in hosts.iter().enumerate() {
        let port = pg
            .get_ports()
            .get(i)
            .or(pg.get_ports().first())
            .copied()
            .unwrap_or(5432);
        match host {
            Host::Tcp(name) => {
                // A literal address needs no lookup; a name is resolved by
                // the system resolver, which blocks briefly.
                let addrs = match (name.as_str(), port).to_socket_addrs() {
                    Ok(a) => a,
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                };
                for addr in addrs {
                    match Async::<TcpStream>::connect(addr).await {
                        Ok(s) => {
                            tune(s.get_ref(), settings.keepalive)?;
                            return Ok(Stream::Tcp(s));
                        }
                        Err(e) => last = Some(e),
                    }
                }
            }
            #[cfg(unix)]
            Host::Unix(dir) => {
                let path = dir.join(format!(".s.PGSQL.{port}"));
                match Async::<std::os::unix::net::UnixStream>::connect(path).await {
                    Ok(s) => return Ok(Stream::Unix(s)),
                    Err(e) => last = Some(e),
                }
            }
        }
    }
    Err(last
        .map(Error::from)
        .unwrap_or_else(|| Error::Config("no usable host".into())))
}

/// No Nagle delay (every request is one small message waiting for its
/// reply), and TCP keep-alive so that a silent server is noticed.
fn tune(s: &TcpStream, keepalive: Duration) -> io::Result<()> {
    s.set_nodelay(true)?;
    let (idle, interval, retries) = keepalive_split(keepalive);
    let ka = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(interval);
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "freebsd"))]
    let ka = ka.with_retries(retries);
    let _ = retries;
    socket2::SockRef::from(s).set_tcp_keepalive(&ka)
}

/// Splits the keep-alive budget into TCP's idle time, probe interval and
/// probe count so that a silent peer is declared dead after about `total`.
pub(crate) fn keepalive_split(total: Duration) -> (Duration, Duration, u32) {
    let secs = total.as_secs().max(3);
    let idle = secs / 2;
    let retries = 3;
    let interval = ((secs - idle) / u64::from(retries)).max(1);
    (
        Duration::from_secs(idle.max(1)),
        Duration::from_secs(interval),
        retries,
    )
}

/// Called with the payload of every notification a session receives.
pub(crate) type OnNotify = Box<dyn Fn(&str) + Send + Sync>;

/// One open session.
pub(crate) struct Conn {
    pub client: tokio_postgres::Client,
    pub pid: i32,
    cancel: CancelToken,
    settings: Arc<Settings>,
    /// Set when the session is gone (closed by either side).
    closed: Arc<Event>,
    /// Set to make the driver drop the socket now.
    kill: Arc<Event>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("pid", &self.pid)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Conn {
    /// Opens a session and prepares it for long lock waits, giving up
    /// after the connect timeout.
    pub async fn open(
        settings: &Arc<Settings>,
        on_notify: Option<OnNotify>,
    ) -> Result<Self, Error> {
        let limit = settings.connect_timeout;
        futures_lite::future::or(Self::open_now(settings, on_notify), async move {
            Timer::after(limit).await;
            Err(Error::Connection(Box::new(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no session within {limit:?}"),
            ))))
        })
        .await
    }

    async fn open_now(
        settings: &Arc<Settings>,
        on_notify: Option<OnNotify>,
    ) -> Result<Self, Error> {
        let stream = dial(settings).await?;
        let (client, mut connection) = settings.pg.connect_raw(stream, NoTls).await?;
        let closed = Arc::new(Event::new());
        let kill = Arc::new(Event::new());
        {
            let closed = Arc::clone(&closed);
            let kill = Arc::clone(&kill);
            driver::spawn(async move {
                let run = async {
                    loop {
                        let msg = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                        match msg {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                if let Some(f) = &on_notify {
                                    f(n.payload());
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => break,
                        }
                    }
                };
                futures_lite::future::or(run, kill.wait()).await;
                drop(connection);
                closed.set();
            });
        }
        let (idle, interval, retries) = keepalive_split(settings.keepalive);
        // A lock wait may last long: no statement or lock timeout may end
        // it. The server's own keep-alive ends the session of a silent
        // client, which is what releases its locks after a partition. From
        // PostgreSQL 14 on, a waiting backend also checks that its client is
        // still there, so a cancelled waiter whose socket was closed leaves
        // the queue within a second.
        let setup = format!(
            "SELECT pg_backend_pid(); SET statement_timeout = 0; SET lock_timeout = 0; \
             SET idle_in_transaction_session_timeout = 0; \
             SET tcp_keepalives_idle = {}; SET tcp_keepalives_interval = {}; \
             SET tcp_keepalives_count = {retries}; \
             SELECT set_config('client_connection_check_interval', '1000', false) \
               WHERE current_setting('server_version_num')::int >= 140000",
            idle.as_secs(),
            interval.as_secs()
        );
        let rows = client.simple_query(&setup).await?;
        let pid = crate::sql::first_value(&rows)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::Protocol("no backend pid".into()))?;
        Ok(Conn {
            cancel: client.cancel_token(),
            client,
            pid,
            settings: Arc::clone(settings),
            closed,
            kill,
        })
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_set()
    }

    /// The event that is set when the session ends.
    pub fn closed(&self) -> &Arc<Event> {
        &self.closed
    }

    /// Closes the socket now; the server ends the session and releases
    /// every lock it held.
    pub fn kill(&self) {
        self.kill.set();
    }

    /// Runs one statement and returns the first column of its first row.
    pub async fn value(&self, sql: &str) -> Result<Option<String>, Error> {
        let rows = self.client.simple_query(sql).await?;
        Ok(crate::sql::first_value(&rows))
    }

    /// Asks the server to cancel whatever statement this session runs, over
    /// a socket of its own (PostgreSQL's cancel request needs no session).
    pub async fn cancel_statement(&self) -> Result<(), Error> {
        let stream = dial(&self.settings).await?;
        self.cancel.cancel_query_raw(stream, NoTls).await?;
        Ok(())
    }

    /// Withdraws a statement whose future was dropped (a lock wait, most
    /// likely), then closes the session.
    ///
    /// The cancel request aborts the wait at once, so the session leaves
    /// PostgreSQL's queue without holding up anyone behind it. A cancel
    /// request is a signal that can also arrive late, after the wait ended,
    /// and then hit whatever the session runs next; so the session is never
    /// reused. A harmless `SELECT 1` queued behind the wait shows when it is
    /// over: cancels are repeated until that has run, and closing the
    /// session then releases anything the wait may have been granted before
    /// the cancel arrived.
    pub async fn withdraw(&self) {
        let mut fence = Box::pin(self.client.simple_query("SELECT 1"));
        for _ in 0..100 {
            if self.cancel_statement().await.is_err() {
                break;
            }
            let outcome = futures_lite::future::or(async { Some(fence.as_mut().await) }, async {
                Timer::after(Duration::from_millis(50)).await;
                None
            })
            .await;
            match outcome {
                None => continue,
                Some(Ok(_)) => break,
                Some(Err(e)) if crate::sql::is_cancel(&e) => {
                    fence = Box::pin(self.client.simple_query("SELECT 1"));
                }
                Some(Err(_)) => break,
            }
        }
        self.kill();
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Dropping the client ends the session too; this only makes it
        // happen without waiting for the driver to notice.
        self.kill.set();
    }
}
