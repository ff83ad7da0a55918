//! Bad input panics with a clear message, at the call rather than at the
//! first poll.

// What only the blocking or owned tests use is unused without those
// features; the default build, with every test, checks it.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Context;

use fairsync::Semaphore;
use futures::task::noop_waker;

#[test]
#[should_panic(expected = "different semaphores")]
fn merge_panics_for_a_permit_of_another_semaphore() {
    let a = Semaphore::new(1);
    let b = Semaphore::new(1);
    let mut pa = a.try_acquire().unwrap();
    pa.merge(b.try_acquire().unwrap());
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "different semaphores")]
fn owned_merge_panics_for_a_permit_of_another_semaphore() {
    let a = Arc::new(Semaphore::new(1));
    let b = Arc::new(Semaphore::new(1));
    let mut pa = a.try_acquire_owned().unwrap();
    pa.merge(b.try_acquire_owned().unwrap());
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn new_above_max_permits_panics() {
    let _ = Semaphore::new(std::hint::black_box(Semaphore::MAX_PERMITS + 1));
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn acquire_many_above_max_permits_panics_at_the_call() {
    let sem = Semaphore::new(1);
    // Never polled: the panic must come from the call itself.
    let _fut = sem.acquire_many(std::hint::black_box(Semaphore::MAX_PERMITS + 1));
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn acquire_many_owned_above_max_permits_panics_at_the_call() {
    let sem = Arc::new(Semaphore::new(1));
    let _fut = sem.acquire_many_owned(std::hint::black_box(Semaphore::MAX_PERMITS + 1));
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn try_acquire_many_above_max_permits_panics() {
    let sem = Semaphore::new(1);
    let _ = sem.try_acquire_many(std::hint::black_box(Semaphore::MAX_PERMITS + 1));
}

#[cfg(feature = "std")]
#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn acquire_many_blocking_above_max_permits_panics() {
    let sem = Semaphore::new(1);
    let _ = sem.acquire_many_blocking(std::hint::black_box(Semaphore::MAX_PERMITS + 1));
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn add_permits_past_max_permits_panics() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    sem.add_permits(std::hint::black_box(1));
}

#[test]
#[should_panic(expected = "polled after")]
fn polling_a_completed_acquire_panics() {
    let sem = Semaphore::new(1);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(sem.acquire());
    let first = fut.as_mut().poll(&mut cx);
    assert!(first.is_ready(), "an uncontended acquire is ready at once");
    let _ = fut.as_mut().poll(&mut cx);
}

#[test]
fn add_permits_counts_held_permits_towards_max_permits() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    // Every permit is held, so none is available, but the semaphore still
    // owns them: adding one more would pass MAX_PERMITS once they return.
    let held = sem.try_acquire_many(Semaphore::MAX_PERMITS).unwrap();
    let added = std::panic::catch_unwind(|| sem.add_permits(1));
    assert!(added.is_err(), "add_permits must count held permits");
    assert_eq!(
        sem.available_permits(),
        0,
        "a refused add_permits changes nothing"
    );
    drop(held);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
}

#[test]
fn forgotten_permits_make_room_for_added_ones() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    sem.try_acquire_many(2).unwrap().forget();
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
}
