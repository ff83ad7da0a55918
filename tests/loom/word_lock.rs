//! The queue's own lock: one bit of the word whose other bits the lock-free
//! fast paths change. Every model here has at least two threads taking the
//! lock at once while a third changes the word without it; the list under
//! the lock is a loom `UnsafeCell`, so two holders at once, or a holder that
//! does not see its predecessor's writes, is reported.

use super::support::*;
use fairsync::Event;

/// 12. Two queued acquires are cancelled on two threads while a third adds
///     a permit: three lock holders in turn. The permit ends up free, and
///     nobody is left queued.
#[test]
fn cancels_and_a_release_take_the_lock_in_turn() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let mut first = Box::pin(sem.acquire_owned());
        let mut second = Box::pin(sem.acquire_owned());
        assert!(poll_noop(first.as_mut()).is_pending());
        assert!(poll_noop(second.as_mut()).is_pending());
        let canceller = thread::spawn(move || drop(first));
        let adder = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.add_permits(1))
        };
        drop(second);
        canceller.join().unwrap();
        adder.join().unwrap();
        assert_eq!((sem.available_permits(), sem.waiters()), (1, 0));
    });
}

/// 13. A waiter queues (taking the lock) while another thread takes and
///     returns a permit on the fast path, which changes the same word
///     without the lock, and a third releases the permit it held. The
///     waiter is granted exactly once and every permit comes back.
#[test]
fn fast_paths_change_the_word_while_the_lock_is_held() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_owned().expect("two free");
        let one = sem.try_acquire_owned().expect("one more free");
        let releaser = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                // Without the lock unless the waiter has queued already.
                drop(one);
                if let Some(again) = sem.try_acquire() {
                    drop(again);
                }
            })
        };
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(block_on(sem.acquire_many(2))))
        };
        drop(held);
        releaser.join().unwrap();
        waiter.join().unwrap();
        assert_eq!((sem.available_permits(), sem.waiters()), (2, 0));
    });
}

/// 14. An event's flag lives in its line's word: `clear` changes it without
///     the lock while a waiter holds the lock to queue and `set` takes it to
///     release. The waiter is released, and the flag ends as `set` left it.
#[test]
fn event_flag_changes_never_disturb_the_line_lock() {
    model(|| {
        let event = Arc::new(Event::new());
        let waiter = {
            let event = Arc::clone(&event);
            thread::spawn(move || block_on(event.wait()))
        };
        let clearer = {
            let event = Arc::clone(&event);
            thread::spawn(move || event.clear())
        };
        clearer.join().unwrap();
        event.set();
        waiter.join().unwrap();
        assert!(event.is_set());
    });
}
