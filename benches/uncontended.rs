//! Uncontended acquire + release on one task, for fairsync and its peers in
//! the same run. Every future is polled by hand with a no-op waker, so the
//! numbers measure the primitives, not an executor.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{criterion_group, criterion_main, Criterion};

/// Polls a future that is expected to be ready at once.
#[inline(always)]
fn now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("an uncontended acquire must be ready at once"),
    }
}

fn mutex(c: &mut Criterion) {
    let mut group = c.benchmark_group("uncontended_mutex_lock_unlock");
    let fair = fairsync::Mutex::new(0u64);
    group.bench_function("fairsync", |b| {
        b.iter(|| *now(black_box(&fair).lock()) += 1)
    });
    let tokio = tokio::sync::Mutex::new(0u64);
    group.bench_function("tokio", |b| b.iter(|| *now(black_box(&tokio).lock()) += 1));
    let async_lock = async_lock::Mutex::new(0u64);
    group.bench_function("async-lock", |b| {
        b.iter(|| *now(black_box(&async_lock).lock()) += 1)
    });
    let futures = futures::lock::Mutex::new(0u64);
    group.bench_function("futures", |b| {
        b.iter(|| *now(black_box(&futures).lock()) += 1)
    });
    let std = std::sync::Mutex::new(0u64);
    group.bench_function("std", |b| b.iter(|| *black_box(&std).lock().unwrap() += 1));
    group.finish();
}

fn semaphore(c: &mut Criterion) {
    let mut group = c.benchmark_group("uncontended_semaphore_acquire_release");
    let fair = fairsync::Semaphore::new(8);
    group.bench_function("fairsync", |b| {
        b.iter(|| drop(now(black_box(&fair).acquire())))
    });
    let tokio = tokio::sync::Semaphore::new(8);
    group.bench_function("tokio", |b| {
        b.iter(|| drop(now(black_box(&tokio).acquire())))
    });
    let async_lock = async_lock::Semaphore::new(8);
    group.bench_function("async-lock", |b| {
        b.iter(|| drop(now(black_box(&async_lock).acquire())))
    });
    group.finish();
}

criterion_group!(benches, mutex, semaphore);
criterion_main!(benches);
