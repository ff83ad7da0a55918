//! `Condvar` with a fairsync `Mutex`, against a model of both lines: the
//! mutex's FIFO line and the condition variable's line of waiters.
//!
//! Operations: `lock` futures and `try_lock`; `wait` and `wait_while`
//! (waiting while the value is below a bound) on a held guard; polls with
//! the same or a new waker; drops in every state (a wait never polled,
//! queued, notified but not polled, queued to re-lock the mutex, or handed
//! the mutex but not polled); `notify_one`, `notify_all`; writes through a
//! guard. After every step:
//!
//! - no lost wake-up: `notify_one` with a waiter queued releases the oldest,
//!   and its latest waker was woken;
//! - no spurious wake-up: a queued wait stays pending and its waker is not
//!   woken; a wait returns only after a notification chose it (or passed on
//!   to it) and it re-locked the mutex;
//! - a cancelled wait that a notification had chosen passes it to the
//!   oldest waiter;
//! - `wait_while` returns at once, still locked, when its condition is false,
//!   and otherwise only when it is false after a notification;
//! - the mutex is held by one guard at most, in FIFO order, and
//!   `is_locked()` and the condition variable's waiter count match.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use arbitrary::Arbitrary;
use fairsync::{Condvar, CondvarWait, CondvarWaitWhile, Mutex, MutexGuard, MutexLock};

use crate::{check, pick, Wakes};

#[derive(Arbitrary, Debug)]
pub struct Input {
    ops: Vec<Op>,
}

/// One step. Targets pick among the entries the step can act on; a step
/// with nothing to act on is skipped.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Op {
    /// A `lock` future, not yet polled.
    Lock,
    TryLock,
    /// `wait` (`until: None`) or `wait_while(value < until % 4)` on a held
    /// guard: a future, not yet polled.
    Wait {
        target: u8,
        until: Option<u8>,
    },
    Poll {
        target: u8,
        new_waker: bool,
    },
    /// Drops a future in whatever state it is, or a guard.
    Drop {
        target: u8,
    },
    NotifyOne,
    NotifyAll,
    /// Adds 1 to the value through a held guard.
    Bump {
        target: u8,
    },
}

type Condition = Box<dyn FnMut(&mut u32) -> bool>;

pub fn run(input: &Input) {
    let mutex = Mutex::new(0);
    let condvar = Condvar::new();
    let mut runner = Runner {
        mutex: &mutex,
        condvar: &condvar,
        model: Model::default(),
        entries: Vec::new(),
        next_id: 0,
        step: "start".to_string(),
    };
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
        mutex.try_lock().is_some(),
        "after dropping everything the mutex is not free: {mutex:?}"
    );
}

// ---------------------------------------------------------------------------
// The model

/// Where an entry is, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A `lock` future never polled, or a wait never polled (which still
    /// holds its guard).
    Fresh,
    /// In the mutex's line: a `lock` future, or a wait re-locking.
    MutexQueued,
    /// Handed the mutex, not yet polled.
    MutexGranted,
    /// Holding a guard.
    Holding,
    /// In the condition variable's line.
    Waiting,
    /// Chosen by a notification, not yet polled.
    Notified,
}

#[derive(Default)]
struct Model {
    /// Holds the mutex, counting a waiter handed it but not yet polled.
    holder: Option<usize>,
    mutex_queue: VecDeque<usize>,
    condvar_queue: VecDeque<usize>,
    value: u32,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "holder {:?}, mutex line {:?}, condvar line {:?}, value {}",
            self.holder, self.mutex_queue, self.condvar_queue, self.value
        )
    }
}

// ---------------------------------------------------------------------------
// The system under test

enum State<'a> {
    Locking(Pin<Box<MutexLock<'a, u32>>>),
    Holding(MutexGuard<'a, u32>),
    Wait(Pin<Box<CondvarWait<'a, 'a, u32>>>),
    /// Waits while the value is below `until`.
    WaitWhile {
        fut: Pin<Box<CondvarWaitWhile<'a, 'a, u32, Condition>>>,
        until: u32,
    },
}

struct Entry<'a> {
    id: usize,
    state: State<'a>,
    phase: Phase,
    wakes: Wakes,
}

impl Entry<'_> {
    fn is_future(&self) -> bool {
        !matches!(self.state, State::Holding(_))
    }

    fn is_wait(&self) -> bool {
        matches!(self.state, State::Wait(_) | State::WaitWhile { .. })
    }
}

struct Runner<'a> {
    mutex: &'a Mutex<u32>,
    condvar: &'a Condvar,
    model: Model,
    entries: Vec<Entry<'a>>,
    next_id: usize,
    step: String,
}

