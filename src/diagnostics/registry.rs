//! The process-wide registry of holders and waiters, and the hooks through
//! which the primitives fill it.
//!
//! Records are keyed by the address of a primitive's queue, which cannot
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
use std::string::String;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};
use std::time::Instant;
use std::vec::Vec;

use super::snapshot::{Access, Holder, Owner, OwnerKind, Primitive, PrimitiveId, Snapshot, Waiter};
use crate::queue::{HasQueue, RawSemaphore};

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

/// Record ids start at 1: 0 means "nothing recorded".
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct Entry {
    info: Info,
    records: Vec<Record>,
}

struct Record {
    id: u64,
    waiting: bool,
    /// Joined the line ahead of every waiter (an upgrade).
    front: bool,
    permits: usize,
    /// Shared, so that copying a record (a split permit) never runs a
    /// waker's `clone` under a shard lock.
    owner: Arc<RawOwner>,
    site: &'static Location<'static>,
    since: Instant,
    /// Polls of a waiter after it queued.
    polls: u64,
}

enum RawOwner {
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

    fn is(&self, other: &RawOwner) -> bool {
        match (self, other) {
            (RawOwner::Task(a), RawOwner::Task(b)) => a.will_wake(b),
            (RawOwner::Thread(a), RawOwner::Thread(b)) => a.id() == b.id(),
            (RawOwner::Unattributed(a), RawOwner::Unattributed(b)) => a.id() == b.id(),
            _ => false,
        }
    }
}

fn shard(prim: usize) -> MutexGuard<'static, Option<HashMap<usize, Entry>>> {
    // Queues are at least word-aligned; mix in higher bits too.
    let index = ((prim >> 4) ^ (prim >> 10)) % SHARDS;
    // No user code runs under a shard lock, so a poisoned one is intact.
    REGISTRY[index]
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn address(raw: &RawSemaphore) -> usize {
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
    let prim = address(raw);
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
        if self.id != 0 {
            let record = remove(self.prim, self.id);
            self.id = 0;
            drop(record);
        }
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
        if self.id != 0 {
            update(self.prim, self.id, |record| record.polls += 1);
            return;
        }
        let owner = RawOwner::polling(cx);
        let id = next_id();
        let addr = address(prim.queue());
        insert(
            addr,
            prim.info(),
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
        if self.id != 0 {
            let record = remove(self.prim, self.id);
            self.id = 0;
            drop(record);
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.end();
    }
}

/// Copies every shard, all locked at once so the copy is one moment.
pub(crate) fn snapshot() -> Snapshot {
    let taken_at = Instant::now();
    let mut shards: Vec<_> = REGISTRY
        .iter()
        .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner))
        .collect();
    for map in shards.iter_mut().filter_map(|shard| shard.as_mut()) {
        map.retain(|_, entry| !entry.records.is_empty());
    }
    let mut owners = Owners::default();
    let mut primitives = Vec::new();
    for shard in &shards {
        for (&prim, entry) in shard.iter().flatten() {
            primitives.push(describe(prim, entry, taken_at, &mut owners));
        }
    }
    drop(owners);
    drop(shards);
    primitives.sort_by_key(oldest);
    Snapshot {
        taken_at,
        primitives,
    }
}

/// The longest age in a primitive, negated for an oldest-first sort.
fn oldest(p: &Primitive) -> core::cmp::Reverse<core::time::Duration> {
    let held = p.holders.iter().map(|h| h.held);
    let waited = p.waiters.iter().map(|w| w.waited);
    core::cmp::Reverse(held.chain(waited).max().unwrap_or_default())
}

/// What the registry holds on one primitive, or `None`; for `Debug`.
pub(crate) fn primitive(raw: &RawSemaphore) -> Option<Primitive> {
    let prim = address(raw);
    let now = Instant::now();
    let shard = shard(prim);
    let entry = shard.as_ref()?.get(&prim)?;
    if entry.records.is_empty() {
        return None;
    }
    Some(describe(prim, entry, now, &mut Owners::default()))
}

