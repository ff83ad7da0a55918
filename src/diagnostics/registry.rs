//! The process-wide registry of holders and waiters, and the hooks through
//! which the primitives fill it.
//!
//! Records are keyed by the address of a primitive's queue (or, for an
//! `Event`, `Condvar` or `Barrier`, its notification line), which cannot
//! move while anybody holds or waits for it. The registry never reads a
//! primitive: everything a snapshot shows was copied in by the hooks, so a
//! snapshot is safe even while primitives come and go.
//!
//! Ordering keeps a snapshot from inventing a deadlock: a guard's record
//! goes before the guard releases, and a waiter's record turns into a
//! holder's only after the grant. So a snapshot may miss a holder for a
//! moment, or show a granted waiter still waiting, but never shows a holder
//! that has released.

use core::panic::Location;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Waker};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};
use std::time::Instant;
use std::vec::Vec;

use super::snapshot::Access;
use crate::queue::{HasQueue, RawNotify, RawSemaphore};

/// What a primitive tells the registry about itself.
#[derive(Clone, Copy)]
pub(crate) struct Info {
    /// Its type name (module paths are trimmed when shown).
    pub(crate) kind: &'static str,
    /// Raw permits in all.
    pub(crate) capacity: usize,
    /// What a number of raw permits means to a user.
    pub(crate) access: fn(usize) -> Access,
}

/// Records are spread over shards by primitive, so acquires of different
/// primitives seldom meet on one registry lock.
const SHARDS: usize = 16;

type Shard = Mutex<Option<HashMap<usize, Entry>>>;

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SHARD: Shard = Mutex::new(None);
static REGISTRY: [Shard; SHARDS] = [EMPTY_SHARD; SHARDS];

/// Every shard, locked in order, so what they hold is one moment.
pub(super) fn lock_all() -> Vec<MutexGuard<'static, Option<HashMap<usize, Entry>>>> {
    REGISTRY
        .iter()
        .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// Record ids start at 1: 0 means "nothing recorded".
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(super) struct Entry {
    pub(super) info: Info,
    pub(super) records: Vec<Record>,
}

pub(super) struct Record {
    pub(super) id: u64,
    pub(super) waiting: bool,
    /// Joined the line ahead of every waiter (an upgrade).
    pub(super) front: bool,
    pub(super) permits: usize,
    /// Shared, so that copying a record (a split permit) never runs a
    /// waker's `clone` under a shard lock.
    pub(super) owner: Arc<RawOwner>,
    pub(super) site: &'static Location<'static>,
    pub(super) since: Instant,
    /// Polls of a waiter after it queued.
    pub(super) polls: u64,
}

pub(super) enum RawOwner {
    Task(Waker),
    Thread(Thread),
    Unattributed(Thread),
}

impl RawOwner {
    /// The task polling with `cx`, or the thread blocked in a `*_blocking`
    /// call that polls with its parker's waker.
    fn polling(cx: &Context<'_>) -> RawOwner {
        if crate::blocking::in_blocking_call() {
            RawOwner::Thread(thread::current())
        } else {
            RawOwner::Task(cx.waker().clone())
        }
    }

    /// Whether both are the same task or thread.
    pub(super) fn is(&self, other: &RawOwner) -> bool {
        match (self, other) {
            (RawOwner::Task(a), RawOwner::Task(b)) => a.will_wake(b),
            (RawOwner::Thread(a), RawOwner::Thread(b)) => a.id() == b.id(),
            (RawOwner::Unattributed(a), RawOwner::Unattributed(b)) => a.id() == b.id(),
            _ => false,
        }
    }
}

pub(super) fn shard(prim: usize) -> MutexGuard<'static, Option<HashMap<usize, Entry>>> {
    // Queues are at least word-aligned; mix in higher bits too.
    let index = ((prim >> 4) ^ (prim >> 10)) % SHARDS;
    // No user code runs under a shard lock, so a poisoned one is intact.
    REGISTRY[index]
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn address(raw: &RawSemaphore) -> usize {
    raw as *const RawSemaphore as usize
}

fn insert(prim: usize, info: Info, record: Record) {
    let mut shard = shard(prim);
    let entry = shard
        .get_or_insert_with(HashMap::new)
        .entry(prim)
        .or_insert_with(|| Entry {
            info,
            records: Vec::new(),
        });
    // The capacity of a semaphore changes; the newest word wins.
    entry.info = info;
    let stale = if record.waiting {
        Vec::new()
    } else {
        entry.stale_holders(record.permits, record.id)
    };
    entry.records.push(record);
    drop(shard);
    drop(stale);
}

