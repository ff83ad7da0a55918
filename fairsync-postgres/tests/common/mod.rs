//! Helpers shared by the tests: the server's URL, unique names, a watchdog,
//! child processes, and raw SQL for looking at the server's lock table.
#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The server to test against. These tests need a real PostgreSQL; run them
/// through `scripts/with-postgres.sh`, which starts a throwaway one.
pub fn url() -> String {
    std::env::var("FAIRSYNC_PG_URL").expect(
        "FAIRSYNC_PG_URL is not set: run `scripts/with-postgres.sh cargo test -p fairsync-postgres`",
    )
}

/// The server's URL with an `application_name`, to find a client's
/// sessions in `pg_stat_activity`.
pub fn url_named(app: &str) -> String {
    let url = url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={app}")
}

/// A name no other test or run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Runs `body` on a tokio runtime and fails the test if it takes longer
/// than `limit`: no test can hang.
pub fn bounded<F: Future>(limit: Duration, body: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match tokio::time::timeout(limit, body).await {
            Ok(v) => v,
            Err(_) => panic!("test did not finish within {limit:?}"),
        }
    })
}

/// A plain tokio-postgres session for looking at the server from outside.
pub async fn raw() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Sessions waiting (not granted) for key `(id of name, key2)`.
pub async fn waiting(raw: &tokio_postgres::Client, kind: &str, name: &str, key2: u32) -> i64 {
    raw.query_one(
        "SELECT count(*) FROM pg_locks l JOIN fairsync.names n ON l.classid = n.id::oid \
         WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.objid = $3::bigint::oid \
           AND NOT l.granted AND n.kind = $1 AND n.name = $2",
        &[&kind, &name, &(key2 as i64)],
    )
    .await
    .unwrap()
    .get(0)
}

/// Advisory locks of `name` held by anyone.
pub async fn held(raw: &tokio_postgres::Client, kind: &str, name: &str) -> i64 {
    raw.query_one(
        "SELECT count(*) FROM pg_locks l JOIN fairsync.names n ON l.classid = n.id::oid \
         WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted \
           AND n.kind = $1 AND n.name = $2",
        &[&kind, &name],
    )
    .await
    .unwrap()
    .get(0)
}

/// Polls `check` until it returns true. The watchdog of the test bounds it.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A child process running this test binary's `child` test in a role.
/// Killed when dropped, so a failing test leaves no process behind.
pub struct Child {
    pub process: std::process::Child,
    lines: mpsc::Receiver<String>,
}

/// Starts this test binary again as a child in `role`, with `args` in
/// `FAIRSYNC_CHILD_ARGS` (space-separated).
pub fn spawn_child(role: &str, args: &[&str]) -> Child {
    let mut process = Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env("FAIRSYNC_CHILD", role)
        .env("FAIRSYNC_CHILD_ARGS", args.join(" "))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = process.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(msg) = line.strip_prefix("@@ ") {
                if tx.send(msg.to_owned()).is_err() {
                    break;
                }
            }
        }
    });
    Child { process, lines }
}

impl Child {
    /// The next message the child printed, waiting at most 60 s.
    pub async fn next(&mut self) -> String {
        let start = Instant::now();
        loop {
            match self.lines.try_recv() {
                Ok(line) => return line,
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => {
                    panic!("child exited: {:?}", self.process.try_wait())
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "child said nothing"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits for the child to exit and asserts it succeeded.
    pub async fn success(&mut self) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                assert!(status.success(), "child failed: {status}");
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "child hung");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// In a child: its role and arguments, or `None` in the parent test run.
pub fn child_role() -> Option<(String, Vec<String>)> {
    let role = std::env::var("FAIRSYNC_CHILD").ok()?;
    let args = std::env::var("FAIRSYNC_CHILD_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    Some((role, args))
}

/// In a child: tells the parent something.
pub fn say(msg: impl std::fmt::Display) {
    println!("@@ {msg}");
}
