//! W7: two OS threads contend for one mutex through each crate's blocking
//! API: fairsync `lock_blocking`, tokio `blocking_lock`, async-lock
//! `lock_blocking`, `futures::executor::block_on(mutex.lock())` for
//! `futures::lock::Mutex`, the event-listener baseline's `lock_blocking`,
//! and `std::sync::Mutex` / `parking_lot::Mutex`. Each iteration is one
//! lock, increment and unlock on each thread; criterion reports time per
//! lock operation.

// Benchmarks build with the current toolchain only; `rust-version` covers the library.
#![allow(clippy::incompatible_msrv)]

mod common;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{baseline, BlockingMutex};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

const THREADS: usize = 2;

/// Both threads run `iters` increments; the time from the first thread's
/// start until the last thread is done. Each thread reads the clock itself,
/// so a late wake-up of the spawning thread does not shorten the time.
fn run<M: BlockingMutex>(iters: u64) -> Duration {
    let mutex = M::new();
    let start = Barrier::new(THREADS);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let began = Instant::now();
                    for _ in 0..iters {
                        M::increment_blocking(&mutex);
                    }
                    (began, Instant::now())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread panicked"))
            .collect()
    });
    assert_eq!(
        mutex.value(),
        iters * THREADS as u64,
        "{} lost an increment",
        M::NAME
    );
    let began = spans.iter().map(|(b, _)| *b).min().unwrap();
    let ended = spans.iter().map(|(_, e)| *e).max().unwrap();
    ended - began
}

fn bench<M: BlockingMutex>(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function(M::NAME, |b| b.iter_custom(run::<M>));
}

fn blocking(c: &mut Criterion) {
    let mut group = c.benchmark_group("w7_mutex_blocking");
    group.throughput(Throughput::Elements(THREADS as u64));
    bench::<fairsync::Mutex<u64>>(&mut group);
    bench::<tokio::sync::Mutex<u64>>(&mut group);
    bench::<async_lock::Mutex<u64>>(&mut group);
    bench::<futures::lock::Mutex<u64>>(&mut group);
    bench::<baseline::Mutex<u64>>(&mut group);
    bench::<std::sync::Mutex<u64>>(&mut group);
    bench::<parking_lot::Mutex<u64>>(&mut group);
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(20);
    targets = blocking
}
criterion_main!(benches);