fn describe<'a>(prim: usize, entry: &'a Entry, now: Instant, owners: &mut Owners<'a>) -> Primitive {
    let mut holders = Vec::new();
    let mut waiting: Vec<&'a Record> = Vec::new();
    for record in &entry.records {
        if record.waiting {
            waiting.push(record);
            continue;
        }
        holders.push(Holder {
            owner: owners.name(&record.owner),
            access: (entry.info.access)(record.permits),
            permits: record.permits,
            site: record.site,
            held: now.saturating_duration_since(record.since),
        });
    }
    // Line order: requests at the front first, then by arrival.
    waiting.sort_by_key(|r| (!r.front, r.id));
    let waiters = waiting
        .into_iter()
        .map(|record| Waiter {
            id: record.id,
            owner: owners.name(&record.owner),
            access: (entry.info.access)(record.permits),
            permits: record.permits,
            site: record.site,
            waited: now.saturating_duration_since(record.since),
            polls: record.polls,
        })
        .collect();
    Primitive {
        id: PrimitiveId(prim),
        kind: short_name(entry.info.kind),
        capacity: entry.info.capacity,
        holders,
        waiters,
    }
}

/// Names the owners of one snapshot: one number per distinct task.
#[derive(Default)]
struct Owners<'a> {
    seen: Vec<(&'a RawOwner, Owner)>,
    tasks: usize,
}

impl<'a> Owners<'a> {
    fn name(&mut self, owner: &'a RawOwner) -> Owner {
        if let Some((_, known)) = self.seen.iter().find(|(raw, _)| raw.is(owner)) {
            return known.clone();
        }
        let kind = match owner {
            RawOwner::Task(_) => {
                self.tasks += 1;
                OwnerKind::Task { number: self.tasks }
            }
            RawOwner::Thread(t) => OwnerKind::Thread {
                id: t.id(),
                name: t.name().map(String::from),
            },
            RawOwner::Unattributed(t) => OwnerKind::Unattributed {
                id: t.id(),
                name: t.name().map(String::from),
            },
        };
        let named = Owner {
            index: self.seen.len(),
            kind,
        };
        self.seen.push((owner, named.clone()));
        named
    }
}

/// `fairsync::mutex::Mutex<alloc::string::String>` → `Mutex<String>`,
/// computed once per type.
fn short_name(full: &'static str) -> &'static str {
    static NAMES: Mutex<Option<HashMap<&'static str, &'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    names
        .get_or_insert_with(HashMap::new)
        .entry(full)
        .or_insert_with(|| {
            let mut short = String::with_capacity(full.len());
            let mut word = String::new();
            for c in full.chars() {
                if c.is_alphanumeric() || c == '_' {
                    word.push(c);
                } else if c == ':' {
                    // A path segment: drop it.
                    word.clear();
                } else {
                    short.push_str(&word);
                    word.clear();
                    short.push(c);
                }
            }
            short.push_str(&word);
            std::boxed::Box::leak(short.into_boxed_str())
        })
}

/// Adds what the registry knows of `raw` to a primitive's `Debug`: its
/// holders, and its oldest waiters. Copies under a registry lock; never
/// touches the primitive's own queue lock.
pub(crate) fn debug_fields(f: &mut core::fmt::DebugStruct<'_, '_>, raw: &RawSemaphore) {
    /// How many waiters `Debug` lists; `waiters` counts them all.
    const SHOWN: usize = 4;
    let (holders, waiters) = match primitive(raw) {
        Some(p) => (p.holders, p.waiters),
        None => (Vec::new(), Vec::new()),
    };
    let oldest: Vec<&Waiter> = waiters.iter().take(SHOWN).collect();
    f.field("holders", &Shown(&holders))
        .field("oldest_waiters", &Shown(&oldest));
}

/// Debug-prints a list of items through their `Display`.
struct Shown<'a, T>(&'a [T]);

impl<T: core::fmt::Display> core::fmt::Debug for Shown<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(DisplayAsDebug))
            .finish()
    }
}

struct DisplayAsDebug<T>(T);

impl<T: core::fmt::Display> core::fmt::Debug for DisplayAsDebug<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
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

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn type_names_lose_their_module_paths_but_keep_their_shape() {
        assert_eq!(short_name("fairsync::lock::Lock"), "Lock");
        assert_eq!(
            short_name("fairsync::mutex::Mutex<alloc::string::String>"),
            "Mutex<String>"
        );
        assert_eq!(
            short_name(
                "fairsync::rwlock::RwLock<(u8, alloc::vec::Vec<core::option::Option<i32>>)>"
            ),
            "RwLock<(u8, Vec<Option<i32>>)>"
        );
        assert_eq!(short_name("fairsync::mutex::Mutex<[u8]>"), "Mutex<[u8]>");
    }
}
