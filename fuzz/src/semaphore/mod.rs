//! `Semaphore` against a strictly FIFO weighted semaphore model.
//!
//! Operations: acquire futures of weight 0 to 4 (borrowed or owned), polled
//! with the same or a new waker and dropped in every state (never polled,
//! queued, holding part of its weight at the head, granted but not polled
//! again); `try_acquire(_many)(_owned)` and a zero timeout; permits split,
//! merged, forgotten and dropped; `add_permits`. After every step:
//!
//! - a future completes exactly when the model granted it, so in FIFO order;
//! - a granted waiter's latest waker was woken, and no queued waiter's was;
//! - `available_permits()` and `waiters()` match the model;
//! - conservation: available + held + collected == total, where held are the
//!   permits of live permit values and collected those the model's queued or
//!   granted-but-unpolled waiters have.

mod model;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use arbitrary::Arbitrary;
use fairsync::{Acquire, AcquireOwned, OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use crate::{check, pick, Wakes};
use model::{Model, Waiting};

#[derive(Arbitrary, Debug)]
pub struct Input {
    /// The semaphore's permits, modulo 5.
    permits: u8,
    ops: Vec<Op>,
}

/// One step. Targets pick among the entries the step can act on, so most
/// steps do something; a step with nothing to act on is skipped.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Op {
    /// `acquire_many(weight % 5)` or `acquire_many_owned` (`acquire` or
    /// `acquire_owned` for weight 1), not yet polled.
    Acquire {
        weight: u8,
        owned: bool,
    },
    Poll {
        target: u8,
        new_waker: bool,
    },
    /// Drops a future in whatever state it is, or a permit.
    Drop {
        target: u8,
    },
    /// Splits `part % 4` permits off a permit into a new one.
    Split {
        target: u8,
        part: u8,
    },
    Merge {
        target: u8,
        source: u8,
    },
    Forget {
        target: u8,
    },
    /// `add_permits(n % 6)`.
    AddPermits {
        n: u8,
    },
    /// A non-blocking acquire of `n % 5` permits.
    Try {
        n: u8,
        how: TryHow,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum TryHow {
    Try,
    TryOwned,
    ZeroTimeout,
}

pub fn run(input: &Input) {
    let permits = usize::from(input.permits % 5);
    let sem = Arc::new(Semaphore::new(permits));
    let mut runner = Runner {
        sem: &sem,
        model: Model {
            total: permits,
            free: permits,
            ..Model::default()
        },
        entries: Vec::new(),
        next_id: 0,
        step: "start".to_string(),
    };
    runner.check();
    for (i, op) in input.ops.iter().enumerate() {
        runner.step = format!("step {i}: {op:?}");
        runner.apply(*op);
        runner.check();
    }
    runner.step = "teardown".to_string();
    while !runner.entries.is_empty() {
        runner.drop_entry(0);
        runner.check();
    }
    check!(
        runner,
        sem.available_permits() == runner.model.total && sem.waiters() == 0,
        "after dropping everything: {sem:?}, total {}",
        runner.model.total
    );
}

// ---------------------------------------------------------------------------
// The system under test

enum Fut<'a> {
    Borrowed(Pin<Box<Acquire<'a>>>),
    Owned(Pin<Box<AcquireOwned>>),
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
}

enum State<'a> {
    Future { fut: Fut<'a>, polled: bool },
    Held(Permit<'a>),
}

struct Entry<'a> {
    id: usize,
    /// Permits asked for (a future) or held (a permit).
    weight: usize,
    state: State<'a>,
    wakes: Wakes,
}

impl Entry<'_> {
    fn held(&self) -> Option<&Permit<'_>> {
        match &self.state {
            State::Held(p) => Some(p),
            State::Future { .. } => None,
        }
    }

    fn is_future(&self) -> bool {
        matches!(self.state, State::Future { .. })
    }
}

struct Runner<'a> {
    sem: &'a Arc<Semaphore>,
    model: Model,
    entries: Vec<Entry<'a>>,
    next_id: usize,
    step: String,
}

impl<'a> Runner<'a> {
    fn fail(&self, message: fmt::Arguments<'_>) -> ! {
        panic!(
            "semaphore diverged from the model at {}: {message}\nmodel: {:?}\nsemaphore: {:?}",
            self.step, self.model, self.sem
        );
    }

