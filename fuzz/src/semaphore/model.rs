//! The reference model of the semaphore targets: a permit counter and one
//! strictly FIFO line of weighted waiters, the head collecting permits as
//! they are released.

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
}

impl Model {
    /// Hands `n` permits to the waiters from the head; the rest go to the
    /// counter.
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
        write!(f, " ], granted {:?}", self.granted)
    }
}
