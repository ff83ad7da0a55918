//! The intrusive doubly-linked list of waiters. The only code in the crate
//! that follows raw pointers.
//!
//! Invariants, for every node reachable from `head`:
//! - it is pinned and stays alive until it is unlinked (its owner's `Drop`
//!   unlinks it under the same lock before the memory goes away);
//! - its `links` describe its neighbours in this list, and nodes not in the
//!   list have both links `None`;
//! - it is reached only while the lock around this `List` is held.

use core::ptr::{self, NonNull};

use super::waiter::{Links, Waiter};

pub(super) struct List {
    head: Option<NonNull<Waiter>>,
    tail: Option<NonNull<Waiter>>,
    len: usize,
}

// SAFETY: the list holds pointers to `Waiter`s, which are `Send + Sync`; the
// list itself is only reached through the queue's lock.
unsafe impl Send for List {}

/// The links of `node`, reached without creating a reference to the node.
///
/// # Safety
/// `node` points to a live `Waiter` and the queue's lock is held.
#[inline]
unsafe fn links(node: NonNull<Waiter>) -> *mut Links {
    // SAFETY: the caller guarantees `node` is live; `addr_of!` projects to
    // the field without asserting anything about the rest of the node.
    unsafe { core::cell::UnsafeCell::raw_get(ptr::addr_of!((*node.as_ptr()).links)) }
}

impl List {
    pub(super) const fn new() -> Self {
        Self {
            head: None,
            tail: None,
            len: 0,
        }
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn front(&self) -> Option<NonNull<Waiter>> {
        self.head
    }

    /// Links `node` at the tail.
    ///
    /// # Safety
    /// `node` is live, pinned, not in any list, and stays alive until it is
    /// unlinked with `pop_front` or `remove` on this list.
    pub(super) unsafe fn push_back(&mut self, node: NonNull<Waiter>) {
        // SAFETY: `node` is live (caller) and the lock is held (`&mut self`).
        unsafe {
            *links(node) = Links {
                prev: self.tail,
                next: None,
            };
        }
        match self.tail {
            // SAFETY: the tail is in the list, so it is live.
            Some(tail) => unsafe { (*links(tail)).next = Some(node) },
            None => self.head = Some(node),
        }
        self.tail = Some(node);
        self.len += 1;
    }

    /// Links `node` at the head.
    ///
    /// # Safety
    /// As for [`push_back`](Self::push_back).
    pub(super) unsafe fn push_front(&mut self, node: NonNull<Waiter>) {
        // SAFETY: `node` is live (caller) and the lock is held (`&mut self`).
        unsafe {
            *links(node) = Links {
                prev: None,
                next: self.head,
            };
        }
        match self.head {
            // SAFETY: the head is in the list, so it is live.
            Some(head) => unsafe { (*links(head)).prev = Some(node) },
            None => self.tail = Some(node),
        }
        self.head = Some(node);
        self.len += 1;
    }

    /// The node after `node`.
    ///
    /// # Safety
    /// `node` is currently linked in this list.
    pub(super) unsafe fn next(&self, node: NonNull<Waiter>) -> Option<NonNull<Waiter>> {
        // SAFETY: `node` is in the list (caller), so it is live; the lock is
        // held (`&self` of a list only exists under it).
        unsafe { (*links(node)).next }
    }

    /// Unlinks and returns the head.
    pub(super) fn pop_front(&mut self) -> Option<NonNull<Waiter>> {
        let head = self.head?;
        // SAFETY: `head` is in the list, so it is live and not reached
        // concurrently (`&mut self` means the lock is held).
        unsafe { self.unlink(head) };
        Some(head)
    }

    /// Unlinks `node`.
    ///
    /// # Safety
    /// `node` is currently linked in this list.
    pub(super) unsafe fn remove(&mut self, node: NonNull<Waiter>) {
        // SAFETY: forwarded from the caller.
        unsafe { self.unlink(node) }
    }

    /// # Safety
    /// `node` is currently linked in this list.
    unsafe fn unlink(&mut self, node: NonNull<Waiter>) {
        // SAFETY: `node` is in the list (caller), so it and its neighbours
        // are live; the lock is held.
        unsafe {
            let Links { prev, next } = ptr::replace(links(node), Links::default());
            match prev {
                Some(prev) => (*links(prev)).next = next,
                None => {
                    debug_assert_eq!(self.head, Some(node), "unlinked node is not in this list");
                    self.head = next;
                }
            }
            match next {
                Some(next) => (*links(next)).prev = prev,
                None => {
                    debug_assert_eq!(self.tail, Some(node), "unlinked node is not in this list");
                    self.tail = prev;
                }
            }
        }
        self.len -= 1;
    }
}
