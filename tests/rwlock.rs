//! RwLock behaviour: shared readers, exclusive writers, strict FIFO between
//! them, upgradable reads and their upgrades (served ahead of the line),
//! downgrades, cancellation in every state, mapped and owned guards,
//! blocking and timed calls, constructors and `Debug`.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::fmt::Debug;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, counting_waker, expect_ready, on_all_runtimes, poll_once, report_queued,
    spin_until, watchdog,
};
use fairsync::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard,
};
#[cfg(feature = "alloc")]
use fairsync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard};
use futures::task::noop_waker;
use futures::FutureExt;

/// The lock is completely free: nobody holds it and nobody waits.
#[track_caller]
fn assert_free<T: ?Sized>(lock: &RwLock<T>) {
    assert_eq!(lock.waiters(), 0, "a waiter was left behind");
    assert!(!lock.is_locked(), "the lock is still held");
    assert!(
        lock.try_write().is_some(),
        "try_write failed on a free lock"
    );
}

static STATIC_LOCK: RwLock<u32> = RwLock::new(7);

// ------------------------------------------------------------ constructors

#[test]
fn const_constructor_works_in_a_static() {
    {
        let a = STATIC_LOCK.try_read().expect("free");
        let b = STATIC_LOCK.try_read().expect("readers share");
        assert_eq!(*a + *b, 14);
    }
    *STATIC_LOCK.try_write().expect("free") += 1;
    assert_eq!(*futures::executor::block_on(STATIC_LOCK.read()), 8);
}

#[test]
fn into_inner_get_mut_default_and_from() {
    let mut lock = RwLock::new(vec![1]);
    lock.get_mut().push(2);
    assert!(!lock.is_locked(), "get_mut does not lock");
    lock.try_write().unwrap().push(3);
    assert_eq!(lock.into_inner(), vec![1, 2, 3]);

    let lock: RwLock<String> = RwLock::default();
    assert!(lock.try_read().unwrap().is_empty());
    let lock = RwLock::from(5u8);
    assert_eq!(*lock.try_read().unwrap(), 5);
    let lock: RwLock<u8> = 9.into();
    assert_eq!(lock.into_inner(), 9);
}

// ------------------------------------------------------------ sharing

#[test]
fn many_readers_hold_the_lock_at_once() {
    let lock = RwLock::new(3);
    let waker = noop_waker();
    let guards: Vec<RwLockReadGuard<'_, i32>> = (0..50).map(|_| lock.try_read().unwrap()).collect();
    let mut read = pin!(lock.read());
    let from_future = expect_ready(read.as_mut(), &waker, "read beside other readers");
    assert!(guards.iter().all(|g| **g == 3));
    assert_eq!(*from_future, 3);
    assert!(lock.is_locked());
    assert!(lock.try_write().is_none(), "a writer got in beside readers");
    let mut write = pin!(lock.write());
    assert_pending(write.as_mut(), &waker, "writer while readers hold");
    drop(guards);
    assert_pending(write.as_mut(), &waker, "one reader still holds");
    drop(from_future);
    drop(expect_ready(
        write.as_mut(),
        &waker,
        "writer after the readers left",
    ));
    assert_free(&lock);
}

#[test]
fn writer_excludes_readers_writers_and_upgradable_readers() {
    let lock = RwLock::new(0);
    let mut guard = lock.try_write().unwrap();
    *guard = 1;
    assert!(lock.is_locked());
    assert!(lock.try_read().is_none());
    assert!(lock.try_write().is_none());
    assert!(lock.try_upgradable_read().is_none());
    let waker = noop_waker();
    let mut read = pin!(lock.read());
    assert_pending(read.as_mut(), &waker, "reader while a writer holds");
    let (r_wakes, r_waker) = counting_waker();
    assert_pending(read.as_mut(), &r_waker, "reader while a writer holds");
    drop(guard);
    assert_eq!(r_wakes.count(), 1, "the reader is woken by the release");
    assert_eq!(*expect_ready(read.as_mut(), &waker, "reader"), 1);
    assert_free(&lock);
}

// ------------------------------------------------------------ fairness

#[test]
fn queued_writer_blocks_later_readers() {
    let lock = RwLock::new(0);
    let reader = lock.try_read().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let (r_wakes, r_waker) = counting_waker();
    let mut writer = pin!(lock.write());
    assert_pending(writer.as_mut(), &w_waker, "writer behind a reader");
    assert_eq!(lock.waiters(), 1);
    assert!(
        lock.try_read().is_none(),
        "try_read overtook a queued writer"
    );
    assert!(lock.try_upgradable_read().is_none());
    let mut later = pin!(lock.read());
    assert_pending(later.as_mut(), &r_waker, "reader behind a queued writer");
    assert_eq!(lock.waiters(), 2);

    drop(reader);
    assert_eq!(w_wakes.count(), 1, "the writer is next");
    assert_eq!(r_wakes.count(), 0, "the later reader must wait");
    let mut guard = expect_ready(writer.as_mut(), &w_waker, "writer");
    *guard = 1;
    assert_pending(later.as_mut(), &r_waker, "reader while the writer holds");
    drop(guard);
    assert_eq!(r_wakes.count(), 1);
    assert_eq!(*expect_ready(later.as_mut(), &r_waker, "reader"), 1);
    assert_free(&lock);
}

#[test]
fn consecutive_queued_readers_are_admitted_together_when_a_writer_releases() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let wakers: Vec<_> = (0..5).map(|_| counting_waker()).collect();
    let mut r1 = Box::pin(lock.read());
    let mut r2 = Box::pin(lock.read());
    let mut r3 = Box::pin(lock.read());
    let mut w2 = Box::pin(lock.write());
    let mut r4 = Box::pin(lock.read());
    assert_pending(r1.as_mut(), &wakers[0].1, "r1");
    assert_pending(r2.as_mut(), &wakers[1].1, "r2");
    assert_pending(r3.as_mut(), &wakers[2].1, "r3");
    assert_pending(w2.as_mut(), &wakers[3].1, "w2");
    assert_pending(r4.as_mut(), &wakers[4].1, "r4");
    assert_eq!(lock.waiters(), 5);

    drop(writer);
    let woken: Vec<usize> = wakers.iter().map(|(c, _)| c.count()).collect();
    assert_eq!(woken, [1, 1, 1, 0, 0], "only the readers at the head");
    assert_eq!(lock.waiters(), 2);
    let g1 = expect_ready(r1.as_mut(), &wakers[0].1, "r1");
    let g2 = expect_ready(r2.as_mut(), &wakers[1].1, "r2");
    let g3 = expect_ready(r3.as_mut(), &wakers[2].1, "r3");
    assert_pending(w2.as_mut(), &wakers[3].1, "w2 behind the readers");
    assert_pending(r4.as_mut(), &wakers[4].1, "r4 behind w2");
    drop((g1, g2));
    assert_pending(w2.as_mut(), &wakers[3].1, "w2 while r3 reads");
    drop(g3);
    assert_eq!(wakers[3].0.count(), 1);
    assert_eq!(wakers[4].0.count(), 0);
    let g = expect_ready(w2.as_mut(), &wakers[3].1, "w2");
    assert_pending(r4.as_mut(), &wakers[4].1, "r4 while w2 writes");
    drop(g);
    drop(expect_ready(r4.as_mut(), &wakers[4].1, "r4"));
    assert_free(&lock);
}

