//! The reference model of the `RwLock` target: holders by kind and one FIFO
//! line of waiters, admitted from the head while they fit.

use std::collections::VecDeque;
use std::fmt;

use super::Value;

/// What a waiter asks for. `Upgrade` is held as an upgradable read while it
/// waits and asks for the rest of write access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Read,
    Write,
    Upgradable,
    Upgrade,
}

#[derive(Default)]
pub(super) struct Model {
    /// Holders, counting waiters granted but not yet polled.
    pub(super) readers: usize,
    pub(super) upgradable: bool,
    pub(super) writer: bool,
    pub(super) queue: VecDeque<(usize, Want)>,
    /// Granted, not yet polled.
    pub(super) granted: Vec<usize>,
    pub(super) value: Value,
}

impl Model {
    pub(super) fn fits(&self, want: Want) -> bool {
        match want {
            Want::Read => !self.writer,
            Want::Upgradable => !self.writer && !self.upgradable,
            Want::Write => !self.writer && !self.upgradable && self.readers == 0,
            // The upgradable read it comes from is held, so only readers
            // can be in the way.
            Want::Upgrade => self.readers == 0,
        }
    }

    /// Whether a new request would be served at once.
    pub(super) fn admits_now(&self, want: Want) -> bool {
        match want {
            Want::Upgrade => self.fits(want),
            _ => self.queue.is_empty() && self.fits(want),
        }
    }

    pub(super) fn take(&mut self, want: Want) {
        match want {
            Want::Read => self.readers += 1,
            Want::Upgradable => self.upgradable = true,
            Want::Write => self.writer = true,
            Want::Upgrade => {
                self.upgradable = false;
                self.writer = true;
            }
        }
    }

    /// Gives back what a holder that took `want` holds, without admitting.
    pub(super) fn take_back(&mut self, want: Want) {
        match want {
            Want::Read => self.readers -= 1,
            Want::Upgradable => self.upgradable = false,
            Want::Write | Want::Upgrade => self.writer = false,
        }
    }

    /// Admits the waiters at the head of the line for as long as they fit:
    /// consecutive readers go in together, and the first that does not fit
    /// holds back everyone behind it.
    pub(super) fn admit(&mut self) {
        while let Some(&(id, want)) = self.queue.front() {
            if !self.fits(want) {
                break;
            }
            self.queue.pop_front();
            self.take(want);
            self.granted.push(id);
        }
    }

    pub(super) fn is_granted(&self, id: usize) -> bool {
        self.granted.contains(&id)
    }

    pub(super) fn is_locked(&self) -> bool {
        self.readers > 0 || self.upgradable || self.writer
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "readers {}, upgradable {}, writer {}, queue {:?}, granted {:?}, value {:?}",
            self.readers, self.upgradable, self.writer, self.queue, self.granted, self.value
        )
    }
}
