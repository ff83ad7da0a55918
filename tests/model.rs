#![cfg(feature = "std")]
//! Random operation sequences checked step by step against a reference model
//! of a strictly FIFO weighted semaphore.
//!
//! Each seed generates a list of operations ([`Op`]): create an acquire
//! future, poll one, drop one in any state (never polled, queued, granted but
//! not yet polled, or a held permit), release part of a held permit, forget
//! or merge permits, `add_permits`, and the `try_*` calls. The list runs on
//! one thread, polling by hand with counting wakers, next to the model (a
//! `VecDeque` of waiters). After every operation:
//!
//! - a future completes only if the model granted it, and a granted waiter
//!   was woken;
//! - `available_permits()` and `waiters()` equal the model's;
//! - `available + held + parked == total`: held counts the permits of live
//!   permit values, parked those the model says queued or granted-but-unpolled
//!   waiters have collected, total the permits the model says exist.
//!
//! At the end every entry is dropped (each drop checked the same way) and all
//! permits must be back. A failing sequence is shrunk (delta debugging:
//! remove chunks and then single operations, simplify operations and lower
//! weights, as long as the sequence still fails) and the seed and the
//! shortest failing sequence are printed, one operation per line. The test
//! also fails if the interesting paths ([`Coverage`]) were never taken.
//!
//! Environment overrides, for hunting locally:
//!
//! - `FAIRSYNC_MODEL_SEEDS=<count>`: how many seeds to run (default 20 000;
//!   20 under Miri);
//! - `FAIRSYNC_MODEL_FIRST_SEED=<seed>`: the first of them (default 1);
//! - `FAIRSYNC_MODEL_SEED=<seed>`: run this seed only and print its trace
//!   (add `-- --nocapture` to see it when it passes).

// Tests build with the current toolchain only; `rust-version` covers the library.
#![allow(clippy::incompatible_msrv)]

mod common;

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Once};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::{counting_waker, iterations, panic_message, Rng, WakeCounter};
use fairsync::{Acquire, AcquireOwned, OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// Seeds run by default. Miri's interpreter is about 1000x slower than a
/// native debug build, so it runs a few short sequences.
const DEFAULT_SEEDS: u64 = iterations(20_000, 20) as u64;
/// The longest generated sequence.
const MAX_OPS: usize = iterations(160, 60);
/// Runs the shrinker may spend on one failure.
const SHRINK_BUDGET: usize = 20_000;

// ---------------------------------------------------------------------------
// Operations

/// How a `try_*` operation asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TryHow {
    /// `try_acquire()` for one permit, `try_acquire_many(n)` otherwise.
    Try,
    /// `try_acquire_many_owned(n)`.
    TryOwned,
    /// `acquire_many_blocking_timeout(n, Duration::ZERO)`.
    ZeroTimeout,
}

/// Which entry (future or permit) a step acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// The `n`-th (modulo their number) of the live entries the step can act
    /// on: what generated sequences use, so that most steps do something.
    Pick(usize),
    /// The entry created by step `k` of the sequence. Before shrinking, every
    /// `Pick` is resolved to the `Step` it hit, so removing other steps does
    /// not make a step act on another entry. A step whose entry is gone, or
    /// in a state the step cannot act on, does nothing.
    Step(usize),
}

/// A `Target::Step` that names no step.
const NO_STEP: usize = usize::MAX;

impl Target {
    /// This target once steps `removed` are gone from the sequence.
    fn after_removing(self, removed: std::ops::Range<usize>) -> Target {
        match self {
            Target::Step(k) if removed.contains(&k) => Target::Step(NO_STEP),
            Target::Step(k) if k >= removed.end && k != NO_STEP => Target::Step(k - removed.len()),
            other => other,
        }
    }
}

/// One step of a sequence. A step with nothing to act on does nothing, so
/// every sequence stays runnable when the shrinker removes steps from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Creates `acquire_many(weight)` (or `acquire_many_owned`), not polled.
    Acquire { weight: usize, owned: bool },
    /// Polls a not yet completed future, with a new waker if `new_waker`.
    Poll { target: Target, new_waker: bool },
    /// Drops any entry: cancels a future in whatever state it is, or
    /// releases a permit.
    Drop { target: Target },
    /// Splits `part` permits off a held permit and drops them.
    Release { target: Target, part: usize },
    /// Forgets a held permit.
    Forget { target: Target },
    /// Merges one held permit into another of the same kind.
    Merge { target: Target, source: Target },
    /// `add_permits(n)`.
    AddPermits { n: usize },
    /// A `try_*` call for `n` permits.
    TryAcquire { n: usize, how: TryHow },
}