#[test]
fn writers_are_served_in_fifo_order() {
    let lock = RwLock::new(Vec::new());
    let held = lock.try_read().unwrap();
    let waker = noop_waker();
    let mut writers: Vec<_> = (0..6).map(|_| Box::pin(lock.write())).collect();
    for w in &mut writers {
        assert_pending(w.as_mut(), &waker, "writer");
    }
    drop(held);
    for i in 0..writers.len() {
        for (j, later) in writers.iter_mut().enumerate().skip(i + 1) {
            assert_pending(later.as_mut(), &waker, &format!("writer {j} before {i}"));
        }
        expect_ready(writers[i].as_mut(), &waker, "oldest writer").push(i);
    }
    drop(writers);
    assert_eq!(*lock.try_read().unwrap(), (0..6).collect::<Vec<_>>());
}

// ------------------------------------------------------------ downgrade

#[test]
fn write_downgrade_admits_the_readers_at_the_head_at_once() {
    let lock = RwLock::new(0);
    let mut writer = lock.try_write().unwrap();
    let wakers: Vec<_> = (0..4).map(|_| counting_waker()).collect();
    let mut r1 = pin!(lock.read());
    let mut r2 = pin!(lock.read());
    let mut w2 = pin!(lock.write());
    let mut r3 = pin!(lock.read());
    assert_pending(r1.as_mut(), &wakers[0].1, "r1");
    assert_pending(r2.as_mut(), &wakers[1].1, "r2");
    assert_pending(w2.as_mut(), &wakers[2].1, "w2");
    assert_pending(r3.as_mut(), &wakers[3].1, "r3");

    *writer = 5;
    let read = RwLockWriteGuard::downgrade(writer);
    assert_eq!(*read, 5);
    let woken: Vec<usize> = wakers.iter().map(|(c, _)| c.count()).collect();
    assert_eq!(woken, [1, 1, 0, 0], "the readers at the head, not past w2");
    let g1 = expect_ready(r1.as_mut(), &wakers[0].1, "r1");
    let g2 = expect_ready(r2.as_mut(), &wakers[1].1, "r2");
    assert_eq!(*g1 + *g2, 10);
    assert_pending(w2.as_mut(), &wakers[2].1, "w2");
    assert_pending(r3.as_mut(), &wakers[3].1, "r3 behind w2");
    assert!(lock.try_read().is_none(), "w2 waits");
    drop((read, g1, g2));
    drop(expect_ready(w2.as_mut(), &wakers[2].1, "w2"));
    drop(expect_ready(r3.as_mut(), &wakers[3].1, "r3"));
    assert_free(&lock);
}

#[test]
fn write_downgrade_keeps_everyone_behind_a_writer_at_the_head_waiting() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let (r_wakes, r_waker) = counting_waker();
    let mut w2 = pin!(lock.write());
    let mut r1 = pin!(lock.read());
    assert_pending(w2.as_mut(), &w_waker, "w2");
    assert_pending(r1.as_mut(), &r_waker, "r1");
    let read = RwLockWriteGuard::downgrade(writer);
    assert_eq!((w_wakes.count(), r_wakes.count()), (0, 0));
    assert_pending(
        w2.as_mut(),
        &w_waker,
        "w2 while the downgraded reader holds",
    );
    assert_pending(r1.as_mut(), &r_waker, "r1 behind w2");
    assert!(lock.try_read().is_none());
    assert_eq!(lock.waiters(), 2);
    drop(read);
    assert_eq!((w_wakes.count(), r_wakes.count()), (1, 0));
    drop(expect_ready(w2.as_mut(), &w_waker, "w2"));
    drop(expect_ready(r1.as_mut(), &r_waker, "r1"));
    assert_free(&lock);
}

#[test]
fn write_downgrade_to_upgradable_admits_readers_but_not_writers() {
    let lock = RwLock::new(1);
    let writer = lock.try_write().unwrap();
    let waker = noop_waker();
    let mut r1 = pin!(lock.read());
    let mut r2 = pin!(lock.read());
    let mut w2 = pin!(lock.write());
    assert_pending(r1.as_mut(), &waker, "r1");
    assert_pending(r2.as_mut(), &waker, "r2");
    assert_pending(w2.as_mut(), &waker, "w2");
    let upgradable = RwLockWriteGuard::downgrade_to_upgradable(writer);
    let g1 = expect_ready(r1.as_mut(), &waker, "r1");
    let g2 = expect_ready(r2.as_mut(), &waker, "r2");
    assert_pending(w2.as_mut(), &waker, "w2");
    drop((g1, g2));
    // The upgradable read still excludes the queued writer, and its upgrade
    // goes first.
    assert_pending(w2.as_mut(), &waker, "w2 while the upgradable read holds");
    let mut upgrade = pin!(RwLockUpgradableReadGuard::upgrade(upgradable));
    let mut write = expect_ready(upgrade.as_mut(), &waker, "upgrade with no reader");
    *write = 2;
    assert_pending(w2.as_mut(), &waker, "w2 while the upgrade writes");
    drop(write);
    assert_eq!(*expect_ready(w2.as_mut(), &waker, "w2"), 2);
    assert_free(&lock);
}

#[test]
fn write_downgrade_to_upgradable_keeps_a_queued_upgradable_read_waiting() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let (u_wakes, u_waker) = counting_waker();
    let mut u2 = pin!(lock.upgradable_read());
    assert_pending(u2.as_mut(), &u_waker, "u2");
    let upgradable = RwLockWriteGuard::downgrade_to_upgradable(writer);
    assert_eq!(u_wakes.count(), 0);
    assert_pending(u2.as_mut(), &u_waker, "two upgradable reads never share");
    assert!(lock.try_read().is_none(), "u2 waits, so readers queue");
    drop(upgradable);
    drop(expect_ready(u2.as_mut(), &u_waker, "u2"));
    assert_free(&lock);
}

// ------------------------------------------------------------ upgradable

#[test]
fn upgradable_read_shares_with_readers_but_excludes_writers_and_upgradable_reads() {
    let lock = RwLock::new(4);
    let waker = noop_waker();
    let upgradable = lock.try_upgradable_read().expect("free");
    assert_eq!(*upgradable, 4);
    let r1 = lock
        .try_read()
        .expect("readers share with an upgradable read");
    let mut read = pin!(lock.read());
    let r2 = expect_ready(read.as_mut(), &waker, "reader beside an upgradable read");
    assert!(lock.try_write().is_none());
    assert!(lock.try_upgradable_read().is_none());
    let mut u2 = pin!(lock.upgradable_read());
    assert_pending(u2.as_mut(), &waker, "second upgradable read");
    drop((r1, r2));
    assert_pending(u2.as_mut(), &waker, "second upgradable read, readers gone");
    drop(upgradable);
    let u2_guard = expect_ready(u2.as_mut(), &waker, "second upgradable read");
    drop(u2_guard);

    // An upgradable read also waits for a writer.
    let writer = lock.try_write().unwrap();
    assert!(lock.try_upgradable_read().is_none());
    let mut u3 = pin!(lock.upgradable_read());
    assert_pending(u3.as_mut(), &waker, "upgradable read behind a writer");
    drop(writer);
    drop(expect_ready(u3.as_mut(), &waker, "upgradable read"));
    assert_free(&lock);
}

