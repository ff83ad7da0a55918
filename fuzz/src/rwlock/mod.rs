//! `RwLock` against a model of a strictly FIFO reader-writer lock.
//!
//! Operations: `read`, `write` and `upgradable_read` futures (and the owned
//! `read_owned`/`write_owned`), polled with the same or a new waker and
//! dropped in every state; the `try_*` calls; `upgrade` futures and
//! `try_upgrade` of an upgradable read; `downgrade` of a write or upgradable
//! guard, `downgrade_to_upgradable`; `map` of read and write guards; writes
//! through write guards. After every step:
//!
//! - exclusion, counted on the guards alive in the harness: never a writer
//!   with anyone else, never two upgradable reads;
//! - a future completes exactly when the model admits it: the head of the
//!   line is admitted while it fits, so consecutive readers go in together,
//!   a queued writer holds back every later reader, and a pending upgrade is
//!   ahead of every queued waiter;
//! - a granted waiter's latest waker was woken, and no queued waiter's was;
//! - `is_locked()` and `waiters()` match the model, and every guard reads
//!   the value the model's writes left.

mod model;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use arbitrary::Arbitrary;
use fairsync::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard,
    RwLock, RwLockRead, RwLockReadGuard, RwLockReadOwned, RwLockUpgradableRead,
    RwLockUpgradableReadGuard, RwLockUpgrade, RwLockWrite, RwLockWriteGuard, RwLockWriteOwned,
};

use self::model::{Model, Want};
use crate::{check, pick, Wakes};

/// Two fields, so that `map` can narrow a guard to either.
type Value = [u32; 2];

#[derive(Arbitrary, Debug)]
pub struct Input {
    ops: Vec<Op>,
}

/// One step. Targets pick among the entries the step can act on; a step
/// with nothing to act on is skipped.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Op {
    /// A `read`, `write` or `upgradable_read` future, not yet polled.
    Lock {
        kind: Kind,
        owned: bool,
    },
    Poll {
        target: u8,
        new_waker: bool,
    },
    /// Drops a future in whatever state it is, or a guard.
    Drop {
        target: u8,
    },
    Try {
        kind: Kind,
        owned: bool,
    },
    /// `upgrade` of an upgradable read: a future, not yet polled.
    Upgrade {
        target: u8,
    },
    TryUpgrade {
        target: u8,
    },
    /// A write guard to a read guard (or to an upgradable read if
    /// `to_upgradable`), or an upgradable read to a read guard.
    Downgrade {
        target: u8,
        to_upgradable: bool,
    },
    /// Narrows a read or write guard (mapped or not) to field `field % 2`.
    Map {
        target: u8,
        field: u8,
    },
    /// Adds 1 through a write guard, to field `field % 2` unless mapped.
    Bump {
        target: u8,
        field: u8,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    Upgradable,
}

pub fn run(input: &Input) {
    let lock = Arc::new(RwLock::new([0, 0]));
    let mut runner = Runner {
        lock: &lock,
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
        !lock.is_locked() && lock.waiters() == 0 && lock.try_write().is_some(),
        "after dropping everything the lock is not free: {lock:?}"
    );
}

// ---------------------------------------------------------------------------
// The system under test

