//! Releases racing enqueues, lock-free completion of granted waiters, and
//! the order and wake-ups of hand-offs.

use super::support::*;

/// 2. (WAITERS bit) The only permit is released while another thread's
///    acquire may be anywhere between its failed fast path and linking its
///    node. The acquire completes (a lost wake-up would leave `block_on`
///    blocked forever, which loom reports as a deadlock) and the permit is
///    back afterwards.
#[test]
fn release_racing_enqueue_loses_no_wakeup() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                let permit = block_on(sem.acquire());
                assert_eq!(permit.permits(), 1);
            })
        };
        drop(held);
        waiter.join().unwrap();
        assert_all_returned(&sem, 1);
    });
}

/// 2b. (WAITERS bit) A weighted acquire of 2 races two single releases, so
///     the first release may find the acquirer anywhere on its way into the
///     queue while the second may find it linked with one permit collected.
#[test]
fn release_racing_enqueue_loses_no_permit() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let mut first = sem.try_acquire_many_owned(2).expect("two permits");
        let second = first.split(1).expect("split one off");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                let permit = block_on(sem.acquire_many(2));
                assert_eq!(permit.permits(), 2);
                assert_eq!(sem.available_permits(), 0);
            })
        };
        drop(first);
        drop(second);
        waiter.join().unwrap();
        assert_all_returned(&sem, 2);
    });
}

/// 2c. (WAITERS bit) Two acquirers race the release of the only permit,
///     each anywhere on its way into the queue; both complete in turn.
#[test]
fn release_racing_two_enqueues_wakes_both() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let (first, second) = (spawn_acquirer(&sem), spawn_acquirer(&sem));
        drop(held);
        first.join().unwrap();
        second.join().unwrap();
        assert_all_returned(&sem, 1);
    });
}

/// 3. (Lock-free completion) A queued waiter polls in a loop, without being
///    woken, so it may see `GRANTED` at any point after the releaser's store.
///    It then drops its future, ending the node, and writes the value while
///    the releaser may still be in its grant loop.
///
///    The future lives in a heap slot that outlives the model's threads and
///    is dropped in place, so a releaser touching the node after `GRANTED`
///    reads the dead node rather than reused memory: the counted waker then
///    shows the node's waker dropped by its owner and woken by the releaser.
///    The loom cell in the mutex shows whether `GRANTED` carries the
///    releaser's write.
#[test]
fn granted_waiter_completes_without_the_lock() {
    model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let count = WakerCount::new();
        let mut held = mutex.try_lock_owned().expect("unlocked");

        let mut slot: Box<MaybeUninit<MutexLockOwned<usize>>> =
            Box::new(MaybeUninit::new(Arc::clone(&mutex).lock_owned()));
        {
            let waker = count.waker();
            // SAFETY: the slot is initialized; the future is never moved out
            // of its heap slot, and is dropped in place before the slot is
            // freed.
            let fut = unsafe { Pin::new_unchecked(slot.assume_init_mut()) };
            assert!(poll_with(fut, &waker).is_pending(), "the mutex is held");
        }
        assert!(mutex.is_locked());

        let waker = count.waker();
        let waiter = thread::spawn(move || {
            // SAFETY: as above; moving the box did not move the future.
            let fut = unsafe { Pin::new_unchecked(slot.assume_init_mut()) };
            let mut guard = spin_until_ready(fut, &waker);
            // SAFETY: initialized and pinned; dropped exactly once, and the
            // slot is not read as a future again.
            unsafe { ptr::drop_in_place(slot.as_mut_ptr()) };
            *guard += 1;
            drop(guard);
            drop(waker);
            // Keeps the dead node's memory allocated until the model ends.
            slot
        });

        *held += 1;
        drop(held);

        let slot = waiter.join().unwrap();
        drop(slot);
        count.assert_balanced();
        assert_eq!(*mutex.try_lock().expect("unlocked"), 2);
    });
}