impl<'a> Runner<'a> {
    fn fail(&self, message: fmt::Arguments<'_>) -> ! {
        let phases: Vec<_> = self.entries.iter().map(|e| (e.id, e.phase)).collect();
        panic!(
            "condvar diverged from the model at {}: {message}\nmodel: {:?}\nentries: {phases:?}\n\
             mutex: {:?}, condvar: {:?}",
            self.step, self.model, self.mutex, self.condvar
        );
    }

    fn add(&mut self, state: State<'a>, phase: Phase) {
        self.entries.push(Entry {
            id: self.next_id,
            state,
            phase,
            wakes: Wakes::new(),
        });
        self.next_id += 1;
    }

    fn index(&self, id: usize) -> usize {
        self.entries
            .iter()
            .position(|e| e.id == id)
            .expect("the model names a live entry")
    }

    fn set_phase(&mut self, id: usize, phase: Phase) {
        let i = self.index(id);
        self.entries[i].phase = phase;
    }

    /// The mutex is released: handed to the head of its line, if any.
    fn unlock(&mut self) {
        self.model.holder = self.model.mutex_queue.pop_front();
        if let Some(id) = self.model.holder {
            self.set_phase(id, Phase::MutexGranted);
        }
    }

    /// Whether a new `lock` would get the mutex at once.
    fn mutex_free(&self) -> bool {
        self.model.holder.is_none() && self.model.mutex_queue.is_empty()
    }

