//! W4 and W5: contended semaphores on a tokio runtime with two worker
//! threads. Criterion times whole batches with `iter_custom` and reports time
//! per acquire.
//!
//! - `w4_semaphore_bound`: 10,000 tasks, a semaphore of 8 or 64 permits; each
//!   task acquires one permit, yields once, releases it.
//! - `w5_semaphore_weighted`: 64 tasks share 16 permits; each task makes 64
//!   acquires of 1..=8 permits (in a fixed pattern), yields once while
//!   holding them, releases them. Only peers with weighted acquires take
//!   part: async-lock's `Semaphore` takes one permit per acquire and
//!   `futures` has no semaphore.

// Benchmarks build with the current toolchain only; `rust-version` covers the library.
#![allow(clippy::incompatible_msrv)]

mod common;

use std::sync::Arc;

use common::{baseline, AsyncSemaphore, Pause, Runtime};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

/// W4: tasks per batch, and the permit counts bounding them.
const BOUND_TASKS: usize = 10_000;
const BOUNDS: [usize; 2] = [8, 64];

/// W5: tasks, acquires per task, and permits.
const WEIGHTED_TASKS: usize = 64;
const WEIGHTED_ROUNDS: usize = 64;
const WEIGHTED_PERMITS: usize = 16;

fn bound<S: AsyncSemaphore>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    permits: usize,
) {
    group.bench_with_input(
        BenchmarkId::new(S::NAME, permits),
        &permits,
        |b, &permits| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let sem = Arc::new(S::new(permits));
                        let elapsed = rt.run_tasks(BOUND_TASKS, |_| {
                            let sem = Arc::clone(&sem);
                            async move { sem.hold(1, Pause::Tokio).await }
                        });
                        assert_eq!(sem.available(), permits);
                        elapsed
                    })
                    .sum()
            })
        },
    );
}

fn w4_bound(c: &mut Criterion) {
    let rt = Runtime::tokio();
    let mut group = c.benchmark_group("w4_semaphore_bound");
    group.throughput(Throughput::Elements(BOUND_TASKS as u64));
    for permits in BOUNDS {
        bound::<fairsync::Semaphore>(&mut group, &rt, permits);
        bound::<fairsync::ClosableSemaphore>(&mut group, &rt, permits);
        bound::<tokio::sync::Semaphore>(&mut group, &rt, permits);
        bound::<async_lock::Semaphore>(&mut group, &rt, permits);
        bound::<baseline::Semaphore>(&mut group, &rt, permits);
    }
    group.finish();
}

/// The permits task `task` asks for in its round `round`: 1..=8.
fn weight(task: usize, round: usize) -> usize {
    (task * 5 + round * 3) % 8 + 1
}

fn weighted<S: AsyncSemaphore>(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    assert!(S::WEIGHTED);
    group.bench_function(BenchmarkId::new(S::NAME, WEIGHTED_PERMITS), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let sem = Arc::new(S::new(WEIGHTED_PERMITS));
                    let elapsed = rt.run_tasks(WEIGHTED_TASKS, |task| {
                        let sem = Arc::clone(&sem);
                        async move {
                            for round in 0..WEIGHTED_ROUNDS {
                                sem.hold(weight(task, round), Pause::Tokio).await;
                            }
                        }
                    });
                    assert_eq!(sem.available(), WEIGHTED_PERMITS);
                    elapsed
                })
                .sum()
        })
    });
}

fn w5_weighted(c: &mut Criterion) {
    let rt = Runtime::tokio();
    let mut group = c.benchmark_group("w5_semaphore_weighted");
    group.throughput(Throughput::Elements(
        (WEIGHTED_TASKS * WEIGHTED_ROUNDS) as u64,
    ));
    weighted::<fairsync::Semaphore>(&mut group, &rt);
    weighted::<tokio::sync::Semaphore>(&mut group, &rt);
    weighted::<baseline::Semaphore>(&mut group, &rt);
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(10);
    targets = w4_bound, w5_weighted
}
criterion_main!(benches);
