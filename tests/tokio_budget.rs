//! fairsync's futures do not take part in tokio's cooperative budget: a task
//! that acquires and releases an uncontended lock in a loop never yields to
//! the scheduler on its own, while tokio's own `Mutex` makes it yield once
//! the task's budget is spent. Wrapping the acquire in
//! `tokio::task::coop::cooperative` restores the budget. The crate docs'
//! migration notes describe exactly this; these tests pin it.
#![cfg(not(miri))]

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use tokio::task::coop::cooperative;

/// How many loop iterations a task runs before a task spawned beside it
/// (on a current-thread runtime) gets its first turn. `None`: it never
/// yielded within `LIMIT` iterations.
fn iterations_before_yielding<F, Fut>(mut step: F) -> Option<usize>
where
    F: FnMut() -> Fut + 'static,
    Fut: Future<Output = ()>,
{
    const LIMIT: usize = 10_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let other_ran = Rc::new(Cell::new(false));
        let flag = Rc::clone(&other_ran);
        // Spawned first, so it runs first; the other task gets its turn
        // only when this one yields.
        let looping = tokio::task::spawn_local(async move {
            for i in 0..LIMIT {
                if other_ran.get() {
                    return Some(i);
                }
                step().await;
            }
            None
        });
        let other = tokio::task::spawn_local(async move { flag.set(true) });
        let result = looping.await.unwrap();
        other.await.unwrap();
        result
    })
}

#[test]
fn tokio_mutex_yields_when_the_budget_is_spent() {
    let mutex = Rc::new(tokio::sync::Mutex::new(()));
    let yielded_after = iterations_before_yielding(move || {
        let mutex = Rc::clone(&mutex);
        async move { drop(mutex.lock().await) }
    });
    let n = yielded_after.expect("tokio's Mutex consumes the coop budget");
    assert!((1..10_000).contains(&n), "yielded after {n}");
}

#[test]
fn fairsync_mutex_never_yields_when_uncontended() {
    let mutex = Rc::new(fairsync::Mutex::new(()));
    let yielded_after = iterations_before_yielding(move || {
        let mutex = Rc::clone(&mutex);
        async move { drop(mutex.lock().await) }
    });
    assert_eq!(yielded_after, None);
}

#[test]
fn cooperative_wrapper_makes_fairsync_yield_like_tokio() {
    let mutex = Rc::new(fairsync::Mutex::new(()));
    let yielded_after = iterations_before_yielding(move || {
        let mutex = Rc::clone(&mutex);
        async move { drop(cooperative(mutex.lock()).await) }
    });
    let n = yielded_after.expect("cooperative() consumes the coop budget");
    assert!((1..10_000).contains(&n), "yielded after {n}");
}
