//! Deterministic tests of the queue's state machine: every future is polled
//! by hand, so each interleaving below is exactly the one named.

use std::boxed::Box;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::vec::Vec;

use super::*;

struct Sem(RawSemaphore);

impl HasQueue for Sem {
    fn queue(&self) -> &RawSemaphore {
        &self.0
    }

    #[cfg(feature = "diagnostics")]
    fn info(&self) -> crate::track::Info {
        crate::track::Info::permits("RawSemaphore", usize::MAX)
    }
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (counter.clone(), Waker::from(counter))
}

fn poll<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

fn pending<F: Future>(fut: Pin<&mut F>, waker: &Waker) {
    assert!(
        poll(fut, waker).is_pending(),
        "expected the acquire to wait"
    );
}

fn ready<F: Future>(fut: Pin<&mut F>, waker: &Waker) {
    assert!(
        poll(fut, waker).is_ready(),
        "expected the acquire to complete"
    );
}

#[test]
fn uncontended_acquire_and_release_move_the_counter() {
    let sem = Sem(RawSemaphore::new(3));
    assert!(sem.0.try_acquire(2));
    assert_eq!(sem.0.available(), 1);
    assert!(!sem.0.try_acquire(2));
    sem.0.release(2);
    assert_eq!(sem.0.available(), 3);
}

#[test]
fn releases_grant_waiters_in_fifo_order() {
    let sem = Sem(RawSemaphore::new(0));
    let (_, w) = waker();
    let mut futs: Vec<_> = (0..5).map(|_| Box::pin(RawAcquire::new(&sem, 1))).collect();
    for fut in &mut futs {
        pending(fut.as_mut(), &w);
    }
    assert_eq!(sem.0.waiters(), 5);
    for granted in 0..5 {
        sem.0.release(1);
        for (i, fut) in futs.iter_mut().enumerate().skip(granted) {
            assert_eq!(
                poll(fut.as_mut(), &w).is_ready(),
                i == granted,
                "waiter {i}"
            );
        }
    }
    assert_eq!(sem.0.waiters(), 0);
    assert_eq!(sem.0.available(), 0);
}

#[test]
fn weighted_head_collects_permits_and_blocks_later_requests() {
    let sem = Sem(RawSemaphore::new(1));
    let (_, w) = waker();
    let mut heavy = pin!(RawAcquire::new(&sem, 3));
    let mut light = pin!(RawAcquire::new(&sem, 1));
    pending(heavy.as_mut(), &w);
    // The free permit went to the head; nothing is left for anyone else.
    assert_eq!(sem.0.available(), 0);
    assert!(!sem.0.try_acquire(1));
    pending(light.as_mut(), &w);
    sem.0.release(1);
    pending(heavy.as_mut(), &w);
    pending(light.as_mut(), &w);
    sem.0.release(1);
    ready(heavy.as_mut(), &w);
    pending(light.as_mut(), &w);
    // Two permits: one for `light`, the other back to the counter.
    sem.0.release(2);
    ready(light.as_mut(), &w);
    assert_eq!((sem.0.available(), sem.0.waiters()), (1, 0));
}

#[test]
fn cancel_never_polled_changes_nothing() {
    let sem = Sem(RawSemaphore::new(0));
    drop(RawAcquire::new(&sem, 1));
    assert_eq!((sem.0.available(), sem.0.waiters()), (0, 0));
}

#[test]
fn cancel_while_waiting_unlinks_and_clears_waiters() {
    let sem = Sem(RawSemaphore::new(0));
    let (_, w) = waker();
    {
        let mut fut = pin!(RawAcquire::new(&sem, 1));
        pending(fut.as_mut(), &w);
        assert_eq!(sem.0.waiters(), 1);
    }
    assert_eq!(sem.0.waiters(), 0);
    sem.0.release(1);
    // WAITERS was cleared, so the permit reached the counter.
    assert_eq!(sem.0.available(), 1);
}