impl Entry {
    /// Takes out the holders that cannot still hold, now that holder `id`
    /// got `permits`: together they would hold more than the primitive
    /// has. They belong to an earlier primitive at this address, which
    /// moved away with a guard leaked by `mem::forget` and was dropped
    /// elsewhere. None of them can be trusted, so all go.
    fn stale_holders(&mut self, permits: usize, id: u64) -> Vec<Record> {
        let held = self
            .records
            .iter()
            .filter(|r| !r.waiting && r.id != id)
            .fold(permits, |sum, r| sum.saturating_add(r.permits));
        if held <= self.info.capacity {
            return Vec::new();
        }
        let (stale, kept) = core::mem::take(&mut self.records)
            .into_iter()
            .partition(|r| !r.waiting && r.id != id);
        self.records = kept;
        stale
    }
}

/// Removes record `id` of `prim`, returning it so that its waker drops
/// after the shard is unlocked.
fn remove(prim: usize, id: u64) -> Option<Record> {
    let mut shard = shard(prim);
    let map = shard.as_mut()?;
    let entry = map.get_mut(&prim)?;
    let index = entry.records.iter().position(|r| r.id == id)?;
    // An emptied entry stays, with its list's room, for the primitive's
    // next acquire: snapshots prune idle ones, and a dropped primitive
    // takes its own (`forget_primitive`).
    Some(entry.records.remove(index))
}

fn update(prim: usize, id: u64, change: impl FnOnce(&mut Record)) {
    let mut shard = shard(prim);
    if let Some(record) = shard
        .as_mut()
        .and_then(|map| map.get_mut(&prim))
        .and_then(|entry| entry.records.iter_mut().find(|r| r.id == id))
    {
        change(record);
    }
}

/// Removes record `id` of `prim`, if any, and forgets the id. The record
/// (and the waker in it) drops after the shard is unlocked.
fn end(prim: usize, id: &mut u64) {
    if *id != 0 {
        let record = remove(prim, *id);
        *id = 0;
        drop(record);
    }
}

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A semaphore's permits in all changed (`add_permits`, `forget`).
pub(crate) fn set_capacity(raw: &RawSemaphore, capacity: usize) {
    let prim = address(raw);
    if let Some(entry) = shard(prim).as_mut().and_then(|map| map.get_mut(&prim)) {
        entry.info.capacity = capacity;
    }
}

/// A primitive is dropped: whatever is still recorded for it (a guard
/// leaked with `mem::forget`) goes with it, before its address is reused.
pub(crate) fn forget_primitive(raw: &RawSemaphore) {
    forget_address(address(raw));
}

/// A notification line is dropped: see [`forget_primitive`].
pub(crate) fn forget_line(line: &RawNotify) {
    forget_address(line as *const RawNotify as usize);
}

fn forget_address(prim: usize) {
    let entry = shard(prim).as_mut().and_then(|map| map.remove(&prim));
    drop(entry);
}

/// The record of one holder; in every guard. Its owner is removed with
/// [`end`](Held::end) before the guard releases.
#[derive(Debug)]
pub(crate) struct Held {
    prim: usize,
    id: u64,
}

impl Held {
    /// Holds nothing recorded.
    pub(crate) const NONE: Held = Held { prim: 0, id: 0 };

    /// A `try_*` call took `permits` of `prim`. Nobody knows whether a task
    /// or a thread called it, so it is shown but never links a deadlock.
    #[track_caller]
    pub(crate) fn tried<P: HasQueue + ?Sized>(prim: &P, permits: usize) -> Held {
        Held::record(prim, permits, RawOwner::Unattributed(thread::current()))
    }

    /// A blocking call, on this thread, took `permits` of `prim` without
    /// waiting (its fast path).
    #[track_caller]
    pub(crate) fn blocking<P: HasQueue + ?Sized>(prim: &P, permits: usize) -> Held {
        Held::record(prim, permits, RawOwner::Thread(thread::current()))
    }

    #[track_caller]
    fn record<P: HasQueue + ?Sized>(prim: &P, permits: usize, owner: RawOwner) -> Held {
        let site = Location::caller();
        Held::record_at(prim, permits, owner, site)
    }

    fn record_at<P: HasQueue + ?Sized>(
        prim: &P,
        permits: usize,
        owner: RawOwner,
        site: &'static Location<'static>,
    ) -> Held {
        let id = next_id();
        let addr = address(prim.queue());
        insert(
            addr,
            prim.info(),
            Record {
                id,
                waiting: false,
                front: false,
                permits,
                owner: Arc::new(owner),
                site,
                since: Instant::now(),
                polls: 0,
            },
        );
        Held { prim: addr, id }
    }

    /// Moves the record out, leaving nothing recorded here: for a guard that
    /// turns into another guard of the same holding.
    pub(crate) fn take(&mut self) -> Held {
        core::mem::replace(self, Held::NONE)
    }

    /// The holder now holds `permits` raw permits (a downgrade, an upgrade,
    /// a permit that split or merged).
    pub(crate) fn set_permits(&self, permits: usize) {
        if self.id != 0 {
            update(self.prim, self.id, |record| record.permits = permits);
        }
    }