impl Op {
    /// Simpler variants of this step, simplest first, for the shrinker:
    /// smaller weights, and the plain variant of an owned or new-waker step.
    fn simpler(self) -> Vec<Op> {
        fn smaller(n: usize) -> Vec<usize> {
            let mut v = vec![0, 1, n / 2, n.saturating_sub(1)];
            v.retain(|&m| m < n);
            v.dedup();
            v
        }
        let mut out = Vec::new();
        match self {
            Op::Acquire { weight, owned } => {
                if owned {
                    out.push(Op::Acquire {
                        weight,
                        owned: false,
                    });
                }
                out.extend(
                    smaller(weight)
                        .into_iter()
                        .map(|weight| Op::Acquire { weight, owned }),
                );
            }
            Op::Poll {
                target,
                new_waker: true,
            } => out.push(Op::Poll {
                target,
                new_waker: false,
            }),
            Op::Release { target, part } => {
                out.extend(
                    smaller(part)
                        .into_iter()
                        .map(|part| Op::Release { target, part }),
                );
            }
            Op::AddPermits { n } => {
                out.extend(smaller(n).into_iter().map(|n| Op::AddPermits { n }));
            }
            Op::TryAcquire { n, how } => {
                if how != TryHow::Try {
                    out.push(Op::TryAcquire {
                        n,
                        how: TryHow::Try,
                    });
                }
                out.extend(smaller(n).into_iter().map(|n| Op::TryAcquire { n, how }));
            }
            Op::Poll { .. } | Op::Drop { .. } | Op::Forget { .. } | Op::Merge { .. } => {}
        }
        out
    }

    /// The targets of this step, in the order the step resolves them.
    fn targets_mut(&mut self) -> Vec<&mut Target> {
        match self {
            Op::Poll { target, .. }
            | Op::Drop { target }
            | Op::Release { target, .. }
            | Op::Forget { target } => vec![target],
            Op::Merge { target, source } => vec![target, source],
            Op::Acquire { .. } | Op::AddPermits { .. } | Op::TryAcquire { .. } => Vec::new(),
        }
    }
}

/// A sequence: the semaphore's initial permits and the steps.
#[derive(Clone, Debug)]
struct Case {
    permits: usize,
    ops: Vec<Op>,
}

impl Case {
    /// This case without steps `removed`, its later targets renumbered.
    fn without(&self, removed: std::ops::Range<usize>) -> Case {
        let mut ops = self.ops.clone();
        ops.drain(removed.clone());
        for op in &mut ops {
            for target in op.targets_mut() {
                *target = target.after_removing(removed.clone());
            }
        }
        Case {
            permits: self.permits,
            ops,
        }
    }
}

/// A weight for an acquire or `try_*` call: mostly 1, sometimes 0 or more.
fn weight(rng: &mut Rng) -> usize {
    match rng.range(0, 9) {
        0 => 0,
        1..=5 => 1,
        6 | 7 => 2,
        _ => rng.range(3, 5),
    }
}

/// The sequence of `seed`. Each seed draws its own mix of operation kinds, so
/// some seeds churn through short queues and others (one in four) rarely
/// release anything and pile up long ones.
fn generate(seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    let permits = rng.range(0, 4);
    let pile_up = rng.range(0, 3) == 0;
    let len = if pile_up {
        rng.range(MAX_OPS / 2, 2 * MAX_OPS)
    } else {
        rng.range(1, MAX_OPS)
    };
    let (drop, release) = if pile_up { (1, 0) } else { (6, 3) };
    let mix = [
        rng.range(2, 8),       // acquire
        rng.range(2, 10),      // poll
        rng.range(1, drop),    // drop
        rng.range(0, release), // release part
        rng.range(0, 2),       // forget
        rng.range(0, 2),       // merge
        rng.range(0, 4),       // add_permits
        rng.range(0, 4),       // try_*
    ];
    let sum: usize = mix.iter().sum();
    // One seed in eight starts with a flood: more waiters than the queue
    // wakes in one batch (32) queue up, then one `add_permits` grants them
    // all, and the random steps go on from there.
    let mut ops = Vec::new();
    if rng.range(0, 7) == 0 {
        let waiters = rng.range(33, 40);
        for _ in 0..waiters {
            let k = ops.len();
            ops.push(Op::Acquire {
                weight: 1,
                owned: rng.range(0, 3) == 0,
            });
            ops.push(Op::Poll {
                target: Target::Step(k),
                new_waker: false,
            });
        }
        ops.push(Op::AddPermits {
            n: permits + waiters + rng.range(0, 2),
        });
    }
    ops.extend((0..len).map(|_| {
        let mut pick = rng.range(0, sum - 1);
        let kind = mix
            .iter()
            .position(|&w| {
                if pick < w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .expect("pick < sum");
        let target = Target::Pick(rng.range(0, 1 << 16));
        match kind {
            0 => Op::Acquire {
                weight: weight(&mut rng),
                owned: rng.range(0, 3) == 0,
            },
            1 => Op::Poll {
                target,
                new_waker: rng.range(0, 5) == 0,
            },
            2 => Op::Drop { target },
            3 => Op::Release {
                target,
                part: rng.range(0, 3),
            },
            4 => Op::Forget { target },
            5 => Op::Merge {
                target,
                source: Target::Pick(rng.range(0, 1 << 16)),
            },
            6 if pile_up && rng.range(0, 3) == 0 => Op::AddPermits {
                n: rng.range(5, 40),
            },
            6 => Op::AddPermits { n: rng.range(1, 3) },
            _ => Op::TryAcquire {
                n: weight(&mut rng),
                how: match rng.range(0, 2) {
                    0 => TryHow::Try,
                    1 => TryHow::TryOwned,
                    _ => TryHow::ZeroTimeout,
                },
            },
        }
    }));
    Case { permits, ops }
}

// ---------------------------------------------------------------------------
// The reference model

/// A queued waiter in the model.
struct Waiting {
    id: usize,
    weight: usize,
    /// Permits still missing; `weight - missing` are collected (parked).
    missing: usize,
}

/// A strictly FIFO weighted semaphore, the obvious way.
#[derive(Default)]
struct Model {
    /// Permits the semaphore owns: free, held, or parked with waiters.
    total: usize,
    /// Permits in the counter, free to take.
    free: usize,
    queue: VecDeque<Waiting>,
    /// Waiters granted all they asked for but not yet polled: (id, weight).
    granted: Vec<(usize, usize)>,
    /// Waiters granted since the last check, which must have been woken.
    just_granted: Vec<usize>,
    /// A deliberate model bug, to test the shrinker: `add_permits` puts
    /// permits in the counter even while waiters queue.
    planted_fault: bool,
}

impl Model {
    /// Hands `n` permits to the waiters from the head, the rest to the
    /// counter.
    fn release(&mut self, mut n: usize, cov: &mut Coverage) {
        let mut granted = 0;
        while n > 0 {
            let Some(head) = self.queue.front_mut() else {
                break;
            };
            let take = head.missing.min(n);
            head.missing -= take;
            n -= take;
            if head.missing == 0 {
                let head = self.queue.pop_front().expect("front exists");
                self.granted.push((head.id, head.weight));
                self.just_granted.push(head.id);
                granted += 1;
            } else {
                cov.partial_grants += 1;
            }
        }
        cov.max_granted_at_once = cov.max_granted_at_once.max(granted);
        self.free += n;
    }

    fn is_granted(&self, id: usize) -> bool {
        self.granted.iter().any(|&(g, _)| g == id)
    }

    /// Permits collected by queued waiters and by granted, unpolled ones.
    fn parked(&self) -> usize {
        let queued: usize = self.queue.iter().map(|w| w.weight - w.missing).sum();
        let granted: usize = self.granted.iter().map(|&(_, w)| w).sum();
        queued + granted
    }

    /// `[w1 1/2, w3 0/1]`: the queue with collected/asked per waiter.
    fn describe_queue(&self) -> String {
        let mut s = String::from("[");
        for (i, w) in self.queue.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "w{} {}/{}", w.id, w.weight - w.missing, w.weight);
        }
        s.push(']');
        s
    }
}