#[test]
fn cancel_after_grant_passes_the_permits_on() {
    let sem = Sem(RawSemaphore::new(0));
    let (_, w) = waker();
    let (next_woken, next_w) = waker();
    let mut first = Box::pin(RawAcquire::new(&sem, 2));
    let mut second = pin!(RawAcquire::new(&sem, 2));
    pending(first.as_mut(), &w);
    pending(second.as_mut(), &next_w);
    sem.0.release(2);
    drop(first);
    assert_eq!(next_woken.0.load(SeqCst), 1);
    ready(second.as_mut(), &w);
    assert_eq!((sem.0.available(), sem.0.waiters()), (0, 0));
}

#[test]
fn cancel_of_a_partly_granted_head_passes_its_permits_on() {
    let sem = Sem(RawSemaphore::new(2));
    let (_, w) = waker();
    let mut head = Box::pin(RawAcquire::new(&sem, 5));
    let mut next = pin!(RawAcquire::new(&sem, 3));
    pending(head.as_mut(), &w);
    pending(next.as_mut(), &w);
    sem.0.release(1);
    drop(head);
    // The 3 permits the head collected now belong to `next`.
    ready(next.as_mut(), &w);
    assert_eq!((sem.0.available(), sem.0.waiters()), (0, 0));
}

#[test]
fn cancel_of_the_only_waiter_returns_its_partial_grant_to_the_counter() {
    let sem = Sem(RawSemaphore::new(2));
    let (_, w) = waker();
    let mut head = Box::pin(RawAcquire::new(&sem, 5));
    pending(head.as_mut(), &w);
    assert_eq!(sem.0.available(), 0);
    drop(head);
    assert_eq!((sem.0.available(), sem.0.waiters()), (2, 0));
}

#[test]
fn many_grants_wake_every_waiter_across_batches() {
    let sem = Sem(RawSemaphore::new(0));
    let (woken, w) = waker();
    let n = 3 * WakeBatch::CAPACITY + 5;
    let mut futs: Vec<_> = (0..n).map(|_| Box::pin(RawAcquire::new(&sem, 1))).collect();
    for fut in &mut futs {
        pending(fut.as_mut(), &w);
    }
    sem.0.release(n + 1);
    assert_eq!(woken.0.load(SeqCst), n);
    assert_eq!((sem.0.available(), sem.0.waiters()), (1, 0));
    for fut in &mut futs {
        ready(fut.as_mut(), &w);
    }
}

#[test]
fn repoll_replaces_the_waker() {
    let sem = Sem(RawSemaphore::new(0));
    let (old, old_w) = waker();
    let (new, new_w) = waker();
    let mut fut = pin!(RawAcquire::new(&sem, 1));
    pending(fut.as_mut(), &old_w);
    pending(fut.as_mut(), &new_w);
    sem.0.release(1);
    assert_eq!((old.0.load(SeqCst), new.0.load(SeqCst)), (0, 1));
    ready(fut.as_mut(), &new_w);
}

#[test]
fn zero_permits_are_ready_while_others_wait() {
    let sem = Sem(RawSemaphore::new(0));
    let (_, w) = waker();
    let mut waiting = pin!(RawAcquire::new(&sem, 1));
    pending(waiting.as_mut(), &w);
    ready(pin!(RawAcquire::new(&sem, 0)).as_mut(), &w);
    assert!(sem.0.try_acquire(0));
}

#[test]
#[should_panic(expected = "polled after it completed")]
fn polling_a_completed_acquire_panics() {
    let sem = Sem(RawSemaphore::new(1));
    let (_, w) = waker();
    let mut fut = pin!(RawAcquire::new(&sem, 1));
    ready(fut.as_mut(), &w);
    let _ = poll(fut.as_mut(), &w);
}

/// A waker that releases a permit of the semaphore when woken: proves that
/// wakers run after the queue's lock is released.
struct ReleasingWaker(Arc<Sem>);

impl Wake for ReleasingWaker {
    fn wake(self: Arc<Self>) {
        self.0 .0.release(1);
        assert!(self.0 .0.try_acquire(1));
    }
}

