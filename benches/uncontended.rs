//! W1 and W2: uncontended acquire + release on one thread, for fairsync and
//! its peers in the same run. Every future is polled by hand with a no-op
//! waker, so the numbers measure the primitives, not an executor.
//! `std::sync::Mutex` and `parking_lot::Mutex` are the floor.

// Benchmarks build with the current toolchain only; `rust-version` covers the library.
#![allow(clippy::incompatible_msrv)]

mod common;

use std::hint::black_box;

use common::{baseline, now};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// W1: lock, add one, unlock.
fn mutex(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_mutex_uncontended");
    group.throughput(Throughput::Elements(1));
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
    let listener = baseline::Mutex::new(0u64);
    group.bench_function("event-listener", |b| {
        b.iter(|| *now(black_box(&listener).lock()) += 1)
    });
    let std = std::sync::Mutex::new(0u64);
    group.bench_function("std", |b| b.iter(|| *black_box(&std).lock().unwrap() += 1));
    let parking_lot = parking_lot::Mutex::new(0u64);
    group.bench_function("parking_lot", |b| {
        b.iter(|| *black_box(&parking_lot).lock() += 1)
    });
    group.finish();
}

/// W2: acquire one permit, release it.
fn semaphore(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_semaphore_uncontended");
    group.throughput(Throughput::Elements(1));
    let fair = fairsync::Semaphore::new(8);
    group.bench_function("fairsync", |b| {
        b.iter(|| drop(now(black_box(&fair).acquire())))
    });
    // The same engine with close: its fast path tests one more bit.
    let closable = fairsync::ClosableSemaphore::new(8);
    group.bench_function("fairsync-closable", |b| {
        b.iter(|| drop(now(black_box(&closable).acquire()).expect("open")))
    });
    let tokio = tokio::sync::Semaphore::new(8);
    group.bench_function("tokio", |b| {
        b.iter(|| drop(now(black_box(&tokio).acquire())))
    });
    let async_lock = async_lock::Semaphore::new(8);
    group.bench_function("async-lock", |b| {
        b.iter(|| drop(now(black_box(&async_lock).acquire())))
    });
    let listener = baseline::Semaphore::new(8);
    group.bench_function("event-listener", |b| {
        b.iter(|| drop(now(black_box(&listener).acquire())))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion(50);
    targets = mutex, semaphore
}
criterion_main!(benches);
