//! Pings the sessions that hold grants, so that a holder learns of a silent
//! server or network before the server gives its locks away.
//!
//! After a network partition the server ends a silent client's session
//! once its TCP keep-alive gives up (about the configured keep-alive) and
//! grants the locks to the next waiters. The client's own keep-alive would
//! notice about as late. So every tenth of the keep-alive, each session that
//! holds something runs `SELECT 1`; one that has not answered within a
//! quarter of the keep-alive is closed, which makes its guards lost. A
//! holder thus sees `lost()` well before the server can grant its lock
//! to someone else. Sessions that are waiting in a lock queue are not
//! pinged: the ping would queue behind the wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_io::Timer;

use crate::client::Shared;
use crate::conn::Conn;
use crate::driver;

/// Sessions of a client that hold grants (besides the holder session,
/// which is always pinged), by backend pid, with the number of grants.
#[derive(Default)]
pub(crate) struct Holding {
    sessions: Mutex<HashMap<i32, (Weak<Conn>, usize)>>,
}

impl Holding {
    pub fn add(&self, conn: &Arc<Conn>) {
        let mut sessions = self.sessions.lock().unwrap();
        let entry = sessions
            .entry(conn.pid)
            .or_insert_with(|| (Arc::downgrade(conn), 0));
        entry.1 += 1;
    }

    pub fn remove(&self, conn: &Arc<Conn>) {
        let mut sessions = self.sessions.lock().unwrap();
        if let Some(entry) = sessions.get_mut(&conn.pid) {
            entry.1 -= 1;
            if entry.1 == 0 {
                sessions.remove(&conn.pid);
            }
        }
    }

    fn live(&self) -> Vec<Arc<Conn>> {
        self.sessions
            .lock()
            .unwrap()
            .values()
            .filter_map(|(w, _)| w.upgrade())
            .collect()
    }
}

/// The ping interval and the time a ping may take, from the keep-alive.
pub(crate) fn timing(keepalive: Duration) -> (Duration, Duration) {
    (keepalive / 10, keepalive / 4)
}

/// Runs until the client is gone.
pub(crate) fn start(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    let (every, limit) = timing(shared.settings.keepalive);
    driver::spawn(async move {
        loop {
            Timer::after(every).await;
            let Some(shared) = weak.upgrade() else { return };
            let mut sessions = shared.holding.live();
            if let Some(holder) = shared.current_holder() {
                sessions.push(holder);
            }
            drop(shared);
            for conn in sessions {
                if conn.is_closed() {
                    continue;
                }
                driver::spawn(async move {
                    let answered = futures_lite::future::or(
                        async { conn.client.simple_query("SELECT 1").await.is_ok() },
                        async {
                            Timer::after(limit).await;
                            false
                        },
                    )
                    .await;
                    if !answered {
                        conn.kill();
                    }
                });
            }
        }
    });
}
