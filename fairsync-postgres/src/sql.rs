//! The database side: schema, functions, and reading simple-query replies.
//!
//! Every request is one round trip through the simple query protocol, with
//! only integers formatted into the text (names go through a prepared
//! statement): no prepare round trip, no statement cache to keep per
//! session. The multi-step operations are plpgsql functions, so each grant
//! is one statement and one transaction.

use tokio_postgres::error::SqlState;
use tokio_postgres::{SimpleQueryMessage, SimpleQueryRow};

use crate::Error;

/// Key (bigint form, so it never meets the two-integer keys below) that
/// serializes concurrent schema creation.
const SCHEMA_LOCK: i64 = 0x6661_6972_7379_6e63; // "fairsync"

/// Advisory lock keys are `(names.id, n)` in PostgreSQL's two-integer key
/// space: `n = 0` is a lock, or a semaphore's turnstile; `n = 1..=permits`
/// are a semaphore's permit slots. The table gives each name its own id, so
/// two names never share a key.
pub(crate) const SCHEMA: &str = r#"
CREATE SCHEMA IF NOT EXISTS fairsync;

CREATE TABLE IF NOT EXISTS fairsync.names (
    id      serial  PRIMARY KEY,
    kind    text    NOT NULL,
    name    text    NOT NULL,
    permits integer,
    token   bigint  NOT NULL DEFAULT 0,
    UNIQUE (kind, name)
);

CREATE OR REPLACE FUNCTION fairsync.name_id(p_kind text, p_name text, p_permits integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE v integer;
BEGIN
    LOOP
        SELECT id INTO v FROM fairsync.names WHERE kind = p_kind AND name = p_name;
        IF FOUND THEN RETURN v; END IF;
        INSERT INTO fairsync.names (kind, name, permits) VALUES (p_kind, p_name, p_permits)
            ON CONFLICT (kind, name) DO NOTHING RETURNING id INTO v;
        IF v IS NOT NULL THEN RETURN v; END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION fairsync.next_token(p_id integer)
RETURNS bigint LANGUAGE sql AS $$
    UPDATE fairsync.names SET token = token + 1 WHERE id = p_id RETURNING token
$$;

CREATE OR REPLACE FUNCTION fairsync.lock_wait(p_id integer)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_lock(p_id, 0);
    RETURN fairsync.next_token(p_id);
END $$;

CREATE OR REPLACE FUNCTION fairsync.lock_try(p_id integer)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF pg_try_advisory_lock(p_id, 0) THEN
        RETURN fairsync.next_token(p_id);
    END IF;
    RETURN NULL;
END $$;

-- Called by a session of the process whose other session holds the
-- turnstile. A different capacity on record wins while any slot is held;
-- once none is, the caller's capacity is recorded instead.
CREATE OR REPLACE FUNCTION fairsync.slot_take(p_id integer, p_permits integer, p_skip integer[],
    OUT slot integer, OUT token bigint, OUT agreed integer)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT permits INTO agreed FROM fairsync.names WHERE id = p_id;
    IF agreed IS DISTINCT FROM p_permits THEN
        IF EXISTS (SELECT 1 FROM pg_locks
                   WHERE locktype = 'advisory' AND objsubid = 2 AND granted
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                     AND classid = p_id::oid AND objid <> 0) THEN
            RETURN;
        END IF;
        UPDATE fairsync.names SET permits = p_permits WHERE id = p_id;
        agreed := p_permits;
    END IF;
    FOR i IN 1..p_permits LOOP
        IF NOT (i = ANY (p_skip)) AND pg_try_advisory_lock(p_id, i) THEN
            slot := i;
            token := fairsync.next_token(p_id);
            RETURN;
        END IF;
    END LOOP;
END $$;

-- try_acquire: take the turnstile only if nobody holds or waits for it.
CREATE OR REPLACE FUNCTION fairsync.slot_try(p_id integer, p_permits integer, p_skip integer[],
    OUT slot integer, OUT token bigint, OUT agreed integer, OUT busy boolean)
LANGUAGE plpgsql AS $$
BEGIN
    busy := NOT pg_try_advisory_lock(p_id, 0);
    IF busy THEN RETURN; END IF;
    BEGIN
        SELECT t.slot, t.token, t.agreed INTO slot, token, agreed
            FROM fairsync.slot_take(p_id, p_permits, p_skip) t;
    EXCEPTION WHEN OTHERS THEN
        -- session locks outlive the failed transaction: never keep the turnstile
        PERFORM pg_advisory_unlock(p_id, 0);
        RAISE;
    END;
    PERFORM pg_advisory_unlock(p_id, 0);
END $$;

-- Releases a key; a released permit slot is announced to the waiting heads.
CREATE OR REPLACE FUNCTION fairsync.release(p_id integer, p_key integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
    ok := pg_advisory_unlock(p_id, p_key);
    IF p_key > 0 THEN
        PERFORM pg_notify('fairsync_release', p_id::text);
    END IF;
    RETURN ok;
END $$;

CREATE OR REPLACE FUNCTION fairsync.v1() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
"#;

/// Creates the schema unless this version of it is there already.
pub(crate) async fn ensure_schema(client: &tokio_postgres::Client) -> Result<(), Error> {
    let present = client
        .simple_query("SELECT to_regprocedure('fairsync.v1()') IS NOT NULL")
        .await?;
    if first_value(&present).as_deref() == Some("t") {
        return Ok(());
    }
    let created = client
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({SCHEMA_LOCK}); {SCHEMA} COMMIT;"
        ))
        .await;
    if let Err(e) = created {
        // Leave the session out of the failed transaction.
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(e.into());
    }
    Ok(())
}

/// The first row of a reply.
pub(crate) fn first_row(rows: &[SimpleQueryMessage]) -> Option<&SimpleQueryRow> {
    rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r),
        _ => None,
    })
}

/// The first column of the first row, if that row exists and is not NULL.
pub(crate) fn first_value(rows: &[SimpleQueryMessage]) -> Option<String> {
    first_row(rows).and_then(|r| r.get(0)).map(str::to_owned)
}

/// Parses column `i` of `row`; NULL is `None`.
pub(crate) fn column<T: std::str::FromStr>(
    row: &SimpleQueryRow,
    i: usize,
) -> Result<Option<T>, Error> {
    match row.get(i) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| Error::Protocol(format!("cannot parse {s:?}"))),
    }
}

/// Whether a statement ended because of a cancel request.
pub(crate) fn is_cancel(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::QUERY_CANCELED)
}

/// An `integer[]` literal.
pub(crate) fn int_array(items: impl IntoIterator<Item = i32>) -> String {
    let list: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    format!("'{{{}}}'::integer[]", list.join(","))
}