#[test]
fn queued_upgradable_read_is_a_waiter_like_any_other() {
    let lock = RwLock::new(0);
    let waker = noop_waker();
    // Behind a writer, with a reader behind it: both are admitted together.
    let writer = lock.try_write().unwrap();
    let mut u = pin!(lock.upgradable_read());
    let mut r = pin!(lock.read());
    let mut w2 = pin!(lock.write());
    assert_pending(u.as_mut(), &waker, "u");
    assert_pending(r.as_mut(), &waker, "r");
    assert_pending(w2.as_mut(), &waker, "w2");
    drop(writer);
    let ug = expect_ready(u.as_mut(), &waker, "u");
    let rg = expect_ready(r.as_mut(), &waker, "r beside u");
    assert_pending(w2.as_mut(), &waker, "w2");
    drop((ug, rg));
    drop(expect_ready(w2.as_mut(), &waker, "w2"));

    // A queued upgradable read makes later readers wait.
    let held = lock.try_upgradable_read().unwrap();
    let mut u2 = pin!(lock.upgradable_read());
    assert_pending(u2.as_mut(), &waker, "u2");
    assert!(
        lock.try_read().is_none(),
        "try_read overtook a queued upgradable read"
    );
    let mut r2 = pin!(lock.read());
    assert_pending(r2.as_mut(), &waker, "r2 behind u2");
    let downgraded = RwLockUpgradableReadGuard::downgrade(held);
    let u2g = expect_ready(u2.as_mut(), &waker, "u2 after the downgrade");
    drop(expect_ready(r2.as_mut(), &waker, "r2"));
    drop((downgraded, u2g));
    assert_free(&lock);
}

#[test]
fn upgradable_downgrade_keeps_read_access_and_lets_the_line_move() {
    let lock = RwLock::new(3);
    let waker = noop_waker();
    let upgradable = lock.try_upgradable_read().unwrap();
    let (u_wakes, u_waker) = counting_waker();
    let mut u2 = pin!(lock.upgradable_read());
    assert_pending(u2.as_mut(), &u_waker, "u2");
    let mut w = pin!(lock.write());
    assert_pending(w.as_mut(), &waker, "w");
    let read = RwLockUpgradableReadGuard::downgrade(upgradable);
    assert_eq!(*read, 3);
    assert_eq!(
        u_wakes.count(),
        1,
        "u2 is admitted beside the downgraded read"
    );
    let u2g = expect_ready(u2.as_mut(), &u_waker, "u2");
    assert_pending(w.as_mut(), &waker, "w");
    assert!(lock.try_write().is_none());
    drop(u2g);
    assert_pending(w.as_mut(), &waker, "w while the downgraded read holds");
    drop(read);
    drop(expect_ready(w.as_mut(), &waker, "w"));
    assert_free(&lock);
}

#[test]
fn upgrade_with_no_other_reader_is_ready_at_once_even_ahead_of_a_queued_writer() {
    let lock = RwLock::new(0);
    let waker = noop_waker();
    let upgradable = lock.try_upgradable_read().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let mut writer = pin!(lock.write());
    assert_pending(
        writer.as_mut(),
        &w_waker,
        "writer behind the upgradable read",
    );
    let mut upgrade = pin!(RwLockUpgradableReadGuard::upgrade(upgradable));
    let mut write = expect_ready(upgrade.as_mut(), &waker, "upgrade, nobody else reads");
    *write = 1;
    assert_eq!(w_wakes.count(), 0);
    assert_pending(writer.as_mut(), &w_waker, "writer while the upgrade writes");
    drop(write);
    assert_eq!(*expect_ready(writer.as_mut(), &w_waker, "writer"), 1);
    assert_free(&lock);
}

#[test]
fn upgrade_is_served_before_every_queued_waiter() {
    let lock = RwLock::new(0);
    let upgradable = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let (r_wakes, r_waker) = counting_waker();
    let (u_wakes, u_waker) = counting_waker();
    let mut writer = pin!(lock.write());
    let mut later_reader = pin!(lock.read());
    assert_pending(writer.as_mut(), &w_waker, "writer");
    assert_pending(later_reader.as_mut(), &r_waker, "later reader");
    let mut upgrade = pin!(RwLockUpgradableReadGuard::upgrade(upgradable));
    assert_pending(upgrade.as_mut(), &u_waker, "upgrade while a reader holds");
    assert_eq!(lock.waiters(), 3);

    drop(reader);
    assert_eq!(u_wakes.count(), 1, "the upgrade goes first");
    assert_eq!((w_wakes.count(), r_wakes.count()), (0, 0));
    let mut write = expect_ready(upgrade.as_mut(), &u_waker, "upgrade");
    *write = 1;
    assert_pending(writer.as_mut(), &w_waker, "writer while the upgrade writes");
    assert_pending(later_reader.as_mut(), &r_waker, "reader");
    drop(write);
    assert_eq!((w_wakes.count(), r_wakes.count()), (1, 0));
    let mut second = expect_ready(writer.as_mut(), &w_waker, "writer");
    assert_eq!(*second, 1);
    *second = 2;
    drop(second);
    assert_eq!(*expect_ready(later_reader.as_mut(), &r_waker, "reader"), 2);
    assert_free(&lock);
}

#[test]
fn pending_upgrade_blocks_later_readers() {
    let lock = RwLock::new(0);
    let upgradable = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let waker = noop_waker();
    let mut upgrade = pin!(RwLockUpgradableReadGuard::upgrade(upgradable));
    assert_pending(upgrade.as_mut(), &waker, "upgrade");
    assert!(
        lock.try_read().is_none(),
        "try_read overtook a pending upgrade"
    );
    let (r_wakes, r_waker) = counting_waker();
    let mut later = pin!(lock.read());
    assert_pending(later.as_mut(), &r_waker, "reader behind the upgrade");
    drop(reader);
    assert_eq!(r_wakes.count(), 0);
    let write = expect_ready(upgrade.as_mut(), &waker, "upgrade");
    assert_pending(later.as_mut(), &r_waker, "reader while the upgrade writes");
    drop(write);
    drop(expect_ready(later.as_mut(), &r_waker, "reader"));
    assert_free(&lock);
}

#[test]
fn try_upgrade_succeeds_only_when_no_other_reader_holds() {
    let lock = RwLock::new(0);
    let upgradable = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let upgradable = RwLockUpgradableReadGuard::try_upgrade(upgradable)
        .expect_err("another reader holds the lock");
    // Still an upgradable read: shares with readers, excludes the rest.
    assert!(lock.try_upgradable_read().is_none());
    assert!(lock.try_write().is_none());
    drop(lock.try_read().expect("readers still share"));
    drop(reader);
    let mut write =
        RwLockUpgradableReadGuard::try_upgrade(upgradable).expect("no other reader holds");
    *write = 1;
    assert!(lock.try_read().is_none(), "the upgrade is write access");
    drop(write);

    // Ahead of a queued writer, when no reader holds.
    let waker = noop_waker();
    let upgradable = lock.try_upgradable_read().unwrap();
    let mut writer = pin!(lock.write());
    assert_pending(writer.as_mut(), &waker, "writer");
    let mut write =
        RwLockUpgradableReadGuard::try_upgrade(upgradable).expect("served before the writer");
    *write = 2;
    assert_pending(writer.as_mut(), &waker, "writer while the upgrade writes");
    drop(write);
    drop(expect_ready(writer.as_mut(), &waker, "writer"));

    // With a queued writer and a reader: refused, and the line is unchanged.
    let upgradable = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let mut writer = pin!(lock.write());
    assert_pending(writer.as_mut(), &w_waker, "writer");
    let upgradable =
        RwLockUpgradableReadGuard::try_upgrade(upgradable).expect_err("a reader holds");
    assert_eq!(lock.waiters(), 1);
    drop(reader);
    assert_pending(
        writer.as_mut(),
        &w_waker,
        "writer while the upgradable read holds",
    );
    assert_eq!(w_wakes.count(), 0);
    drop(upgradable);
    assert_eq!(w_wakes.count(), 1);
    assert_eq!(*expect_ready(writer.as_mut(), &w_waker, "writer"), 2);
    assert_free(&lock);
}