    fn add(&mut self, weight: usize, state: State<'a>) {
        self.entries.push(Entry {
            id: self.next_id,
            weight,
            state,
            wakes: Wakes::new(),
        });
        self.next_id += 1;
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Acquire { weight, owned } => {
                let weight = usize::from(weight % 5);
                let sem = self.sem;
                let fut = match (owned, weight) {
                    (true, 1) => Fut::Owned(Box::pin(Arc::clone(sem).acquire_owned())),
                    (true, _) => Fut::Owned(Box::pin(Arc::clone(sem).acquire_many_owned(weight))),
                    (false, 1) => Fut::Borrowed(Box::pin(sem.acquire())),
                    (false, _) => Fut::Borrowed(Box::pin(sem.acquire_many(weight))),
                };
                self.add(weight, State::Future { fut, polled: false });
            }
            Op::Poll { target, new_waker } => {
                if let Some(i) = pick(&self.entries, target, Entry::is_future) {
                    self.poll_entry(i, new_waker);
                }
            }
            Op::Drop { target } => {
                if let Some(i) = pick(&self.entries, target, |_| true) {
                    self.drop_entry(i);
                }
            }
            Op::Split { target, part } => self.split(target, usize::from(part % 4)),
            Op::Merge { target, source } => self.merge(target, source),
            Op::Forget { target } => {
                if let Some(i) = pick(&self.entries, target, |e| e.held().is_some()) {
                    let e = self.entries.remove(i);
                    let State::Held(permit) = e.state else {
                        unreachable!()
                    };
                    self.model.total -= permit.permits();
                    permit.forget();
                }
            }
            Op::AddPermits { n } => {
                let n = usize::from(n % 6);
                self.sem.add_permits(n);
                self.model.total += n;
                self.model.release(n);
            }
            Op::Try { n, how } => self.try_acquire(usize::from(n % 5), how),
        }
    }

    fn split(&mut self, target: u8, part: usize) {
        let Some(i) = pick(&self.entries, target, |e| e.held().is_some()) else {
            return;
        };
        let State::Held(permit) = &mut self.entries[i].state else {
            unreachable!()
        };
        let held = permit.permits();
        let piece = permit.split(part);
        let left = permit.permits();
        match piece {
            None => check!(
                self,
                part > held,
                "split({part}) of {held} permits gave None"
            ),
            Some(piece) => {
                check!(
                    self,
                    part <= held,
                    "split({part}) of {held} permits gave Some"
                );
                check!(
                    self,
                    piece.permits() == part && left == held - part,
                    "split({part}) of {held} permits gave {} and left {left}",
                    piece.permits()
                );
                self.entries[i].weight = left;
                self.add(part, State::Held(piece));
            }
        }
    }

    fn merge(&mut self, target: u8, source: u8) {
        let Some(t) = pick(&self.entries, target, |e| e.held().is_some()) else {
            return;
        };
        let owned = self.entries[t].held().is_some_and(Permit::is_owned);
        let t_id = self.entries[t].id;
        let Some(s) = pick(&self.entries, source, |e| {
            e.id != t_id && e.held().is_some_and(|p| p.is_owned() == owned)
        }) else {
            return;
        };
        let source = self.entries.remove(s);
        let t = if s < t { t - 1 } else { t };
        let State::Held(piece) = source.state else {
            unreachable!()
        };
        let n = piece.permits();
        let target = &mut self.entries[t];
        let State::Held(permit) = &mut target.state else {
            unreachable!()
        };
        match (permit, piece) {
            (Permit::Borrowed(a), Permit::Borrowed(b)) => a.merge(b),
            (Permit::Owned(a), Permit::Owned(b)) => a.merge(b),
            _ => unreachable!("picked permits of the same kind"),
        }
        target.weight += n;
        let (expected, got) = (target.weight, target.held().map_or(0, Permit::permits));
        check!(
            self,
            got == expected,
            "a merged permit holds {got}, not {expected}"
        );
    }

    fn try_acquire(&mut self, n: usize, how: TryHow) {
        let expected = n == 0 || (self.model.queue.is_empty() && self.model.free >= n);
        let sem = self.sem;
        let got = match how {
            TryHow::Try if n == 1 => sem.try_acquire().map(Permit::Borrowed),
            TryHow::Try => sem.try_acquire_many(n).map(Permit::Borrowed),
            TryHow::TryOwned if n == 1 => sem.try_acquire_owned().map(Permit::Owned),
            TryHow::TryOwned => sem.try_acquire_many_owned(n).map(Permit::Owned),
            TryHow::ZeroTimeout if n == 1 => sem
                .acquire_blocking_timeout(Duration::ZERO)
                .map(Permit::Borrowed),
            TryHow::ZeroTimeout => sem
                .acquire_many_blocking_timeout(n, Duration::ZERO)
                .map(Permit::Borrowed),
        };
        check!(
            self,
            got.is_some() == expected,
            "{how:?} of {n} gave {}, the model says {}",
            if got.is_some() { "Some" } else { "None" },
            if expected { "Some" } else { "None" }
        );
        if let Some(permit) = got {
            check!(
                self,
                permit.permits() == n,
                "{how:?} of {n} gave {} permits",
                permit.permits()
            );
            self.model.free -= n;
            self.add(n, State::Held(permit));
        }
    }

    fn poll_entry(&mut self, i: usize, new_waker: bool) {
        let (id, weight) = (self.entries[i].id, self.entries[i].weight);
        let fresh = matches!(self.entries[i].state, State::Future { polled: false, .. });
        let m = &self.model;
        let expect_ready = if fresh {
            weight == 0 || (m.queue.is_empty() && m.free >= weight)
        } else {
            m.is_granted(id)
        };
        let e = &mut self.entries[i];
        let woken = e.wakes.woken();
        let State::Future { fut, polled } = &mut e.state else {
            unreachable!()
        };
        *polled = true;
        let result = e.wakes.poll(new_waker, |cx| match fut {
            Fut::Borrowed(f) => f.as_mut().poll(cx).map(Permit::Borrowed),
            Fut::Owned(f) => f.as_mut().poll(cx).map(Permit::Owned),
        });
        let Poll::Ready(permit) = result else {
            check!(
                self,
                !expect_ready,
                "#{id} is pending, but the model granted it"
            );
            if fresh {
                let m = &mut self.model;
                let take = if m.queue.is_empty() { m.free } else { 0 };
                m.free -= take;
                m.queue.push_back(Waiting {
                    id,
                    weight,
                    missing: weight - take,
                });
            }
            return;
        };
        let got = permit.permits();
        e.state = State::Held(permit);
        check!(
            self,
            expect_ready,
            "#{id} completed, but the model has not granted it"
        );
        check!(
            self,
            got == weight,
            "#{id} asked for {weight} and got {got}"
        );
        if fresh {
            self.model.free -= weight;
        } else {
            check!(self, woken, "#{id} was granted but its waker was not woken");
            self.model.granted.retain(|&(g, _)| g != id);
        }
    }

    /// Drops entry `i` in whatever state it is and updates the model.
    fn drop_entry(&mut self, i: usize) {
        let e = self.entries.remove(i);
        let id = e.id;
        let release = match &e.state {
            State::Future { polled: false, .. } => 0,
            State::Future { .. } if self.model.is_granted(id) => {
                self.model.granted.retain(|&(g, _)| g != id);
                e.weight
            }
            State::Future { .. } => {
                let queue = &mut self.model.queue;
                let pos = queue.iter().position(|w| w.id == id);
                let Some(waiting) = pos.and_then(|pos| queue.remove(pos)) else {
                    self.fail(format_args!(
                        "harness bug: #{id} is neither queued nor granted"
                    ));
                };
                waiting.weight - waiting.missing
            }
            State::Held(permit) => permit.permits(),
        };
        drop(e);
        self.model.release(release);
    }

    fn check(&self) {
        let m = &self.model;
        let available = self.sem.available_permits();
        check!(
            self,
            available == m.free,
            "available_permits() is {available}, not {}",
            m.free
        );
        let waiters = self.sem.waiters();
        check!(
            self,
            waiters == m.queue.len(),
            "waiters() is {waiters}, not {}",
            m.queue.len()
        );
        let held: usize = self
            .entries
            .iter()
            .filter_map(|e| e.held().map(Permit::permits))
            .sum();
        let collected = m.collected();
        check!(
            self,
            available + held + collected == m.total,
            "available {available} + held {held} + collected {collected} != total {}",
            m.total
        );
        for e in &self.entries {
            if let State::Future { polled: true, .. } = e.state {
                let granted = m.is_granted(e.id);
                check!(
                    self,
                    e.wakes.woken() == granted,
                    "#{} is {} but its waker was {}woken",
                    e.id,
                    if granted { "granted" } else { "queued" },
                    if e.wakes.woken() { "" } else { "not " }
                );
            }
        }
    }
}
