//! `fairsync::diagnostics` end to end, on real runtimes: what snapshots
//! show of held and awaited primitives, which deadlocks are found (and that
//! ordinary waits never look like one), and what a watchdog reports.
//!
//! The registry is process-wide and these tests run side by side, so every
//! assertion looks only at the test's own primitives, found by their ids.
//! Tasks that deadlock on purpose are aborted before a test ends, even when
//! it fails, so they release what they hold.
#![cfg(feature = "diagnostics")]
#![cfg(not(miri))]

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{on_runtimes, spin_until, JoinHandle, Kind, Rng, Rt};
use fairsync::diagnostics::{
    self, Access, Blocker, Deadlock, Holder, Primitive, PrimitiveId, Snapshot, Watchdog,
};
use fairsync::{
    Barrier, Condvar, Event, MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard, RwLock,
    RwLockUpgradableReadGuard, RwLockWriteGuard, Semaphore,
};
use futures::future::{AbortHandle, Abortable, Aborted};

/// The runtimes the deadlock tests run on: every one the harness has.
const RUNTIMES: &[Kind] = Kind::ALL;

/// Whether `site` is `line` of this file.
fn is_at(site: &Location<'_>, line: u32) -> bool {
    site.file() == file!() && site.line() == line
}

/// The id of the primitive that `try_acquire` (called at `line` of this
/// file) takes: found through the `try_*` holder it records on this thread,
/// which no other test can have. The primitive must be free.
fn id_of<G>(line: u32, try_acquire: impl FnOnce() -> Option<G>) -> PrimitiveId {
    let guard = try_acquire().expect("the primitive is free");
    let me = thread::current().id();
    let snapshot = diagnostics::snapshot();
    let mine = |h: &Holder| {
        h.owner().is_unattributed() && h.owner().thread_id() == Some(me) && is_at(h.site(), line)
    };
    let id = snapshot
        .primitives()
        .iter()
        .find(|p| p.holders().iter().any(mine))
        .map(Primitive::id)
        .unwrap_or_else(|| panic!("no try_* holder at line {line} in:\n{snapshot}"));
    drop(guard);
    id
}

/// The entry of primitive `id`, if anybody holds or waits for it.
fn find(snapshot: &Snapshot, id: PrimitiveId) -> Option<&Primitive> {
    snapshot.primitives().iter().find(|p| p.id() == id)
}

/// The primitives a deadlock's waits are for.
fn primitives_of(deadlock: &Deadlock) -> BTreeSet<PrimitiveId> {
    deadlock.links().iter().map(|l| l.primitive()).collect()
}

/// Whether a deadlock has a wait for one of `ids`.
fn involves(deadlock: &Deadlock, ids: &[PrimitiveId]) -> bool {
    deadlock
        .links()
        .iter()
        .any(|l| ids.contains(&l.primitive()))
}

/// The holder behind a link's blocker; a deadlock of locks is always held.
fn holder(blocker: &Blocker) -> &Holder {
    match blocker {
        Blocker::Holder(holder) => holder,
        other => panic!("expected a holder, got {other:?}"),
    }
}

/// Yields until `diagnostics::deadlocks()` has one whose waits are for
/// exactly the primitives `ids`, and returns it.
async fn deadlock_among(rt: &Rt, ids: &[PrimitiveId]) -> Deadlock {
    let wanted: BTreeSet<PrimitiveId> = ids.iter().copied().collect();
    let mut found = None;
    rt.wait_until("a deadlock among the test's primitives shows", || {
        found = diagnostics::deadlocks()
            .into_iter()
            .find(|d| primitives_of(d) == wanted);
        found.is_some()
    })
    .await;
    found.expect("found above")
}

/// How many waiters the registry shows for `id`. A queue counts a waiter
/// a moment before its record is made, so tests wait for this, not for
/// the primitive's own `waiters()`.
fn recorded_waiters(id: PrimitiveId) -> usize {
    find(&diagnostics::snapshot(), id).map_or(0, |p| p.waiters().len())
}

/// Spawns the tasks of one test and aborts them all when dropped, so tasks
/// deadlocked on purpose release what they hold even if the test fails.
#[derive(Default)]
struct Tasks(Vec<AbortHandle>);

impl Tasks {
    fn spawn<F>(&mut self, rt: &Rt, fut: F) -> JoinHandle<Result<F::Output, Aborted>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (handle, registration) = AbortHandle::new_pair();
        self.0.push(handle);
        rt.spawn(Abortable::new(fut, registration))
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

/// A line number handed from a task to the test body.
#[derive(Default)]
struct Line(AtomicU32);

impl Line {
    fn set(&self, line: u32) {
        self.0.store(line, SeqCst);
    }