#[test]
fn upgrade_dropped_before_its_first_poll_releases_the_upgradable_read() {
    let lock = RwLock::new(0);
    let upgradable = lock.try_upgradable_read().unwrap();
    drop(RwLockUpgradableReadGuard::upgrade(upgradable));
    assert_free(&lock);

    // Also with a reader and a writer around.
    let upgradable = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let mut writer = pin!(lock.write());
    assert_pending(writer.as_mut(), &w_waker, "writer");
    drop(RwLockUpgradableReadGuard::upgrade(upgradable));
    assert_eq!(w_wakes.count(), 0, "a reader still holds");
    drop(reader);
    drop(expect_ready(writer.as_mut(), &w_waker, "writer"));
    assert_free(&lock);
}

#[test]
fn pending_upgrade_dropped_releases_everything() {
    // Nobody else waits: the upgradable read is simply given back.
    let lock = RwLock::new(0);
    let upgradable = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let mut upgrade = Box::pin(RwLockUpgradableReadGuard::upgrade(upgradable));
    assert_pending(upgrade.as_mut(), &noop_waker(), "upgrade");
    drop(upgrade);
    assert_eq!(lock.waiters(), 0);
    drop(
        lock.try_upgradable_read()
            .expect("the upgradable read was released"),
    );
    drop(reader);
    assert_free(&lock);
}

#[test]
fn upgrade_dropped_after_a_partial_grant_passes_it_back_to_the_queued_writer() {
    let lock = RwLock::new(0);
    let upgradable = lock.try_upgradable_read().unwrap();
    let r1 = lock.try_read().unwrap();
    let r2 = lock.try_read().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let (r_wakes, r_waker) = counting_waker();
    let mut writer = pin!(lock.write());
    let mut later = pin!(lock.read());
    assert_pending(writer.as_mut(), &w_waker, "writer");
    assert_pending(later.as_mut(), &r_waker, "later reader");
    let mut upgrade = Box::pin(RwLockUpgradableReadGuard::upgrade(upgradable));
    assert_pending(upgrade.as_mut(), &noop_waker(), "upgrade");
    drop(r1); // the upgrade collects it and waits for r2
    assert_pending(upgrade.as_mut(), &noop_waker(), "upgrade waits for r2");
    assert_eq!(lock.waiters(), 3);

    drop(upgrade);
    assert_eq!(lock.waiters(), 2);
    assert_eq!((w_wakes.count(), r_wakes.count()), (0, 0), "r2 still reads");
    assert_pending(writer.as_mut(), &w_waker, "writer while r2 reads");
    assert!(lock.try_read().is_none(), "the writer still waits");
    drop(r2);
    assert_eq!((w_wakes.count(), r_wakes.count()), (1, 0));
    drop(expect_ready(writer.as_mut(), &w_waker, "writer"));
    drop(expect_ready(later.as_mut(), &r_waker, "later reader"));
    assert_free(&lock);
}

#[test]
fn granted_upgrade_dropped_before_its_next_poll_releases_the_write_lock() {
    let lock = RwLock::new(0);
    let upgradable = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let (r_wakes, r_waker) = counting_waker();
    let (u_wakes, u_waker) = counting_waker();
    let mut writer = pin!(lock.write());
    let mut later = pin!(lock.read());
    assert_pending(writer.as_mut(), &w_waker, "writer");
    assert_pending(later.as_mut(), &r_waker, "later reader");
    let mut upgrade = Box::pin(RwLockUpgradableReadGuard::upgrade(upgradable));
    assert_pending(upgrade.as_mut(), &u_waker, "upgrade");
    drop(reader);
    assert_eq!(u_wakes.count(), 1, "granted");
    assert_eq!(w_wakes.count(), 0);
    drop(upgrade); // granted, never polled again
    assert_eq!((w_wakes.count(), r_wakes.count()), (1, 0));
    drop(expect_ready(writer.as_mut(), &w_waker, "writer"));
    drop(expect_ready(later.as_mut(), &r_waker, "later reader"));
    assert_free(&lock);

    // With nobody queued, the lock ends up free at once.
    let upgradable = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let mut upgrade = Box::pin(RwLockUpgradableReadGuard::upgrade(upgradable));
    assert_pending(upgrade.as_mut(), &noop_waker(), "upgrade");
    drop(reader);
    drop(upgrade);
    assert_free(&lock);
}

// ------------------------------------------------------------ cancellation

#[test]
fn read_and_write_futures_dropped_before_their_first_poll_leave_no_trace() {
    let lock = Arc::new(RwLock::new(0));
    drop(lock.read());
    drop(lock.write());
    drop(lock.upgradable_read());
    #[cfg(feature = "alloc")]
    {
        drop(Arc::clone(&lock).read_owned());
        drop(Arc::clone(&lock).write_owned());
    }
    assert_free(&lock);
    let writer = lock.try_write().unwrap();
    drop(lock.read());
    drop(lock.write());
    assert_eq!(lock.waiters(), 0);
    drop(writer);
    assert_free(&lock);
}

#[test]
fn pending_reader_dropped_leaves_the_line() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let waker = noop_waker();
    let mut r1 = pin!(lock.read());
    let mut r2 = Box::pin(lock.read());
    let mut w2 = pin!(lock.write());
    assert_pending(r1.as_mut(), &waker, "r1");
    assert_pending(r2.as_mut(), &waker, "r2");
    assert_pending(w2.as_mut(), &waker, "w2");
    drop(r2);
    assert_eq!(lock.waiters(), 2);
    drop(writer);
    let g = expect_ready(r1.as_mut(), &waker, "r1");
    assert_pending(w2.as_mut(), &waker, "w2");
    drop(g);
    drop(expect_ready(w2.as_mut(), &waker, "w2"));
    assert_free(&lock);
}

#[test]
fn pending_writer_at_the_head_dropped_admits_the_readers_behind_it() {
    let lock = RwLock::new(0);
    let reader = lock.try_read().unwrap();
    let (r_wakes, r_waker) = counting_waker();
    let mut writer = Box::pin(lock.write());
    let mut later = pin!(lock.read());
    assert_pending(
        writer.as_mut(),
        &noop_waker(),
        "writer collects the free access",
    );
    assert_pending(later.as_mut(), &r_waker, "reader behind the writer");
    drop(writer);
    assert_eq!(r_wakes.count(), 1, "what the writer collected goes on");
    let g = expect_ready(later.as_mut(), &r_waker, "reader beside the first one");
    assert_eq!(lock.waiters(), 0);
    assert!(lock.try_read().is_some());
    drop((g, reader));
    assert_free(&lock);
}

