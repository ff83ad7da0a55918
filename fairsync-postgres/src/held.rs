//! A grant: one advisory lock key held by one session, released on drop.

use std::sync::Arc;

use crate::client::{NameState, Pooled, Shared};
use crate::conn::Conn;
use crate::{driver, Error};

/// Where the key is held, which decides how it is released.
pub(crate) enum Session {
    /// A pooled session that waited for the key; it goes back to the pool
    /// after the release.
    Waited(Pooled),
    /// The client's holder session, shared by many grants.
    Holder(Arc<Conn>),
}

/// One held key. Dropping it releases the key in the background, so every
/// path that ends with a grant nobody took (a cancelled acquire, a failed
/// send) gives it back.
pub(crate) struct Held {
    pub name: Arc<NameState>,
    pub id: i32,
    pub key: i32,
    pub token: u64,
    session: Option<Session>,
    // Keeps the client's sessions alive while a grant exists.
    shared: Arc<Shared>,
}

impl Held {
    pub fn new(
        shared: &Arc<Shared>,
        name: Arc<NameState>,
        id: i32,
        key: i32,
        token: u64,
        session: Session,
    ) -> Self {
        if let Session::Waited(p) = &session {
            shared.holding.add(&p.conn);
        }
        Held {
            name,
            id,
            key,
            token,
            session: Some(session),
            shared: Arc::clone(shared),
        }
    }

    pub fn conn(&self) -> &Arc<Conn> {
        match self.session.as_ref().expect("released") {
            Session::Waited(p) => &p.conn,
            Session::Holder(c) => c,
        }
    }

    /// Stops pinging a pooled session for this grant: once released, it
    /// may go back to the pool and wait in a lock queue.
    fn forget_session(&self, session: &Session) {
        if let Session::Waited(p) = session {
            self.shared.holding.remove(&p.conn);
        }
    }

    pub fn is_lost(&self) -> bool {
        self.conn().is_closed()
    }

    pub async fn lost(&self) {
        let closed = Arc::clone(self.conn().closed());
        closed.wait().await;
    }

    /// Releases now and reports the outcome. The release itself runs on
    /// the driver, so dropping this future does not leave it half done.
    pub async fn release(mut self) -> Result<(), Error> {
        let session = self.session.take().expect("released");
        self.forget_session(&session);
        let (name, id, key) = (Arc::clone(&self.name), self.id, self.key);
        driver::detached(release(name, id, key, session))
            .await
            .unwrap_or(Err(Error::Lost))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.forget_session(&session);
            let (name, id, key) = (Arc::clone(&self.name), self.id, self.key);
            driver::spawn(async move {
                let _ = release(name, id, key, session).await;
            });
        }
    }
}

async fn release(name: Arc<NameState>, id: i32, key: i32, session: Session) -> Result<(), Error> {
    let conn = match &session {
        Session::Waited(p) => Arc::clone(&p.conn),
        Session::Holder(c) => Arc::clone(c),
    };
    if conn.is_closed() {
        // The key went with the session. The holder's bookkeeping is reset
        // when a new holder session opens (which may hold this key again by
        // then, so it must not be touched here).
        return Err(Error::Lost);
    }
    let outcome = conn
        .value(&format!("SELECT fairsync.release({id}, {key})"))
        .await;
    let result = match outcome {
        Ok(Some(v)) if v == "t" => Ok(()),
        Ok(_) => Err(Error::Lost),
        Err(e) => Err(e),
    };
    match session {
        Session::Waited(pooled) => {
            if result.is_ok() {
                pooled.give_back();
            } else {
                pooled.discard();
            }
        }
        Session::Holder(_) => {
            if result.is_ok() {
                name.on_holder.lock().unwrap().remove(&key);
            }
        }
    }
    // A waiting head of this process need not wait for the notification's
    // round trip through the server.
    if key > 0 {
        name.released.set();
    }
    result
}