/// How often the interesting paths were taken over a run, so the test cannot
/// pass vacuously.
#[derive(Default, Debug, Clone, Copy)]
struct Coverage {
    steps: usize,
    /// Futures that joined the queue.
    queued: usize,
    /// The longest queue seen.
    max_queue: usize,
    /// The most waiters one release granted.
    max_granted_at_once: usize,
    /// Releases that gave a weighted head part of what it asked for.
    partial_grants: usize,
    /// Granted waiters that completed at their next poll.
    granted_then_polled: usize,
    /// A queued head dropped with permits already collected.
    cancel_head_with_collected: usize,
    /// A queued waiter behind the head dropped.
    cancel_behind_head: usize,
    /// A waiter granted but not yet polled dropped.
    cancel_granted_unpolled: usize,
    /// `add_permits` while waiters queued.
    add_while_queued: usize,
    /// `try_*` refused because waiters queued.
    try_refused_while_queued: usize,
    /// `acquire_many(0)` ready at once while waiters queued.
    zero_ready_while_queued: usize,
    /// A queued waiter re-polled with a new waker and later granted.
    new_waker_then_granted: usize,
    splits: usize,
    forgets: usize,
    merges: usize,
}

impl Coverage {
    fn add(&mut self, other: &Coverage) {
        self.steps += other.steps;
        self.queued += other.queued;
        self.max_queue = self.max_queue.max(other.max_queue);
        self.max_granted_at_once = self.max_granted_at_once.max(other.max_granted_at_once);
        self.partial_grants += other.partial_grants;
        self.granted_then_polled += other.granted_then_polled;
        self.cancel_head_with_collected += other.cancel_head_with_collected;
        self.cancel_behind_head += other.cancel_behind_head;
        self.cancel_granted_unpolled += other.cancel_granted_unpolled;
        self.add_while_queued += other.add_while_queued;
        self.try_refused_while_queued += other.try_refused_while_queued;
        self.zero_ready_while_queued += other.zero_ready_while_queued;
        self.new_waker_then_granted += other.new_waker_then_granted;
        self.splits += other.splits;
        self.forgets += other.forgets;
        self.merges += other.merges;
    }

    /// The counters that are still zero.
    fn missed(&self) -> Vec<&'static str> {
        let counters = [
            ("queued", self.queued),
            ("partial_grants", self.partial_grants),
            ("granted_then_polled", self.granted_then_polled),
            (
                "cancel_head_with_collected",
                self.cancel_head_with_collected,
            ),
            ("cancel_behind_head", self.cancel_behind_head),
            ("cancel_granted_unpolled", self.cancel_granted_unpolled),
            ("add_while_queued", self.add_while_queued),
            ("try_refused_while_queued", self.try_refused_while_queued),
            ("zero_ready_while_queued", self.zero_ready_while_queued),
            ("new_waker_then_granted", self.new_waker_then_granted),
            ("splits", self.splits),
            ("forgets", self.forgets),
            ("merges", self.merges),
        ];
        counters
            .iter()
            .filter(|&&(_, n)| n == 0)
            .map(|&(name, _)| name)
            .collect()
    }
}

// ---------------------------------------------------------------------------
// The system under test

enum Fut<'a> {
    Borrowed(Pin<Box<Acquire<'a>>>),
    Owned(Pin<Box<AcquireOwned>>),
}