#[test]
fn granted_writer_dropped_before_its_next_poll_passes_the_lock_on() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let (r_wakes, r_waker) = counting_waker();
    let mut w2 = Box::pin(lock.write());
    let mut r = pin!(lock.read());
    assert_pending(w2.as_mut(), &w_waker, "w2");
    assert_pending(r.as_mut(), &r_waker, "r");
    drop(writer);
    assert_eq!((w_wakes.count(), r_wakes.count()), (1, 0));
    drop(w2); // granted, not polled again
    assert_eq!(r_wakes.count(), 1);
    drop(expect_ready(r.as_mut(), &r_waker, "r"));
    assert_free(&lock);
}

#[test]
fn granted_reader_dropped_before_its_next_poll_passes_its_share_on() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let (w_wakes, w_waker) = counting_waker();
    let mut r1 = Box::pin(lock.read());
    let mut r2 = pin!(lock.read());
    let mut w2 = pin!(lock.write());
    assert_pending(r1.as_mut(), &noop_waker(), "r1");
    assert_pending(r2.as_mut(), &noop_waker(), "r2");
    assert_pending(w2.as_mut(), &w_waker, "w2");
    drop(writer);
    drop(r1); // granted, not polled again
    assert_eq!(w_wakes.count(), 0, "r2 still holds read access");
    drop(expect_ready(r2.as_mut(), &noop_waker(), "r2"));
    assert_eq!(w_wakes.count(), 1);
    drop(expect_ready(w2.as_mut(), &w_waker, "w2"));
    assert_free(&lock);
}

#[test]
fn queued_upgradable_read_dropped_with_a_partial_grant_passes_it_on() {
    let lock = RwLock::new(0);
    let holder = lock.try_upgradable_read().unwrap();
    let (r_wakes, r_waker) = counting_waker();
    let mut u2 = Box::pin(lock.upgradable_read());
    let mut r = pin!(lock.read());
    assert_pending(u2.as_mut(), &noop_waker(), "u2 collects the free access");
    assert_pending(r.as_mut(), &r_waker, "r behind u2");
    drop(u2);
    assert_eq!(r_wakes.count(), 1);
    drop(expect_ready(r.as_mut(), &r_waker, "r"));
    drop(holder);
    assert_free(&lock);
}

// ------------------------------------------------------------ map

#[test]
fn mapped_read_guards_keep_read_access_and_map_again() {
    let lock = RwLock::new((1u8, String::from("ab")));
    let guard = lock.try_read().unwrap();
    let mapped: MappedRwLockReadGuard<'_, String> = RwLockReadGuard::map(guard, |pair| &pair.1);
    assert_eq!(mapped.as_str(), "ab");
    assert!(
        lock.try_write().is_none(),
        "a mapped read guard keeps the lock"
    );
    assert!(lock.try_read().is_some(), "and shares it with readers");
    let narrower: MappedRwLockReadGuard<'_, str> =
        MappedRwLockReadGuard::map(mapped, |s| &s.as_str()[1..]);
    assert_eq!(&*narrower, "b");
    assert_eq!(format!("{narrower:?}"), format!("{:?}", "b"));
    assert_eq!(format!("{narrower}"), "b");
    assert!(lock.try_write().is_none());
    drop(narrower);
    assert_free(&lock);
}

#[test]
fn mapped_write_guards_keep_write_access_and_map_again() {
    let lock = RwLock::new((1u8, [1u8, 2, 3]));
    let guard = lock.try_write().unwrap();
    let mut mapped: MappedRwLockWriteGuard<'_, [u8; 3]> =
        RwLockWriteGuard::map(guard, |pair| &mut pair.1);
    mapped[0] = 10;
    assert!(
        lock.try_read().is_none(),
        "a mapped write guard keeps the lock"
    );
    let mut slice: MappedRwLockWriteGuard<'_, [u8]> =
        MappedRwLockWriteGuard::map(mapped, |arr| &mut arr[1..]);
    slice[0] = 20;
    assert_eq!(&*slice, &[20, 3]);
    assert_eq!(format!("{slice:?}"), "[20, 3]");
    assert!(lock.try_read().is_none());
    assert!(lock.try_write().is_none());
    drop(slice);
    assert_free(&lock);
    assert_eq!(lock.into_inner(), (1, [10, 20, 3]));
}

#[test]
fn mapped_guards_release_to_the_queued_waiters() {
    let lock = RwLock::new((0u8, 0u8));
    let waker = noop_waker();
    let mapped = RwLockWriteGuard::map(lock.try_write().unwrap(), |pair| &mut pair.0);
    let mut reader = pin!(lock.read());
    assert_pending(reader.as_mut(), &waker, "reader");
    drop(mapped);
    let read = expect_ready(reader.as_mut(), &waker, "reader");
    let mapped = RwLockReadGuard::map(read, |pair| &pair.1);
    let mut writer = pin!(lock.write());
    assert_pending(writer.as_mut(), &waker, "writer");
    drop(mapped);
    drop(expect_ready(writer.as_mut(), &waker, "writer"));
    assert_free(&lock);
}

// ------------------------------------------------------------ unwinding and wakers

fn panics(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

#[test]
fn guards_release_during_unwinding_also_when_a_map_closure_panics() {
    let lock = Arc::new(RwLock::new(1));
    assert!(panics(|| {
        let _read = lock.try_read().unwrap();
        #[cfg(feature = "alloc")]
        let _owned = lock.try_read_owned().unwrap();
        let _upgradable = lock.try_upgradable_read().unwrap();
        panic!("boom");
    }));
    assert_free(&lock);
    assert!(panics(|| {
        #[cfg(feature = "alloc")]
        let _write = lock.try_write_owned().unwrap();
        #[cfg(not(feature = "alloc"))]
        let _write = lock.try_write().unwrap();
        panic!("boom");
    }));
    assert_free(&lock);
    assert!(panics(|| {
        let _ = RwLockReadGuard::map(lock.try_read().unwrap(), |_| -> &u8 { panic!("boom") });
    }));
    assert_free(&lock);
    assert!(panics(|| {
        let _ = RwLockWriteGuard::map(lock.try_write().unwrap(), |_| -> &mut u8 { panic!("boom") });
    }));
    assert_free(&lock);
    assert!(panics(|| {
        let mapped = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| v);
        let _ = MappedRwLockWriteGuard::map(mapped, |_| -> &mut u8 { panic!("boom") });
    }));
    assert_free(&lock);

    // A writer queued behind a panicking reader gets the lock, unpoisoned.
    let (wakes, waker) = counting_waker();
    let mut writer = pin!(lock.write());
    let reader = lock.try_read().unwrap();
    assert_pending(writer.as_mut(), &waker, "writer");
    assert!(panics(move || {
        let _reader = reader;
        panic!("boom");
    }));
    assert_eq!(wakes.count(), 1);
    *expect_ready(writer.as_mut(), &waker, "writer") += 1;
    assert_eq!(*lock.try_read().unwrap(), 2);
}

/// A waker that runs a callback each time it is woken.
struct CallbackWaker(Box<dyn Fn() + Send + Sync>);

impl futures::task::ArcWake for CallbackWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        (arc_self.0)();
    }
}

