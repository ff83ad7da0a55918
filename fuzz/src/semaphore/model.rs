//! The reference model of the semaphore targets: a permit counter and one
//! strictly FIFO line of weighted waiters, the head collecting permits as
//! they are released; and, for a closable semaphore, the closed state.

use std::collections::VecDeque;
use std::fmt;

pub(super) struct Waiting {
    pub(super) id: usize,
    pub(super) weight: usize,
    /// Permits still missing; the rest are collected.
    pub(super) missing: usize,
}

#[derive(Default)]
pub(super) struct Model {
    /// Permits the semaphore owns: free, held or collected.
    pub(super) total: usize,
    /// Permits in the counter.
    pub(super) free: usize,
    pub(super) queue: VecDeque<Waiting>,
    /// Granted all they asked for, not yet polled: (id, weight).
    pub(super) granted: Vec<(usize, usize)>,
    /// Whether `close()` has run.
    pub(super) closed: bool,
    /// Queued when `close()` ran, not yet polled: they complete with
    /// `Err(Closed)`.
    pub(super) failed: Vec<usize>,
}

/// How the next poll of a future must come out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Granted,
    Closed,
    Pending,
}

impl Model {
    pub(super) fn new(permits: usize) -> Self {
        Model {
            total: permits,
            free: permits,
            ..Model::default()
        }
    }

    /// Whether a new request for `n` permits is served at once: never once
    /// closed, else zero permits always, and otherwise only if nobody waits.
    pub(super) fn admits_now(&self, n: usize) -> bool {
        !self.closed && (n == 0 || (self.queue.is_empty() && self.free >= n))
    }

    /// What polling future `id` (of `weight` permits) gives now; `fresh` if
    /// it was never polled, so that this poll is its request.
    pub(super) fn outcome(&self, id: usize, weight: usize, fresh: bool) -> Outcome {
        if fresh {
            if self.closed {
                Outcome::Closed
            } else if self.admits_now(weight) {
                Outcome::Granted
            } else {
                Outcome::Pending
            }
        } else if self.is_granted(id) {
            Outcome::Granted
        } else if self.failed.contains(&id) {
            Outcome::Closed
        } else {
            Outcome::Pending
        }
    }

    /// A request that was not served at once joins the line; the first in
    /// line takes what the counter holds.
    pub(super) fn enqueue(&mut self, id: usize, weight: usize) {
        let take = if self.queue.is_empty() { self.free } else { 0 };
        self.free -= take;
        self.queue.push_back(Waiting {
            id,
            weight,
            missing: weight - take,
        });
    }

    /// Fails every queued waiter and puts what they collected back in the
    /// counter. Waiters granted before keep their permits.
    pub(super) fn close(&mut self) {
        self.closed = true;
        for w in self.queue.drain(..) {
            self.free += w.weight - w.missing;
            self.failed.push(w.id);
        }
    }

    /// `forget_permits(n)`: takes up to `n` permits from the counter (never
    /// collected ones) out of the semaphore for good; returns how many.
    pub(super) fn forget(&mut self, n: usize) -> usize {
        let taken = n.min(self.free);
        self.free -= taken;
        self.total -= taken;
        taken
    }

    /// Hands `n` permits to the waiters from the head; the rest go to the
    /// counter (all of them once closed, as nobody is queued then).
    pub(super) fn release(&mut self, mut n: usize) {
        while n > 0 {
            let Some(head) = self.queue.front_mut() else {
                break;
            };
            let take = head.missing.min(n);
            head.missing -= take;
            n -= take;
            if head.missing == 0 {
                let head = self.queue.pop_front().expect("a head");
                self.granted.push((head.id, head.weight));
            }
        }
        self.free += n;
    }

    pub(super) fn is_granted(&self, id: usize) -> bool {
        self.granted.iter().any(|&(g, _)| g == id)
    }

    pub(super) fn collected(&self) -> usize {
        let queued: usize = self.queue.iter().map(|w| w.weight - w.missing).sum();
        queued + self.granted.iter().map(|&(_, w)| w).sum::<usize>()
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "total {}, free {}, queue [", self.total, self.free)?;
        for w in &self.queue {
            write!(f, " #{} {}/{}", w.id, w.weight - w.missing, w.weight)?;
        }
        write!(f, " ], granted {:?}", self.granted)?;
        if self.closed {
            write!(f, ", closed, failed {:?}", self.failed)?;
        }
        Ok(())
    }
}