enum Fut<'a> {
    Read(Pin<Box<RwLockRead<'a, Value>>>),
    Write(Pin<Box<RwLockWrite<'a, Value>>>),
    Upgradable(Pin<Box<RwLockUpgradableRead<'a, Value>>>),
    ReadOwned(Pin<Box<RwLockReadOwned<Value>>>),
    WriteOwned(Pin<Box<RwLockWriteOwned<Value>>>),
    Upgrade(Pin<Box<RwLockUpgrade<'a, Value>>>),
}

impl<'a> Fut<'a> {
    fn want(&self) -> Want {
        match self {
            Fut::Read(_) | Fut::ReadOwned(_) => Want::Read,
            Fut::Write(_) | Fut::WriteOwned(_) => Want::Write,
            Fut::Upgradable(_) => Want::Upgradable,
            Fut::Upgrade(_) => Want::Upgrade,
        }
    }

    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Guard<'a>> {
        match self {
            Fut::Read(f) => f.as_mut().poll(cx).map(Guard::Read),
            Fut::Write(f) => f.as_mut().poll(cx).map(Guard::Write),
            Fut::Upgradable(f) => f.as_mut().poll(cx).map(Guard::Upgradable),
            Fut::ReadOwned(f) => f.as_mut().poll(cx).map(Guard::OwnedRead),
            Fut::WriteOwned(f) => f.as_mut().poll(cx).map(Guard::OwnedWrite),
            Fut::Upgrade(f) => f.as_mut().poll(cx).map(Guard::Write),
        }
    }
}

enum Guard<'a> {
    Read(RwLockReadGuard<'a, Value>),
    Write(RwLockWriteGuard<'a, Value>),
    Upgradable(RwLockUpgradableReadGuard<'a, Value>),
    OwnedRead(OwnedRwLockReadGuard<Value>),
    OwnedWrite(OwnedRwLockWriteGuard<Value>),
    /// Narrowed to one field of the value.
    MappedRead(MappedRwLockReadGuard<'a, u32>, usize),
    MappedWrite(MappedRwLockWriteGuard<'a, u32>, usize),
}

impl Guard<'_> {
    fn kind(&self) -> Kind {
        match self {
            Guard::Read(_) | Guard::OwnedRead(_) | Guard::MappedRead(..) => Kind::Read,
            Guard::Write(_) | Guard::OwnedWrite(_) | Guard::MappedWrite(..) => Kind::Write,
            Guard::Upgradable(_) => Kind::Upgradable,
        }
    }

    /// What the guard reads, and which field if it is narrowed to one.
    fn reads(&self) -> (Value, Option<usize>) {
        match self {
            Guard::Read(g) => (**g, None),
            Guard::Write(g) => (**g, None),
            Guard::Upgradable(g) => (**g, None),
            Guard::OwnedRead(g) => (**g, None),
            Guard::OwnedWrite(g) => (**g, None),
            Guard::MappedRead(g, field) => ([**g; 2], Some(*field)),
            Guard::MappedWrite(g, field) => ([**g; 2], Some(*field)),
        }
    }
}

enum State<'a> {
    Future { fut: Fut<'a>, polled: bool },
    Held(Guard<'a>),
}

struct Entry<'a> {
    id: usize,
    state: State<'a>,
    wakes: Wakes,
}

impl Entry<'_> {
    fn guard(&self) -> Option<&Guard<'_>> {
        match &self.state {
            State::Held(g) => Some(g),
            State::Future { .. } => None,
        }
    }

    fn is_future(&self) -> bool {
        matches!(self.state, State::Future { .. })
    }
}

struct Runner<'a> {
    lock: &'a Arc<RwLock<Value>>,
    model: Model,
    entries: Vec<Entry<'a>>,
    next_id: usize,
    step: String,
}

impl<'a> Runner<'a> {
    fn fail(&self, message: fmt::Arguments<'_>) -> ! {
        panic!(
            "rwlock diverged from the model at {}: {message}\nmodel: {:?}\nlock: {:?}",
            self.step, self.model, self.lock
        );
    }

    fn add(&mut self, state: State<'a>) {
        self.entries.push(Entry {
            id: self.next_id,
            state,
            wakes: Wakes::new(),
        });
        self.next_id += 1;
    }

    /// Takes the guard of entry `i` out to transform it; `put` stores the
    /// result back.
    fn take_guard(&mut self, i: usize) -> Guard<'a> {
        // An unpolled future is inert: it stands in for the moment.
        let lock: &'a RwLock<Value> = self.lock;
        let placeholder = State::Future {
            fut: Fut::Read(Box::pin(lock.read())),
            polled: false,
        };
        match std::mem::replace(&mut self.entries[i].state, placeholder) {
            State::Held(g) => g,
            State::Future { .. } => unreachable!("picked a guard"),
        }
    }

    fn put(&mut self, i: usize, state: State<'a>) {
        self.entries[i].state = state;
    }

    fn apply(&mut self, op: Op) {
        let lock = self.lock;
        match op {
            Op::Lock { kind, owned } => {
                let fut = match (kind, owned) {
                    (Kind::Read, false) => Fut::Read(Box::pin(lock.read())),
                    (Kind::Read, true) => Fut::ReadOwned(Box::pin(Arc::clone(lock).read_owned())),
                    (Kind::Write, false) => Fut::Write(Box::pin(lock.write())),
                    (Kind::Write, true) => {
                        Fut::WriteOwned(Box::pin(Arc::clone(lock).write_owned()))
                    }
                    (Kind::Upgradable, _) => Fut::Upgradable(Box::pin(lock.upgradable_read())),
                };
                self.add(State::Future { fut, polled: false });
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
            Op::Try { kind, owned } => self.try_lock(kind, owned),
            Op::Upgrade { target } => {
                if let Some(i) = self.pick_guard(target, |g| matches!(g, Guard::Upgradable(_))) {
                    let Guard::Upgradable(g) = self.take_guard(i) else {
                        unreachable!()
                    };
                    let fut = Fut::Upgrade(Box::pin(RwLockUpgradableReadGuard::upgrade(g)));
                    self.put(i, State::Future { fut, polled: false });
                    self.entries[i].wakes = Wakes::new();
                }
            }
            Op::TryUpgrade { target } => {
                if let Some(i) = self.pick_guard(target, |g| matches!(g, Guard::Upgradable(_))) {
                    let Guard::Upgradable(g) = self.take_guard(i) else {
                        unreachable!()
                    };
                    let expected = self.model.fits(Want::Upgrade);
                    let (ok, guard) = match RwLockUpgradableReadGuard::try_upgrade(g) {
                        Ok(w) => (true, Guard::Write(w)),
                        Err(u) => (false, Guard::Upgradable(u)),
                    };
                    self.put(i, State::Held(guard));
                    check!(
                        self,
                        ok == expected,
                        "try_upgrade gave ok={ok}, the model says {expected}"
                    );
                    if ok {
                        self.model.take(Want::Upgrade);
                    }
                }
            }
            Op::Downgrade {
                target,
                to_upgradable,
            } => self.downgrade(target, to_upgradable),
            Op::Map { target, field } => self.map(target, usize::from(field % 2)),
            Op::Bump { target, field } => {
                let field = usize::from(field % 2);
                if let Some(i) = self.pick_guard(target, |g| g.kind() == Kind::Write) {
                    let State::Held(guard) = &mut self.entries[i].state else {
                        unreachable!()
                    };
                    let field = match guard {
                        Guard::Write(g) => {
                            g[field] += 1;
                            field
                        }
                        Guard::OwnedWrite(g) => {
                            g[field] += 1;
                            field
                        }
                        Guard::MappedWrite(g, mapped) => {
                            **g += 1;
                            *mapped
                        }
                        _ => unreachable!("picked a write guard"),
                    };
                    self.model.value[field] += 1;
                }
            }
        }
    }

    fn pick_guard(&self, target: u8, pred: impl Fn(&Guard<'_>) -> bool) -> Option<usize> {
        pick(&self.entries, target, |e| e.guard().is_some_and(&pred))
    }

    fn try_lock(&mut self, kind: Kind, owned: bool) {
        let lock = self.lock;
        let want = match kind {
            Kind::Read => Want::Read,
            Kind::Write => Want::Write,
            Kind::Upgradable => Want::Upgradable,
        };
        let expected = self.model.admits_now(want);
        let got = match (kind, owned) {
            (Kind::Read, false) => lock.try_read().map(Guard::Read),
            (Kind::Read, true) => lock.try_read_owned().map(Guard::OwnedRead),
            (Kind::Write, false) => lock.try_write().map(Guard::Write),
            (Kind::Write, true) => lock.try_write_owned().map(Guard::OwnedWrite),
            (Kind::Upgradable, _) => lock.try_upgradable_read().map(Guard::Upgradable),
        };
        check!(
            self,
            got.is_some() == expected,
            "try {kind:?} gave {}, the model says {}",
            if got.is_some() { "Some" } else { "None" },
            if expected { "Some" } else { "None" }
        );
        if let Some(guard) = got {
            self.model.take(want);
            self.add(State::Held(guard));
        }
    }

    fn downgrade(&mut self, target: u8, to_upgradable: bool) {
        let Some(i) = self.pick_guard(target, |g| {
            matches!(g, Guard::Write(_) | Guard::Upgradable(_))
        }) else {
            return;
        };
        let guard = match self.take_guard(i) {
            Guard::Write(w) if to_upgradable => {
                self.model.writer = false;
                self.model.upgradable = true;
                Guard::Upgradable(RwLockWriteGuard::downgrade_to_upgradable(w))
            }
            Guard::Write(w) => {
                self.model.writer = false;
                self.model.readers += 1;
                Guard::Read(RwLockWriteGuard::downgrade(w))
            }
            Guard::Upgradable(u) => {
                self.model.upgradable = false;
                self.model.readers += 1;
                Guard::Read(RwLockUpgradableReadGuard::downgrade(u))
            }
            _ => unreachable!("picked a write or upgradable guard"),
        };
        self.put(i, State::Held(guard));
        self.model.admit();
    }

    fn map(&mut self, target: u8, field: usize) {
        let Some(i) = self.pick_guard(target, |g| !matches!(g, Guard::Upgradable(_))) else {
            return;
        };
        let guard = match self.take_guard(i) {
            Guard::Read(g) => Guard::MappedRead(RwLockReadGuard::map(g, |v| &v[field]), field),
            Guard::Write(g) => {
                Guard::MappedWrite(RwLockWriteGuard::map(g, |v| &mut v[field]), field)
            }
            Guard::MappedRead(g, f) => Guard::MappedRead(MappedRwLockReadGuard::map(g, |v| v), f),
            Guard::MappedWrite(g, f) => {
                Guard::MappedWrite(MappedRwLockWriteGuard::map(g, |v| v), f)
            }
            // The owned guards have no `map`; they stay as they are.
            other => other,
        };
        self.put(i, State::Held(guard));
    }

    fn poll_entry(&mut self, i: usize, new_waker: bool) {
        let id = self.entries[i].id;
        let e = &mut self.entries[i];
        let woken = e.wakes.woken();
        let State::Future { fut, polled } = &mut e.state else {
            unreachable!()
        };
        let fresh = !*polled;
        *polled = true;
        let want = fut.want();
        let expect_ready = if fresh {
            self.model.admits_now(want)
        } else {
            self.model.is_granted(id)
        };
        let result = e.wakes.poll(new_waker, |cx| fut.poll(cx));
        let Poll::Ready(guard) = result else {
            check!(
                self,
                !expect_ready,
                "#{id} ({want:?}) is pending, but the model admitted it"
            );
            if fresh {
                // A pending upgrade goes ahead of everyone queued.
                if want == Want::Upgrade {
                    self.model.queue.push_front((id, want));
                } else {
                    self.model.queue.push_back((id, want));
                }
            }
            return;
        };
        e.state = State::Held(guard);
        check!(
            self,
            expect_ready,
            "#{id} ({want:?}) completed, but the model has not admitted it"
        );
        if fresh {
            self.model.take(want);
        } else {
            check!(
                self,
                woken,
                "#{id} was admitted but its waker was not woken"
            );
            self.model.granted.retain(|&g| g != id);
        }
    }

    /// Drops entry `i` in whatever state it is and updates the model.
    fn drop_entry(&mut self, i: usize) {
        let e = self.entries.remove(i);
        let id = e.id;
        let m = &mut self.model;
        match &e.state {
            State::Future { fut, polled } => {
                let want = fut.want();
                if m.is_granted(id) {
                    m.granted.retain(|&g| g != id);
                    m.take_back(want);
                } else if *polled {
                    let Some(pos) = m.queue.iter().position(|&(w, _)| w == id) else {
                        panic!("harness bug: #{id} is neither queued nor granted");
                    };
                    m.queue.remove(pos);
                    // A queued upgrade still holds its upgradable read.
                    if want == Want::Upgrade {
                        m.upgradable = false;
                    }
                } else if want == Want::Upgrade {
                    // Never polled: it gives back the upgradable read it owns.
                    m.upgradable = false;
                }
            }
            State::Held(guard) => {
                let kind = guard.kind();
                m.take_back(match kind {
                    Kind::Read => Want::Read,
                    Kind::Write => Want::Write,
                    Kind::Upgradable => Want::Upgradable,
                });
            }
        }
        drop(e);
        self.model.admit();
    }

    fn check(&self) {
        let m = &self.model;
        let (mut readers, mut upgradable, mut writers) = (0, 0, 0);
        for e in &self.entries {
            match e.guard().map(Guard::kind) {
                Some(Kind::Read) => readers += 1,
                Some(Kind::Upgradable) => upgradable += 1,
                Some(Kind::Write) => writers += 1,
                None => {}
            }
        }
        check!(
            self,
            writers <= 1 && (writers == 0 || readers + upgradable == 0) && upgradable <= 1,
            "exclusion broken: {writers} writers, {upgradable} upgradable, {readers} readers"
        );
        for e in &self.entries {
            if let Some(guard) = e.guard() {
                let (seen, field) = guard.reads();
                let ok = match field {
                    Some(f) => seen[0] == m.value[f],
                    None => seen == m.value,
                };
                check!(
                    self,
                    ok,
                    "#{} reads {seen:?} (field {field:?}), not {:?}",
                    e.id,
                    m.value
                );
            }
        }
        let locked = self.lock.is_locked();
        check!(self, locked == m.is_locked(), "is_locked() is {locked}");
        let waiters = self.lock.waiters();
        check!(
            self,
            waiters == m.queue.len(),
            "waiters() is {waiters}, not {}",
            m.queue.len()
        );
        for e in &self.entries {
            if let State::Future { polled: true, .. } = e.state {
                let granted = m.is_granted(e.id);
                check!(
                    self,
                    e.wakes.woken() == granted,
                    "#{} is {} but its waker was {}woken",
                    e.id,
                    if granted { "admitted" } else { "queued" },
                    if e.wakes.woken() { "" } else { "not " }
                );
            }
        }
    }
}
