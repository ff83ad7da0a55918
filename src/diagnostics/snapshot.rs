//! What a snapshot of the registry holds: the primitives that are held or
//! waited for, with their holders and waiters.

use core::fmt;
use core::panic::Location;
use std::string::String;
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use std::vec::Vec;

/// Every primitive that is held or waited for at one moment, with who holds
/// it and who waits for it. Taken by [`snapshot`](super::snapshot).
///
/// The snapshot is a consistent copy of the registry: it never blocks a
/// primitive, and nothing in it changes after it is taken.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) taken_at: Instant,
    pub(crate) primitives: Vec<Primitive>,
}

impl Snapshot {
    /// When the snapshot was taken; every age in it is measured from here.
    pub fn taken_at(&self) -> Instant {
        self.taken_at
    }

    /// Every primitive that was held or waited for, oldest first.
    pub fn primitives(&self) -> &[Primitive] {
        &self.primitives
    }

    /// The primitives somebody was waiting for.
    pub fn contended(&self) -> impl Iterator<Item = &Primitive> + '_ {
        self.primitives.iter().filter(|p| p.is_contended())
    }

    /// Every wait that had lasted longer than `threshold`, with the primitive
    /// it waits for, longest first.
    pub fn waits_longer_than(&self, threshold: Duration) -> Vec<(&Primitive, &Waiter)> {
        let mut waits: Vec<_> = self
            .primitives
            .iter()
            .flat_map(|p| p.waiters.iter().map(move |w| (p, w)))
            .filter(|(_, w)| w.waited > threshold)
            .collect();
        waits.sort_by_key(|w| core::cmp::Reverse(w.1.waited));
        waits
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.primitives.is_empty() {
            return writeln!(f, "no primitive is held or waited for");
        }
        for primitive in &self.primitives {
            fmt::Display::fmt(primitive, f)?;
        }
        Ok(())
    }
}

/// Identifies a primitive within a process while it is held or waited for:
/// its address.
///
/// A primitive cannot move while it is borrowed, so the address stays the
/// same for as long as the primitive appears in snapshots; once nobody holds
/// or waits for it, the same address may belong to another primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrimitiveId(pub(crate) usize);

impl fmt::Display for PrimitiveId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A primitive that is held or waited for, as a [`Snapshot`] saw it.
#[derive(Clone, Debug)]
pub struct Primitive {
    pub(crate) id: PrimitiveId,
    pub(crate) kind: &'static str,
    /// Raw permits in all (`usize::MAX`-ish for an `RwLock`, 1 for a lock);
    /// what the deadlock search compares requests with.
    pub(crate) capacity: usize,
    pub(crate) holders: Vec<Holder>,
    pub(crate) waiters: Vec<Waiter>,
}

impl Primitive {
    /// Which primitive this is.
    pub fn id(&self) -> PrimitiveId {
        self.id
    }

    /// Its type, such as `"Mutex<u32>"` or `"Semaphore"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Who holds it, in the order they acquired it.
    pub fn holders(&self) -> &[Holder] {
        &self.holders
    }

    /// Who waits for it, in the order they will be served.
    pub fn waiters(&self) -> &[Waiter] {
        &self.waiters
    }

    /// Whether anybody waits for it.
    pub fn is_contended(&self) -> bool {
        !self.waiters.is_empty()
    }
}

impl fmt::Display for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.kind, self.id)?;
        for holder in &self.holders {
            writeln!(f, "  held by {holder}")?;
        }
        for waiter in &self.waiters {
            writeln!(f, "  waited for by {waiter}")?;
        }
        Ok(())
    }
}

