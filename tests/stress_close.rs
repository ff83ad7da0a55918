#![cfg(feature = "std")]
//! Stress for closing: tasks on a multi-threaded tokio runtime and plain
//! threads hammer a `ClosableSemaphore` with weighted, cancelled and owned
//! acquires while one of them closes it at a random moment.
//!
//! Checked, round after round with a fresh semaphore:
//! - never more permits in use than exist, before and after the close;
//! - after `close()` returned, every acquire and `try_*` fails at once;
//! - every acquire completes (a granted one with `Ok`, a failed one with
//!   `Err(Closed)`): nobody is left waiting, which the watchdog would
//!   report as a hang;
//! - at the end every permit is back in the counter and nobody waits.
//!
//! `FAIRSYNC_STRESS_SEED=<seed>` changes the random choices.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{iterations, watchdog, Rng};
use fairsync::{ClosableSemaphore, Closed, TryAcquireError};

const PERMITS: usize = 6;
const MAX_WEIGHT: usize = 3;
const ROUNDS: usize = iterations(200, 2);
const TASKS: usize = iterations(40, 3);
const THREADS: usize = iterations(2, 1);
/// Operations per worker and round; the close comes somewhere among them.
const OPS: usize = iterations(200, 10);

struct Round {
    sem: Arc<ClosableSemaphore>,
    in_use: AtomicUsize,
    /// Set once `close()` has returned.
    closed: AtomicBool,
    granted: AtomicUsize,
    refused: AtomicUsize,
}

impl Round {
    fn hold(&self, n: usize) -> Held<'_> {
        let now = self.in_use.fetch_add(n, Ordering::SeqCst) + n;
        assert!(now <= PERMITS, "{now} permits in use, but {PERMITS} exist");
        self.granted.fetch_add(1, Ordering::Relaxed);
        Held { round: self, n }
    }

    /// An acquire that failed: only allowed once `close()` has started, and
    /// required once it has returned (checked by the callers' `try_*`).
    fn refused(&self) {
        assert!(self.sem.is_closed(), "Err(Closed) before close()");
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts permits in use until dropped (before the permit itself drops).
struct Held<'a> {
    round: &'a Round,
    n: usize,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.round.in_use.fetch_sub(self.n, Ordering::SeqCst);
    }
}

fn check_after_close(round: &Round, n: usize) {
    if round.closed.load(Ordering::SeqCst) {
        assert_eq!(
            round.sem.try_acquire_many(n).err(),
            Some(TryAcquireError::Closed),
            "an acquire succeeded after close() returned"
        );
    }
}

async fn task(round: Arc<Round>, seed: u64, closer: bool) {
    let mut rng = Rng::new(seed);
    let close_at = rng.range(0, OPS - 1);
    for op in 0..OPS {
        if closer && op == close_at {
            round.sem.close();
            round.closed.store(true, Ordering::SeqCst);
        }
        let n = rng.range(0, MAX_WEIGHT);
        check_after_close(&round, n);
        // A permit of either kind, kept alive while it is counted in use.
        let result: Result<(usize, Box<dyn Send + '_>), Closed> = match rng.range(0, 3) {
            0 => round
                .sem
                .acquire_many(n)
                .await
                .map(|p| (p.permits(), Box::new(p) as Box<dyn Send>)),
            1 => {
                let wait = Duration::from_micros(rng.range(0, 300) as u64);
                match tokio::time::timeout(wait, round.sem.acquire_many(n)).await {
                    Ok(result) => result.map(|p| (p.permits(), Box::new(p) as Box<dyn Send>)),
                    Err(_) => continue, // cancelled wherever it stood
                }
            }
            2 => round
                .sem
                .acquire_many_owned(n)
                .await
                .map(|p| (p.permits(), Box::new(p) as Box<dyn Send>)),
            _ => match round.sem.try_acquire_many(n) {
                Ok(p) => Ok((p.permits(), Box::new(p) as Box<dyn Send>)),
                Err(TryAcquireError::NoPermits) => continue,
                Err(TryAcquireError::Closed) => Err(Closed),
            },
        };
        match result {
            Ok((permits, permit)) => {
                let held = round.hold(permits);
                tokio::task::yield_now().await;
                drop(held);
                drop(permit);
            }
            Err(Closed) => round.refused(),
        }
    }
}

fn thread(round: &Round, seed: u64) {
    let mut rng = Rng::new(seed);
    for _ in 0..OPS {
        let n = rng.range(1, MAX_WEIGHT);
        check_after_close(round, n);
        let result = if rng.range(0, 1) == 0 {
            round
                .sem
                .acquire_many_blocking(n)
                .map_err(TryAcquireError::from)
        } else {
            round
                .sem
                .acquire_many_blocking_timeout(n, Duration::from_micros(rng.range(1, 300) as u64))
        };
        match result {
            Ok(permit) => {
                let held = round.hold(permit.permits());
                std::thread::yield_now();
                drop(held);
            }
            Err(TryAcquireError::Closed) => round.refused(),
            Err(TryAcquireError::NoPermits) => {}
        }
    }
}

#[test]
fn close_racing_every_kind_of_acquire_strands_nobody_and_loses_nothing() {
    let seed: u64 = std::env::var("FAIRSYNC_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    watchdog(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(iterations(4, 2))
            .enable_all()
            .build()
            .unwrap();
        let (mut granted, mut refused) = (0, 0);
        for r in 0..ROUNDS {
            let round = Arc::new(Round {
                sem: Arc::new(ClosableSemaphore::new(PERMITS)),
                in_use: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
                granted: AtomicUsize::new(0),
                refused: AtomicUsize::new(0),
            });
            let base = seed * 1_000_003 + r as u64 * 1_000;
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let round = Arc::clone(&round);
                    std::thread::spawn(move || thread(&round, base + 500 + t as u64))
                })
                .collect();
            runtime.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|t| {
                        let round = Arc::clone(&round);
                        tokio::spawn(task(round, base + t as u64, t == 0))
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
            for t in threads {
                t.join().unwrap();
            }
            let sem = &round.sem;
            assert!(sem.is_closed());
            assert_eq!(sem.waiters(), 0, "round {r}: a waiter was stranded");
            assert_eq!(
                sem.available_permits(),
                PERMITS,
                "round {r}: permits lost or minted"
            );
            granted += round.granted.load(Ordering::Relaxed);
            refused += round.refused.load(Ordering::Relaxed);
        }
        // Both outcomes were exercised, so the checks above had work to do.
        assert!(
            granted > 0 && refused > 0,
            "granted {granted}, refused {refused}"
        );
    });
}