    fn get(&self) -> u32 {
        let line = self.0.load(SeqCst);
        assert_ne!(line, 0, "the line was not set yet");
        line
    }
}

/// Sites of one test, set by its tasks as they reach them.
#[derive(Default)]
struct Sites {
    first: Line,
    second: Line,
    third: Line,
    fourth: Line,
}

// ---------------------------------------------------------------------
// 1. What snapshots show: sites, owners, ages, access, and release.
// ---------------------------------------------------------------------

#[test]
fn a_held_mutex_and_its_waiter_show_their_sites_and_ages_until_released() {
    on_runtimes(
        &[Kind::TokioCurrentThread, Kind::AsyncStd],
        |rt| async move {
            let mut tasks = Tasks::default();
            let m = Arc::new(Mutex::new(0u32));
            let id = id_of(line!(), || m.try_lock());

            let (guard, held_line) = (m.lock().await, line!());
            let wait_line = Arc::new(Line::default());
            let waiter = tasks.spawn(&rt, {
                let (m, wait_line) = (Arc::clone(&m), Arc::clone(&wait_line));
                async move {
                    let (lock, line) = (m.lock(), line!());
                    wait_line.set(line);
                    *lock.await += 1;
                }
            });
            rt.wait_until("the waiter queues", || recorded_waiters(id) == 1)
                .await;

            let first = diagnostics::snapshot();
            let p = find(&first, id).expect("the held mutex is in the snapshot");
            assert!(p.kind().starts_with("Mutex"), "{}", p.kind());
            assert_eq!(p.holders().len(), 1, "{p}");
            assert_eq!(p.waiters().len(), 1, "{p}");
            assert!(p.is_contended());
            let (h, w) = (&p.holders()[0], &p.waiters()[0]);
            assert!(is_at(h.site(), held_line), "holder site {}", h.site());
            assert!(is_at(w.site(), wait_line.get()), "waiter site {}", w.site());
            assert!(h.owner().is_task() && w.owner().is_task(), "{p}");
            assert_eq!(h.owner().thread_id(), None);
            assert_ne!(
                h.owner(),
                w.owner(),
                "the holder and the waiter are two tasks"
            );
            assert_eq!(
                (h.access(), w.access()),
                (Access::Exclusive, Access::Exclusive)
            );
            assert!(first.contended().any(|c| c.id() == id));
            assert!(first
                .waits_longer_than(Duration::ZERO)
                .iter()
                .any(|(c, _)| c.id() == id));

            let debug = format!("{m:?}");
            assert!(debug.contains("holders"), "{debug}");
            assert!(
                debug.contains(&format!("{}:{held_line}:", file!())),
                "{debug}"
            );

            rt.sleep(Duration::from_millis(20)).await;
            let second = diagnostics::snapshot();
            let p2 = find(&second, id).expect("still held");
            assert!(second.taken_at() > first.taken_at());
            assert!(p2.holders()[0].held_for() >= h.held_for() + Duration::from_millis(15));
            assert!(p2.waiters()[0].waited_for() >= w.waited_for() + Duration::from_millis(15));

            drop(guard);
            assert!(waiter.await.is_ok());
            assert_eq!(*m.lock().await, 1);
            assert!(
                find(&diagnostics::snapshot(), id).is_none(),
                "nothing is recorded once released"
            );
        },
    );
}

#[test]
fn the_waiter_record_becomes_the_holder_at_the_wait_site() {
    on_runtimes(&[Kind::TokioMultiThread], |rt| async move {
        let mut tasks = Tasks::default();
        let m = Arc::new(Mutex::new(()));
        let id = id_of(line!(), || m.try_lock());
        let guard = m.lock().await;
        let (wait_line, release) = (Arc::new(Line::default()), Arc::new(Event::new()));
        let waiter = tasks.spawn(&rt, {
            let (m, wait_line, release) =
                (Arc::clone(&m), Arc::clone(&wait_line), Arc::clone(&release));
            async move {
                let (lock, line) = (m.lock(), line!());
                wait_line.set(line);
                let _guard = lock.await;
                release.wait().await;
            }
        });
        rt.wait_until("the waiter queues", || recorded_waiters(id) == 1)
            .await;
        drop(guard);
        rt.wait_until("the waiter holds it", || {
            find(&diagnostics::snapshot(), id)
                .is_some_and(|p| p.waiters().is_empty() && p.holders().len() == 1)
        })
        .await;
        let snapshot = diagnostics::snapshot();
        let h = &find(&snapshot, id).unwrap().holders()[0];
        assert!(is_at(h.site(), wait_line.get()), "{h}");
        assert!(h.owner().is_task());
        release.set();
        assert!(waiter.await.is_ok());
        assert!(find(&diagnostics::snapshot(), id).is_none());
    });
}

#[test]
fn blocking_holders_and_waiters_are_their_threads() {
    common::watchdog(|| {
        let m = Arc::new(Mutex::new(()));
        let id = id_of(line!(), || m.try_lock());
        let (hold, holding, release) = (
            Arc::new(Line::default()),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let holder = thread::spawn({
            let (m, hold, holding, release) = (
                Arc::clone(&m),
                Arc::clone(&hold),
                Arc::clone(&holding),
                Arc::clone(&release),
            );
            move || {
                let (guard, line) = (m.lock_blocking(), line!());
                hold.set(line);
                holding.store(true, SeqCst);
                spin_until("the test releases", || release.load(SeqCst));
                drop(guard);
            }
        });
        spin_until("the holder holds", || holding.load(SeqCst));
        let wait = Arc::new(Line::default());
        let waiter = thread::spawn({
            let (m, wait) = (Arc::clone(&m), Arc::clone(&wait));
            move || {
                wait.set(line!() + 1);
                drop(m.lock_blocking());
            }
        });
        spin_until("the waiter queues", || recorded_waiters(id) == 1);
        let snapshot = diagnostics::snapshot();
        let p = find(&snapshot, id).expect("held");
        let (h, w) = (&p.holders()[0], &p.waiters()[0]);
        assert!(is_at(h.site(), hold.get()), "{p}");
        assert!(is_at(w.site(), wait.get()), "{p}");
        assert_eq!(h.owner().thread_id(), Some(holder.thread().id()));
        assert_eq!(w.owner().thread_id(), Some(waiter.thread().id()));
        for owner in [h.owner(), w.owner()] {
            assert!(!owner.is_task() && !owner.is_unattributed(), "{owner}");
        }
        release.store(true, SeqCst);
        holder.join().unwrap();
        waiter.join().unwrap();
        assert!(find(&diagnostics::snapshot(), id).is_none());
    });
}

#[test]
fn a_try_lock_holder_is_unattributed_on_its_thread() {
    let m = Mutex::new(());
    let (guard, line) = (m.try_lock().unwrap(), line!());
    let me = thread::current().id();
    let snapshot = diagnostics::snapshot();
    let p = snapshot
        .primitives()
        .iter()
        .find(|p| p.holders().iter().any(|h| is_at(h.site(), line)))
        .expect("the try_lock holder is recorded");
    let owner = p.holders()[0].owner();
    assert!(owner.is_unattributed() && !owner.is_task(), "{owner}");
    assert_eq!(owner.thread_id(), Some(me));
    let id = p.id();
    drop(guard);
    assert!(find(&diagnostics::snapshot(), id).is_none());
}

/// The access of every holder of `id`, in acquire order.
fn holders_of(id: PrimitiveId) -> Vec<(Access, u32)> {
    find(&diagnostics::snapshot(), id)
        .map(|p| {
            p.holders()
                .iter()
                .map(|h| {
                    assert_eq!(h.site().file(), file!());
                    (h.access(), h.site().line())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn rwlock_holders_change_access_through_upgrade_and_downgrade() {
    on_runtimes(&[Kind::TokioCurrentThread], |rt| async move {
        let mut tasks = Tasks::default();
        let lock = Arc::new(RwLock::new(0u32));
        let id = id_of(line!(), || lock.try_write());

        let (read, read_line) = (lock.read().await, line!());
        assert_eq!(holders_of(id), [(Access::Read, read_line)]);

        // A task takes the upgradable read and upgrades while `read` holds.
        let (upgradable_line, upgrade_line) =
            (Arc::new(Line::default()), Arc::new(Line::default()));
        let steps = Arc::new([(); 4].map(|()| Event::new()));
        let [upgraded, downgrade, downgraded, done] = &*steps;
        let upgrader = tasks.spawn(&rt, {
            let lock = Arc::clone(&lock);
            let (upgradable_line, upgrade_line) =
                (Arc::clone(&upgradable_line), Arc::clone(&upgrade_line));
            let steps = Arc::clone(&steps);
            async move {
                let [upgraded, downgrade, downgraded, done] = &*steps;
                let (upgradable, line) = (lock.upgradable_read().await, line!());
                upgradable_line.set(line);
                let (upgrade, line) = (RwLockUpgradableReadGuard::upgrade(upgradable), line!());
                upgrade_line.set(line);
                let mut write = upgrade.await;
                *write += 1;
                upgraded.set();
                downgrade.wait().await;
                let read = RwLockWriteGuard::downgrade(write);
                downgraded.set();
                done.wait().await;
                drop(read);
            }
        });
        rt.wait_until("the upgrade waits", || recorded_waiters(id) == 1)
            .await;
        let snapshot = diagnostics::snapshot();
        let p = find(&snapshot, id).unwrap();
        assert_eq!(
            holders_of(id),
            [
                (Access::Read, read_line),
                (Access::UpgradableRead, upgradable_line.get())
            ]
        );
        let upgrade = &p.waiters()[0];
        assert_eq!(upgrade.access(), Access::Upgrade);
        assert!(is_at(upgrade.site(), upgrade_line.get()), "{p}");
        assert_eq!(
            upgrade.owner(),
            p.holders()[1].owner(),
            "the upgrader waits"
        );

        drop(read);
        upgraded.wait().await;
        // The upgrade folded into the upgradable read's record.
        assert_eq!(holders_of(id), [(Access::Write, upgradable_line.get())]);
        downgrade.set();
        downgraded.wait().await;
        assert_eq!(holders_of(id), [(Access::Read, upgradable_line.get())]);
        done.set();
        assert!(upgrader.await.is_ok());
        assert_eq!(holders_of(id), []);

        let (write, write_line) = (lock.write().await, line!());
        assert_eq!(holders_of(id), [(Access::Write, write_line)]);
        let upgradable = RwLockWriteGuard::downgrade_to_upgradable(write);
        assert_eq!(holders_of(id), [(Access::UpgradableRead, write_line)]);
        let read = RwLockUpgradableReadGuard::downgrade(upgradable);
        assert_eq!(holders_of(id), [(Access::Read, write_line)]);
        drop(read);
        assert_eq!(holders_of(id), []);

        let (write, write_line) = (lock.write().await, line!());
        let mapped = RwLockWriteGuard::map(write, |v| v);
        assert_eq!(holders_of(id), [(Access::Write, write_line)]);
        drop(mapped);
        assert_eq!(holders_of(id), []);
    });
}

#[test]
fn semaphore_permits_split_merge_and_forget_in_the_record() {
    futures::executor::block_on(async {
        let sem = Semaphore::new(5);
        let id = id_of(line!(), || sem.try_acquire());
        let (mut permit, line) = (sem.acquire_many(3).await, line!());
        assert_eq!(holders_of(id), [(Access::Permits(3), line)]);
        let one = permit.split(1).unwrap();
        assert_eq!(
            holders_of(id),
            [(Access::Permits(2), line), (Access::Permits(1), line)]
        );
        let owners: Vec<_> = find(&diagnostics::snapshot(), id)
            .unwrap()
            .holders()
            .iter()
            .map(|h| h.owner().clone())
            .collect();
        assert!(owners[0].is_task());
        assert_eq!(owners[0], owners[1], "a split permit keeps its owner");
        permit.merge(one);
        assert_eq!(holders_of(id), [(Access::Permits(3), line)]);
        permit.forget();
        assert_eq!(holders_of(id), []);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn owned_and_mapped_guards_keep_their_record_until_dropped() {
    futures::executor::block_on(async {
        let m = Arc::new(Mutex::new((1u8, 2u8)));
        let id = id_of(line!(), || m.try_lock());

        let (owned, line) = (m.lock_owned().await, line!());
        assert_eq!(holders_of(id), [(Access::Exclusive, line)]);
        let mapped = OwnedMutexGuard::map(owned, |v| &mut v.1);
        assert_eq!(holders_of(id), [(Access::Exclusive, line)]);
        drop(mapped);
        assert_eq!(holders_of(id), []);

        let (guard, line) = (m.lock().await, line!());
        let mapped = MutexGuard::map(guard, |v| &mut v.0);
        let mapped = MappedMutexGuard::map(mapped, |v| v);
        assert_eq!(holders_of(id), [(Access::Exclusive, line)]);
        drop(mapped);
        assert_eq!(holders_of(id), []);
    });
}

#[test]
fn a_condvar_relock_waits_at_the_wait_call() {
    on_runtimes(&[Kind::TokioCurrentThread, Kind::Smol], |rt| async move {
        let mut tasks = Tasks::default();
        let (m, cv) = (Arc::new(Mutex::new(false)), Arc::new(Condvar::new()));
        let id = id_of(line!(), || m.try_lock());
        let (wait_line, waiting) = (Arc::new(Line::default()), Arc::new(AtomicBool::new(false)));
        let waiter = tasks.spawn(&rt, {
            let (m, cv) = (Arc::clone(&m), Arc::clone(&cv));
            let (wait_line, waiting) = (Arc::clone(&wait_line), Arc::clone(&waiting));
            async move {
                let mut guard = m.lock().await;
                while !*guard {
                    let (wait, line) = (cv.wait(guard), line!());
                    wait_line.set(line);
                    waiting.store(true, SeqCst);
                    guard = wait.await;
                }
            }
        });
        rt.wait_until("the task waits on the condvar", || waiting.load(SeqCst))
            .await;
        // Taking the lock proves the task's wait released it.
        let (mut guard, held_line) = (m.lock().await, line!());
        *guard = true;
        cv.notify_one();
        rt.wait_until("the re-lock queues", || recorded_waiters(id) == 1)
            .await;
        let snapshot = diagnostics::snapshot();
        let p = find(&snapshot, id).unwrap();
        assert!(is_at(p.holders()[0].site(), held_line), "{p}");
        let relock = &p.waiters()[0];
        assert!(is_at(relock.site(), wait_line.get()), "{p}");
        assert!(relock.owner().is_task());
        assert_ne!(relock.owner(), p.holders()[0].owner());
        drop(guard);
        assert!(waiter.await.is_ok());
        assert!(find(&diagnostics::snapshot(), id).is_none());
    });
}

/// Drops `guard` while `acquire` of the same primitive `id` waits, and
/// returns the holders of `id` that a snapshot taken inside the waiter's
/// wake-up showed: the release wakes the waiter at once, and by then the
/// released holder must be gone from the registry.
fn holders_at_wake<G, F: Future>(id: PrimitiveId, guard: G, acquire: F) -> Vec<(Access, u32)> {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let waker = common::on_first_wake({
        let seen = Arc::clone(&seen);
        move || *seen.lock().unwrap() = Some(holders_of(id))
    });
    let mut acquire = std::pin::pin!(acquire);
    common::assert_pending(acquire.as_mut(), &waker, "the acquire waits");
    drop(guard);
    let seen = seen
        .lock()
        .unwrap()
        .take()
        .expect("the release woke the waiter");
    drop(common::expect_ready(acquire, &waker, "the acquire got it"));
    seen
}

#[test]
fn a_released_holder_is_gone_when_its_successor_wakes() {
    let m = Mutex::new(());
    let id = id_of(line!(), || m.try_lock());
    assert_eq!(holders_at_wake(id, m.try_lock(), m.lock()), []);
    let mapped = MutexGuard::map(m.try_lock().unwrap(), |v| v);
    assert_eq!(holders_at_wake(id, mapped, m.lock()), []);

    let lock = RwLock::new(());
    let id = id_of(line!(), || lock.try_write());
    assert_eq!(holders_at_wake(id, lock.try_write(), lock.read()), []);
    assert_eq!(holders_at_wake(id, lock.try_read(), lock.write()), []);

    let sem = Semaphore::new(3);
    let id = id_of(line!(), || sem.try_acquire());
    let (kept, line) = (sem.try_acquire().unwrap(), line!());
    let left = [(Access::Permits(1), line)];
    assert_eq!(
        holders_at_wake(id, sem.try_acquire_many(2), sem.acquire_many(2)),
        left
    );
    drop(kept);
}

// ---------------------------------------------------------------------
// 2-5. Deadlocks between tasks, of a task with itself, and with a thread.
// ---------------------------------------------------------------------

/// Locks `mine`, waits until all `n` tasks hold theirs, then locks `next`.
async fn lock_then_next(
    rt: Rt,
    mine: Arc<Mutex<()>>,
    next: Arc<Mutex<()>>,
    holding: Arc<AtomicUsize>,
    n: usize,
    lines: Arc<Sites>,
) {
    let (first, line) = (mine.lock().await, line!());
    lines.first.set(line);
    holding.fetch_add(1, SeqCst);
    rt.wait_until("every task holds its lock", || holding.load(SeqCst) == n)
        .await;
    let (second, line) = (next.lock(), line!());
    lines.second.set(line);
    // Reached only once the test aborts the cycle: the abort of one task
    // can let the next one in before its own abort lands.
    drop((first, second.await));
}

/// `n` tasks, task i holding lock i and awaiting lock i + 1 (mod n): one
/// deadlock of `n` links, each a task waiting at the second acquire for a
/// lock another task holds from its first acquire.
async fn cycle_of_tasks(rt: Rt, n: usize) {
    let mut tasks = Tasks::default();
    let locks: Vec<_> = (0..n).map(|_| Arc::new(Mutex::new(()))).collect();
    let ids: Vec<_> = locks
        .iter()
        .map(|m| id_of(line!(), || m.try_lock()))
        .collect();
    let (holding, lines) = (Arc::new(AtomicUsize::new(0)), Arc::new(Sites::default()));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (mine, next) = (Arc::clone(&locks[i]), Arc::clone(&locks[(i + 1) % n]));
            tasks.spawn(
                &rt,
                lock_then_next(rt, mine, next, Arc::clone(&holding), n, Arc::clone(&lines)),
            )
        })
        .collect();

    let deadlock = deadlock_among(&rt, &ids).await;
    let links = deadlock.links();
    assert_eq!(links.len(), n, "{deadlock}");
    assert!(!deadlock.is_self_deadlock());
    let owners: Vec<_> = deadlock.owners().collect();
    assert!(owners.iter().all(|o| o.is_task()), "{deadlock}");
    for (i, a) in owners.iter().enumerate() {
        for b in &owners[i + 1..] {
            assert_ne!(a, b, "the owners are distinct tasks: {deadlock}");
        }
    }
    for (i, link) in links.iter().enumerate() {
        let next = &links[(i + 1) % n];
        assert!(link.kind().starts_with("Mutex"), "{}", link.kind());
        assert_eq!(link.wait().access(), Access::Exclusive);
        assert!(is_at(link.wait().site(), lines.second.get()), "{deadlock}");
        assert_eq!(link.wait().owner(), link.owner());
        let blocker = holder(link.blocker());
        assert!(is_at(blocker.site(), lines.first.get()), "{deadlock}");
        assert_eq!(link.blocker().owner(), next.owner(), "{deadlock}");
    }
    assert_eq!(
        primitives_of(&deadlock).len(),
        n,
        "each task waits for another lock"
    );
    let text = deadlock.to_string();
    assert!(
        text.starts_with(&format!("deadlock: {n} tasks wait for each other")),
        "{text}"
    );

    drop(tasks);
    for handle in handles {
        // Aborted, or let through by the abort of another.
        let _ = handle.await;
    }
    let snapshot = diagnostics::snapshot();
    assert!(
        ids.iter().all(|&id| find(&snapshot, id).is_none()),
        "{snapshot}"
    );
}

#[test]
fn two_tasks_locking_in_opposite_orders_deadlock() {
    on_runtimes(RUNTIMES, |rt| cycle_of_tasks(rt, 2));
}

#[test]
fn three_tasks_in_a_ring_deadlock() {
    on_runtimes(RUNTIMES, |rt| cycle_of_tasks(rt, 3));
}

#[test]
fn a_task_awaiting_a_lock_it_holds_deadlocks_on_its_own() {
    on_runtimes(RUNTIMES, |rt| async move {
        let mut tasks = Tasks::default();
        let m = Arc::new(Mutex::new(()));
        let id = id_of(line!(), || m.try_lock());
        let lines = Arc::new(Sites::default());
        let handle = tasks.spawn(&rt, {
            let (m, lines) = (Arc::clone(&m), Arc::clone(&lines));
            async move {
                let (guard, line) = (m.lock().await, line!());
                lines.first.set(line);
                let (again, line) = (m.lock(), line!());
                lines.second.set(line);
                let _both = (guard, again.await);
            }
        });
        let deadlock = deadlock_among(&rt, &[id]).await;
        assert!(deadlock.is_self_deadlock(), "{deadlock}");
        let [link] = deadlock.links() else {
            panic!("one link: {deadlock}")
        };
        assert!(link.owner().is_task());
        assert!(is_at(link.wait().site(), lines.second.get()), "{deadlock}");
        let blocker = holder(link.blocker());
        assert!(is_at(blocker.site(), lines.first.get()), "{deadlock}");
        assert_eq!(blocker.owner(), link.owner());
        let text = deadlock.to_string();
        assert!(text.contains("waits for a lock it holds itself"), "{text}");
        drop(tasks);
        assert!(handle.await.is_err());
        assert!(find(&diagnostics::snapshot(), id).is_none());
    });
}

#[test]
fn a_task_and_a_blocked_thread_deadlock() {
    on_runtimes(RUNTIMES, |rt| async move {
        let mut tasks = Tasks::default();
        let (m1, m2) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
        let ids = [
            id_of(line!(), || m1.try_lock()),
            id_of(line!(), || m2.try_lock()),
        ];
        let (task_lines, thread_lines) = (Arc::new(Sites::default()), Arc::new(Sites::default()));
        let (task_holds, thread_holds) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let task = tasks.spawn(&rt, {
            let (m1, m2, lines) = (Arc::clone(&m1), Arc::clone(&m2), Arc::clone(&task_lines));
            let (task_holds, thread_holds) = (Arc::clone(&task_holds), Arc::clone(&thread_holds));
            async move {
                let (first, line) = (m1.lock().await, line!());
                lines.first.set(line);
                task_holds.store(true, SeqCst);
                rt.wait_until("the thread holds m2", || thread_holds.load(SeqCst))
                    .await;
                let (second, line) = (m2.lock(), line!());
                lines.second.set(line);
                let _both = (first, second.await);
            }
        });
        rt.wait_until("the task holds m1", || task_holds.load(SeqCst))
            .await;
        let done = Arc::new(AtomicBool::new(false));
        let blocked = thread::spawn({
            let (m1, m2, lines) = (Arc::clone(&m1), Arc::clone(&m2), Arc::clone(&thread_lines));
            let (thread_holds, done) = (Arc::clone(&thread_holds), Arc::clone(&done));
            move || {
                let (first, line) = (m2.lock_blocking(), line!());
                lines.first.set(line);
                thread_holds.store(true, SeqCst);
                lines.second.set(line!() + 1);
                let second = m1.lock_blocking_timeout(Duration::from_secs(30));
                assert!(second.is_some(), "the task was aborted and let go of m1");
                drop((first, second));
                done.store(true, SeqCst);
            }
        });
        let thread_id = blocked.thread().id();

        let deadlock = deadlock_among(&rt, &ids).await;
        assert_eq!(deadlock.links().len(), 2, "{deadlock}");
        let task_link = deadlock
            .links()
            .iter()
            .find(|l| l.owner().is_task())
            .expect("a task waits");
        let thread_link = deadlock
            .links()
            .iter()
            .find(|l| !l.owner().is_task())
            .expect("a thread waits");
        assert_eq!(
            thread_link.owner().thread_id(),
            Some(thread_id),
            "{deadlock}"
        );
        assert!(!thread_link.owner().is_unattributed());
        assert_eq!(task_link.primitive(), ids[1]);
        assert_eq!(thread_link.primitive(), ids[0]);
        assert!(
            is_at(task_link.wait().site(), task_lines.second.get()),
            "{deadlock}"
        );
        assert!(
            is_at(thread_link.wait().site(), thread_lines.second.get()),
            "{deadlock}"
        );
        let held_by_thread = holder(task_link.blocker());
        assert!(
            is_at(held_by_thread.site(), thread_lines.first.get()),
            "{deadlock}"
        );
        assert_eq!(held_by_thread.owner(), thread_link.owner());
        let held_by_task = holder(thread_link.blocker());
        assert!(
            is_at(held_by_task.site(), task_lines.first.get()),
            "{deadlock}"
        );
        assert_eq!(held_by_task.owner(), task_link.owner());
        let text = deadlock.to_string();
        assert!(
            text.starts_with("deadlock: 1 task and 1 thread wait for each other"),
            "{text}"
        );

        drop(tasks);
        assert!(task.await.is_err());
        rt.wait_until("the thread gets m1 and ends", || done.load(SeqCst))
            .await;
        blocked.join().unwrap();
        let snapshot = diagnostics::snapshot();
        assert!(
            ids.iter().all(|&id| find(&snapshot, id).is_none()),
            "{snapshot}"
        );
    });
}

/// The link of `deadlock` whose wait is at `line`.
fn link_at(deadlock: &Deadlock, line: u32) -> &fairsync::diagnostics::Link {
    deadlock
        .links()
        .iter()
        .find(|l| is_at(l.wait().site(), line))
        .unwrap_or_else(|| panic!("no wait at line {line}: {deadlock}"))
}

#[test]
fn a_reader_queued_behind_the_writer_it_blocks_deadlocks() {
    on_runtimes(RUNTIMES, |rt| async move {
        let mut tasks = Tasks::default();
        let lock = Arc::new(RwLock::new(()));
        let id = id_of(line!(), || lock.try_write());
        let sites = Arc::new(Sites::default());
        let reader = tasks.spawn(&rt, {
            let (lock, sites) = (Arc::clone(&lock), Arc::clone(&sites));
            async move {
                let (read, line) = (lock.read().await, line!());
                sites.first.set(line);
                rt.wait_until("the writer queues", || recorded_waiters(id) == 1)
                    .await;
                // Fair: a new read queues behind the waiting writer.
                let (again, line) = (lock.read(), line!());
                sites.second.set(line);
                drop((read, again.await));
            }
        });
        rt.wait_until("the reader reads", || sites.first.0.load(SeqCst) != 0)
            .await;
        let writer = tasks.spawn(&rt, {
            let (lock, sites) = (Arc::clone(&lock), Arc::clone(&sites));
            async move {
                let (write, line) = (lock.write(), line!());
                sites.third.set(line);
                drop(write.await);
            }
        });
        let deadlock = deadlock_among(&rt, &[id]).await;
        assert_eq!(deadlock.links().len(), 2, "{deadlock}");
        let reread = link_at(&deadlock, sites.second.get());
        let write = link_at(&deadlock, sites.third.get());
        assert_eq!(reread.wait().access(), Access::Read);
        assert_eq!(write.wait().access(), Access::Write);
        match reread.blocker() {
            Blocker::QueuedAhead(ahead) => {
                assert!(is_at(ahead.site(), sites.third.get()), "{deadlock}");
                assert_eq!(ahead.owner(), write.owner());
            }
            other => panic!("the re-read waits behind the writer, not {other:?}"),
        }
        let read = holder(write.blocker());
        assert!(is_at(read.site(), sites.first.get()), "{deadlock}");
        assert_eq!(
            (read.owner(), read.access()),
            (reread.owner(), Access::Read)
        );
        drop(tasks);
        let _ = (reader.await, writer.await);
        assert!(find(&diagnostics::snapshot(), id).is_none());
    });
}

#[test]
fn an_upgrade_waiting_for_a_reader_that_waits_for_the_upgrader_deadlocks() {
    on_runtimes(RUNTIMES, |rt| async move {
        let mut tasks = Tasks::default();
        let (lock, m) = (Arc::new(RwLock::new(())), Arc::new(Mutex::new(())));
        let ids = [
            id_of(line!(), || lock.try_write()),
            id_of(line!(), || m.try_lock()),
        ];
        let (sites, reading) = (Arc::new(Sites::default()), Arc::new(AtomicBool::new(false)));
        let upgrader = tasks.spawn(&rt, {
            let (lock, m, sites) = (Arc::clone(&lock), Arc::clone(&m), Arc::clone(&sites));
            let reading = Arc::clone(&reading);
            async move {
                let (locked, line) = (m.lock().await, line!());
                sites.first.set(line);
                let (upgradable, line) = (lock.upgradable_read().await, line!());
                sites.second.set(line);
                rt.wait_until("the other task reads", || reading.load(SeqCst))
                    .await;
                let write = RwLockUpgradableReadGuard::upgrade(upgradable).await;
                drop((locked, write));
            }
        });
        rt.wait_until("the upgrader holds both", || {
            sites.second.0.load(SeqCst) != 0
        })
        .await;
        let reader = tasks.spawn(&rt, {
            let (lock, m, sites) = (Arc::clone(&lock), Arc::clone(&m), Arc::clone(&sites));
            async move {
                let (read, line) = (lock.read().await, line!());
                sites.third.set(line);
                reading.store(true, SeqCst);
                let (locked, line) = (m.lock(), line!());
                sites.fourth.set(line);
                drop((read, locked.await));
            }
        });
        let deadlock = deadlock_among(&rt, &ids).await;
        assert_eq!(deadlock.links().len(), 2, "{deadlock}");
        let lock_wait = link_at(&deadlock, sites.fourth.get());
        let upgrade = deadlock
            .links()
            .iter()
            .find(|l| l.primitive() == ids[0])
            .expect("the upgrade is a link");
        assert_eq!(upgrade.wait().access(), Access::Upgrade, "{deadlock}");
        let read = holder(upgrade.blocker());
        assert!(is_at(read.site(), sites.third.get()), "{deadlock}");
        assert_eq!(read.owner(), lock_wait.owner());
        let locked = holder(lock_wait.blocker());
        assert!(is_at(locked.site(), sites.first.get()), "{deadlock}");
        assert_eq!(locked.owner(), upgrade.owner());
        drop(tasks);
        let _ = (upgrader.await, reader.await);
    });
}

#[test]
fn a_task_short_of_permits_another_holds_while_waiting_for_it_deadlocks() {
    on_runtimes(RUNTIMES, |rt| async move {
        let mut tasks = Tasks::default();
        let (sem, m) = (Arc::new(Semaphore::new(2)), Arc::new(Mutex::new(())));
        let ids = [
            id_of(line!(), || sem.try_acquire()),
            id_of(line!(), || m.try_lock()),
        ];
        let sites = Arc::new(Sites::default());
        let holds = Arc::new(AtomicUsize::new(0));
        let one_permit = tasks.spawn(&rt, {
            let (sem, m, sites, holds) = (
                Arc::clone(&sem),
                Arc::clone(&m),
                Arc::clone(&sites),
                Arc::clone(&holds),
            );
            async move {
                let (permit, line) = (sem.acquire().await, line!());
                sites.first.set(line);
                holds.fetch_add(1, SeqCst);
                rt.wait_until("both hold", || holds.load(SeqCst) == 2).await;
                let (locked, line) = (m.lock(), line!());
                sites.second.set(line);
                drop((permit, locked.await));
            }
        });
        let both_permits = tasks.spawn(&rt, {
            let (sem, m, sites, holds) = (
                Arc::clone(&sem),
                Arc::clone(&m),
                Arc::clone(&sites),
                Arc::clone(&holds),
            );
            async move {
                let (locked, line) = (m.lock().await, line!());
                sites.third.set(line);
                holds.fetch_add(1, SeqCst);
                rt.wait_until("both hold", || holds.load(SeqCst) == 2).await;
                let (permits, line) = (sem.acquire_many(2), line!());
                sites.fourth.set(line);
                drop((locked, permits.await));
            }
        });
        let deadlock = deadlock_among(&rt, &ids).await;
        assert_eq!(deadlock.links().len(), 2, "{deadlock}");
        let permits = link_at(&deadlock, sites.fourth.get());
        assert_eq!(permits.wait().access(), Access::Permits(2));
        let held = holder(permits.blocker());
        assert_eq!(held.access(), Access::Permits(1));
        assert!(is_at(held.site(), sites.first.get()), "{deadlock}");
        let lock_wait = link_at(&deadlock, sites.second.get());
        assert!(
            is_at(holder(lock_wait.blocker()).site(), sites.third.get()),
            "{deadlock}"
        );
        assert_eq!(held.owner(), lock_wait.owner());
        assert_eq!(lock_wait.blocker().owner(), permits.owner());
        drop(tasks);
        let _ = (one_permit.await, both_permits.await);
    });
}

// ---------------------------------------------------------------------
// 6-7. Waits that are no deadlock are never reported as one.
// ---------------------------------------------------------------------

/// Checks a few times over `duration` that no deadlock involves `ids`.
async fn assert_no_deadlock_for(rt: &Rt, ids: &[PrimitiveId], duration: Duration) {
    let start = Instant::now();
    loop {
        let snapshot = diagnostics::snapshot();
        for deadlock in snapshot.deadlocks() {
            assert!(
                !involves(&deadlock, ids),
                "false report: {deadlock}\nin:\n{snapshot}"
            );
        }
        if start.elapsed() > duration {
            break;
        }
        rt.sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn waits_for_signals_are_not_deadlocks() {
    on_runtimes(RUNTIMES, |rt| async move {
        let mut tasks = Tasks::default();
        let (flag, changed) = (Arc::new(Mutex::new(false)), Arc::new(Condvar::new()));
        let (unrelated, event, barrier) = (
            Arc::new(Mutex::new(())),
            Arc::new(Event::new()),
            Arc::new(Barrier::new(2)),
        );
        let signal = Arc::new(Semaphore::new(1));
        let ids = [
            id_of(line!(), || flag.try_lock()),
            id_of(line!(), || unrelated.try_lock()),
            id_of(line!(), || signal.try_acquire()),
        ];
        signal.try_acquire().unwrap().forget();
        let (go, waiting) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );

        // A condvar waiter, a task that holds an unrelated lock until told
        // to notify it, an event waiter, a barrier waiter, and a waiter for
        // a semaphore with no permits.
        let mut handles = vec![tasks.spawn(&rt, {
            let (flag, changed, waiting) = (
                Arc::clone(&flag),
                Arc::clone(&changed),
                Arc::clone(&waiting),
            );
            async move {
                let mut set = flag.lock().await;
                waiting.fetch_add(1, SeqCst);
                while !*set {
                    set = changed.wait(set).await;
                }
            }
        })];
        handles.push(tasks.spawn(&rt, {
            let (flag, changed, unrelated) = (
                Arc::clone(&flag),
                Arc::clone(&changed),
                Arc::clone(&unrelated),
            );
            let (go, waiting) = (Arc::clone(&go), Arc::clone(&waiting));
            async move {
                let _held = unrelated.lock().await;
                waiting.fetch_add(1, SeqCst);
                rt.wait_until("the test says go", || go.load(SeqCst)).await;
                *flag.lock().await = true;
                changed.notify_all();
            }
        }));
        handles.push(tasks.spawn(&rt, {
            let (event, waiting) = (Arc::clone(&event), Arc::clone(&waiting));
            async move {
                waiting.fetch_add(1, SeqCst);
                event.wait().await;
            }
        }));
        handles.push(tasks.spawn(&rt, {
            let (barrier, waiting) = (Arc::clone(&barrier), Arc::clone(&waiting));
            async move {
                waiting.fetch_add(1, SeqCst);
                barrier.wait().await;
            }
        }));
        handles.push(tasks.spawn(&rt, {
            let (signal, unrelated) = (Arc::clone(&signal), Arc::clone(&unrelated));
            async move {
                let _permit = signal.acquire().await;
                // Then the unrelated lock, once its holder lets go.
                drop(unrelated.lock().await);
            }
        }));
        rt.wait_until("every task waits", || {
            waiting.load(SeqCst) == 4 && recorded_waiters(ids[2]) == 1
        })
        .await;
        // Give the condvar, event and barrier waits time to register.
        rt.sleep(Duration::from_millis(20)).await;
        assert!(
            diagnostics::snapshot()
                .waits_longer_than(Duration::ZERO)
                .iter()
                .any(|(p, _)| p.id() == ids[2]),
            "the semaphore wait is recorded"
        );
        assert_no_deadlock_for(&rt, &ids, Duration::from_millis(100)).await;

        go.store(true, SeqCst);
        event.set();
        signal.add_permits(1);
        barrier.wait().await;
        for handle in handles {
            assert!(
                rt.timeout(Duration::from_secs(10), handle)
                    .await
                    .is_some_and(|r| r.is_ok()),
                "every wait completes"
            );
        }
        let snapshot = diagnostics::snapshot();
        assert!(
            ids.iter().all(|&id| find(&snapshot, id).is_none()),
            "{snapshot}"
        );
    });
}

/// The primitives of the stress test, always taken in this order.
struct Ordered {
    mutexes: [Mutex<u64>; 4],
    rwlock: RwLock<u64>,
    semaphore: Semaphore,
}

impl Ordered {
    fn ids(&self) -> Vec<PrimitiveId> {
        let mut ids: Vec<_> = self
            .mutexes
            .iter()
            .map(|m| id_of(line!(), || m.try_lock()))
            .collect();
        ids.push(id_of(line!(), || self.rwlock.try_write()));
        ids.push(id_of(line!(), || self.semaphore.try_acquire()));
        ids
    }

    /// One round as a task: a random subset of the mutexes, then the
    /// rwlock in a random mode, then 1 or 2 permits; yields while holding.
    async fn round(&self, rt: &Rt, rng: &mut Rng) {
        let mut held = Vec::new();
        for m in &self.mutexes {
            if rng.range(0, 1) == 1 {
                held.push(m.lock().await);
                rt.yield_now().await;
            }
        }
        match rng.range(0, 3) {
            0 => *self.rwlock.write().await += 1,
            1 => drop(self.rwlock.read().await),
            2 => {
                let upgradable = self.rwlock.upgradable_read().await;
                rt.yield_now().await;
                *RwLockUpgradableReadGuard::upgrade(upgradable).await += 1;
            }
            _ => {}
        }
        let _permits = self.semaphore.acquire_many(rng.range(1, 2)).await;
        rt.yield_now().await;
        for mut m in held {
            *m += 1;
        }
    }

    /// One round as a blocked thread.
    fn round_blocking(&self, rng: &mut Rng) {
        let mut held = Vec::new();
        for m in &self.mutexes {
            if rng.range(0, 1) == 1 {
                held.push(m.lock_blocking());
                thread::yield_now();
            }
        }
        match rng.range(0, 2) {
            0 => *self.rwlock.write_blocking() += 1,
            1 => drop(self.rwlock.read_blocking()),
            _ => {}
        }
        let _permits = self.semaphore.acquire_many_blocking(rng.range(1, 2));
        thread::yield_now();
        drop(held);
    }
}

#[test]
fn contention_in_one_global_order_is_never_reported() {
    on_runtimes(&[Kind::TokioMultiThread], |rt| async move {
        const TASKS: usize = 64;
        const RUN_FOR: Duration = Duration::from_millis(1500);
        let ordered = Arc::new(Ordered {
            mutexes: [(); 4].map(|()| Mutex::new(0)),
            rwlock: RwLock::new(0),
            semaphore: Semaphore::new(3),
        });
        let ids = ordered.ids();
        let stop = Arc::new(AtomicBool::new(false));

        let (report_tx, reports) = mpsc::channel();
        let watchdog = Watchdog::new()
            .interval(Duration::from_millis(10))
            .on_report({
                let ids = ids.clone();
                move |report| {
                    for deadlock in report.deadlocks() {
                        if involves(deadlock, &ids) {
                            let _ = report_tx.send(deadlock.to_string());
                        }
                    }
                }
            })
            .start();
        let checker = thread::spawn({
            let (ids, stop) = (ids.clone(), Arc::clone(&stop));
            move || {
                let (mut checks, mut contended, mut false_reports) = (0, 0, Vec::new());
                while !stop.load(SeqCst) {
                    let snapshot = diagnostics::snapshot();
                    checks += 1;
                    if snapshot.contended().any(|p| ids.contains(&p.id())) {
                        contended += 1;
                    }
                    for deadlock in snapshot.deadlocks() {
                        if involves(&deadlock, &ids) {
                            false_reports.push(format!("{deadlock}\nin:\n{snapshot}"));
                        }
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                (checks, contended, false_reports)
            }
        });

        let deadline = Instant::now() + RUN_FOR;
        let rounds = Arc::new(AtomicUsize::new(0));
        let mut tasks = Tasks::default();
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let (ordered, rounds) = (Arc::clone(&ordered), Arc::clone(&rounds));
                tasks.spawn(&rt, async move {
                    let mut rng = Rng::new(i as u64);
                    while Instant::now() < deadline {
                        ordered.round(&rt, &mut rng).await;
                        rounds.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let (ordered, rounds) = (Arc::clone(&ordered), Arc::clone(&rounds));
                thread::spawn(move || {
                    let mut rng = Rng::new(1000 + i);
                    while Instant::now() < deadline {
                        ordered.round_blocking(&mut rng);
                        rounds.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for handle in handles {
            assert!(handle.await.is_ok());
        }
        rt.wait_until("the threads finish", || {
            threads.iter().all(|t| t.is_finished())
        })
        .await;
        for thread in threads {
            thread.join().unwrap();
        }
        stop.store(true, SeqCst);
        rt.wait_until("the checker stops", || checker.is_finished())
            .await;
        let (checks, contended, false_reports) = checker.join().unwrap();
        // Two more watchdog intervals, for a report of the last moments.
        rt.sleep(Duration::from_millis(30)).await;
        watchdog.stop();

        assert!(
            false_reports.is_empty(),
            "{} false reports, the first:\n{}",
            false_reports.len(),
            false_reports[0]
        );
        let watchdog_reports: Vec<String> = reports.try_iter().collect();
        assert!(
            watchdog_reports.is_empty(),
            "the watchdog reported:\n{}",
            watchdog_reports.join("\n")
        );
        assert!(
            contended > 0,
            "the checker never saw contention in {checks} checks"
        );
        assert!(rounds.load(SeqCst) > TASKS, "the stress ran");
        let snapshot = diagnostics::snapshot();
        assert!(
            ids.iter().all(|&id| find(&snapshot, id).is_none()),
            "{snapshot}"
        );
    });
}

// ---------------------------------------------------------------------
// 8. The watchdog end to end.
// ---------------------------------------------------------------------

#[test]
fn the_watchdog_reports_a_deadlock_once_with_both_sites() {
    on_runtimes(&[Kind::TokioMultiThread], |rt| async move {
        let mut tasks = Tasks::default();
        let (m1, m2) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
        let ids = vec![
            id_of(line!(), || m1.try_lock()),
            id_of(line!(), || m2.try_lock()),
        ];
        let (reports_tx, reports) = mpsc::channel::<(String, usize)>();
        let watchdog = Watchdog::new()
            .interval(Duration::from_millis(20))
            .on_report({
                let ids = ids.clone();
                move |report| {
                    let mine: Vec<_> = report
                        .deadlocks()
                        .iter()
                        .filter(|d| involves(d, &ids))
                        .collect();
                    if !mine.is_empty() {
                        let _ = reports_tx.send((report.to_string(), mine.len()));
                    }
                }
            })
            .start();

        let (holding, lines) = (Arc::new(AtomicUsize::new(0)), Arc::new(Sites::default()));
        let handles = [
            tasks.spawn(
                &rt,
                lock_then_next(
                    rt,
                    Arc::clone(&m1),
                    Arc::clone(&m2),
                    Arc::clone(&holding),
                    2,
                    Arc::clone(&lines),
                ),
            ),
            tasks.spawn(
                &rt,
                lock_then_next(
                    rt,
                    Arc::clone(&m2),
                    Arc::clone(&m1),
                    Arc::clone(&holding),
                    2,
                    Arc::clone(&lines),
                ),
            ),
        ];

        let (text, count) = reports
            .recv_timeout(common::CONDITION_DEADLINE)
            .expect("the watchdog reports the deadlock");
        assert_eq!(count, 1, "{text}");
        for line in [lines.first.get(), lines.second.get()] {
            let site = format!("{}:{line}:", file!());
            assert!(text.contains(&site), "no {site} in:\n{text}");
        }
        assert!(
            text.contains("deadlock: 2 tasks wait for each other"),
            "{text}"
        );
        rt.sleep(Duration::from_millis(200)).await;
        let again: Vec<_> = reports.try_iter().collect();
        assert!(again.is_empty(), "reported again: {again:?}");

        watchdog.stop();
        drop(tasks);
        for handle in handles {
            let _ = handle.await;
        }
    });
}

#[test]
fn the_watchdog_reports_a_long_wait_once() {
    on_runtimes(&[Kind::TokioCurrentThread], |rt| async move {
        let mut tasks = Tasks::default();
        let m = Arc::new(Mutex::new(()));
        let id = id_of(line!(), || m.try_lock());
        let (reports_tx, reports) = mpsc::channel();
        let watchdog = Watchdog::new()
            .interval(Duration::from_millis(10))
            .long_wait(Duration::from_millis(50))
            .on_report(move |report| {
                for wait in report.long_waits() {
                    if wait.primitive() == id {
                        let _ =
                            reports_tx.send((wait.to_string(), wait.waiter().clone(), wait.kind()));
                    }
                }
            })
            .start();

        let guard = m.lock().await;
        let wait_line = Arc::new(Line::default());
        let waiter = tasks.spawn(&rt, {
            let (m, wait_line) = (Arc::clone(&m), Arc::clone(&wait_line));
            async move {
                let (lock, line) = (m.lock(), line!());
                wait_line.set(line);
                drop(lock.await);
            }
        });
        rt.wait_until("the waiter queues", || recorded_waiters(id) == 1)
            .await;
        let mut report = None;
        rt.wait_until("the watchdog reports the long wait", || {
            report = reports.try_recv().ok();
            report.is_some()
        })
        .await;
        let (text, waiter_seen, kind) = report.unwrap();
        assert!(kind.starts_with("Mutex"), "{kind}");
        assert!(
            waiter_seen.waited_for() > Duration::from_millis(50),
            "{text}"
        );
        assert!(is_at(waiter_seen.site(), wait_line.get()), "{text}");
        assert!(
            text.contains(&format!("{}:{}:", file!(), wait_line.get())),
            "{text}"
        );
        rt.sleep(Duration::from_millis(100)).await;
        let again: Vec<_> = reports.try_iter().collect();
        assert!(again.is_empty(), "reported again: {again:?}");

        drop(guard);
        assert!(waiter.await.is_ok());
        watchdog.stop();
    });
}

// ---------------------------------------------------------------------
// Leftovers and tasks that are still running.
// ---------------------------------------------------------------------

#[test]
fn a_guard_leaked_before_its_mutex_moved_does_not_haunt_the_next_mutex_there() {
    let mut slot = Some(Mutex::new(()));
    // Leaked: the record stays, keyed by this address, and the mutex is
    // then dropped elsewhere (moved out of the slot first).
    std::mem::forget(slot.as_ref().unwrap().lock_blocking());
    let moved = slot.take();
    drop(moved);

    slot = Some(Mutex::new(()));
    let fresh = slot.as_ref().unwrap();
    assert!(!fresh.is_locked());
    let line = line!() + 1;
    let held = fresh.lock_blocking();
    let id = id_of_held(line);
    // Only the real holder: the leftover could not hold beside it.
    assert_eq!(holders_of(id), vec![(Access::Exclusive, line)]);
    drop(held);
    assert!(find(&diagnostics::snapshot(), id).is_none());
}

/// The primitive this thread holds through a blocking call at `line`.
fn id_of_held(line: u32) -> PrimitiveId {
    let me = thread::current().id();
    let snapshot = diagnostics::snapshot();
    snapshot
        .primitives()
        .iter()
        .find(|p| {
            p.holders().iter().any(|h| {
                !h.owner().is_unattributed()
                    && h.owner().thread_id() == Some(me)
                    && is_at(h.site(), line)
            })
        })
        .map(Primitive::id)
        .unwrap_or_else(|| panic!("no blocking holder at line {line} in:\n{snapshot}"))
}

#[test]
fn a_joined_future_awaiting_its_sibling_s_lock_is_not_reported_while_the_task_runs() {
    // One task: a future holds the lock across a series of short sleeps
    // (each wakes the task, which polls the waiting sibling again), the
    // sibling awaits that lock. `deadlocks()` cannot tell the two futures
    // apart, but the watchdog sees the wait polled between its checks.
    on_runtimes(
        &[Kind::TokioMultiThread, Kind::TokioCurrentThread],
        |rt| async move {
            let mutex = Mutex::new(0);
            let id = id_of(line!(), || mutex.try_lock());
            let (reports_tx, reports) = mpsc::channel::<String>();
            // An interval far longer than a sleep, so that a stalled
            // machine does not look like a stuck task.
            let watchdog = Watchdog::new()
                .interval(Duration::from_millis(100))
                .on_report(move |report| {
                    let mine = report
                        .deadlocks()
                        .iter()
                        .any(|d| primitives_of(d).contains(&id));
                    if mine {
                        let _ = reports_tx.send(report.to_string());
                    }
                })
                .start();
            let holder = async {
                let mut guard = mutex.lock().await;
                // Ten watchdog intervals, each with 25 wake-ups.
                for _ in 0..250 {
                    rt.sleep(Duration::from_millis(4)).await;
                }
                *guard += 1;
            };
            let waiter = async {
                rt.wait_until("the holder holds", || mutex.is_locked())
                    .await;
                *mutex.lock().await += 1;
            };
            futures::join!(holder, waiter);
            watchdog.stop();
            assert_eq!(*mutex.lock().await, 2);
            let reported: Vec<String> = reports.try_iter().collect();
            assert!(reported.is_empty(), "reported:\n{}", reported.join("\n"));
        },
    );
}

/// The primitive with a waiter called at `line` of this file, and that
/// waiter.
fn waited_at(
    snapshot: &Snapshot,
    line: u32,
) -> Option<(&Primitive, &fairsync::diagnostics::Waiter)> {
    snapshot.primitives().iter().find_map(|p| {
        p.waiters()
            .iter()
            .find(|w| is_at(w.site(), line))
            .map(|w| (p, w))
    })
}

#[test]
fn notification_waits_are_shown_but_never_taken_for_deadlocks() {
    // One runtime at a time: the waits are found by their lines, which
    // the same body on another runtime would share.
    for &kind in RUNTIMES {
        on_runtimes(&[kind], notification_waits);
    }
}

async fn notification_waits(rt: Rt) {
    let mut tasks = Tasks::default();
    let (mutex, event) = (Arc::new(Mutex::new(())), Arc::new(Event::new()));
    let (flag, changed) = (Arc::new(Mutex::new(false)), Arc::new(Condvar::new()));
    let barrier = Arc::new(Barrier::new(2));
    let mutex_id = id_of(line!(), || mutex.try_lock());
    let lines = Arc::new(Sites::default());
    let (condvar_line, barrier_line, behind_line) = (
        Arc::new(Line::default()),
        Arc::new(Line::default()),
        Arc::new(Line::default()),
    );

    // Holds the mutex while it waits for the event: whoever waits for
    // the mutex waits for whoever sets the event, not for a cycle.
    let holder = tasks.spawn(&rt, {
        let (mutex, event, lines) = (Arc::clone(&mutex), Arc::clone(&event), Arc::clone(&lines));
        async move {
            let _held = mutex.lock().await;
            let (wait, line) = (event.wait(), line!());
            lines.first.set(line);
            wait.await;
        }
    });
    rt.wait_until("the holder holds", || mutex.is_locked())
        .await;
    let behind = tasks.spawn(&rt, {
        let (mutex, line_of) = (Arc::clone(&mutex), Arc::clone(&behind_line));
        async move {
            let (lock, line) = (mutex.lock(), line!());
            line_of.set(line);
            drop(lock.await);
        }
    });
    let condvar_waiter = tasks.spawn(&rt, {
        let (flag, changed, line_of) = (
            Arc::clone(&flag),
            Arc::clone(&changed),
            Arc::clone(&condvar_line),
        );
        async move {
            let mut set = flag.lock().await;
            while !*set {
                let (wait, line) = (changed.wait(set), line!());
                line_of.set(line);
                set = wait.await;
            }
        }
    });
    let barrier_waiter = tasks.spawn(&rt, {
        let (barrier, line_of) = (Arc::clone(&barrier), Arc::clone(&barrier_line));
        async move {
            let (wait, line) = (barrier.wait(), line!());
            line_of.set(line);
            wait.await;
        }
    });

    let mut snapshot = diagnostics::snapshot();
    rt.wait_until("every wait is recorded", || {
        snapshot = diagnostics::snapshot();
        [
            lines.first.0.load(SeqCst),
            condvar_line.0.load(SeqCst),
            barrier_line.0.load(SeqCst),
            behind_line.0.load(SeqCst),
        ]
        .iter()
        .all(|&line| line != 0 && waited_at(&snapshot, line).is_some())
    })
    .await;
    for (line, kind) in [
        (lines.first.get(), "Event"),
        (condvar_line.get(), "Condvar"),
        (barrier_line.get(), "Barrier"),
    ] {
        let (primitive, waiter) = waited_at(&snapshot, line).unwrap();
        assert_eq!(primitive.kind(), kind, "{snapshot}");
        assert_eq!(waiter.access(), Access::Notification, "{snapshot}");
        assert!(waiter.owner().is_task(), "{snapshot}");
        assert!(primitive.holders().is_empty(), "{snapshot}");
    }
    let (_, behind_wait) = waited_at(&snapshot, behind_line.get()).unwrap();
    assert_eq!(behind_wait.access(), Access::Exclusive);
    let event_id = waited_at(&snapshot, lines.first.get()).unwrap().0.id();
    assert_no_deadlock_for(&rt, &[mutex_id, event_id], Duration::from_millis(100)).await;

    event.set();
    *flag.lock().await = true;
    changed.notify_all();
    barrier.wait().await;
    for handle in [holder, behind, condvar_waiter, barrier_waiter] {
        assert!(
            matches!(
                rt.timeout(Duration::from_secs(10), handle).await,
                Some(Ok(()))
            ),
            "every wait completes"
        );
    }
    let snapshot = diagnostics::snapshot();
    for line in [lines.first.get(), condvar_line.get(), barrier_line.get()] {
        assert!(waited_at(&snapshot, line).is_none(), "{snapshot}");
    }
}