/// What a holder holds or a waiter asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// The whole of a `Lock` or `Mutex`.
    Exclusive,
    /// A read lock of an `RwLock`.
    Read,
    /// The write lock of an `RwLock`.
    Write,
    /// The upgradable read lock of an `RwLock`.
    UpgradableRead,
    /// An upgradable read lock being upgraded to the write lock.
    Upgrade,
    /// This many permits of a semaphore.
    Permits(usize),
    /// A notification: an `Event` set, a `Condvar` notified, a `Barrier`
    /// full. Nobody holds one, so such a wait is never part of a deadlock.
    Notification,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Exclusive => f.write_str("exclusive"),
            Access::Read => f.write_str("read"),
            Access::Write => f.write_str("write"),
            Access::UpgradableRead => f.write_str("upgradable read"),
            Access::Upgrade => f.write_str("upgrade"),
            Access::Permits(1) => f.write_str("1 permit"),
            Access::Permits(n) => write!(f, "{n} permits"),
            Access::Notification => f.write_str("notification"),
        }
    }
}

/// Who holds or waits for a primitive: a task, recognised by its waker, or
/// a thread in a `*_blocking` call.
///
/// Two `Owner`s of one snapshot are equal when they are the same task or
/// thread. Tasks are numbered in the order the snapshot met them; the
/// numbers mean nothing across snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub(crate) index: usize,
    pub(crate) kind: OwnerKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OwnerKind {
    /// An async task; `number` counts distinct tasks within a snapshot.
    Task { number: usize },
    /// A thread blocked in (or holding from) a `*_blocking` call.
    Thread { id: ThreadId, name: Option<String> },
    /// A `try_*` call: the caller could be a task or a thread, so it never
    /// joins a wait-for cycle. `id` and `name` are of the thread it ran on.
    Unattributed { id: ThreadId, name: Option<String> },
}

impl Owner {
    /// Whether this is an async task (not a blocked thread).
    pub fn is_task(&self) -> bool {
        matches!(self.kind, OwnerKind::Task { .. })
    }

    /// The thread of a `*_blocking` call, or the thread a `try_*` call ran
    /// on; `None` for a task.
    pub fn thread_id(&self) -> Option<ThreadId> {
        match &self.kind {
            OwnerKind::Task { .. } => None,
            OwnerKind::Thread { id, .. } | OwnerKind::Unattributed { id, .. } => Some(*id),
        }
    }

    /// Whether the holder took the primitive with a `try_*` call, so it is
    /// not known which task or thread holds it.
    pub fn is_unattributed(&self) -> bool {
        matches!(self.kind, OwnerKind::Unattributed { .. })
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn thread(f: &mut fmt::Formatter<'_>, id: &ThreadId, name: &Option<String>) -> fmt::Result {
            match name {
                Some(name) => write!(f, "thread '{name}'"),
                None => write!(f, "thread {id:?}"),
            }
        }
        match &self.kind {
            OwnerKind::Task { number } => write!(f, "task #{number}"),
            OwnerKind::Thread { id, name } => thread(f, id, name),
            OwnerKind::Unattributed { id, name } => {
                f.write_str("a try_* call on ")?;
                thread(f, id, name)
            }
        }
    }
}

/// One holder of a primitive.
#[derive(Clone, Debug)]
pub struct Holder {
    pub(crate) owner: Owner,
    pub(crate) access: Access,
    /// Raw permits held, for the deadlock search.
    pub(crate) permits: usize,
    pub(crate) site: &'static Location<'static>,
    pub(crate) held: Duration,
}

impl Holder {
    /// The task or thread that acquired it.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// What it holds.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Where it was acquired.
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// How long it had been held when the snapshot was taken.
    pub fn held_for(&self) -> Duration {
        self.held
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, acquired at {}, {:.2?} ago)",
            self.owner, self.access, self.site, self.held
        )
    }
}

/// One waiter of a primitive.
#[derive(Clone, Debug)]
pub struct Waiter {
    /// Unique among all waits of the process, so a watchdog reports each
    /// wait once.
    pub(crate) id: u64,
    pub(crate) owner: Owner,
    pub(crate) access: Access,
    /// Raw permits asked for, for the deadlock search.
    pub(crate) permits: usize,
    pub(crate) site: &'static Location<'static>,
    pub(crate) waited: Duration,
    /// How often the wait was polled again after it queued: a task that
    /// polls it is still running (another branch of its `select!` or
    /// `join!` made progress), so a watchdog does not call it stuck.
    pub(crate) polls: u64,
}