    /// Splits off a record of `permits` for a new permit with the same
    /// owner, site and age.
    pub(crate) fn split(&self, permits: usize) -> Held {
        if self.id == 0 {
            return Held::NONE;
        }
        let id = next_id();
        let mut shard = shard(self.prim);
        let entry = shard.as_mut().and_then(|map| map.get_mut(&self.prim));
        let record = match entry {
            Some(entry) => entry
                .records
                .iter()
                .find(|r| r.id == self.id)
                .map(|record| Record {
                    id,
                    waiting: false,
                    front: false,
                    permits,
                    owner: Arc::clone(&record.owner),
                    site: record.site,
                    since: record.since,
                    polls: 0,
                }),
            None => None,
        };
        match (
            record,
            shard.as_mut().and_then(|map| map.get_mut(&self.prim)),
        ) {
            (Some(record), Some(entry)) => {
                entry.records.push(record);
                Held {
                    prim: self.prim,
                    id,
                }
            }
            _ => Held::NONE,
        }
    }

    /// Ends the record: the guard is about to release.
    #[inline]
    pub(crate) fn end(&mut self) {
        end(self.prim, &mut self.id);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.end();
    }
}

/// The record of one acquire future: where it was called, and its waiter
/// record once it has had to wait.
#[derive(Debug)]
pub(crate) struct Waiting {
    site: &'static Location<'static>,
    prim: usize,
    id: u64,
}

impl Waiting {
    /// An acquire called at `site`.
    #[inline]
    pub(crate) fn at(site: crate::track::Site) -> Waiting {
        Waiting {
            site: site.0,
            prim: 0,
            id: 0,
        }
    }

    /// The acquire had to wait: record the waiter (once).
    pub(crate) fn pending<P: HasQueue + ?Sized>(
        &mut self,
        prim: &P,
        permits: usize,
        front: bool,
        cx: &Context<'_>,
    ) {
        self.pending_at(address(prim.queue()), || prim.info(), permits, front, cx);
    }

    /// A wait for a notification (an `Event`, a `Condvar`, a `Barrier`)
    /// queued in `line`: record it (once). It asks for more than the line
    /// has, so the deadlock search knows a notification, never a holder,
    /// ends it.
    pub(crate) fn pending_notification(
        &mut self,
        line: &RawNotify,
        kind: &'static str,
        cx: &Context<'_>,
    ) {
        let info = || Info {
            kind,
            capacity: 0,
            access: |_| Access::Notification,
        };
        let addr = line as *const RawNotify as usize;
        self.pending_at(addr, info, 1, false, cx);
    }

    fn pending_at(
        &mut self,
        addr: usize,
        info: impl FnOnce() -> Info,
        permits: usize,
        front: bool,
        cx: &Context<'_>,
    ) {
        if self.id != 0 {
            update(self.prim, self.id, |record| record.polls += 1);
            return;
        }
        let owner = RawOwner::polling(cx);
        let id = next_id();
        insert(
            addr,
            info(),
            Record {
                id,
                waiting: true,
                front,
                permits,
                owner: Arc::new(owner),
                site: self.site,
                since: Instant::now(),
                polls: 0,
            },
        );
        self.prim = addr;
        self.id = id;
    }

    /// The acquire got its permits: the waiter record, if any, becomes the
    /// holder's (the wait's site, and since now); otherwise a new one.
    pub(crate) fn granted<P: HasQueue + ?Sized>(
        &mut self,
        prim: &P,
        permits: usize,
        cx: &Context<'_>,
    ) -> Held {
        if self.id == 0 {
            return Held::record_at(prim, permits, RawOwner::polling(cx), self.site);
        }
        let (addr, id) = (self.prim, self.id);
        self.id = 0;
        let mut shard = shard(addr);
        let mut stale = Vec::new();
        if let Some(entry) = shard.as_mut().and_then(|map| map.get_mut(&addr)) {
            if let Some(record) = entry.records.iter_mut().find(|r| r.id == id) {
                record.waiting = false;
                record.front = false;
                record.since = Instant::now();
                stale = entry.stale_holders(permits, id);
            }
        }
        drop(shard);
        drop(stale);
        Held { prim: addr, id }
    }

    /// The acquire ended without permits (cancelled, or closed).
    #[inline]
    pub(crate) fn end(&mut self) {
        end(self.prim, &mut self.id);
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.end();
    }
}

impl Info {
    /// A lock with one holder at a time.
    pub(crate) fn exclusive(kind: &'static str) -> Info {
        Info {
            kind,
            capacity: 1,
            access: |_| Access::Exclusive,
        }
    }

    /// A semaphore of `capacity` permits in all.
    pub(crate) fn permits(kind: &'static str, capacity: usize) -> Info {
        Info {
            kind,
            capacity,
            access: Access::Permits,
        }
    }
}
