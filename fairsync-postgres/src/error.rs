use std::fmt;

/// What went wrong talking to PostgreSQL, or why a grant was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server could not be reached, or the session broke while a request
    /// was in flight.
    Connection(Box<dyn std::error::Error + Send + Sync>),
    /// The server answered with an error.
    Server(Box<dyn std::error::Error + Send + Sync>),
    /// The connection URL or a builder setting is invalid.
    Config(String),
    /// Another process (or handle) uses the semaphore `name` with a different
    /// number of permits while that semaphore is in use.
    CapacityMismatch {
        /// The semaphore's name.
        name: String,
        /// The number of permits this handle was created with.
        requested: u32,
        /// The number of permits the database has on record for `name`.
        agreed: u32,
    },
    /// The session that held the guard ended before the release: whatever it
    /// guarded may have been taken by someone else in the meantime.
    Lost,
    /// The server replied with something this crate did not expect (for
    /// example a schema created by an incompatible version).
    Protocol(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connection(e) => write!(f, "connection to PostgreSQL failed: {e}"),
            Error::Server(e) => write!(f, "PostgreSQL reported an error: {e}"),
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::CapacityMismatch {
                name,
                requested,
                agreed,
            } => write!(
                f,
                "semaphore {name:?} is in use with {agreed} permits, not {requested}"
            ),
            Error::Lost => f.write_str("the session holding the guard ended before the release"),
            Error::Protocol(e) => write!(f, "unexpected reply from PostgreSQL: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connection(e) | Error::Server(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.as_db_error().is_some() {
            Error::Server(Box::new(e))
        } else {
            Error::Connection(Box::new(e))
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Connection(Box::new(e))
    }
}
