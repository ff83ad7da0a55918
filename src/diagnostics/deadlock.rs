//! The deadlock search: which owners of a snapshot can never go on, and the
//! cycles in which they wait for each other.

use core::fmt;
use core::ops::Bound::{Excluded, Unbounded};
use std::collections::{BTreeMap, BTreeSet};
use std::vec::Vec;

use super::snapshot::{Access, Holder, Owner, Primitive, PrimitiveId, Snapshot, Waiter};

/// At most this many cycles are reported: two owners in many lines can form
/// very many cycles, and the first few tell the story.
const MAX_CYCLES: usize = 64;

/// For each stuck owner, the first link to each owner it waits for.
type Graph = BTreeMap<usize, BTreeMap<usize, Link>>;

impl Snapshot {
    /// The tasks and threads that wait for each other for ever, one
    /// [`Deadlock`] per cycle of waits; empty when there is none.
    ///
    /// Every owner that waits for nothing is assumed to finish and release
    /// what it holds. An owner can then go on if any one of its waits (a
    /// task may await several at once) can be served: the waiters ahead of
    /// it can go on and enough permits are left once they, and every owner
    /// that can go on, have released theirs. The owners left can never go
    /// on, and each cycle of waits among them is reported once. An owner
    /// stuck only because it waits for a deadlocked one is in no cycle and
    /// not reported.
    ///
    /// A task or thread that awaits more than the others could ever leave
    /// it, such as a lock it holds itself, is deadlocked on its own.
    /// A `try_*` call is never part of a deadlock, and a wait for more
    /// permits than a semaphore has in all waits for somebody to add
    /// permits, which no holder prevents. At most 64 cycles are reported.
    pub fn deadlocks(&self) -> Vec<Deadlock> {
        let stuck = self.stuck_owners();
        let graph = self.wait_for_graph(&stuck);
        cycles(&graph)
            .into_iter()
            .map(|cycle| Deadlock {
                links: (0..cycle.len())
                    .map(|i| graph[&cycle[i]][&cycle[(i + 1) % cycle.len()]].clone())
                    .collect(),
            })
            .collect()
    }