/// 3b. (Lock-free completion) One release of 2 grants two queued waiters in
///     one grant loop. The first waiter completes and drops its node while
///     the releaser goes on to the second.
#[test]
fn granted_waiter_completes_while_the_releaser_grants_the_next() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let count = WakerCount::new();
        let held = sem.try_acquire_many_owned(2).expect("two permits");

        let mut slot = Box::new(MaybeUninit::new(Arc::clone(&sem).acquire_owned()));
        let mut second = Box::pin(Arc::clone(&sem).acquire_owned());
        {
            let waker = count.waker();
            // SAFETY: as in `granted_waiter_completes_without_the_lock`.
            let fut = unsafe { Pin::new_unchecked(slot.assume_init_mut()) };
            assert!(poll_with(fut, &waker).is_pending());
            assert!(poll_with(second.as_mut(), &waker).is_pending());
        }
        assert_eq!(sem.waiters(), 2);

        let waker = count.waker();
        let first = thread::spawn(move || {
            // SAFETY: as in `granted_waiter_completes_without_the_lock`.
            let fut = unsafe { Pin::new_unchecked(slot.assume_init_mut()) };
            let permit = spin_until_ready(fut, &waker);
            // SAFETY: as in `granted_waiter_completes_without_the_lock`.
            unsafe { ptr::drop_in_place(slot.as_mut_ptr()) };
            drop(permit);
            drop(waker);
            slot
        });

        drop(held);

        let slot = first.join().unwrap();
        drop(slot);
        let permit = expect_ready(second.as_mut(), "the second waiter was not granted");
        drop(permit);
        drop(second);
        count.assert_balanced();
        assert_all_returned(&sem, 2);
    });
}

/// 6. Two weighted waiters (2, then 1) and releases of 2 and 1 from two
///    threads in either order. The second waiter never completes before the
///    first: whenever the main thread sees it granted, the first is granted
///    too. Every permit is back afterwards.
#[test]
fn weighted_waiters_complete_in_fifo_order() {
    model(|| {
        let sem = Arc::new(Semaphore::new(3));
        let mut two = sem.try_acquire_many_owned(3).expect("three permits");
        let one = two.split(1).expect("split one off");
        let mut first = Box::pin(Arc::clone(&sem).acquire_many_owned(2));
        let mut second = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_noop(first.as_mut()).is_pending());
        assert!(poll_noop(second.as_mut()).is_pending());

        let releasers = [
            thread::spawn(move || drop(two)),
            thread::spawn(move || drop(one)),
        ];

        let second_permit = spin_until_ready(second.as_mut(), Waker::noop());
        let first_permit = expect_ready(
            first.as_mut(),
            "the second waiter completed before the first",
        );
        assert_eq!(first_permit.permits(), 2);
        assert_eq!(second_permit.permits(), 1);
        assert_eq!(sem.available_permits(), 0);

        for releaser in releasers {
            releaser.join().unwrap();
        }
        drop(second_permit);
        drop(first_permit);
        assert_all_returned(&sem, 3);
    });
}

/// 7. A thread blocked in `acquire_blocking` and an async acquire on
///    `block_on` in another thread wait in the same line for a permit the
///    main thread releases: both complete and the permits are conserved.
#[test]
fn blocking_and_async_waiters_share_the_line() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let blocking = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(sem.acquire_blocking()))
        };
        let asynchronous = spawn_acquirer(&sem);
        drop(held);
        blocking.join().unwrap();
        asynchronous.join().unwrap();
        assert_all_returned(&sem, 1);
    });
}