#[test]
fn a_waker_may_call_back_into_the_semaphore() {
    let sem = Arc::new(Sem(RawSemaphore::new(0)));
    let w = Waker::from(Arc::new(ReleasingWaker(sem.clone())));
    let mut fut = pin!(RawAcquire::new(&*sem, 1));
    pending(fut.as_mut(), &w);
    sem.0.release(1);
    ready(fut.as_mut(), &w);
}

/// A waker that panics when woken.
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("waker panicked");
    }
}

/// Queues `n` waiters, the one at `bad` with a panicking waker, releases
/// `n + 2` permits, and checks that only that waiter went unwoken and that
/// every permit reached a waiter or the counter.
fn release_past_a_panicking_waker(n: usize, bad: usize) {
    let sem = Sem(RawSemaphore::new(0));
    let (woken, w) = waker();
    let panicking = Waker::from(Arc::new(PanickingWaker));
    let mut futs: Vec<_> = (0..n).map(|_| Box::pin(RawAcquire::new(&sem, 1))).collect();
    for (i, fut) in futs.iter_mut().enumerate() {
        pending(fut.as_mut(), if i == bad { &panicking } else { &w });
    }
    let release = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.0.release(n + 2)));
    assert!(release.is_err(), "the waker's panic reaches the releaser");
    assert_eq!(woken.0.load(SeqCst), n - 1, "every other waiter was woken");
    assert_eq!((sem.0.available(), sem.0.waiters()), (2, 0));
    for fut in &mut futs {
        ready(fut.as_mut(), &w);
    }
}

#[test]
fn a_panicking_waker_in_a_full_batch_loses_no_permit_and_no_wakeup() {
    // The panic hits while the releaser holds permits with the lock dropped.
    release_past_a_panicking_waker(2 * WakeBatch::CAPACITY + 3, 1);
}

#[test]
fn a_panicking_waker_in_the_last_batch_loses_no_wakeup() {
    release_past_a_panicking_waker(WakeBatch::CAPACITY + 3, WakeBatch::CAPACITY + 1);
}

#[test]
fn uncontended_acquire_and_release_never_take_the_queue_lock() {
    let sem = Arc::new(Sem(RawSemaphore::new(2)));
    // Hold the queue's lock: any path that takes it now blocks.
    let list = sem.0.queue.lock();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn({
        let sem = Arc::clone(&sem);
        move || {
            let (_, w) = waker();
            for _ in 0..100 {
                ready(pin!(RawAcquire::new(&*sem, 2)).as_mut(), &w);
                sem.0.release(2);
                assert!(sem.0.try_acquire(1));
                sem.0.release(1);
            }
            done_tx.send(()).unwrap();
        }
    });
    // Generous: this only turns a hang into a failure.
    let finished = done_rx.recv_timeout(std::time::Duration::from_secs(30));
    drop(list);
    worker.join().unwrap();
    assert!(
        finished.is_ok(),
        "an uncontended path waited for the queue's lock"
    );
}

#[test]
fn front_request_takes_the_heads_collected_permits_and_goes_first() {
    let sem = Sem(RawSemaphore::new(2));
    let (_, w) = waker();
    let (front_woken, front_w) = waker();
    // The head collects the two free permits and waits for two more.
    let mut head = pin!(RawAcquire::new(&sem, 4));
    pending(head.as_mut(), &w);
    // A front request for three takes those two and waits ahead of it.
    let mut front = pin!(RawAcquire::new_front(&sem, 3));
    pending(front.as_mut(), &front_w);
    assert_eq!(sem.0.waiters(), 2);
    assert_eq!(front.permits(), 3);
    sem.0.release(1);
    assert_eq!(
        front_woken.0.load(SeqCst),
        1,
        "the front request is granted first"
    );
    ready(front.as_mut(), &front_w);
    pending(head.as_mut(), &w);
    // The head starts over: it needs all four.
    sem.0.release(3);
    pending(head.as_mut(), &w);
    sem.0.release(1);
    ready(head.as_mut(), &w);
    assert_eq!((sem.0.available(), sem.0.waiters()), (0, 0));
}