    /// The owners that can never go on: reduces the set of waiting owners
    /// until no wait of those left can be served.
    fn stuck_owners(&self) -> BTreeSet<usize> {
        let mut stuck: BTreeSet<usize> = self
            .primitives
            .iter()
            .flat_map(|p| &p.waiters)
            .filter(|w| !w.owner.is_unattributed())
            .map(|w| w.owner.index)
            .collect();
        loop {
            let mut progressed = false;
            for primitive in &self.primitives {
                for position in 0..primitive.waiters.len() {
                    let owner = primitive.waiters[position].owner.index;
                    if stuck.contains(&owner) && can_be_served(primitive, position, &stuck) {
                        stuck.remove(&owner);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                return stuck;
            }
        }
    }

    /// Links each stuck owner to the stuck owners that keep each of its
    /// waits from being served.
    fn wait_for_graph(&self, stuck: &BTreeSet<usize>) -> Graph {
        let mut graph = Graph::new();
        for primitive in &self.primitives {
            for (position, wait) in primitive.waiters.iter().enumerate() {
                let owner = wait.owner.index;
                if !stuck.contains(&owner) {
                    continue;
                }
                let links = graph.entry(owner).or_default();
                for blocker in blockers(primitive, position, stuck) {
                    links.entry(blocker.owner().index).or_insert_with(|| Link {
                        owner: wait.owner.clone(),
                        primitive: primitive.id,
                        kind: primitive.kind,
                        wait: wait.clone(),
                        blocker,
                    });
                }
            }
        }
        graph
    }
}

/// The holders and waiters that keep the stuck wait at `position` in
/// `primitive`'s line from being served.
fn blockers(primitive: &Primitive, position: usize, stuck: &BTreeSet<usize>) -> Vec<Blocker> {
    let wait = &primitive.waiters[position];
    let owner = wait.owner.index;
    let (own, others): (Vec<&Holder>, Vec<&Holder>) = primitive
        .holders
        .iter()
        .filter(|h| stuck.contains(&h.owner.index))
        .partition(|h| h.owner.index == owner);
    let held_by_owner = own
        .iter()
        .fold(0usize, |sum, h| sum.saturating_add(h.permits));
    if wait.permits > primitive.capacity.saturating_sub(held_by_owner) {
        // Nobody else can help: a self-deadlock, whatever the others do.
        return own.into_iter().cloned().map(Blocker::Holder).collect();
    }
    // Other holders block only a wait that their permits leave short: a
    // reader behind a stuck writer waits for the writer, not for the
    // other readers.
    let short = wait.permits
        > primitive
            .capacity
            .saturating_sub(held_for_ever(primitive, stuck));
    let holders = if short { others } else { Vec::new() };
    let holders = holders.into_iter().cloned().map(Blocker::Holder);
    let ahead = primitive.waiters[..position]
        .iter()
        .filter(|a| a.owner.index != owner && stuck.contains(&a.owner.index))
        .cloned()
        .map(Blocker::QueuedAhead);
    holders.chain(ahead).collect()
}

/// Whether the wait at `position` in `primitive`'s line can be served once
/// every owner not in `stuck` has gone on and released what it holds.
fn can_be_served(primitive: &Primitive, position: usize, stuck: &BTreeSet<usize>) -> bool {
    let need = primitive.waiters[position].permits;
    if need > primitive.capacity {
        return true;
    }
    let line_moves = primitive.waiters[..position]
        .iter()
        .all(|ahead| !stuck.contains(&ahead.owner.index));
    line_moves
        && need
            <= primitive
                .capacity
                .saturating_sub(held_for_ever(primitive, stuck))
}

/// The permits of `primitive` that will never be released: those of the
/// stuck owners, the waiter's own included (awaiting what one holds never
/// ends).
fn held_for_ever(primitive: &Primitive, stuck: &BTreeSet<usize>) -> usize {
    primitive
        .holders
        .iter()
        .filter(|h| stuck.contains(&h.owner.index))
        .fold(0usize, |sum, h| sum.saturating_add(h.permits))
}

/// Every elementary cycle of `graph` (up to [`MAX_CYCLES`]), each listed
/// once from its smallest owner, in order of that owner and then of the
/// owners along it.
fn cycles(graph: &Graph) -> Vec<Vec<usize>> {
    let mut found = Vec::new();
    for &start in graph.keys() {
        if found.len() >= MAX_CYCLES {
            break;
        }
        let useful = reaching(graph, start);
        let mut path = std::vec![start];
        extend(graph, &useful, &mut path, &mut found);
    }
    found
}

/// The owners after `start` from which `start` can be reached through
/// owners after `start`: the only ones a cycle from `start` can pass.
fn reaching(graph: &Graph, start: usize) -> BTreeSet<usize> {
    let mut reached = BTreeSet::new();
    let mut frontier = std::vec![start];
    while let Some(target) = frontier.pop() {
        for (&from, links) in graph.range((Excluded(start), Unbounded)) {
            if links.contains_key(&target) && reached.insert(from) {
                frontier.push(from);
            }
        }
    }
    reached
}

/// Follows every link from the end of `path`, recording each cycle back to
/// its start.
fn extend(
    graph: &Graph,
    useful: &BTreeSet<usize>,
    path: &mut Vec<usize>,
    found: &mut Vec<Vec<usize>>,
) {
    let start = path[0];
    let last = path[path.len() - 1];
    for &next in graph.get(&last).into_iter().flat_map(BTreeMap::keys) {
        if found.len() >= MAX_CYCLES {
            return;
        }
        if next == start {
            found.push(path.clone());
        } else if useful.contains(&next) && !path.contains(&next) {
            path.push(next);
            extend(graph, useful, path, found);
            path.pop();
        }
    }
}

/// Tasks and threads that wait for each other in a cycle, so none of them
/// can ever go on. Found by [`Snapshot::deadlocks`].
///
/// Its `Display` is a report of several lines, one pair for each link:
///
/// ```text
/// deadlock: 2 tasks wait for each other
///   task #1 waits for Mutex<u32> 0x55d1c0 (exclusive, called at src/main.rs:25:22, waiting 2.01s)
///     held by task #2 (exclusive, acquired at src/main.rs:31:22, 2.03s ago)
///   task #2 waits for Mutex<u32> 0x55d200 (exclusive, called at src/main.rs:32:22, waiting 2.01s)
///     held by task #1 (exclusive, acquired at src/main.rs:24:22, 2.04s ago)
/// ```
#[derive(Clone, Debug)]
pub struct Deadlock {
    links: Vec<Link>,
}

impl Deadlock {
    /// The waits of the cycle: each link's blocker is the owner of the next
    /// link, and the last link's blocker is the owner of the first.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Whether a single task or thread waits for something it holds itself.
    pub fn is_self_deadlock(&self) -> bool {
        matches!(&*self.links, [link] if link.blocker.owner() == &link.owner)
    }

    /// The tasks and threads of the cycle, in its order.
    pub fn owners(&self) -> impl Iterator<Item = &Owner> + '_ {
        self.links.iter().map(|link| &link.owner)
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_self_deadlock() {
            let link = &self.links[0];
            let what = match link.wait.access {
                Access::Permits(_) => "permits it holds",
                _ => "a lock it holds",
            };
            write!(f, "deadlock: {} waits for {what} itself", link.owner)?;
        } else {
            let tasks = self.owners().filter(|o| o.is_task()).count();
            let threads = self.links.len() - tasks;
            f.write_str("deadlock: ")?;
            match (tasks, threads) {
                (tasks, 0) => write!(f, "{tasks} tasks")?,
                (0, threads) => write!(f, "{threads} threads")?,
                (tasks, threads) => write!(
                    f,
                    "{tasks} task{} and {threads} thread{}",
                    plural(tasks),
                    plural(threads)
                )?,
            }
            f.write_str(" wait for each other")?;
        }
        for link in &self.links {
            write!(f, "\n  {link}")?;
        }
        Ok(())
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// One wait of a [`Deadlock`]: who waits for which primitive, and the task
/// or thread that keeps the wait from being served.
#[derive(Clone, Debug)]
pub struct Link {
    owner: Owner,
    primitive: PrimitiveId,
    kind: &'static str,
    wait: Waiter,
    blocker: Blocker,
}

impl Link {
    /// The task or thread that waits.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The primitive it waits for.
    pub fn primitive(&self) -> PrimitiveId {
        self.primitive
    }

    /// That primitive's type, such as `"Mutex<u32>"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The wait itself: what it asks for, where and since when.
    pub fn wait(&self) -> &Waiter {
        &self.wait
    }

    /// Who keeps the wait from being served.
    pub fn blocker(&self) -> &Blocker {
        &self.blocker
    }
}

/// Two lines: the wait, then what blocks it.
impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wait = &self.wait;
        write!(
            f,
            "{} waits for {} {} ({}, called at {}, waiting {:.2?})\n    ",
            self.owner, self.kind, self.primitive, wait.access, wait.site, wait.waited
        )?;
        match &self.blocker {
            Blocker::Holder(holder) => write!(f, "held by {holder}"),
            Blocker::QueuedAhead(waiter) => write!(f, "queued behind {waiter}"),
        }
    }
}

/// Why a wait of a [`Link`] cannot be served.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Blocker {
    /// This holder holds what the wait needs.
    Holder(Holder),
    /// This waiter is ahead in the line, and the line is strictly first
    /// come, first served.
    QueuedAhead(Waiter),
}