/// 11. One release of 33 permits fills the 32-waker batch, so the releaser
///     unlocks to wake it and relocks with a permit in hand for the 33rd
///     waiter, which another thread cancels meanwhile. Whether the 33rd is
///     cancelled before its grant, while the releaser is unlocked, or after
///     its grant, its permit must end up in the counter.
#[test]
fn full_wake_batch_release_racing_cancel_keeps_the_permit() {
    model(|| {
        const WAITERS: usize = 33;
        let sem = Arc::new(Semaphore::new(0));
        let mut futures: Vec<_> = (0..WAITERS)
            .map(|_| Box::pin(Arc::clone(&sem).acquire_owned()))
            .collect();
        for fut in &mut futures {
            assert!(poll_noop(fut.as_mut()).is_pending());
        }
        let last = futures.pop().expect("33 futures");

        let adder = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.add_permits(WAITERS))
        };
        let canceller = thread::spawn(move || drop(last));
        adder.join().unwrap();
        canceller.join().unwrap();

        assert_eq!(sem.waiters(), 0);
        assert_eq!(sem.available_permits(), 1, "the 33rd permit was lost");
        for mut fut in futures {
            drop(expect_ready(
                fut.as_mut(),
                "a waiter of the first batch was not granted",
            ));
        }
        assert_all_returned(&sem, WAITERS);
    });
}

/// 12. Wakers run outside the queue's lock: the first waiter's waker adds a
///     permit, which takes the queue's lock to grant the second waiter. Were
///     it woken under the lock, loom would report a deadlock. Meanwhile the
///     main thread polls the second waiter; both complete and the permits
///     (one initial, one added) are all back.
#[test]
fn reentrant_waker_runs_outside_the_lock() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waker = Waker::from(Arc::new(ReleasingWaker(Arc::clone(&sem))));
        let mut first = Box::pin(Arc::clone(&sem).acquire_owned());
        let mut second = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_with(first.as_mut(), &waker).is_pending());
        assert!(poll_noop(second.as_mut()).is_pending());
        drop(waker);

        let releaser = thread::spawn(move || drop(held));
        let second_permit = spin_until_ready(second.as_mut(), Waker::noop());
        releaser.join().unwrap();
        let first_permit = expect_ready(first.as_mut(), "the first waiter was not granted");
        drop(first_permit);
        drop(second_permit);
        assert_all_returned(&sem, 2);
    });
}

/// 13. `waiters()` counts callers queued and not yet granted, so a waiter
///     that has just been granted must not see itself counted. (The count
///     is checked on the main thread, so that a failure does not unwind
///     through the permit's drop inside the model thread.)
#[test]
fn granted_waiter_no_longer_counts_as_a_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                let permit = block_on(sem.acquire());
                let seen = sem.waiters();
                drop(permit);
                seen
            })
        };
        drop(held);
        let seen = waiter.join().unwrap();
        assert_eq!(seen, 0, "a granted waiter still counted itself");
        assert_all_returned(&sem, 1);
    });
}

/// 14. A re-poll with a different waker clones it outside the queue's lock
///     (a clone may call back into the primitive), so a release can grant
///     the waiter between the two lock sections of that poll. Then the poll
///     completes; if it returns `Pending` instead, the new waker is stored
///     and is the one woken. No waker is leaked or dropped twice.
#[test]
fn repoll_with_a_new_waker_racing_release_loses_no_wakeup() {
    struct Flag(StdAtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, StdOrdering::SeqCst);
        }
    }

    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().expect("one permit");
        let first = WakerCount::new();
        let mut acquire = Box::pin(Arc::clone(&sem).acquire_owned());
        assert!(poll_with(acquire.as_mut(), &first.waker()).is_pending());

        let releaser = thread::spawn(move || drop(held));
        let flag = Arc::new(Flag(StdAtomicBool::new(false)));
        let second = Waker::from(Arc::clone(&flag));
        let repolled = poll_with(acquire.as_mut(), &second);
        drop(second);
        releaser.join().unwrap();
        let permit = match repolled {
            Poll::Ready(permit) => permit,
            Poll::Pending => {
                assert!(
                    flag.0.load(StdOrdering::SeqCst),
                    "granted after the re-poll, but the new waker was not woken"
                );
                expect_ready(acquire.as_mut(), "woken but not granted")
            }
        };
        drop(permit);
        drop(acquire);
        first.assert_balanced();
        assert_all_returned(&sem, 1);
    });
}
