//! How the registry's records look from outside: a [`Snapshot`] of them
//! all, and the holders and waiters a primitive's `Debug` shows.

use core::fmt;
use std::collections::HashMap;
use std::string::String;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::registry::{address, lock_all, shard, Entry, RawOwner, Record};
use super::snapshot::{Holder, Owner, OwnerKind, Primitive, PrimitiveId, Snapshot, Waiter};
use crate::queue::{RawNotify, RawSemaphore};

/// Copies every shard, all locked at once so the copy is one moment.
pub(crate) fn snapshot() -> Snapshot {
    let taken_at = Instant::now();
    let mut shards = lock_all();
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
fn oldest(p: &Primitive) -> core::cmp::Reverse<Duration> {
    let held = p.holders.iter().map(|h| h.held);
    let waited = p.waiters.iter().map(|w| w.waited);
    core::cmp::Reverse(held.chain(waited).max().unwrap_or_default())
}

/// What the registry holds on one primitive, or `None`; for `Debug`.
pub(crate) fn primitive(raw: &RawSemaphore) -> Option<Primitive> {
    recorded(address(raw))
}

fn recorded(prim: usize) -> Option<Primitive> {
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
pub(crate) fn debug_fields(f: &mut fmt::DebugStruct<'_, '_>, raw: &RawSemaphore) {
    let (holders, waiters) = match primitive(raw) {
        Some(p) => (p.holders, p.waiters),
        None => (Vec::new(), Vec::new()),
    };
    f.field("holders", &Shown(&holders))
        .field("oldest_waiters", &Shown(first_in_line(&waiters)));
}

/// Adds the oldest waiters of a notification line (nobody holds one) to
/// an `Event`'s, `Condvar`'s or `Barrier`'s `Debug`.
pub(crate) fn debug_line_fields(f: &mut fmt::DebugStruct<'_, '_>, line: &RawNotify) {
    let waiters = recorded(line as *const RawNotify as usize).map_or_else(Vec::new, |p| p.waiters);
    f.field("oldest_waiters", &Shown(first_in_line(&waiters)));
}

/// The waiters `Debug` lists; its `waiters` field counts them all.
fn first_in_line(waiters: &[Waiter]) -> &[Waiter] {
    const SHOWN: usize = 4;
    &waiters[..waiters.len().min(SHOWN)]
}

/// Debug-prints a list of items through their `Display`.
struct Shown<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Debug for Shown<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(DisplayAsDebug))
            .finish()
    }
}

struct DisplayAsDebug<T>(T);

impl<T: fmt::Display> fmt::Debug for DisplayAsDebug<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
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
