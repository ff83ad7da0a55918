//! A read-mostly cache behind an `RwLock`, refreshed through an upgradable
//! read, fed by a `Condvar` work queue, and stopped with an `Event`; a
//! `Barrier` lines the readers up so they start together.
//!
//! ```sh
//! cargo run --example config_cache
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fairsync::{Barrier, Condvar, Event, Mutex, RwLock, RwLockUpgradableReadGuard};

const READERS: usize = 4;
const LOOKUPS: usize = 200;

struct Shared {
    /// key -> (value, version)
    cache: RwLock<HashMap<String, (String, u32)>>,
    /// Keys whose value changed at the source, waiting to be refreshed.
    stale: Mutex<Vec<String>>,
    stale_added: Condvar,
    shutdown: Event,
    start: Barrier,
}

/// Reads a key; fills a missing entry, taking write access only then.
async fn lookup(shared: &Shared, key: &str) -> String {
    if let Some((value, _)) = shared.cache.read().await.get(key) {
        return value.clone();
    }
    // Upgradable: other readers continue, and no writer can fill the entry
    // between our check and our write.
    let cache = shared.cache.upgradable_read().await;
    if let Some((value, _)) = cache.get(key) {
        return value.clone();
    }
    let mut cache = RwLockUpgradableReadGuard::upgrade(cache).await;
    let value = format!("{key}@v1");
    cache.insert(key.to_string(), (value.clone(), 1));
    value
}

/// Refreshes stale keys until shutdown, on a plain thread.
fn refresher(shared: Arc<Shared>) -> usize {
    let mut refreshed = 0;
    loop {
        let mut stale = shared
            .stale_added
            .wait_while_blocking(shared.stale.lock_blocking(), |keys| {
                keys.is_empty() && !shared.shutdown.is_set()
            });
        let keys: Vec<String> = stale.drain(..).collect();
        drop(stale);
        if keys.is_empty() {
            return refreshed;
        }
        let mut cache = shared.cache.write_blocking();
        for key in keys {
            let entry = cache.entry(key.clone()).or_insert((String::new(), 0));
            entry.1 += 1;
            entry.0 = format!("{key}@v{}", entry.1);
            refreshed += 1;
        }
    }
}

fn main() {
    let shared = Arc::new(Shared {
        cache: RwLock::new(HashMap::new()),
        stale: Mutex::new(Vec::new()),
        stale_added: Condvar::new(),
        shutdown: Event::new(),
        start: Barrier::new(READERS),
    });
    let refresher = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || refresher(shared))
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let hits = runtime.block_on(async {
        let readers: Vec<_> = (0..READERS)
            .map(|reader| {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let leader = shared.start.wait().await.is_leader();
                    let mut answers = 0;
                    for i in 0..LOOKUPS {
                        let key = format!("key{}", (i + reader) % 16);
                        assert!(lookup(&shared, &key).await.starts_with(&key));
                        answers += 1;
                        if i % 50 == 0 {
                            shared.stale.lock().await.push(key);
                            shared.stale_added.notify_one();
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                    (answers, leader)
                })
            })
            .collect();
        let mut hits = 0;
        let mut leaders = 0;
        for reader in readers {
            let (answers, leader) = reader.await.expect("reader task");
            hits += answers;
            leaders += usize::from(leader);
        }
        assert_eq!(leaders, 1, "one leader per barrier generation");
        hits
    });

    shared.shutdown.set();
    shared.stale_added.notify_all();
    let refreshed = refresher.join().expect("refresher thread");
    let cache = shared.cache.read_blocking();
    println!(
        "{hits} lookups by {READERS} tasks, {} keys cached, {refreshed} refreshes",
        cache.len()
    );
    assert_eq!(hits, READERS * LOOKUPS);
    assert_eq!(cache.len(), 16);
}