impl<'a> Fut<'a> {
    fn poll(&mut self, waker: &Waker) -> Poll<Permit<'a>> {
        let mut cx = Context::from_waker(waker);
        match self {
            Fut::Borrowed(f) => f.as_mut().poll(&mut cx).map(Permit::Borrowed),
            Fut::Owned(f) => f.as_mut().poll(&mut cx).map(Permit::Owned),
        }
    }
}

enum Permit<'a> {
    Borrowed(SemaphorePermit<'a>),
    Owned(OwnedSemaphorePermit),
}

impl Permit<'_> {
    fn permits(&self) -> usize {
        match self {
            Permit::Borrowed(p) => p.permits(),
            Permit::Owned(p) => p.permits(),
        }
    }

    fn split(&mut self, n: usize) -> Option<Self> {
        match self {
            Permit::Borrowed(p) => p.split(n).map(Permit::Borrowed),
            Permit::Owned(p) => p.split(n).map(Permit::Owned),
        }
    }

    fn forget(self) {
        match self {
            Permit::Borrowed(p) => p.forget(),
            Permit::Owned(p) => p.forget(),
        }
    }

    fn is_owned(&self) -> bool {
        matches!(self, Permit::Owned(_))
    }

    /// Merges `other` into `self`; gives `other` back if the kinds differ.
    fn merge(&mut self, other: Self) -> Result<(), Self> {
        match (self, other) {
            (Permit::Borrowed(a), Permit::Borrowed(b)) => a.merge(b),
            (Permit::Owned(a), Permit::Owned(b)) => a.merge(b),
            (_, other) => return Err(other),
        }
        Ok(())
    }
}

enum State<'a> {
    /// An acquire future; `polled` once it was polled (and so queued).
    Future {
        fut: Fut<'a>,
        polled: bool,
    },
    Held(Permit<'a>),
}

struct Entry<'a> {
    id: usize,
    /// Permits asked for (a future) or held (a permit).
    weight: usize,
    state: State<'a>,
    /// Counts wakes of `waker`, the waker of the latest poll.
    wakes: Arc<WakeCounter>,
    waker: Waker,
    /// Re-polled with a new waker while queued.
    new_waker: bool,
}

impl Entry<'_> {
    fn is_future(&self) -> bool {
        matches!(self.state, State::Future { .. })
    }

    fn held(&self) -> Option<&Permit<'_>> {
        match &self.state {
            State::Held(p) => Some(p),
            State::Future { .. } => None,
        }
    }
}

/// Fails the current step with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!($($fmt)*));
        }
    };
}

/// Runs one sequence next to the model.
struct Runner<'a, 'c> {
    sem: &'a Arc<Semaphore>,
    model: Model,
    entries: Vec<Entry<'a>>,
    /// The step running now; an entry's id is the step that created it.
    step: usize,
    /// The entries the current step's targets named, as ids.
    picked: Vec<usize>,
    obs: &'c mut Observer,
}

/// What a run reports besides pass or fail.
#[derive(Default)]
struct Observer {
    cov: Coverage,
    /// One line per step (and per teardown drop), if `Some`.
    trace: Option<Vec<String>>,
    /// The steps with their targets resolved to `Target::Step`, if `Some`.
    resolved: Option<Vec<Op>>,
}

impl Observer {
    fn tracing() -> Self {
        Observer {
            trace: Some(Vec::new()),
            ..Observer::default()
        }
    }

    fn resolving() -> Self {
        Observer {
            resolved: Some(Vec::new()),
            ..Observer::default()
        }
    }
}

/// Appends a line to the trace, formatting it only when tracing.
macro_rules! note {
    ($runner:expr, $($fmt:tt)*) => {
        if let Some(trace) = $runner.obs.trace.as_mut() {
            trace.push(format!($($fmt)*));
        }
    };
}

