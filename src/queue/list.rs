//! The intrusive doubly-linked list of waiters. The only code in the crate
//! that follows raw pointers.
//!
//! Invariants, for every node reachable from `head`:
//! - it is pinned and stays alive until it is unlinked (its owner's `Drop`
//!   unlinks it under the same lock before the memory goes away);
//! - its `links` describe its neighbours in this circular list (a lone node
//!   is its own neighbour), and nodes not in the list have both links `None`;
//! - it is reached only while the lock around this `List` is held.

use core::ptr::{self, NonNull};

use super::waiter::{Links, Waiter};

pub(super) struct List {
    /// The oldest node. The list is circular: the head's `prev` is the tail,
    /// so one pointer reaches both ends.
    head: Option<NonNull<Waiter>>,
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

/// A neighbour of a linked node: always present in a circular list.
#[inline]
fn linked(neighbour: Option<NonNull<Waiter>>) -> NonNull<Waiter> {
    neighbour.expect("a linked node has both neighbours")
}

impl List {
    pub(super) const fn new() -> Self {
        Self { head: None }
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.head.is_none()
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
        let head = match self.head {
            Some(head) => head,
            None => {
                // SAFETY: `node` is live (caller) and the lock is held
                // (`&mut self`).
                unsafe {
                    *links(node) = Links {
                        prev: Some(node),
                        next: Some(node),
                    };
                }
                self.head = Some(node);
                return;
            }
        };
        // SAFETY: `head` and its `prev`, the tail, are in the list, so live;
        // `node` is live (caller); the lock is held (`&mut self`).
        unsafe {
            let tail = linked((*links(head)).prev);
            *links(node) = Links {
                prev: Some(tail),
                next: Some(head),
            };
            (*links(tail)).next = Some(node);
            (*links(head)).prev = Some(node);
        }
    }

    /// Links `node` at the head.
    ///
    /// # Safety
    /// As for [`push_back`](Self::push_back).
    pub(super) unsafe fn push_front(&mut self, node: NonNull<Waiter>) {
        // SAFETY: forwarded from the caller. In a circular list the slot
        // behind the tail is the slot before the head.
        unsafe { self.push_back(node) };
        self.head = Some(node);
    }

    /// The node after `node`, or `None` if `node` is the tail.
    ///
    /// # Safety
    /// `node` is currently linked in this list.
    pub(super) unsafe fn next(&self, node: NonNull<Waiter>) -> Option<NonNull<Waiter>> {
        // SAFETY: `node` is in the list (caller), so it is live; the lock is
        // held (`&self` of a list only exists under it).
        let next = linked(unsafe { (*links(node)).next });
        (Some(next) != self.head).then_some(next)
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
        debug_assert!(self.head.is_some(), "unlinked node is not in this list");
        // SAFETY: `node` is in the list (caller), so it and its neighbours
        // are live; the lock is held.
        unsafe {
            let Links { prev, next } = ptr::replace(links(node), Links::default());
            let (prev, next) = (linked(prev), linked(next));
            if next == node {
                debug_assert_eq!(self.head, Some(node), "unlinked node is not in this list");
                self.head = None;
                return;
            }
            (*links(prev)).next = Some(next);
            (*links(next)).prev = Some(prev);
            if self.head == Some(node) {
                self.head = Some(next);
            }
        }
    }
}
