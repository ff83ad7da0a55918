//! One process, several clients (each a session set of its own, as another
//! process would have): grants, try_acquire, fencing tokens, loss, capacity
//! agreement, FIFO order within a process, sessions per process, smol.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{bounded, raw, unique, url, wait_until};

use fairsync_postgres::{Client, Error};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn lock_excludes_a_second_client_until_released() {
    bounded(LIMIT, async {
        let a = Client::connect(&url()).await.unwrap();
        let b = Client::connect(&url()).await.unwrap();
        let name = unique("basic-lock");
        let guard = a.lock(&name).acquire().await.unwrap();
        assert!(b.lock(&name).try_acquire().await.unwrap().is_none());
        // The same client's try_acquire must not re-enter the lock either.
        assert!(a.lock(&name).try_acquire().await.unwrap().is_none());
        let first = guard.fencing_token();
        guard.release().await.unwrap();
        let again = b
            .lock(&name)
            .try_acquire()
            .await
            .unwrap()
            .expect("free now");
        assert!(again.fencing_token() > first);
        assert!(a.lock(&name).try_acquire().await.unwrap().is_none());
        // A lock taken with try_acquire (on the holder session) excludes
        // waiters of its own client too.
        let b_lock = b.lock(&name);
        let waiter = tokio::spawn(async move { b_lock.acquire().await });
        let raw = raw().await;
        wait_until("the waiter to queue", || async {
            common::waiting(&raw, "lock", &name, 0).await == 1
        })
        .await;
        drop(again);
        let third = waiter.await.unwrap().unwrap();
        assert!(third.fencing_token() > first + 1);
    });
}

#[test]
fn semaphore_grants_exactly_its_permits() {
    bounded(LIMIT, async {
        let a = Client::connect(&url()).await.unwrap();
        let b = Client::connect(&url()).await.unwrap();
        let name = unique("basic-sem");
        let sa = a.semaphore(&name, 3);
        let sb = b.semaphore(&name, 3);
        let p1 = sa.acquire().await.unwrap();
        let p2 = sa.try_acquire().await.unwrap().unwrap();
        let p3 = sb.acquire().await.unwrap();
        assert!(sa.try_acquire().await.unwrap().is_none());
        assert!(sb.try_acquire().await.unwrap().is_none());
        let mut slots = vec![p1.slot(), p2.slot(), p3.slot()];
        slots.sort();
        assert_eq!(slots, [1, 2, 3]);
        let mut tokens = vec![p1.fencing_token(), p2.fencing_token(), p3.fencing_token()];
        tokens.dedup();
        assert_eq!(tokens.len(), 3, "tokens are distinct");
        let mut waiting = Box::pin(sb.acquire());
        assert!(futures_lite::future::poll_once(&mut waiting)
            .await
            .is_none());
        p2.release().await.unwrap();
        let p4 = waiting.await.unwrap();
        assert!(p4.fencing_token() > p3.fencing_token().max(p1.fencing_token()));
        drop((p1, p3, p4));
        // Dropped permits are released in the background: all 3 come back.
        let raw = raw().await;
        wait_until("the releases", || async {
            common::held(&raw, "semaphore", &name).await == 0
        })
        .await;
        let all = [
            sa.try_acquire().await.unwrap(),
            sa.try_acquire().await.unwrap(),
            sb.try_acquire().await.unwrap(),
        ];
        assert!(all.iter().all(Option::is_some));
    });
}