#[test]
fn waker_may_call_back_into_the_lock_when_woken() {
    // A waker woken under the queue's lock would deadlock here.
    watchdog(|| {
        let lock = Arc::new(RwLock::new(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let waker = futures::task::waker(Arc::new(CallbackWaker(Box::new({
            let (lock, seen) = (Arc::clone(&lock), Arc::clone(&seen));
            move || {
                // Take and cancel a place in line, and read the state.
                {
                    let mut probe = pin!(lock.write());
                    let _ = poll_once(probe.as_mut(), &noop_waker());
                }
                let _ = format!("{lock:?}");
                let _ = lock.try_read();
                seen.fetch_add(1, Ordering::SeqCst);
            }
        }))));
        let writer = lock.try_write().unwrap();
        let mut r1 = pin!(lock.read());
        let mut r2 = pin!(lock.read());
        assert_pending(r1.as_mut(), &waker, "r1");
        assert_pending(r2.as_mut(), &waker, "r2");
        drop(writer);
        assert_eq!(seen.load(Ordering::SeqCst), 2, "both readers were woken");
        let g1 = expect_ready(r1.as_mut(), &noop_waker(), "r1");
        let g2 = expect_ready(r2.as_mut(), &noop_waker(), "r2");
        drop((g1, g2));
        // Also for an upgrade woken by the last reader.
        let upgradable = lock.try_upgradable_read().unwrap();
        let reader = lock.try_read().unwrap();
        let mut upgrade = pin!(RwLockUpgradableReadGuard::upgrade(upgradable));
        assert_pending(upgrade.as_mut(), &waker, "upgrade");
        drop(reader);
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        drop(expect_ready(upgrade.as_mut(), &noop_waker(), "upgrade"));
        assert_free(&lock);
    });
}

// ------------------------------------------------------------ owned

#[cfg(feature = "alloc")]
#[test]
fn owned_guards_hold_the_lock_by_arc_across_threads() {
    let lock = Arc::new(RwLock::new(0u64));
    let mut writer: OwnedRwLockWriteGuard<u64> = lock.try_write_owned().expect("free");
    *writer = 1;
    assert!(Arc::ptr_eq(OwnedRwLockWriteGuard::rwlock(&writer), &lock));
    assert!(lock.try_read_owned().is_none());
    assert!(lock.try_write_owned().is_none());
    thread::spawn(move || *writer += 1).join().unwrap();
    assert_free(&lock);

    let reader: OwnedRwLockReadGuard<u64> = lock.try_read_owned().unwrap();
    let other = lock.try_read_owned().expect("owned readers share");
    assert!(Arc::ptr_eq(OwnedRwLockReadGuard::rwlock(&reader), &lock));
    assert!(lock.try_write_owned().is_none());
    let seen = thread::spawn(move || *reader).join().unwrap();
    assert_eq!(seen, 2);
    assert_eq!(format!("{other:?}"), "2");
    assert_eq!(format!("{other}"), "2");

    // Owned futures queue like the others.
    let waker = noop_waker();
    let mut write = pin!(Arc::clone(&lock).write_owned());
    assert_pending(write.as_mut(), &waker, "owned writer behind a reader");
    let mut read = pin!(Arc::clone(&lock).read_owned());
    assert_pending(read.as_mut(), &waker, "owned reader behind a writer");
    drop(other);
    let mut w = expect_ready(write.as_mut(), &waker, "owned writer");
    *w = 3;
    drop(w);
    assert_eq!(*expect_ready(read.as_mut(), &waker, "owned reader"), 3);
    assert_eq!(Arc::strong_count(&lock), 1, "guards gave their Arc back");
    assert_free(&lock);
}

#[cfg(feature = "alloc")]
#[test]
fn owned_futures_dropped_in_any_state_pass_on_what_they_hold() {
    let lock = Arc::new(RwLock::new(0));
    let writer = lock.try_write().unwrap();
    let (r_wakes, r_waker) = counting_waker();
    let mut w2 = Box::pin(Arc::clone(&lock).write_owned());
    let mut r1 = Box::pin(Arc::clone(&lock).read_owned());
    let mut r2 = pin!(Arc::clone(&lock).read_owned());
    assert_pending(w2.as_mut(), &noop_waker(), "w2");
    assert_pending(r1.as_mut(), &noop_waker(), "r1");
    assert_pending(r2.as_mut(), &r_waker, "r2");
    drop(r1); // pending
    drop(writer);
    drop(w2); // granted, not polled
    assert_eq!(r_wakes.count(), 1);
    drop(expect_ready(r2.as_mut(), &r_waker, "r2"));
    assert_eq!(Arc::strong_count(&lock), 1);
    assert_free(&lock);
}

#[test]
fn guard_rwlock_returns_the_locked_lock() {
    let a = RwLock::new(1);
    let b = RwLock::new(1);
    let read = a.try_read().unwrap();
    assert!(std::ptr::eq(RwLockReadGuard::rwlock(&read), &a));
    assert!(!std::ptr::eq(RwLockReadGuard::rwlock(&read), &b));
    let upgradable = a.try_upgradable_read().unwrap();
    assert!(std::ptr::eq(
        RwLockUpgradableReadGuard::rwlock(&upgradable),
        &a
    ));
    drop((read, upgradable));
    let write = b.try_write().unwrap();
    assert!(std::ptr::eq(RwLockWriteGuard::rwlock(&write), &b));
}

#[test]
fn unsized_values_through_arc_coercion() {
    let lock: Arc<RwLock<[u8]>> = Arc::new(RwLock::new([1u8, 2, 3]));
    lock.try_write().unwrap()[0] = 10;
    assert_eq!(&*lock.try_read().unwrap(), &[10, 2, 3]);
    #[cfg(feature = "alloc")]
    {
        let mut owned = futures::executor::block_on(Arc::clone(&lock).write_owned());
        owned[2] = 30;
        drop(owned);
        assert_eq!(&*lock.try_read_owned().unwrap(), &[10, 2, 30]);
    }
    #[cfg(not(feature = "alloc"))]
    {
        futures::executor::block_on(lock.write())[2] = 30;
    }
    let text = format!("{lock:?}");
    assert!(text.contains("[10, 2, 30]"), "{text}");
    let boxed: Box<RwLock<dyn Debug + Send + Sync>> = Box::new(RwLock::new(5u8));
    assert_eq!(format!("{:?}", &*boxed.try_read().unwrap()), "5");
}

// ------------------------------------------------------------ Debug

#[test]
fn debug_shows_the_value_only_when_try_read_succeeds() {
    // Debug must not block: run it under a watchdog.
    watchdog(|| {
        let lock = RwLock::new(424_242u32);
        assert!(format!("{lock:?}").contains("424242"));
        let reader = lock.try_read().unwrap();
        assert!(
            format!("{lock:?}").contains("424242"),
            "readers do not hide the value"
        );
        let mut writer = pin!(lock.write());
        assert_pending(writer.as_mut(), &noop_waker(), "writer");
        let text = format!("{lock:?}");
        assert!(!text.contains("424242"), "try_read fails now: {text}");
        assert!(text.contains("waiters: 1"), "{text}");
        drop(reader);
        let guard = expect_ready(writer.as_mut(), &noop_waker(), "writer");
        let text = format!("{lock:?}");
        assert!(!text.contains("424242"), "shown while write-locked: {text}");
        drop(guard);
        let upgradable = lock.try_upgradable_read().unwrap();
        assert!(format!("{lock:?}").contains("424242"));
        drop(upgradable);
        assert!(format!("{lock:?}").contains("waiters: 0"));
    });
}

#[test]
fn guards_format_exactly_like_the_value_and_futures_implement_debug() {
    let lock = Arc::new(RwLock::new(1234.5f64));
    let value = 1234.5f64;
    let read = lock.try_read().unwrap();
    assert_eq!(format!("{read:?}"), format!("{value:?}"));
    assert_eq!(format!("{read:>10.2}"), format!("{value:>10.2}"));
    drop(read);
    let upgradable = lock.try_upgradable_read().unwrap();
    assert_eq!(format!("{upgradable}"), format!("{value}"));
    let upgrade = RwLockUpgradableReadGuard::upgrade(upgradable);
    assert!(format!("{upgrade:?}").contains("RwLockUpgrade"));
    drop(upgrade);
    let write = lock.try_write().unwrap();
    assert_eq!(format!("{write:?}"), format!("{value:?}"));
    assert_eq!(format!("{write}"), format!("{value}"));
    drop(write);
    for text in [
        format!("{:?}", lock.read()),
        format!("{:?}", lock.write()),
        format!("{:?}", lock.upgradable_read()),
        #[cfg(feature = "alloc")]
        format!("{:?}", Arc::clone(&lock).read_owned()),
        #[cfg(feature = "alloc")]
        format!("{:?}", Arc::clone(&lock).write_owned()),
    ] {
        assert!(text.contains("idle"), "{text}");
    }
}

#[test]
#[should_panic(expected = "polled after")]
fn polling_a_completed_read_future_panics() {
    let lock = RwLock::new(0);
    let waker = noop_waker();
    let mut fut = pin!(lock.read());
    let _guard = expect_ready(fut.as_mut(), &waker, "first poll");
    let _ = poll_once(fut.as_mut(), &waker);
}

// ------------------------------------------------------------ blocking

#[cfg(feature = "std")]
#[test]
fn blocking_readers_and_writers_queue_in_the_same_fifo_line() {
    watchdog(|| {
        let lock = Arc::new(RwLock::new(Vec::new()));
        let writer = lock.try_write().unwrap();
        let waker = noop_waker();
        let mut threads = Vec::new();
        // Line: blocking reader, async writer, blocking writer, blocking reader.
        threads.push(thread::spawn({
            let lock = Arc::clone(&lock);
            move || {
                let guard = lock.read_blocking();
                guard.len()
            }
        }));
        spin_until("the blocking reader is queued", || lock.waiters() == 1);
        let mut async_writer = pin!(lock.write());
        assert_pending(async_writer.as_mut(), &waker, "async writer");
        threads.push(thread::spawn({
            let lock = Arc::clone(&lock);
            move || {
                let mut guard = lock.write_blocking();
                guard.push("blocking writer");
                guard.len()
            }
        }));
        spin_until("the blocking writer is queued", || lock.waiters() == 3);
        threads.push(thread::spawn({
            let lock = Arc::clone(&lock);
            move || {
                lock.read_blocking_timeout(Duration::MAX)
                    .expect("no deadline")
                    .len()
            }
        }));
        spin_until("the last reader is queued", || lock.waiters() == 4);
        drop(writer);
        spin_until("the first reader is through", || threads[0].is_finished());
        let mut guard = expect_ready(async_writer.as_mut(), &waker, "async writer");
        guard.push("async writer");
        drop(guard);
        let seen: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(seen, [0, 2, 2]);
        assert_eq!(
            *lock.try_read().unwrap(),
            ["async writer", "blocking writer"]
        );
        assert_free(&lock);
    });
}

#[cfg(feature = "std")]
#[test]
fn upgradable_read_blocking_waits_for_the_writer_ahead() {
    watchdog(|| {
        let lock = Arc::new(RwLock::new(0));
        let mut writer = lock.try_write().unwrap();
        let thread = thread::spawn({
            let lock = Arc::clone(&lock);
            move || {
                let upgradable = lock.upgradable_read_blocking();
                let seen = *upgradable;
                let mut write = RwLockUpgradableReadGuard::try_upgrade(upgradable)
                    .unwrap_or_else(|_| panic!("no other reader"));
                *write += 1;
                seen
            }
        });
        spin_until("the thread is queued", || lock.waiters() == 1);
        *writer = 5;
        drop(writer);
        assert_eq!(thread.join().unwrap(), 5);
        assert_eq!(*lock.try_read().unwrap(), 6);
        assert_free(&lock);
    });
}

#[cfg(feature = "std")]
#[test]
fn zero_timeouts_behave_like_try() {
    watchdog(|| {
        let lock = RwLock::new(0);
        let reader = lock.read_blocking_timeout(Duration::ZERO).expect("free");
        assert!(lock.write_blocking_timeout(Duration::ZERO).is_none());
        assert!(
            lock.read_blocking_timeout(Duration::ZERO).is_some(),
            "readers share"
        );
        assert_eq!(lock.waiters(), 0, "ZERO never queues");
        let waker = noop_waker();
        let mut writer = pin!(lock.write());
        assert_pending(writer.as_mut(), &waker, "writer");
        assert!(
            lock.read_blocking_timeout(Duration::ZERO).is_none(),
            "overtook a queued writer"
        );
        assert_eq!(lock.waiters(), 1);
        drop(reader);
        let guard = expect_ready(writer.as_mut(), &waker, "writer");
        assert!(lock.read_blocking_timeout(Duration::ZERO).is_none());
        assert!(lock.write_blocking_timeout(Duration::ZERO).is_none());
        drop(guard);
        drop(lock.write_blocking_timeout(Duration::ZERO).expect("free"));
        assert_free(&lock);
    });
}

#[cfg(feature = "std")]
#[test]
fn timed_out_calls_leave_no_waiter_and_pass_on_what_they_collected() {
    watchdog(|| {
        let lock = Arc::new(RwLock::new(0));
        let writer = lock.try_write().unwrap();
        assert!(lock
            .read_blocking_timeout(Duration::from_millis(10))
            .is_none());
        assert!(lock
            .write_blocking_timeout(Duration::from_millis(10))
            .is_none());
        assert_eq!(lock.waiters(), 0);
        drop(writer);

        // A timed-out writer at the head had collected the free access: the
        // reader queued behind it gets in beside the reader that holds.
        let reader = lock.try_read().unwrap();
        let timed = thread::spawn({
            let lock = Arc::clone(&lock);
            move || {
                lock.write_blocking_timeout(Duration::from_millis(100))
                    .is_none()
            }
        });
        spin_until("the writer is queued", || lock.waiters() == 1);
        let (r_wakes, r_waker) = counting_waker();
        let mut later = pin!(lock.read());
        assert_pending(later.as_mut(), &r_waker, "reader behind the writer");
        assert!(timed.join().unwrap(), "the reader held on");
        assert_eq!(r_wakes.count(), 1);
        let g = expect_ready(later.as_mut(), &r_waker, "reader");
        drop((g, reader));
        assert_free(&lock);
    });
}

#[cfg(feature = "std")]
#[test]
fn max_timeouts_wait_without_panicking() {
    watchdog(|| {
        let lock = Arc::new(RwLock::new(0));
        assert!(lock.read_blocking_timeout(Duration::MAX).is_some());
        assert!(lock.write_blocking_timeout(Duration::MAX).is_some());
        let reader = lock.try_read().unwrap();
        let writer = thread::spawn({
            let lock = Arc::clone(&lock);
            move || {
                lock.write_blocking_timeout(Duration::MAX)
                    .map(|mut g| *g += 1)
            }
        });
        spin_until("the writer is queued", || lock.waiters() == 1);
        let reader2 = thread::spawn({
            let lock = Arc::clone(&lock);
            move || lock.read_blocking_timeout(Duration::MAX).map(|g| *g)
        });
        spin_until("the reader is queued", || lock.waiters() == 2);
        drop(reader);
        assert_eq!(writer.join().unwrap(), Some(()));
        assert_eq!(reader2.join().unwrap(), Some(1));
        assert_free(&lock);
    });
}

// ------------------------------------------------------------ runtimes

#[test]
fn readers_and_writers_keep_the_invariant_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const WRITERS: usize = common::iterations(3, 2);
        const UPGRADERS: usize = common::iterations(2, 1);
        const READERS: usize = common::iterations(4, 2);
        const ROUNDS: usize = common::iterations(40, 6);
        // (a, b): a writer sets both, with an await in between; readers must
        // never see them differ.
        let lock = Arc::new(RwLock::new((0usize, 0usize)));
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let lock = Arc::clone(&lock);
            tasks.push(rt.spawn(async move {
                for _ in 0..ROUNDS {
                    let mut guard = lock.write().await;
                    let seen = guard.0;
                    rt.yield_now().await;
                    guard.0 = seen + 1;
                    rt.yield_now().await;
                    guard.1 = seen + 1;
                }
            }));
        }
        for _ in 0..UPGRADERS {
            let lock = Arc::clone(&lock);
            tasks.push(rt.spawn(async move {
                for _ in 0..ROUNDS {
                    let upgradable = lock.upgradable_read().await;
                    let seen = upgradable.0;
                    assert_eq!(upgradable.0, upgradable.1, "torn read");
                    rt.yield_now().await;
                    let mut guard = RwLockUpgradableReadGuard::upgrade(upgradable).await;
                    assert_eq!(guard.0, seen, "a writer got in before the upgrade");
                    guard.0 = seen + 1;
                    rt.yield_now().await;
                    guard.1 = seen + 1;
                }
            }));
        }
        for i in 0..READERS {
            let lock = Arc::clone(&lock);
            tasks.push(rt.spawn(async move {
                for _ in 0..ROUNDS {
                    // Owned readers share the lock like borrowed ones.
                    #[cfg(feature = "alloc")]
                    if i % 2 == 1 {
                        let guard = Arc::clone(&lock).read_owned().await;
                        assert_eq!(guard.0, guard.1, "torn read by reader {i}");
                        rt.yield_now().await;
                        assert_eq!(guard.0, guard.1, "written under reader {i}");
                        continue;
                    }
                    let guard = lock.read().await;
                    assert_eq!(guard.0, guard.1, "torn read by reader {i}");
                    rt.yield_now().await;
                    assert_eq!(guard.0, guard.1, "written under reader {i}");
                }
            }));
        }
        for task in tasks {
            task.await;
        }
        let total = (WRITERS + UPGRADERS) * ROUNDS;
        assert_eq!(*lock.read().await, (total, total), "an update was lost");
        assert_free(&lock);
    });
}

