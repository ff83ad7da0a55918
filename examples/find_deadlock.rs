//! Two tasks take two locks in opposite orders and wait for each other for
//! ever; a `Watchdog` finds the cycle and prints who holds what, acquired
//! where, and waits for what, called where.
//!
//! ```text
//! cargo run --example find_deadlock --features diagnostics
//! ```
//!
//! Without a runtime's help: the watchdog tells the tasks apart by their
//! wakers. The program exits once the report is printed.

use std::sync::Arc;
use std::time::Duration;

use fairsync::diagnostics::Watchdog;
use fairsync::Mutex;

/// An account; a transfer locks the payer, then the payee.
struct Account {
    balance: i64,
}

async fn transfer(
    from: &Mutex<Account>,
    to: &Mutex<Account>,
    amount: i64,
    ready: &tokio::sync::Barrier,
) {
    let mut payer = from.lock().await;
    // Both transfers now hold their payer: each waits for the other's.
    ready.wait().await;
    let mut payee = to.lock().await;
    payer.balance -= amount;
    payee.balance += amount;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (reported, mut report) = tokio::sync::mpsc::unbounded_channel();
    let watchdog = Watchdog::new()
        .interval(Duration::from_millis(100))
        .on_report(move |report| {
            // What the default callback does, plus telling `main`.
            eprintln!("{report}");
            let _ = reported.send(());
        })
        .start();

    let alice = Arc::new(Mutex::new(Account { balance: 100 }));
    let bob = Arc::new(Mutex::new(Account { balance: 100 }));
    let ready = Arc::new(tokio::sync::Barrier::new(2));

    let (a, b, r) = (alice.clone(), bob.clone(), ready.clone());
    let alice_pays = tokio::spawn(async move { transfer(&a, &b, 10, &r).await });
    let (a, b, r) = (alice.clone(), bob.clone(), ready.clone());
    let bob_pays = tokio::spawn(async move { transfer(&b, &a, 20, &r).await });

    match tokio::time::timeout(Duration::from_secs(10), report.recv()).await {
        Ok(Some(())) => eprintln!("the watchdog found the deadlock; cancelling both transfers"),
        _ => eprintln!("no deadlock reported within 10 s"),
    }
    alice_pays.abort();
    bob_pays.abort();
    watchdog.stop();
}