#[test]
fn terminated_session_makes_the_guard_lost() {
    bounded(LIMIT, async {
        let a = Client::connect(&url()).await.unwrap();
        let b = Client::connect(&url()).await.unwrap();
        let raw = raw().await;
        let name = unique("basic-lost");
        let guard = a.lock(&name).acquire().await.unwrap();
        let permit = a.semaphore(&name, 2).acquire().await.unwrap();
        assert!(!guard.is_lost() && !permit.is_lost());
        // The other side waits in the meantime: it must get the lock once
        // the holder's session is gone.
        let b_lock = b.lock(&name);
        let mut waiter = Box::pin(b_lock.acquire());
        assert!(futures_lite::future::poll_once(&mut waiter).await.is_none());
        for pid in [guard.backend_pid(), permit.backend_pid()] {
            raw.execute("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .unwrap();
        }
        guard.lost().await;
        permit.lost().await;
        assert!(guard.is_lost() && permit.is_lost());
        let next = waiter.await.unwrap();
        assert!(next.fencing_token() > guard.fencing_token());
        assert!(matches!(guard.release().await, Err(Error::Lost)));
        assert!(matches!(permit.release().await, Err(Error::Lost)));
        // The client recovers: a new holder session serves new grants.
        let again = a.semaphore(&name, 2).acquire().await.unwrap();
        assert!(!again.is_lost());
    });
}

#[test]
fn capacity_mismatch_is_an_error_while_in_use() {
    bounded(LIMIT, async {
        let a = Client::connect(&url()).await.unwrap();
        let b = Client::connect(&url()).await.unwrap();
        let name = unique("basic-capacity");
        let held = a.semaphore(&name, 3).acquire().await.unwrap();
        let other = b.semaphore(&name, 5);
        for result in [
            other.acquire().await.map(|_| ()),
            other.try_acquire().await.map(|_| ()),
        ] {
            match result {
                Err(Error::CapacityMismatch {
                    requested, agreed, ..
                }) => assert_eq!((requested, agreed), (5, 3)),
                other => panic!("expected a capacity mismatch, got {other:?}"),
            }
        }
        held.release().await.unwrap();
        // Unused, the semaphore takes the new capacity; then the old one is
        // the mismatch.
        let new = other.acquire().await.unwrap();
        assert!(matches!(
            a.semaphore(&name, 3).try_acquire().await,
            Err(Error::CapacityMismatch { agreed: 5, .. })
        ));
        drop(new);
        assert!(matches!(
            a.semaphore(&name, 0).acquire().await,
            Err(Error::Config(_))
        ));
    });
}

#[test]
fn tasks_of_one_process_are_served_in_arrival_order() {
    bounded(LIMIT, async {
        let client = Client::connect(&url()).await.unwrap();
        for sem in [false, true] {
            let name = unique("basic-order");
            let lock = client.lock(&name);
            let permits = client.semaphore(&name, 1);
            let first = if sem {
                (None, Some(permits.acquire().await.unwrap()))
            } else {
                (Some(lock.acquire().await.unwrap()), None)
            };
            let order = Arc::new(Mutex::new(Vec::new()));
            let mut waiters = Vec::new();
            for i in 0..8 {
                let (lock, permits, order) = (lock.clone(), permits.clone(), Arc::clone(&order));
                let mut fut = Box::pin(async move {
                    if sem {
                        let p = permits.acquire().await.unwrap();
                        order.lock().unwrap().push(i);
                        p.release().await.unwrap();
                    } else {
                        let g = lock.acquire().await.unwrap();
                        order.lock().unwrap().push(i);
                        g.release().await.unwrap();
                    }
                });
                // One poll queues it in the local line (the name's id is
                // known from the first acquire, so nothing else is awaited).
                assert!(futures_lite::future::poll_once(&mut fut).await.is_none());
                waiters.push(tokio::spawn(fut));
            }
            drop(first);
            for w in waiters {
                w.await.unwrap();
            }
            assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
        }
    });
}

#[test]
fn waiting_tasks_share_sessions() {
    bounded(LIMIT, async {
        let holder = Client::connect(&url()).await.unwrap();
        let app = unique("sessions");
        let client = Client::builder(&common::url_named(&app))
            .max_connections(16)
            .connect()
            .await
            .unwrap();
        let raw = raw().await;
        let name = unique("basic-sessions");
        let guard = holder.lock(&name).acquire().await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let lock = client.lock(&name);
            tasks.push(tokio::spawn(async move {
                lock.acquire().await.unwrap().release().await.unwrap();
            }));
        }
        wait_until("one waiter in PostgreSQL", || async {
            common::waiting(&raw, "lock", &name, 0).await == 1
        })
        .await;
        // 64 waiting tasks: the holder session plus one waiting session.
        let sessions: i64 = raw
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(sessions, 2, "sessions for 64 waiting tasks");
        drop(guard);
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn runs_on_smol() {
    let watchdog = std::thread::spawn(|| {
        smol::block_on(async {
            let client = Client::connect(&url()).await.unwrap();
            let name = unique("basic-smol");
            let sem = client.semaphore(&name, 2);
            let lock = client.lock(&name);
            let ex = smol::Executor::new();
            let tasks: Vec<_> = (0..6)
                .map(|_| {
                    let (sem, lock) = (sem.clone(), lock.clone());
                    ex.spawn(async move {
                        let p = sem.acquire().await.unwrap();
                        let g = lock.acquire().await.unwrap();
                        smol::Timer::after(Duration::from_millis(2)).await;
                        g.release().await.unwrap();
                        p.release().await.unwrap();
                    })
                })
                .collect();
            ex.run(async {
                for t in tasks {
                    t.await;
                }
            })
            .await;
            let t = client
                .lock(&name)
                .acquire_timeout(Duration::from_secs(5))
                .await;
            assert!(t.unwrap().is_some());
        })
    });
    let start = std::time::Instant::now();
    while !watchdog.is_finished() {
        assert!(start.elapsed() < LIMIT, "smol test did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    watchdog.join().unwrap();
}

#[test]
fn a_server_that_does_not_answer_is_an_error() {
    bounded(LIMIT, async {
        // A listener that accepts but never speaks stands for a hung server.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let result = Client::builder(&format!("postgres://nobody@127.0.0.1:{port}/none"))
            .connect_timeout(Duration::from_millis(300))
            .connect()
            .await;
        assert!(matches!(result, Err(Error::Connection(_))), "{result:?}");
        assert!(matches!(
            Client::connect("not a url").await,
            Err(Error::Config(_))
        ));
    });
}

#[test]
fn a_silent_session_makes_the_guard_lost_before_the_server_frees_it() {
    bounded(LIMIT, async {
        // keep-alive 3 s: pings every 300 ms, a session silent for 750 ms
        // is given up, long before the server's 3 s would free its locks.
        let client = Client::builder(&url())
            .keepalive(Duration::from_secs(3))
            .connect()
            .await
            .unwrap();
        let other = Client::connect(&url()).await.unwrap();
        let name = unique("basic-silent");
        // One grant on the holder session (uncontended), one on a pooled
        // session (taken by waiting).
        let blocker = other.lock(&name).acquire().await.unwrap();
        let lock = client.lock(&name);
        let waited = tokio::spawn(async move { lock.acquire().await.unwrap() });
        let raw = raw().await;
        wait_until("the waiter to queue", || async {
            common::waiting(&raw, "lock", &name, 0).await == 1
        })
        .await;
        blocker.release().await.unwrap();
        let waited = waited.await.unwrap();
        let permit = client.semaphore(&name, 1).acquire().await.unwrap();
        assert_ne!(waited.backend_pid(), permit.backend_pid());
        // Freeze both server processes: the sessions go silent, as behind
        // a network partition.
        let frozen = Frozen([waited.backend_pid(), permit.backend_pid()]);
        for pid in frozen.0 {
            assert!(signal("STOP", pid));
        }
        let start = std::time::Instant::now();
        waited.lost().await;
        permit.lost().await;
        let elapsed = start.elapsed();
        drop(frozen);
        println!("silent sessions given up after {elapsed:?}");
        assert!(waited.is_lost() && permit.is_lost());
        // Once the server notices the closed sockets, others get the lock.
        let next = other.lock(&name).acquire().await.unwrap();
        assert!(next.fencing_token() > waited.fencing_token());
    });
}

fn signal(name: &str, pid: i32) -> bool {
    std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap()
        .success()
}

/// Server processes stopped with SIGSTOP; continued when dropped, also when
/// the test fails.
struct Frozen([i32; 2]);

impl Drop for Frozen {
    fn drop(&mut self) {
        for pid in self.0 {
            signal("CONT", pid);
        }
    }
}
