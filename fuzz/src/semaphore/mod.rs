//! `Semaphore` (target `semaphore`) and `ClosableSemaphore` (target
//! `closable`) against a strictly FIFO weighted semaphore model, which for
//! the closable one has a closed state too.
//!
//! Operations: acquire futures of weight 0 to 4 (borrowed or owned), polled
//! with the same or a new waker and dropped in every state (never polled,
//! queued, holding part of its weight at the head, granted but not polled
//! again, failed by `close` but not polled again);
//! `try_acquire(_many)(_owned)` and a zero timeout; permits split, merged,
//! forgotten and dropped; `add_permits`; `forget_permits`; and `close` at any
//! point (skipped on a plain semaphore). After every step:
//!
//! - a future completes exactly when the model says: `Ok` when granted, so
//!   in FIFO order, and `Err(Closed)` when it was queued at `close` or first
//!   polled after it; a `try_*` succeeds or fails (`Closed` or `NoPermits`)
//!   as the model says;
//! - the latest waker of a waiter granted or failed by `close` was woken,
//!   and no queued waiter's was;
//! - `available_permits()`, `waiters()` and `is_closed()` match the model,
//!   and `forget_permits(n)` returns min(n, available);
//! - conservation: available + held + collected == total, where held are the
//!   permits of live permit values, collected those the model's queued or
//!   granted-but-unpolled waiters have, and total drops by what
//!   `forget_permits` and `forget` took;
//! - every permit's accessors lead back to the semaphore it came from.

mod model;
mod sut;

use std::fmt;
use std::task::Poll;

use arbitrary::Arbitrary;
use fairsync::{Closed, TryAcquireError};

use crate::{check, pick, Wakes};
use model::{Model, Outcome};
use sut::{Fut, Permit, Sem};

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
    /// `forget_permits(n % 6)`.
    ForgetPermits {
        n: u8,
    },
    /// `close()`; skipped on a plain semaphore.
    Close,
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

/// The `semaphore` target: a plain `Semaphore`.
pub fn run(input: &Input) {
    run_on(false, input);
}

/// The `closable` target: a `ClosableSemaphore`.
pub fn run_closable(input: &Input) {
    run_on(true, input);
}

fn run_on(closable: bool, input: &Input) {
    let permits = usize::from(input.permits % 5);
    let sem = Sem::new(closable, permits);
    let mut runner = Runner {
        sem: &sem,
        model: Model::new(permits),
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
// The runner

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
    sem: &'a Sem,
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

    /// Keeps a permit the semaphore just handed out, after checking where it
    /// says it comes from.
    fn hold(&mut self, permit: Permit<'a>) {
        check!(
            self,
            permit.belongs_to(self.sem),
            "a permit's semaphore accessors do not lead back to {:?}",
            self.sem
        );
        self.add(permit.permits(), State::Held(permit));
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Acquire { weight, owned } => {
                let weight = usize::from(weight % 5);
                let fut = self.sem.acquire(weight, owned);
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
            Op::ForgetPermits { n } => {
                let n = usize::from(n % 6);
                let free = self.model.free;
                let taken = self.sem.forget_permits(n);
                let expected = self.model.forget(n);
                check!(
                    self,
                    taken == expected,
                    "forget_permits({n}) with {free} free took {taken}, not {expected}"
                );
            }
            Op::Close => {
                if self.sem.close() {
                    self.model.close();
                }
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
                self.hold(piece);
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
        let m = &self.model;
        let expected = if m.closed {
            Err(TryAcquireError::Closed)
        } else if m.admits_now(n) {
            Ok(n)
        } else {
            Err(TryAcquireError::NoPermits)
        };
        let got = self.sem.try_acquire(n, how);
        let outcome = got.as_ref().map(Permit::permits).map_err(|&e| e);
        check!(
            self,
            outcome == expected,
            "{how:?} of {n} gave {outcome:?}, the model says {expected:?}"
        );
        if let Ok(permit) = got {
            self.model.free -= n;
            self.hold(permit);
        }
    }

    fn poll_entry(&mut self, i: usize, new_waker: bool) {
        let (id, weight) = (self.entries[i].id, self.entries[i].weight);
        let fresh = matches!(self.entries[i].state, State::Future { polled: false, .. });
        let expected = self.model.outcome(id, weight, fresh);
        let e = &mut self.entries[i];
        let woken = e.wakes.woken();
        let State::Future { fut, polled } = &mut e.state else {
            unreachable!()
        };
        *polled = true;
        let result = e.wakes.poll(new_waker, |cx| fut.poll(cx));
        let got = match &result {
            Poll::Pending => Outcome::Pending,
            Poll::Ready(Ok(_)) => Outcome::Granted,
            Poll::Ready(Err(Closed)) => Outcome::Closed,
        };
        check!(
            self,
            got == expected,
            "#{id} came out {got:?}, the model says {expected:?}"
        );
        if !fresh && got != Outcome::Pending {
            check!(self, woken, "#{id} is {got:?} but its waker was not woken");
        }
        match result {
            Poll::Pending if fresh => self.model.enqueue(id, weight),
            Poll::Pending => {}
            Poll::Ready(Err(Closed)) => {
                // Done: nothing more to poll or to give back.
                self.entries.remove(i);
                self.model.failed.retain(|&f| f != id);
            }
            Poll::Ready(Ok(permit)) => {
                let n = permit.permits();
                check!(self, n == weight, "#{id} asked for {weight} and got {n}");
                check!(
                    self,
                    permit.belongs_to(self.sem),
                    "#{id}'s permit does not lead back to {:?}",
                    self.sem
                );
                self.entries[i].state = State::Held(permit);
                if fresh {
                    self.model.free -= weight;
                } else {
                    self.model.granted.retain(|&(g, _)| g != id);
                }
            }
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
            // `close` gave back what it had collected.
            State::Future { .. } if self.model.failed.contains(&id) => {
                self.model.failed.retain(|&f| f != id);
                0
            }
            State::Future { .. } => {
                let queue = &mut self.model.queue;
                let pos = queue.iter().position(|w| w.id == id);
                let Some(waiting) = pos.and_then(|pos| queue.remove(pos)) else {
                    self.fail(format_args!(
                        "harness bug: #{id} is neither queued, granted nor failed"
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
        let closed = self.sem.is_closed();
        check!(
            self,
            closed == m.closed,
            "is_closed() is {closed}, not {}",
            m.closed
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
                let outcome = m.outcome(e.id, e.weight, false);
                check!(
                    self,
                    e.wakes.woken() == (outcome != Outcome::Pending),
                    "#{} is {outcome:?} but its waker was {}woken",
                    e.id,
                    if e.wakes.woken() { "" } else { "not " }
                );
            }
        }
    }
}