impl Blocker {
    /// The task or thread that blocks the wait.
    pub fn owner(&self) -> &Owner {
        match self {
            Blocker::Holder(holder) => &holder.owner,
            Blocker::QueuedAhead(waiter) => &waiter.owner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::build::{task, thread, unattributed, Build, RWLOCK};
    use super::*;
    use std::string::ToString;

    /// Each deadlock as the owner indexes along its cycle.
    fn cycles_of(build: &Build) -> Vec<Vec<usize>> {
        build
            .snapshot()
            .deadlocks()
            .iter()
            .map(|d| d.owners().map(|o| o.index).collect())
            .collect()
    }

    #[test]
    fn two_locks_taken_in_opposite_orders() {
        let mut b = Build::new();
        let (x, y) = (b.lock(), b.lock());
        b.hold(x, task(1), 1).hold(y, task(2), 1);
        let waits = [b.wait(y, task(1), 1), b.wait(x, task(2), 1)];

        let deadlocks = b.snapshot().deadlocks();
        assert_eq!(deadlocks.len(), 1);
        let links = deadlocks[0].links();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].owner().index, 1);
        assert_eq!(links[0].primitive(), PrimitiveId(0x1040));
        assert_eq!(links[0].wait().id, waits[0]);
        assert!(matches!(links[0].blocker(), Blocker::Holder(h) if h.owner.index == 2));
        assert_eq!(links[1].owner().index, 2);
        assert_eq!(links[1].wait().id, waits[1]);
        assert!(matches!(links[1].blocker(), Blocker::Holder(h) if h.owner.index == 1));
        assert!(!deadlocks[0].is_self_deadlock());
    }

    #[test]
    fn three_locks_in_a_ring() {
        let mut b = Build::new();
        let (x, y, z) = (b.lock(), b.lock(), b.lock());
        b.hold(x, task(3), 1)
            .hold(y, task(1), 1)
            .hold(z, task(2), 1);
        b.wait(x, task(1), 1);
        b.wait(y, task(2), 1);
        b.wait(z, task(3), 1);
        // Task 1 waits for task 3, which waits for task 2, which waits for 1.
        assert_eq!(cycles_of(&b), [[1, 3, 2]]);
    }

