//! Several OS processes (this test binary started again in a child role),
//! each "a machine", sharing locks and semaphores through one server.

mod common;

use std::time::{Duration, Instant};

use common::{bounded, child_role, raw, say, spawn_child, unique, url, wait_until, Child};
use fairsync_postgres::{Client, Error};

const LIMIT: Duration = Duration::from_secs(120);

/// Tables the children write to. The fence rejects a write whose token is
/// not larger than the last accepted one for the same (name, slot), as a
/// storage that checks fencing tokens would.
async fn tables(raw: &tokio_postgres::Client) {
    raw.batch_execute(
        "BEGIN; SELECT pg_advisory_xact_lock(4242);
         CREATE TABLE IF NOT EXISTS fleet_fence (name text, slot int, token bigint NOT NULL,
             writes bigint NOT NULL, PRIMARY KEY (name, slot));
         CREATE TABLE IF NOT EXISTS fleet_occupancy (name text PRIMARY KEY, now int NOT NULL,
             peak int NOT NULL);
         CREATE TABLE IF NOT EXISTS fleet_order (name text, who int, token bigint);
         COMMIT;",
    )
    .await
    .unwrap();
}

/// The entry point of every child process; a no-op in the normal test run.
#[test]
fn child() {
    let Some((role, args)) = child_role() else {
        return;
    };
    bounded(LIMIT, async move {
        let client = Client::connect(&url()).await.unwrap();
        let arg = |i: usize| args[i].clone();
        match role.as_str() {
            // kind name permits tasks iterations cancel
            "hammer" => hammer(client, &args).await,
            // kind name permits: hold until killed
            "hold" => {
                let g = grant(&client, &arg(0), &arg(1), arg(2).parse().unwrap()).await;
                say(format!("held {}", g.0));
                std::future::pending::<()>().await;
            }
            // kind name permits who: record the grant order, then release
            "order" | "wait" => {
                let (token, release) =
                    grant(&client, &arg(0), &arg(1), arg(2).parse().unwrap()).await;
                if role == "order" {
                    let raw = raw().await;
                    let who: i32 = arg(3).parse().unwrap();
                    // The token orders the grants: two children granted
                    // at nearly the same time may write in either order.
                    raw.execute(
                        "INSERT INTO fleet_order (name, who, token) VALUES ($1, $2, $3)",
                        &[&arg(1), &who, &(token as i64)],
                    )
                    .await
                    .unwrap();
                }
                say(format!("granted {token}"));
                release.await;
            }
            // name permits: expect a capacity mismatch
            "capacity" => {
                let sem = client.semaphore(&arg(0), arg(1).parse().unwrap());
                match sem.acquire().await {
                    Err(Error::CapacityMismatch { agreed, .. }) => {
                        say(format!("mismatch {agreed}"))
                    }
                    other => say(format!("unexpected {other:?}")),
                }
            }
            other => panic!("unknown role {other}"),
        }
    });
}

type Release = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Acquires a lock or a permit; returns its token and a future releasing it.
async fn grant(client: &Client, kind: &str, name: &str, permits: u32) -> (u64, Release) {
    if kind == "lock" {
        let g = client.lock(name).acquire().await.unwrap();
        (
            g.fencing_token(),
            Box::pin(async move { g.release().await.unwrap() }),
        )
    } else {
        let p = client.semaphore(name, permits).acquire().await.unwrap();
        (
            p.fencing_token(),
            Box::pin(async move { p.release().await.unwrap() }),
        )
    }
}