#[test]
fn front_request_served_from_collected_permits_leaves_the_rest_parked() {
    let sem = Sem(RawSemaphore::new(3));
    let (_, w) = waker();
    let mut head = Box::pin(RawAcquire::new(&sem, 5));
    pending(head.as_mut(), &w);
    // Three permits are parked on the head; a front request for two takes
    // them at once, without queueing.
    let mut front = pin!(RawAcquire::new_front(&sem, 2));
    ready(front.as_mut(), &w);
    assert_eq!(sem.0.waiters(), 1);
    // Cancelling the head passes on exactly the one permit it still had.
    drop(head);
    assert_eq!((sem.0.available(), sem.0.waiters()), (1, 0));
}

#[test]
fn cancelled_front_request_passes_on_its_collected_permits() {
    let sem = Sem(RawSemaphore::new(1));
    let (_, w) = waker();
    let mut head = pin!(RawAcquire::new(&sem, 2));
    pending(head.as_mut(), &w);
    {
        let mut front = pin!(RawAcquire::new_front(&sem, 3));
        pending(front.as_mut(), &w);
        sem.0.release(1);
    }
    // The front request held two permits; they go to the head, which is
    // then complete.
    ready(head.as_mut(), &w);
    assert_eq!((sem.0.available(), sem.0.waiters()), (0, 0));
}

#[test]
fn try_acquire_front_counts_collected_permits_only() {
    let sem = Sem(RawSemaphore::new(2));
    let (_, w) = waker();
    assert!(sem.0.try_acquire_front(1), "free permits, nobody waiting");
    let mut head = pin!(RawAcquire::new(&sem, 3));
    pending(head.as_mut(), &w);
    assert!(!sem.0.try_acquire(1), "plain requests never pass the line");
    assert!(!sem.0.try_acquire_front(2), "only one permit is parked");
    assert!(sem.0.try_acquire_front(1));
    assert!(!sem.0.try_acquire_front(1));
    sem.0.release(3);
    ready(head.as_mut(), &w);
    assert_eq!((sem.0.available(), sem.0.waiters()), (0, 0));
}

mod notify {
    use super::*;

    fn poll_wait(wait: Pin<&mut RawWait<'_>>, w: &Waker) -> Poll<bool> {
        wait.poll_wait(&mut Context::from_waker(w), "Line", |_| Arrival::Wait)
    }

    #[test]
    fn notify_one_releases_the_oldest_waiter_and_is_consumed_once() {
        let line = RawNotify::new();
        let (first_woken, first_w) = waker();
        let (_, w) = waker();
        assert!(!line.notify_one(), "nobody waits: no effect");
        let mut first = pin!(RawWait::new(&line));
        let mut second = pin!(RawWait::new(&line));
        assert!(poll_wait(first.as_mut(), &first_w).is_pending());
        assert!(poll_wait(second.as_mut(), &w).is_pending());
        assert!(line.notify_one());
        assert_eq!(first_woken.0.load(SeqCst), 1);
        assert_eq!(line.waiters(), 1);
        assert_eq!(poll_wait(first.as_mut(), &first_w), Poll::Ready(false));
        assert!(!first.as_mut().cancel(), "the notification was consumed");
        assert!(poll_wait(second.as_mut(), &w).is_pending());
        assert!(!second.as_mut().cancel());
        assert_eq!(line.waiters(), 0);
    }

    #[test]
    fn cancel_reports_an_unconsumed_notification_once() {
        let line = RawNotify::new();
        let (_, w) = waker();
        let mut wait = pin!(RawWait::new(&line));
        assert!(poll_wait(wait.as_mut(), &w).is_pending());
        line.notify_one();
        assert!(wait.as_mut().cancel());
        assert!(!wait.as_mut().cancel());
    }

    #[test]
    fn release_all_spares_waiters_of_the_new_epoch() {
        // More waiters than one wake batch, so the releaser unlocks midway.
        let line = RawNotify::new();
        let (woken, w) = waker();
        let mut old: Vec<_> = (0..40).map(|_| Box::pin(RawWait::new(&line))).collect();
        for wait in &mut old {
            assert!(poll_wait(wait.as_mut(), &w).is_pending());
        }
        line.notify_all_with(|| {});
        assert_eq!(woken.0.load(SeqCst), 40);
        assert_eq!(line.waiters(), 0);
        let mut late = pin!(RawWait::new(&line));
        assert!(poll_wait(late.as_mut(), &w).is_pending());
        for wait in &mut old {
            assert_eq!(poll_wait(wait.as_mut(), &w), Poll::Ready(false));
        }
        assert!(poll_wait(late.as_mut(), &w).is_pending());
    }