    #[test]
    fn awaiting_a_held_lock_is_a_self_deadlock() {
        let mut b = Build::new();
        let x = b.lock();
        b.hold(x, task(1), 1);
        b.wait(x, task(1), 1);

        let deadlocks = b.snapshot().deadlocks();
        assert_eq!(deadlocks.len(), 1);
        assert!(deadlocks[0].is_self_deadlock());
        let report = deadlocks[0].to_string();
        assert!(
            report.starts_with("deadlock: task #1 waits for a lock it holds itself\n"),
            "{report}"
        );
    }

    #[test]
    fn a_chain_to_an_owner_that_waits_for_nothing_is_no_deadlock() {
        let mut b = Build::new();
        let (x, y) = (b.lock(), b.lock());
        b.hold(x, task(2), 1).hold(y, task(3), 1);
        b.wait(x, task(1), 1);
        b.wait(y, task(2), 1);
        assert!(cycles_of(&b).is_empty());
    }

    #[test]
    fn a_try_call_holder_is_assumed_to_release() {
        let mut b = Build::new();
        let x = b.lock();
        b.hold(x, unattributed(2), 1);
        b.wait(x, task(1), 1);
        assert!(cycles_of(&b).is_empty());
    }

    #[test]
    fn a_try_call_is_never_part_of_a_cycle() {
        // Should a `try_*` call ever show up in a line, it still counts as
        // able to finish.
        let mut b = Build::new();
        let (x, y) = (b.lock(), b.lock());
        b.hold(x, unattributed(2), 1).hold(y, task(1), 1);
        b.wait(x, task(1), 1);
        b.wait(y, unattributed(2), 1);
        assert!(cycles_of(&b).is_empty());
    }

    #[test]
    fn a_semaphore_used_as_a_signal_is_no_deadlock() {
        let mut b = Build::new();
        let signal = b.primitive("Semaphore", 0);
        b.wait(signal, task(1), 1);
        assert!(cycles_of(&b).is_empty());
    }

    /// Tasks 1 and 2 hold one permit each of a semaphore; 1 waits for a
    /// lock held by 2, and 2 for `more` permits of the semaphore.
    fn semaphore_and_lock(capacity: usize, more: usize) -> Build {
        let mut b = Build::new();
        let semaphore = b.primitive("Semaphore", capacity);
        let x = b.lock();
        b.hold(semaphore, task(1), 1).hold(semaphore, task(2), 1);
        b.hold(x, task(2), 1);
        b.wait(x, task(1), 1);
        b.wait(semaphore, task(2), more);
        b
    }

    #[test]
    fn too_few_semaphore_permits_left_is_a_deadlock() {
        assert_eq!(cycles_of(&semaphore_and_lock(2, 1)), [[1, 2]]);
        assert_eq!(cycles_of(&semaphore_and_lock(3, 2)), [[1, 2]]);
    }

    #[test]
    fn free_semaphore_permits_break_the_cycle() {
        assert!(cycles_of(&semaphore_and_lock(3, 1)).is_empty());
        assert!(cycles_of(&semaphore_and_lock(4, 2)).is_empty());
    }

    #[test]
    fn asking_for_more_permits_than_others_could_free_is_a_self_deadlock() {
        // Task 2 holds 1 of 2 permits and asks for 2: even if task 1 let
        // go, it could not be served, so only its own cycle is reported.
        let deadlocks = semaphore_and_lock(2, 2).snapshot().deadlocks();
        assert_eq!(deadlocks.len(), 1);
        assert!(deadlocks[0].is_self_deadlock());
        assert_eq!(deadlocks[0].links()[0].owner().index, 2);
        let report = deadlocks[0].to_string();
        assert!(
            report.starts_with("deadlock: task #2 waits for permits it holds itself\n"),
            "{report}"
        );
    }

    #[test]
    fn holding_part_of_what_others_hold_too_is_no_self_deadlock() {
        // Task 2 holds 1 of 2 permits and asks for 1 more, which task 1
        // holds: they wait for each other, neither for itself.
        let deadlocks = semaphore_and_lock(2, 1).snapshot().deadlocks();
        assert_eq!(deadlocks.len(), 1);
        assert!(!deadlocks[0].is_self_deadlock());
    }