    fn notify_one(&mut self) {
        if let Some(id) = self.model.condvar_queue.pop_front() {
            self.set_phase(id, Phase::Notified);
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Lock => self.add(State::Locking(Box::pin(self.mutex.lock())), Phase::Fresh),
            Op::TryLock => {
                let expected = self.mutex_free();
                let got = self.mutex.try_lock();
                check!(
                    self,
                    got.is_some() == expected,
                    "try_lock gave {}, the model says {}",
                    got.is_some(),
                    expected
                );
                if let Some(guard) = got {
                    self.model.holder = Some(self.next_id);
                    self.add(State::Holding(guard), Phase::Holding);
                }
            }
            Op::Wait { target, until } => {
                let Some(i) = pick(&self.entries, target, |e| e.phase == Phase::Holding) else {
                    return;
                };
                let condvar = self.condvar;
                // An unpolled future is inert: it stands in for the moment.
                let placeholder = State::Locking(Box::pin(self.mutex.lock()));
                let e = &mut self.entries[i];
                let State::Holding(guard) = std::mem::replace(&mut e.state, placeholder) else {
                    unreachable!()
                };
                e.state = match until {
                    None => State::Wait(Box::pin(condvar.wait(guard))),
                    Some(until) => {
                        let until = u32::from(until % 4);
                        let condition: Condition = Box::new(move |value| *value < until);
                        State::WaitWhile {
                            fut: Box::pin(condvar.wait_while(guard, condition)),
                            until,
                        }
                    }
                };
                e.phase = Phase::Fresh;
                e.wakes = Wakes::new();
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
            Op::NotifyOne => {
                self.condvar.notify_one();
                self.notify_one();
            }
            Op::NotifyAll => {
                self.condvar.notify_all();
                while !self.model.condvar_queue.is_empty() {
                    self.notify_one();
                }
            }
            Op::Bump { target } => {
                if let Some(i) = pick(&self.entries, target, |e| e.phase == Phase::Holding) {
                    let State::Holding(guard) = &mut self.entries[i].state else {
                        unreachable!()
                    };
                    **guard += 1;
                    self.model.value += 1;
                }
            }
        }
    }

    fn poll_entry(&mut self, i: usize, new_waker: bool) {
        let e = &mut self.entries[i];
        let (id, phase) = (e.id, e.phase);
        let woken = e.wakes.woken();
        let until = match e.state {
            State::WaitWhile { until, .. } => Some(until),
            _ => None,
        };
        let result = e.wakes.poll(new_waker, |cx| match &mut e.state {
            State::Locking(f) => f.as_mut().poll(cx),
            State::Wait(f) => f.as_mut().poll(cx),
            State::WaitWhile { fut, .. } => fut.as_mut().poll(cx),
            State::Holding(_) => unreachable!("picked a future"),
        });
        let is_wait = e.is_wait();
        let ready = match result {
            Poll::Ready(guard) => {
                e.state = State::Holding(guard);
                true
            }
            Poll::Pending => false,
        };
        if matches!(phase, Phase::MutexGranted | Phase::Notified) {
            check!(self, woken, "#{id} ({phase:?}) was not woken");
        }
        // What the model expects this poll to do, step by step as the
        // future goes: a wait first registers, re-locks once notified, and
        // a `wait_while` checks its condition with the mutex held.
        let condition_holds = |value: u32| until.is_some_and(|until| value < until);
        let expected = match phase {
            Phase::Fresh if !is_wait => {
                if self.mutex_free() {
                    self.model.holder = Some(id);
                    Phase::Holding
                } else {
                    self.model.mutex_queue.push_back(id);
                    Phase::MutexQueued
                }
            }
            Phase::Fresh if until.is_some() && !condition_holds(self.model.value) => Phase::Holding,
            Phase::Fresh => self.register(id),
            Phase::Notified if self.mutex_free() => {
                self.model.holder = Some(id);
                self.relocked(id, condition_holds(self.model.value))
            }
            Phase::Notified => {
                self.model.mutex_queue.push_back(id);
                Phase::MutexQueued
            }
            Phase::MutexGranted if is_wait => self.relocked(id, condition_holds(self.model.value)),
            Phase::MutexGranted => Phase::Holding,
            Phase::MutexQueued | Phase::Waiting => phase,
            Phase::Holding => unreachable!("picked a future"),
        };
        check!(
            self,
            ready == (expected == Phase::Holding),
            "#{id} ({phase:?}) was {} at this poll; the model says it {}",
            if ready { "ready" } else { "pending" },
            if expected == Phase::Holding {
                "holds the mutex now"
            } else {
                "waits"
            }
        );
        self.set_phase(id, expected);
    }

    /// A wait joins the condition variable's line and unlocks the mutex.
    fn register(&mut self, id: usize) -> Phase {
        self.model.condvar_queue.push_back(id);
        self.unlock();
        Phase::Waiting
    }

    /// A wait got the mutex back: done, unless it is a `wait_while` whose
    /// condition still holds, which waits again at the back of the line.
    fn relocked(&mut self, id: usize, condition_holds: bool) -> Phase {
        if condition_holds {
            self.register(id)
        } else {
            Phase::Holding
        }
    }

    /// Drops entry `i` in whatever state it is and updates the model.
    fn drop_entry(&mut self, i: usize) {
        let e = self.entries.remove(i);
        let (id, phase, is_wait) = (e.id, e.phase, e.is_wait());
        drop(e);
        let m = &mut self.model;
        match phase {
            Phase::Fresh if is_wait => self.unlock(),
            Phase::Fresh => {}
            Phase::Holding | Phase::MutexGranted => {
                self.unlock();
                if is_wait {
                    self.notify_one();
                }
            }
            Phase::MutexQueued => {
                m.mutex_queue.retain(|&q| q != id);
                if is_wait {
                    self.notify_one();
                }
            }
            Phase::Waiting => m.condvar_queue.retain(|&q| q != id),
            Phase::Notified => self.notify_one(),
        }
    }

    fn check(&self) {
        let m = &self.model;
        let holding: Vec<usize> = self
            .entries
            .iter()
            .filter(|e| matches!(e.state, State::Holding(_)))
            .map(|e| e.id)
            .collect();
        check!(
            self,
            holding.len() <= 1,
            "{holding:?} hold the mutex at once"
        );
        if let Some(&id) = holding.first() {
            check!(
                self,
                m.holder == Some(id),
                "#{id} holds the mutex, not the model's holder"
            );
        }
        for e in &self.entries {
            if let State::Holding(guard) = &e.state {
                check!(
                    self,
                    **guard == m.value,
                    "#{} reads {}, not {}",
                    e.id,
                    **guard,
                    m.value
                );
            }
        }
        let locked = self.mutex.is_locked();
        check!(
            self,
            locked == m.holder.is_some(),
            "mutex.is_locked() is {locked}"
        );
        let expected = format!("Condvar {{ waiters: {} }}", m.condvar_queue.len());
        let seen = format!("{:?}", self.condvar);
        check!(
            self,
            seen == expected,
            "the condvar shows {seen}, not {expected}"
        );
        for e in &self.entries {
            let must_wake = matches!(e.phase, Phase::MutexGranted | Phase::Notified);
            let may_not_wake = matches!(e.phase, Phase::MutexQueued | Phase::Waiting);
            check!(
                self,
                (!must_wake || e.wakes.woken()) && !(may_not_wake && e.wakes.woken()),
                "#{} ({:?}) was {}woken",
                e.id,
                e.phase,
                if e.wakes.woken() { "" } else { "not " }
            );
        }
    }
}