/// Many acquire / write / release rounds, some acquires cancelled at a
/// random moment. Panics (so the child fails) if the fence rejects a write
/// or more holders than permits are in at once.
async fn hammer(client: Client, args: &[String]) {
    let kind = args[0].clone();
    let name = args[1].clone();
    let permits: u32 = args[2].parse().unwrap();
    let tasks: usize = args[3].parse().unwrap();
    let rounds: usize = args[4].parse().unwrap();
    let cancel = args[5] == "cancel";
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (client, kind, name) = (client.clone(), kind.clone(), name.clone());
        handles.push(tokio::spawn(async move {
            let raw = raw().await;
            let mut seed = (std::process::id() as u64) << 8 | t as u64;
            let mut random = move |n: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % n
            };
            let mut done = 0;
            while done < rounds {
                if cancel && random(3) == 0 {
                    // Give up after a random short time: the wait may be in
                    // the local line, in PostgreSQL, or just granted.
                    let wait = Duration::from_micros(random(3000));
                    let _ = tokio::time::timeout(wait, grant(&client, &kind, &name, permits)).await;
                    continue;
                }
                let (token, slot, release): (u64, i32, Release) = if kind == "lock" {
                    let g = client.lock(&name).acquire().await.unwrap();
                    (g.fencing_token(), 0, Box::pin(async move { g.release().await.unwrap() }))
                } else {
                    let p = client.semaphore(&name, permits).acquire().await.unwrap();
                    let slot = p.slot() as i32;
                    (p.fencing_token(), slot, Box::pin(async move { p.release().await.unwrap() }))
                };
                let now: i32 = raw
                    .query_one(
                        "UPDATE fleet_occupancy SET now = now + 1, peak = greatest(peak, now + 1) \
                         WHERE name = $1 RETURNING now",
                        &[&name],
                    )
                    .await
                    .unwrap()
                    .get(0);
                assert!(now as u32 <= permits, "{now} holders of {name} at once");
                let accepted = raw
                    .execute(
                        "INSERT INTO fleet_fence (name, slot, token, writes) VALUES ($1, $2, $3, 1) \
                         ON CONFLICT (name, slot) DO UPDATE SET token = EXCLUDED.token, \
                         writes = fleet_fence.writes + 1 WHERE fleet_fence.token < EXCLUDED.token",
                        &[&name, &slot, &(token as i64)],
                    )
                    .await
                    .unwrap();
                assert_eq!(accepted, 1, "the fence rejected token {token} of {name}");
                tokio::time::sleep(Duration::from_micros(random(1500))).await;
                raw.execute(
                    "UPDATE fleet_occupancy SET now = now - 1 WHERE name = $1",
                    &[&name],
                )
                .await
                .unwrap();
                release.await;
                done += 1;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    say("done");
}

/// Starts `children` hammering processes and checks the outcome.
async fn fleet(
    kind: &str,
    permits: u32,
    children: usize,
    tasks: usize,
    rounds: usize,
    cancel: bool,
) {
    let raw = raw().await;
    tables(&raw).await;
    let name = unique(&format!("fleet-{kind}"));
    raw.execute(
        "INSERT INTO fleet_occupancy (name, now, peak) VALUES ($1, 0, 0)",
        &[&name],
    )
    .await
    .unwrap();
    let (p, t, r) = (permits.to_string(), tasks.to_string(), rounds.to_string());
    let mode = if cancel { "cancel" } else { "plain" };
    let mut kids: Vec<Child> = (0..children)
        .map(|_| spawn_child("hammer", &[kind, &name, &p, &t, &r, mode]))
        .collect();
    for kid in &mut kids {
        assert_eq!(kid.next().await, "done");
        kid.success().await;
    }
    let row = raw
        .query_one(
            "SELECT now, peak FROM fleet_occupancy WHERE name = $1",
            &[&name],
        )
        .await
        .unwrap();
    let (now, peak): (i32, i32) = (row.get(0), row.get(1));
    assert_eq!(now, 0);
    assert!(peak as u32 <= permits, "peak {peak} > {permits}");
    let writes: i64 = raw
        .query_one(
            "SELECT coalesce(sum(writes), 0)::bigint FROM fleet_fence WHERE name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(writes as usize, children * tasks * rounds);
    println!("{kind} x{permits}: {children} processes x {tasks} tasks, peak {peak} holders");
    if permits > 1 {
        assert!(peak > 1, "the semaphore never let two holders in");
    }
}

#[test]
fn no_two_processes_hold_the_lock() {
    bounded(LIMIT, fleet("lock", 1, 4, 2, 25, false));
}

#[test]
fn a_semaphore_admits_at_most_its_permits_across_processes() {
    bounded(LIMIT, fleet("sem", 3, 4, 4, 15, false));
}

#[test]
fn random_cancellation_keeps_exclusion() {
    bounded(LIMIT, async {
        fleet("lock", 1, 3, 3, 15, true).await;
        fleet("sem", 2, 3, 3, 15, true).await;
    });
}

/// A holder killed with SIGKILL: the waiter in another process gets the
/// lock once the server has ended the dead session.
async fn killed_holder(kind: &str) -> Duration {
    let raw = raw().await;
    let name = unique(&format!("kill-{kind}"));
    let mut holder = spawn_child("hold", &[kind, &name, "1"]);
    let held: u64 = holder.next().await["held ".len()..].parse().unwrap();
    let mut waiter = spawn_child("wait", &[kind, &name, "1"]);
    if kind == "lock" {
        wait_until("the waiter to queue", || async {
            common::waiting(&raw, "lock", &name, 0).await == 1
        })
        .await;
    } else {
        // The waiter holds the turnstile and waits for a slot.
        wait_until("the waiter at the turnstile", || async {
            common::held(&raw, "semaphore", &name).await == 2
        })
        .await;
    }
    let start = Instant::now();
    holder.kill();
    let granted: u64 = waiter.next().await["granted ".len()..].parse().unwrap();
    let elapsed = start.elapsed();
    assert!(granted > held, "token {granted} after {held}");
    waiter.success().await;
    elapsed
}

#[test]
fn sigkill_of_a_holder_frees_the_lock_for_the_next_waiter() {
    bounded(LIMIT, async {
        let lock = killed_holder("lock").await;
        let sem = killed_holder("sem").await;
        println!("kill to next grant: lock {lock:?}, semaphore {sem:?}");
    });
}

/// Children queued one after another are granted in that order.
async fn cross_process_order(kind: &str) {
    let raw = raw().await;
    tables(&raw).await;
    let name = unique(&format!("order-{kind}"));
    let client = Client::connect(&url()).await.unwrap();
    // The parent holds everything while the children queue.
    let permits = 2;
    let held: Vec<Release> = if kind == "lock" {
        vec![grant(&client, kind, &name, 1).await.1]
    } else {
        vec![
            grant(&client, kind, &name, permits).await.1,
            grant(&client, kind, &name, permits).await.1,
        ]
    };
    let mut kids = Vec::new();
    for who in 1..=5 {
        let w = who.to_string();
        kids.push(spawn_child(
            "order",
            &[kind, &name, &permits.to_string(), &w],
        ));
        let queued = who as i64;
        wait_until("the child to queue", || async {
            if kind == "lock" {
                common::waiting(&raw, "lock", &name, 0).await == queued
            } else {
                // the first child holds the turnstile, the rest wait for it
                common::held(&raw, "semaphore", &name).await == 3
                    && common::waiting(&raw, "semaphore", &name, 0).await == queued - 1
            }
        })
        .await;
    }
    for release in held {
        release.await;
    }
    for kid in &mut kids {
        kid.next().await;
        kid.success().await;
    }
    let order: Vec<i32> = raw
        .query(
            "SELECT who FROM fleet_order WHERE name = $1 ORDER BY token",
            &[&name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(order, [1, 2, 3, 4, 5], "{kind} grant order");
}

#[test]
fn processes_are_granted_in_the_order_they_queued() {
    bounded(LIMIT, async {
        cross_process_order("lock").await;
        cross_process_order("sem").await;
    });
}

#[test]
fn a_process_with_another_capacity_gets_an_error() {
    bounded(LIMIT, async {
        let client = Client::connect(&url()).await.unwrap();
        let name = unique("capacity");
        let permit = client.semaphore(&name, 3).acquire().await.unwrap();
        let mut kid = spawn_child("capacity", &[&name, "4"]);
        assert_eq!(kid.next().await, "mismatch 3");
        kid.success().await;
        drop(permit);
    });
}

#[test]
fn cancelled_waits_leave_nothing_held() {
    bounded(LIMIT, async {
        let raw = raw().await;
        // Three clients stand for three processes; each keeps its sessions
        // open after the storm, so a lock left held by nobody would show.
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(Client::connect(&url()).await.unwrap());
        }
        let name = unique("cancel-storm");
        let mut tasks = Vec::new();
        for (c, client) in clients.iter().enumerate() {
            for t in 0..4 {
                let (client, name) = (client.clone(), name.clone());
                tasks.push(tokio::spawn(async move {
                    let mut seed = (c * 31 + t * 7 + 1) as u64;
                    let mut timeouts = 0;
                    for _ in 0..30 {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let wait = Duration::from_micros((seed >> 33) % 20_000);
                        if seed & 1 == 0 {
                            let lock = client.lock(&name);
                            match lock.acquire_timeout(wait).await.unwrap() {
                                Some(g) => {
                                    tokio::time::sleep(Duration::from_millis(2)).await;
                                    drop(g);
                                }
                                None => timeouts += 1,
                            }
                        } else {
                            let sem = client.semaphore(&name, 2);
                            match sem.acquire_timeout(wait).await.unwrap() {
                                Some(p) => {
                                    tokio::time::sleep(Duration::from_millis(2)).await;
                                    drop(p);
                                }
                                None => timeouts += 1,
                            }
                        }
                    }
                    timeouts
                }));
            }
        }
        let mut timeouts = 0;
        for t in tasks {
            timeouts += t.await.unwrap();
        }
        println!("{timeouts} of 360 acquires timed out");
        assert!(
            timeouts > 36,
            "too few cancellations to test them: {timeouts}"
        );
        wait_until("every lock and permit to be released", || async {
            common::held(&raw, "lock", &name).await == 0
                && common::held(&raw, "semaphore", &name).await == 0
        })
        .await;
        // And every client can still use both.
        for client in &clients {
            client
                .lock(&name)
                .acquire()
                .await
                .unwrap()
                .release()
                .await
                .unwrap();
            let a = client.semaphore(&name, 2).acquire().await.unwrap();
            let b = client.semaphore(&name, 2).acquire().await.unwrap();
            a.release().await.unwrap();
            b.release().await.unwrap();
        }
    });
}