impl<'a> Runner<'a, '_> {
    /// The position in `entries` of the entry `target` names, if it
    /// satisfies `pred`. Records which entry that was, so the step can be
    /// resolved to `Target::Step`s.
    fn pick(&mut self, target: Target, pred: impl Fn(usize, &Entry<'a>) -> bool) -> Option<usize> {
        let found = match target {
            Target::Pick(n) => {
                let count = self
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(i, e)| pred(*i, e))
                    .count();
                if count == 0 {
                    None
                } else {
                    self.entries
                        .iter()
                        .enumerate()
                        .filter(|(i, e)| pred(*i, e))
                        .nth(n % count)
                        .map(|(i, _)| i)
                }
            }
            Target::Step(k) => self
                .entries
                .iter()
                .enumerate()
                .position(|(i, e)| e.id == k && pred(i, e)),
        };
        self.picked
            .push(found.map_or(NO_STEP, |i| self.entries[i].id));
        found
    }

    fn new_entry(&mut self, weight: usize, state: State<'a>) -> usize {
        let id = self.step;
        let (wakes, waker) = counting_waker();
        self.entries.push(Entry {
            id,
            weight,
            state,
            wakes,
            waker,
            new_waker: false,
        });
        id
    }

    fn apply(&mut self, op: Op) -> Result<(), String> {
        self.obs.cov.steps += 1;
        match op {
            Op::Acquire { weight, owned } => {
                let fut = if owned {
                    Fut::Owned(Box::pin(Arc::clone(self.sem).acquire_many_owned(weight)))
                } else {
                    Fut::Borrowed(Box::pin(self.sem.acquire_many(weight)))
                };
                let id = self.new_entry(weight, State::Future { fut, polled: false });
                let owned = if owned { "_owned" } else { "" };
                note!(self, "w{id} = acquire_many{owned}({weight})");
            }
            Op::Poll { target, new_waker } => {
                let Some(i) = self.pick(target, |_, e| e.is_future()) else {
                    note!(self, "poll: no future to poll (no-op)");
                    return Ok(());
                };
                self.poll_entry(i, new_waker)?;
            }
            Op::Drop { target } => {
                let Some(i) = self.pick(target, |_, _| true) else {
                    note!(self, "drop: nothing to drop (no-op)");
                    return Ok(());
                };
                self.drop_entry(i)?;
            }
            Op::Release { target, part } => {
                let Some(i) = self.pick(target, |_, e| e.held().is_some()) else {
                    note!(self, "release: no permit held (no-op)");
                    return Ok(());
                };
                let e = &mut self.entries[i];
                let State::Held(permit) = &mut e.state else {
                    unreachable!("picked a held permit")
                };
                let held = permit.permits();
                let part = if part > held {
                    ensure!(
                        permit.split(part).is_none(),
                        "split({part}) of a permit of {held} returned Some"
                    );
                    held
                } else {
                    part
                };
                let Some(piece) = permit.split(part) else {
                    return Err(format!("split({part}) of a permit of {held} returned None"));
                };
                note!(self, "release {part} of w{}'s {held} permits", e.id);
                ensure!(
                    piece.permits() == part && permit.permits() == held - part,
                    "split({part}) of {held} gave {} + {}",
                    piece.permits(),
                    permit.permits()
                );
                e.weight -= part;
                drop(piece);
                self.obs.cov.splits += 1;
                self.model.release(part, &mut self.obs.cov);
            }
            Op::Forget { target } => {
                let Some(i) = self.pick(target, |_, e| e.held().is_some()) else {
                    note!(self, "forget: no permit held (no-op)");
                    return Ok(());
                };
                let e = self.entries.remove(i);
                let State::Held(permit) = e.state else {
                    unreachable!("picked a held permit")
                };
                let n = permit.permits();
                note!(self, "forget w{}'s permit of {n}", e.id);
                permit.forget();
                self.obs.cov.forgets += 1;
                self.model.total -= n;
            }
            Op::Merge { target, source } => {
                let Some(t) = self.pick(target, |_, e| e.held().is_some()) else {
                    note!(self, "merge: no permit held (no-op)");
                    return Ok(());
                };
                let owned = self.entries[t].held().expect("held").is_owned();
                let Some(s) = self.pick(source, |i, e| {
                    i != t && e.held().is_some_and(|p| p.is_owned() == owned)
                }) else {
                    note!(self, "merge: no second permit of the same kind (no-op)");
                    return Ok(());
                };
                let source = self.entries.remove(s);
                let t = if s < t { t - 1 } else { t };
                let State::Held(piece) = source.state else {
                    unreachable!("picked a held permit")
                };
                let n = piece.permits();
                let target = &mut self.entries[t];
                note!(
                    self,
                    "merge w{}'s permit of {n} into w{}'s of {}",
                    source.id,
                    target.id,
                    target.weight
                );
                let State::Held(permit) = &mut target.state else {
                    unreachable!("picked a held permit")
                };
                if permit.merge(piece).is_err() {
                    unreachable!("picked permits of the same kind");
                }
                target.weight += n;
                ensure!(
                    permit.permits() == target.weight,
                    "merged permit holds {}, expected {}",
                    permit.permits(),
                    target.weight
                );
                self.obs.cov.merges += 1;
            }
            Op::AddPermits { n } => {
                note!(self, "add_permits({n})");
                if !self.model.queue.is_empty() {
                    self.obs.cov.add_while_queued += 1;
                }
                self.sem.add_permits(n);
                self.model.total += n;
                if self.model.planted_fault {
                    self.model.free += n;
                } else {
                    self.model.release(n, &mut self.obs.cov);
                }
            }
            Op::TryAcquire { n, how } => {
                let expected = n == 0 || (self.model.queue.is_empty() && self.model.free >= n);
                let (got, call) = match how {
                    TryHow::Try if n == 1 => (
                        self.sem.try_acquire().map(Permit::Borrowed),
                        "try_acquire()".to_string(),
                    ),
                    TryHow::Try => (
                        self.sem.try_acquire_many(n).map(Permit::Borrowed),
                        format!("try_acquire_many({n})"),
                    ),
                    TryHow::TryOwned => (
                        self.sem.try_acquire_many_owned(n).map(Permit::Owned),
                        format!("try_acquire_many_owned({n})"),
                    ),
                    TryHow::ZeroTimeout => (
                        self.sem
                            .acquire_many_blocking_timeout(n, Duration::ZERO)
                            .map(Permit::Borrowed),
                        format!("acquire_many_blocking_timeout({n}, ZERO)"),
                    ),
                };
                match got {
                    Some(permit) => {
                        let got = permit.permits();
                        let id = self.new_entry(n, State::Held(permit));
                        note!(self, "w{id} = {call} -> Some");
                        ensure!(expected, "{call} succeeded, the model says it must fail");
                        ensure!(got == n, "{call} returned a permit of {got}");
                        self.model.free -= n;
                    }
                    None => {
                        note!(self, "{call} -> None");
                        ensure!(!expected, "{call} failed, the model says it must succeed");
                        if !self.model.queue.is_empty() {
                            self.obs.cov.try_refused_while_queued += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn poll_entry(&mut self, i: usize, new_waker: bool) -> Result<(), String> {
        let e = &mut self.entries[i];
        let id = e.id;
        let weight = e.weight;
        let State::Future { fut, polled } = &mut e.state else {
            unreachable!("picked a future")
        };
        let fresh = !*polled;
        // Whether the waker of the previous poll was woken: a grant wakes
        // that one, before this poll may replace it.
        let woken = e.wakes.count() > 0;
        if new_waker {
            (e.wakes, e.waker) = counting_waker();
            e.new_waker |= !fresh;
        }
        let expect_ready = if fresh {
            weight == 0 || (self.model.queue.is_empty() && self.model.free >= weight)
        } else {
            self.model.is_granted(id)
        };
        let with = if new_waker { " with a new waker" } else { "" };
        match fut.poll(&e.waker) {
            Poll::Ready(permit) => {
                note!(self, "poll w{id}{with} -> Ready({})", permit.permits());
                ensure!(
                    expect_ready,
                    "w{id} completed, but the model has not granted it (queue {})",
                    self.model.describe_queue()
                );
                ensure!(
                    permit.permits() == weight,
                    "w{id} asked for {weight} permits and got {}",
                    permit.permits()
                );
                if fresh {
                    if weight == 0 && !self.model.queue.is_empty() {
                        self.obs.cov.zero_ready_while_queued += 1;
                    }
                    self.model.free -= weight;
                } else {
                    ensure!(woken, "w{id} was granted but never woken");
                    self.model.granted.retain(|&(g, _)| g != id);
                    self.obs.cov.granted_then_polled += 1;
                    if e.new_waker {
                        self.obs.cov.new_waker_then_granted += 1;
                    }
                }
                e.state = State::Held(permit);
            }
            Poll::Pending => {
                *polled = true;
                if fresh {
                    let take = if self.model.queue.is_empty() {
                        self.model.free
                    } else {
                        0
                    };
                    if !expect_ready {
                        self.model.free -= take;
                        self.model.queue.push_back(Waiting {
                            id,
                            weight,
                            missing: weight - take,
                        });
                        self.obs.cov.queued += 1;
                        self.obs.cov.max_queue = self.obs.cov.max_queue.max(self.model.queue.len());
                    }
                    note!(
                        self,
                        "poll w{id}{with} -> Pending (queue {})",
                        self.model.describe_queue()
                    );
                } else {
                    note!(self, "poll w{id}{with} -> Pending");
                }
                ensure!(
                    !expect_ready,
                    "w{id} is pending, but the model {} it",
                    if fresh {
                        "has enough permits for"
                    } else {
                        "granted"
                    }
                );
            }
        }
        Ok(())
    }

    /// Drops entry `i`, whatever its state, and updates the model.
    fn drop_entry(&mut self, i: usize) -> Result<(), String> {
        let e = self.entries.remove(i);
        let id = e.id;
        match &e.state {
            State::Future { polled: false, .. } => {
                note!(self, "drop w{id} (never polled)");
            }
            State::Future { polled: true, .. } if self.model.is_granted(id) => {
                note!(self, "drop w{id} (granted {} but not yet polled)", e.weight);
                self.model.granted.retain(|&(g, _)| g != id);
                self.obs.cov.cancel_granted_unpolled += 1;
                self.model.release(e.weight, &mut self.obs.cov);
            }
            State::Future { polled: true, .. } => {
                let Some(pos) = self.model.queue.iter().position(|w| w.id == id) else {
                    return Err(format!(
                        "test bug: w{id} is neither queued nor granted in the model"
                    ));
                };
                let waiting = self.model.queue.remove(pos).expect("position exists");
                let collected = waiting.weight - waiting.missing;
                note!(
                    self,
                    "drop w{id} (queued at {pos}, collected {collected}/{})",
                    waiting.weight
                );
                ensure!(
                    pos == 0 || collected == 0,
                    "model: w{id} behind the head collected permits"
                );
                if pos > 0 {
                    self.obs.cov.cancel_behind_head += 1;
                } else if collected > 0 {
                    self.obs.cov.cancel_head_with_collected += 1;
                }
                self.model.release(collected, &mut self.obs.cov);
            }
            State::Held(permit) => {
                let n = permit.permits();
                note!(self, "drop w{id}'s permit of {n}");
                self.model.release(n, &mut self.obs.cov);
            }
        }
        drop(e);
        Ok(())
    }

    /// Compares the semaphore with the model.
    fn check(&mut self) -> Result<(), String> {
        let m = &self.model;
        ensure!(
            m.free == 0 || m.queue.is_empty(),
            "model bug: {} free permits while waiters queue",
            m.free
        );
        let available = self.sem.available_permits();
        ensure!(
            available == m.free,
            "available_permits() is {available}, the model says {} (queue {})",
            m.free,
            m.describe_queue()
        );
        let waiters = self.sem.waiters();
        ensure!(
            waiters == m.queue.len(),
            "waiters() is {waiters}, the model says {} (queue {})",
            m.queue.len(),
            m.describe_queue()
        );
        let held: usize = self
            .entries
            .iter()
            .filter_map(|e| e.held().map(Permit::permits))
            .sum();
        let parked = m.parked();
        ensure!(
            available + held + parked == m.total,
            "available {available} + held {held} + parked {parked} != total {}",
            m.total
        );
        for &id in &m.just_granted {
            let Some(e) = self.entries.iter().find(|e| e.id == id) else {
                return Err(format!("test bug: granted w{id} is not an entry"));
            };
            ensure!(e.wakes.count() > 0, "w{id} was granted but not woken");
        }
        self.model.just_granted.clear();
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Running, shrinking and reporting

/// Where and how a sequence failed.
#[derive(Clone, Debug)]
struct Failure {
    /// The index of the failing step; `ops.len()` for the final teardown.
    step: usize,
    message: String,
}

/// Runs `case`, stopping at the first divergence from the model. A panic
/// (from the crate or the harness) is a failure too.
fn run_case(case: &Case, planted_fault: bool, obs: &mut Observer) -> Result<(), Failure> {
    let step = Cell::new(0);
    let result = quietly(|| {
        panic::catch_unwind(AssertUnwindSafe(|| {
            execute(case, planted_fault, obs, &step)
        }))
    });
    let message = match result {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(message)) => message,
        Err(payload) => format!("panicked: {}", panic_message(&*payload)),
    };
    Err(Failure {
        step: step.get(),
        message,
    })
}

fn execute(
    case: &Case,
    planted_fault: bool,
    obs: &mut Observer,
    step: &Cell<usize>,
) -> Result<(), String> {
    let sem = Arc::new(Semaphore::new(case.permits));
    let mut runner = Runner {
        sem: &sem,
        model: Model {
            total: case.permits,
            free: case.permits,
            planted_fault,
            ..Model::default()
        },
        entries: Vec::new(),
        step: 0,
        picked: Vec::new(),
        obs,
    };
    runner.check()?;
    for (i, &op) in case.ops.iter().enumerate() {
        step.set(i);
        runner.step = i;
        runner.picked.clear();
        let applied = runner.apply(op);
        if let Some(resolved) = runner.obs.resolved.as_mut() {
            let mut op = op;
            for (j, target) in op.targets_mut().into_iter().enumerate() {
                *target = Target::Step(runner.picked.get(j).copied().unwrap_or(NO_STEP));
            }
            resolved.push(op);
        }
        applied?;
        runner.check()?;
    }
    // Teardown: drop what is left, oldest first, checking each drop.
    step.set(case.ops.len());
    while !runner.entries.is_empty() {
        runner.drop_entry(0)?;
        runner.check()?;
    }
    let (available, waiters) = (sem.available_permits(), sem.waiters());
    ensure!(
        waiters == 0 && available == runner.model.total,
        "after dropping everything: available_permits() {available} (total {}), waiters() {waiters}",
        runner.model.total
    );
    Ok(())
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the panic hook silenced on this thread: the shrinker makes
/// many runs panic on purpose, and the report carries the panic message.
fn quietly<R>(f: impl FnOnce() -> R) -> R {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            QUIET.with(|q| q.set(self.0));
        }
    }
    let _restore = Restore(QUIET.with(|q| q.replace(true)));
    f()
}

/// Shrinks a failing case. First every target is resolved to the step that
/// created its entry and the steps after the failure are dropped; then
/// chunks of steps are removed (halving the chunk size down to single
/// steps), then each step is replaced by simpler variants and the initial
/// permits lowered, until nothing more can go. Any failure counts, not only
/// the original one. Returns the smallest failing case, its failure, and how
/// many runs it took.
fn shrink(case: &Case, failure: &Failure, planted_fault: bool) -> (Case, Failure, usize) {
    let runs = Cell::new(0);
    let budget_left = || runs.get() < SHRINK_BUDGET;
    let attempt = |candidate: &Case| -> Option<Failure> {
        runs.set(runs.get() + 1);
        run_case(candidate, planted_fault, &mut Observer::default()).err()
    };
    let mut best = case.clone();
    let mut best_failure = failure.clone();
    let mut obs = Observer::resolving();
    if let Err(f) = run_case(case, planted_fault, &mut obs) {
        let resolved = Case {
            permits: case.permits,
            ops: obs.resolved.take().unwrap_or_default(),
        };
        // The resolved steps stop at the failure; they fail the same way
        // unless a target named an entry in a way the run cannot repeat.
        if let Some(f) = attempt(&resolved) {
            best = resolved;
            best_failure = f;
        } else {
            best_failure = f;
        }
    }
    best.ops.truncate(best_failure.step + 1);
    loop {
        let mut progress = false;
        let mut chunk = (best.ops.len() / 2).max(1);
        loop {
            let mut i = 0;
            while i < best.ops.len() && budget_left() {
                let end = (i + chunk).min(best.ops.len());
                let mut candidate = best.without(i..end);
                if let Some(f) = attempt(&candidate) {
                    candidate.ops.truncate(f.step + 1);
                    best = candidate;
                    best_failure = f;
                    progress = true;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
        for i in 0..best.ops.len() {
            for simpler in best.ops[i].simpler() {
                if !budget_left() {
                    break;
                }
                let mut candidate = best.clone();
                candidate.ops[i] = simpler;
                if let Some(f) = attempt(&candidate) {
                    best = candidate;
                    best_failure = f;
                    progress = true;
                    break;
                }
            }
        }
        for permits in 0..best.permits {
            let candidate = Case {
                permits,
                ops: best.ops.clone(),
            };
            if let Some(f) = attempt(&candidate) {
                best = candidate;
                best_failure = f;
                progress = true;
                break;
            }
        }
        if !progress || !budget_left() {
            break;
        }
    }
    (best, best_failure, runs.get())
}

/// The failure report of `seed`: the failure, and the shrunk sequence one
/// step per line, as the trace of its run. Also returns the shrunk case.
fn report(seed: u64, case: &Case, failure: &Failure, planted_fault: bool) -> (String, Case) {
    let (small, small_failure, runs) = shrink(case, failure, planted_fault);
    let mut obs = Observer::tracing();
    let replay = run_case(&small, planted_fault, &mut obs);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "seed {seed}: the semaphore diverged from the FIFO model\n\
         original: Semaphore::new({}) and {} steps, failing at {}: {}\n\
         minimized in {runs} runs to Semaphore::new({}) and {} steps, failing at {}: {}\n\
         the minimized sequence (wN is the future or permit step N created):",
        case.permits,
        case.ops.len(),
        step_name(failure.step, case.ops.len()),
        failure.message,
        small.permits,
        small.ops.len(),
        step_name(small_failure.step, small.ops.len()),
        small_failure.message,
    );
    let _ = writeln!(out, "       sem = Semaphore::new({})", small.permits);
    let trace = obs.trace.unwrap_or_default();
    write_trace(&mut out, &trace, small.ops.len(), replay.is_err());
    if replay.is_ok() {
        let _ = writeln!(out, "  (the minimized sequence passed when replayed)");
    }
    let _ = writeln!(out, "as data: {:?}", small.ops);
    let _ = write!(
        out,
        "replay: FAIRSYNC_MODEL_SEED={seed} cargo test --test model -- --nocapture"
    );
    (out, small)
}

/// One trace line per step, numbered; the teardown's drops marked `end`.
/// The line of a run that failed (its last line) is marked too.
fn write_trace(out: &mut String, trace: &[String], steps: usize, failed: bool) {
    for (i, line) in trace.iter().enumerate() {
        let mark = if failed && i + 1 == trace.len() {
            "   <- fails here"
        } else {
            ""
        };
        if i < steps {
            let _ = writeln!(out, "  {i:>4}: {line}{mark}");
        } else {
            let _ = writeln!(out, "   end: {line}{mark}");
        }
    }
}

fn step_name(step: usize, len: usize) -> String {
    if step < len {
        format!("step {step}")
    } else {
        "the teardown".to_string()
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

#[test]
fn random_sequences_match_a_fifo_model() {
    if let Some(seed) = env_u64("FAIRSYNC_MODEL_SEED") {
        let case = generate(seed);
        let mut obs = Observer::tracing();
        let result = run_case(&case, false, &mut obs);
        let mut out = format!(
            "seed {seed}: {} steps\n       sem = Semaphore::new({})\n",
            case.ops.len(),
            case.permits
        );
        write_trace(
            &mut out,
            obs.trace.as_deref().unwrap_or_default(),
            case.ops.len(),
            result.is_err(),
        );
        println!("{out}");
        if let Err(failure) = result {
            panic!("{}", report(seed, &case, &failure, false).0);
        }
        println!("seed {seed} passed: {:?}", obs.cov);
        return;
    }
    let first = env_u64("FAIRSYNC_MODEL_FIRST_SEED").unwrap_or(1);
    let seeds = env_u64("FAIRSYNC_MODEL_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let mut cov = Coverage::default();
    for seed in first..first + seeds {
        let case = generate(seed);
        let mut obs = Observer::default();
        if let Err(failure) = run_case(&case, false, &mut obs) {
            panic!("{}", report(seed, &case, &failure, false).0);
        }
        cov.add(&obs.cov);
    }
    println!("{seeds} seeds from {first}: {cov:?}");
    let missed = cov.missed();
    assert!(
        missed.is_empty(),
        "the random sequences never took these paths: {missed:?}\n{cov:?}"
    );
    if !cfg!(miri) && seeds >= DEFAULT_SEEDS {
        assert!(
            cov.max_queue > 32 && cov.max_granted_at_once > 32,
            "no release granted more waiters than one wake batch holds: {cov:?}"
        );
    }
}

/// The shrinker itself: with a deliberately wrong model (`add_permits`
/// barging past queued waiters), the first failing seed must shrink to the
/// three steps that show it.
#[test]
#[cfg_attr(miri, ignore = "tests the test harness, not the crate")]
fn shrinker_minimizes_a_planted_model_fault() {
    let (seed, case, failure) = (1..1000)
        .find_map(|seed| {
            let case = generate(seed);
            let failure = run_case(&case, true, &mut Observer::default()).err()?;
            Some((seed, case, failure))
        })
        .expect("some seed adds permits while a waiter queues");
    let (text, small) = report(seed, &case, &failure, true);
    assert_eq!(
        (small.permits, small.ops.as_slice()),
        (
            0,
            &[
                Op::Acquire {
                    weight: 1,
                    owned: false
                },
                Op::Poll {
                    target: Target::Step(0),
                    new_waker: false
                },
                Op::AddPermits { n: 1 },
            ][..]
        ),
        "{text}"
    );
    assert!(text.contains(&format!("seed {seed}:")), "{text}");
}
