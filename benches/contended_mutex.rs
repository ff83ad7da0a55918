//! W3: a contended mutex. 2, 16 or 256 tasks on a runtime with two worker
//! threads share one counter; every batch is 16,384 increments split evenly
//! over the tasks (8,192, 1,024 or 64 each). Criterion times whole batches
//! with `iter_custom` and reports time per lock operation.
//!
//! - `w3_mutex_tokio_no_await`: nothing inside the critical section.
//! - `w3_mutex_tokio_await`: `tokio::task::yield_now().await` inside it.
//! - `w3_mutex_async_std_await`: `async_std::task::yield_now().await` inside
//!   it, on async-std with `ASYNC_STD_THREAD_COUNT=2` (set by `main` unless
//!   already set).

// Benchmarks build with the current toolchain only; `rust-version` covers the library.
#![allow(clippy::incompatible_msrv)]

mod common;

use common::{baseline, contended_mutex_batch, AsyncMutex, Pause, Runtime};
use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, BenchmarkId, Criterion, Throughput};

/// Lock operations per batch.
const OPS: usize = 16_384;
const TASKS: [usize; 3] = [2, 16, 256];

fn bench<M: AsyncMutex>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    tasks: usize,
    pause: Pause,
) {
    group.bench_with_input(BenchmarkId::new(M::NAME, tasks), &tasks, |b, &tasks| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| contended_mutex_batch::<M>(rt, tasks, OPS, pause))
                .sum()
        })
    });
}

fn workload(c: &mut Criterion, name: &str, rt: &Runtime, pause: Pause) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(OPS as u64));
    for tasks in TASKS {
        bench::<fairsync::Mutex<u64>>(&mut group, rt, tasks, pause);
        bench::<tokio::sync::Mutex<u64>>(&mut group, rt, tasks, pause);
        bench::<async_lock::Mutex<u64>>(&mut group, rt, tasks, pause);
        bench::<futures::lock::Mutex<u64>>(&mut group, rt, tasks, pause);
        bench::<baseline::Mutex<u64>>(&mut group, rt, tasks, pause);
    }
    group.finish();
}

fn tokio_no_await(c: &mut Criterion) {
    workload(c, "w3_mutex_tokio_no_await", &Runtime::tokio(), Pause::None);
}

fn tokio_await(c: &mut Criterion) {
    let rt = Runtime::tokio();
    workload(c, "w3_mutex_tokio_await", &rt, rt.pause());
}

fn async_std_await(c: &mut Criterion) {
    let rt = Runtime::AsyncStd;
    workload(c, "w3_mutex_async_std_await", &rt, rt.pause());
}

criterion_group! {
    name = benches;
    config = common::criterion(10);
    targets = tokio_no_await, tokio_await, async_std_await
}

fn main() {
    common::init_async_std();
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