    #[test]
    fn a_task_goes_on_when_any_of_its_joined_waits_is_served() {
        let mut b = Build::new();
        let (x, y, z) = (b.lock(), b.lock(), b.lock());
        b.hold(x, task(1), 1)
            .hold(y, task(2), 1)
            .hold(z, task(3), 1);
        // Task 2 joins two acquires: `x` is held by 1 for ever, but `z`
        // by task 3, which waits for nothing.
        b.wait(x, task(2), 1);
        b.wait(z, task(2), 1);
        b.wait(y, task(1), 1);
        assert!(cycles_of(&b).is_empty());
    }

    #[test]
    fn a_reader_queued_behind_a_stuck_writer_is_a_deadlock() {
        let mut b = Build::new();
        let rwlock = b.primitive("RwLock", RWLOCK);
        let x = b.lock();
        // Task 1 reads and waits for `x`; task 2 waits to write, blocked by
        // task 1; task 3 holds `x` and waits to read, behind task 2.
        b.hold(rwlock, task(1), 1);
        b.hold(x, task(3), 1);
        b.wait(rwlock, task(2), RWLOCK);
        let reader = b.wait(rwlock, task(3), 1);
        b.wait(x, task(1), 1);

        // Free read permits are plenty: only the line keeps task 3 waiting.
        let deadlocks = b.snapshot().deadlocks();
        let cycles: Vec<Vec<usize>> = deadlocks
            .iter()
            .map(|d| d.owners().map(|o| o.index).collect())
            .collect();
        assert_eq!(cycles, [[1, 3, 2]]);
        let queued = &deadlocks[0].links()[1];
        assert_eq!(queued.wait().id, reader);
        assert!(matches!(queued.blocker(), Blocker::QueuedAhead(w) if w.owner.index == 2));
    }

    #[test]
    fn independent_cycles_are_reported_apart() {
        let mut b = Build::new();
        let locks: Vec<usize> = (0..4).map(|_| b.lock()).collect();
        for (first, second) in [(1, 2), (3, 4)] {
            let (x, y) = (locks[first - 1], locks[second - 1]);
            b.hold(x, task(first), 1).hold(y, task(second), 1);
            b.wait(y, task(first), 1);
            b.wait(x, task(second), 1);
        }
        assert_eq!(cycles_of(&b), [[1, 2], [3, 4]]);
    }

    #[test]
    fn an_owner_waiting_on_a_cycle_is_not_part_of_it() {
        let mut b = Build::new();
        let (x, y) = (b.lock(), b.lock());
        b.hold(x, task(1), 1).hold(y, task(2), 1);
        b.wait(y, task(1), 1);
        b.wait(x, task(2), 1);
        b.wait(x, task(3), 1);
        assert_eq!(cycles_of(&b), [[1, 2]]);
    }

    #[test]
    fn cycles_start_at_the_smallest_owner() {
        let mut b = Build::new();
        let (x, y) = (b.lock(), b.lock());
        b.hold(x, task(7), 1).hold(y, task(4), 1);
        b.wait(y, task(7), 1);
        b.wait(x, task(4), 1);
        assert_eq!(cycles_of(&b), [[4, 7]]);
    }

    #[test]
    fn many_cycles_are_capped() {
        // Ten tasks, each holding its own lock and waiting for every other
        // lock at once: far more than 64 cycles.
        let mut b = Build::new();
        let locks: Vec<usize> = (0..10).map(|_| b.lock()).collect();
        for (owner, &lock) in locks.iter().enumerate() {
            b.hold(lock, task(owner), 1);
        }
        for owner in 0..10 {
            for (other, &lock) in locks.iter().enumerate() {
                if other != owner {
                    b.wait(lock, task(owner), 1);
                }
            }
        }
        assert_eq!(b.snapshot().deadlocks().len(), MAX_CYCLES);
    }

    #[test]
    fn the_report_names_both_sides_of_each_wait() {
        let mut b = Build::new();
        let (x, y) = (b.lock(), b.lock());
        b.hold(x, task(1), 1).hold(y, thread(2), 1);
        b.wait(y, task(1), 1);
        b.wait(x, thread(2), 1);

        let report = b.snapshot().deadlocks()[0].to_string();
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 5, "{report}");
        assert_eq!(
            lines[0],
            "deadlock: 1 task and 1 thread wait for each other"
        );
        assert!(
            lines[1].starts_with("  task #1 waits for Lock 0x1040 (exclusive, called at "),
            "{report}"
        );
        assert!(lines[2].starts_with("    held by thread "), "{report}");
        assert!(lines[3].starts_with("  thread "), "{report}");
        assert!(
            lines[4].starts_with("    held by task #1 (exclusive, acquired at "),
            "{report}"
        );
    }
}