#[cfg(feature = "std")]
#[test]
fn blocking_threads_and_async_tasks_exclude_each_other_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const ROUNDS: usize = common::iterations(50, 6);
        let lock = Arc::new(RwLock::new((0usize, 0usize)));
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        if i == 0 {
                            let mut guard = lock.write_blocking();
                            let seen = guard.0;
                            thread::yield_now();
                            *guard = (seen + 1, seen + 1);
                        } else {
                            let guard = lock.read_blocking();
                            assert_eq!(guard.0, guard.1);
                        }
                    }
                })
            })
            .collect();
        let task = rt.spawn({
            let lock = Arc::clone(&lock);
            async move {
                for _ in 0..ROUNDS {
                    let mut guard = lock.write().await;
                    let seen = guard.0;
                    rt.yield_now().await;
                    *guard = (seen + 1, seen + 1);
                }
            }
        });
        task.await;
        rt.wait_until("the threads finished", || {
            threads.iter().all(|t| t.is_finished())
        })
        .await;
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.read().await, (2 * ROUNDS, 2 * ROUNDS));
    });
}

#[test]
fn lock_is_granted_in_fifo_order_on_every_runtime() {
    on_all_runtimes(|rt| async move {
        const N: usize = common::iterations(12, 6);
        let lock = Arc::new(RwLock::new(()));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = lock.try_write().unwrap();
        let mut tasks = Vec::new();
        // Writers at even positions, readers at odd ones: every reader is
        // admitted alone between two writers, so the order is total.
        for i in 0..N {
            let (lock2, order, q) = (Arc::clone(&lock), Arc::clone(&order), Arc::clone(&queued));
            tasks.push(rt.spawn(async move {
                if i % 2 == 0 {
                    let _g = report_queued(lock2.write(), &q).await;
                    order.lock().unwrap().push(i);
                } else {
                    let _g = report_queued(lock2.read(), &q).await;
                    order.lock().unwrap().push(i);
                }
            }));
            rt.wait_until("the task is queued", || lock.waiters() == i + 1)
                .await;
        }
        drop(writer);
        for task in tasks {
            task.await;
        }
        assert_eq!(*order.lock().unwrap(), (0..N).collect::<Vec<_>>());
        assert_eq!(queued.load(Ordering::SeqCst), N);
        assert_free(&lock);
    });
}

