#!/usr/bin/env bash
# SPEC: a crate that model-checks its own code with `--cfg loom` must still
# get fairsync's real atomics and `const` constructors (the shim answers to
# `--cfg fairsync_loom` only). This builds a throwaway downstream crate with
# a `static` of every primitive under `--cfg loom`, with default features and
# without them; a constructor that stopped being `const` there fails it.
#
#   scripts/loom-cfg-check.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/src"
cat >"$work/Cargo.toml" <<TOML
[package]
name = "downstream"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
fairsync = { path = "$root", default-features = false }

[features]
std = ["fairsync/std"]

[workspace]
TOML
cat >"$work/src/lib.rs" <<'RUST'
#![no_std]
use fairsync::{Barrier, ClosableSemaphore, Condvar, Event, Lock, Mutex, RwLock, Semaphore};

pub static LOCK: Lock = Lock::new();
pub static MUTEX: Mutex<u32> = Mutex::new(0);
pub static RWLOCK: RwLock<u32> = RwLock::new(0);
pub static SEMAPHORE: Semaphore = Semaphore::new(4);
pub static CLOSABLE: ClosableSemaphore = ClosableSemaphore::new(4);
pub static CONDVAR: Condvar = Condvar::new();
pub static EVENT: Event = Event::new();
pub static BARRIER: Barrier = Barrier::new(2);
RUST

cd "$work"
for features in "" "--features std"; do
    echo "+ RUSTFLAGS=\"--cfg loom\" cargo build $features"
    # shellcheck disable=SC2086
    RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$root/target/loom-cfg" cargo build --quiet $features
done
echo "loom-cfg-check: the constructors stay const under --cfg loom"