impl Waiter {
    /// The task or thread that waits.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// What it asks for.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Where the acquire was called.
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// How long it had waited when the snapshot was taken.
    pub fn waited_for(&self) -> Duration {
        self.waited
    }
}

impl fmt::Display for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, called at {}, waiting {:.2?})",
            self.owner, self.access, self.site, self.waited
        )
    }
}

/// Builds synthetic snapshots for the unit tests of the deadlock search and
/// the watchdog.
#[cfg(test)]
pub(crate) mod build {
    use super::{Access, Holder, Owner, OwnerKind, Primitive, PrimitiveId, Snapshot, Waiter};
    use core::panic::Location;
    use std::thread;
    use std::time::{Duration, Instant};
    use std::vec::Vec;

    /// Raw permits of an `RwLock` in the tests: a write lock takes all.
    pub(crate) const RWLOCK: usize = usize::MAX >> 3;

    /// Task `n`; tasks with equal `n` are one owner.
    pub(crate) fn task(n: usize) -> Owner {
        Owner {
            index: n,
            kind: OwnerKind::Task { number: n },
        }
    }

    /// A blocked thread that is owner `n`.
    pub(crate) fn thread(n: usize) -> Owner {
        Owner {
            index: n,
            kind: OwnerKind::Thread {
                id: thread::current().id(),
                name: None,
            },
        }
    }

    /// A `try_*` call that is owner `n`.
    pub(crate) fn unattributed(n: usize) -> Owner {
        Owner {
            index: n,
            kind: OwnerKind::Unattributed {
                id: thread::current().id(),
                name: None,
            },
        }
    }

    /// A snapshot under construction; waiter ids are numbered from 1 in the
    /// order of `wait` calls, so equal call sequences give equal ids.
    pub(crate) struct Build {
        primitives: Vec<Primitive>,
        next_waiter: u64,
    }

    impl Build {
        pub(crate) fn new() -> Self {
            Build {
                primitives: Vec::new(),
                next_waiter: 1,
            }
        }

        /// Adds a primitive and returns its position for `hold` and `wait`.
        pub(crate) fn primitive(&mut self, kind: &'static str, capacity: usize) -> usize {
            let position = self.primitives.len();
            self.primitives.push(Primitive {
                id: PrimitiveId(0x1000 + 0x40 * position),
                kind,
                capacity,
                holders: Vec::new(),
                waiters: Vec::new(),
            });
            position
        }

        /// A lock (capacity 1).
        pub(crate) fn lock(&mut self) -> usize {
            self.primitive("Lock", 1)
        }

        #[track_caller]
        pub(crate) fn hold(&mut self, primitive: usize, owner: Owner, permits: usize) -> &mut Self {
            let access = self.access(primitive, permits);
            self.primitives[primitive].holders.push(Holder {
                owner,
                access,
                permits,
                site: Location::caller(),
                held: Duration::from_secs(2),
            });
            self
        }

        /// Queues a wait at the end of the line and returns its waiter id.
        #[track_caller]
        pub(crate) fn wait(&mut self, primitive: usize, owner: Owner, permits: usize) -> u64 {
            self.wait_for(primitive, owner, permits, Duration::from_secs(1))
        }

        #[track_caller]
        pub(crate) fn wait_for(
            &mut self,
            primitive: usize,
            owner: Owner,
            permits: usize,
            waited: Duration,
        ) -> u64 {
            let id = self.next_waiter;
            self.next_waiter += 1;
            let access = self.access(primitive, permits);
            self.primitives[primitive].waiters.push(Waiter {
                id,
                owner,
                access,
                permits,
                site: Location::caller(),
                waited,
                polls: 0,
            });
            id
        }

        pub(crate) fn snapshot(&self) -> Snapshot {
            Snapshot {
                taken_at: Instant::now(),
                primitives: self.primitives.clone(),
            }
        }

        fn access(&self, primitive: usize, permits: usize) -> Access {
            let primitive = &self.primitives[primitive];
            match primitive.kind {
                "Semaphore" => Access::Permits(permits),
                "RwLock" if permits == primitive.capacity => Access::Write,
                "RwLock" => Access::Read,
                _ => Access::Exclusive,
            }
        }
    }
}