#[test]
fn futures_cancelled_by_the_runtime_timeout_leave_no_waiter() {
    on_all_runtimes(|rt| async move {
        let lock = Arc::new(RwLock::new(0));
        let reader = lock.try_read().unwrap();
        assert!(rt
            .timeout(Duration::from_millis(10), lock.write())
            .await
            .is_none());
        assert_eq!(lock.waiters(), 0);
        let upgradable = lock.try_upgradable_read().unwrap();
        let upgrade = RwLockUpgradableReadGuard::upgrade(upgradable);
        assert!(rt
            .timeout(Duration::from_millis(10), upgrade)
            .await
            .is_none());
        assert_eq!(lock.waiters(), 0);
        drop(reader);
        assert_free(&lock);

        let writer = lock.try_write().unwrap();
        #[cfg(feature = "alloc")]
        let queued = rt.spawn({
            let lock = Arc::clone(&lock);
            async move { *lock.read_owned().await }
        });
        #[cfg(not(feature = "alloc"))]
        let queued = rt.spawn({
            let lock = Arc::clone(&lock);
            async move { *lock.read().await }
        });
        rt.wait_until("the reader is queued", || lock.waiters() == 1)
            .await;
        assert!(rt
            .timeout(Duration::from_millis(10), lock.read())
            .await
            .is_none());
        assert_eq!(lock.waiters(), 1);
        drop(writer);
        assert_eq!(queued.await, 0);
        // A select that gives up on a pending future.
        let reader = lock.try_read().unwrap();
        futures::select_biased! {
            _ = lock.write() => panic!("a reader holds"),
            _ = futures::future::ready(()).fuse() => {}
        }
        drop(reader);
        assert_free(&lock);
    });
}