    /// A waker that, when woken, starts a new wait on the same line: it
    /// arrives while the releaser has dropped the lock to wake a batch.
    struct ArriveOnWake {
        line: &'static RawNotify,
        late: std::sync::Mutex<Option<Pin<Box<RawWait<'static>>>>>,
    }

    impl Wake for ArriveOnWake {
        fn wake(self: Arc<Self>) {
            let mut late = self.late.lock().unwrap();
            if late.is_none() {
                let mut wait = Box::pin(RawWait::new(self.line));
                assert!(poll_wait(wait.as_mut(), Waker::noop()).is_pending());
                *late = Some(wait);
            }
        }
    }

    #[test]
    fn release_all_does_not_release_a_waiter_arriving_mid_release() {
        static LINE: RawNotify = RawNotify::new();
        let line = &LINE;
        let arrive = Arc::new(ArriveOnWake {
            line,
            late: std::sync::Mutex::new(None),
        });
        let first_w = Waker::from(Arc::clone(&arrive));
        let (_, w) = waker();
        let mut old: Vec<_> = (0..40).map(|_| Box::pin(RawWait::new(line))).collect();
        assert!(poll_wait(old[0].as_mut(), &first_w).is_pending());
        for wait in &mut old[1..] {
            assert!(poll_wait(wait.as_mut(), &w).is_pending());
        }
        // The first batch of 32 is woken with the lock released; the late
        // waiter arrives then, behind the eight old ones still queued.
        line.notify_all_with(|| {});
        let mut late = arrive
            .late
            .lock()
            .unwrap()
            .take()
            .expect("arrived mid-release");
        assert_eq!(line.waiters(), 1, "only the late waiter is left");
        assert!(poll_wait(late.as_mut(), &w).is_pending());
        for wait in &mut old {
            assert_eq!(poll_wait(wait.as_mut(), &w), Poll::Ready(false));
        }
        assert!(!late.as_mut().cancel());
    }

    #[test]
    fn only_waiters_of_the_current_epoch_are_counted() {
        let line = RawNotify::new();
        let (_, w) = waker();
        let cx = &mut Context::from_waker(&w);
        let mut a = pin!(RawWait::new(&line));
        let mut b = pin!(RawWait::new(&line));
        assert!(a
            .as_mut()
            .poll_wait(cx, "Line", |_| Arrival::Wait)
            .is_pending());
        assert!(b
            .as_mut()
            .poll_wait(cx, "Line", |_| Arrival::Wait)
            .is_pending());
        assert_eq!(line.waiters(), 2);
        // `a` leaves in its own epoch: no longer counted.
        assert!(!a.as_mut().cancel());
        assert_eq!(line.waiters(), 1);
        line.notify_all_with(|| {});
        assert_eq!(line.waiters(), 0);
        // `b` was released; cancelling consumes that, without uncounting.
        assert!(b.as_mut().cancel());
        assert_eq!(line.waiters(), 0);
        let mut c = Box::pin(RawWait::new(&line));
        let seen = core::cell::Cell::new(usize::MAX);
        let arrive = |waiting| {
            seen.set(waiting);
            Arrival::Wait
        };
        assert!(c.as_mut().poll_wait(cx, "Line", arrive).is_pending());
        assert_eq!((seen.get(), line.waiters()), (0, 1));
        drop(c);
        assert_eq!(line.waiters(), 0);
        let mut d = pin!(RawWait::new(&line));
        let pass = |_| Arrival::PassAndReleaseAll;
        assert_eq!(d.as_mut().poll_wait(cx, "Line", pass), Poll::Ready(true));
        assert_eq!(line.waiters(), 0);
    }
}
