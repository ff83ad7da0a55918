//! A thread that searches the registry for deadlocks and long waits every
//! interval and reports each one once.

use core::fmt;
use std::boxed::Box;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::deadlock::Deadlock;
use super::snapshot::{PrimitiveId, Snapshot, Waiter};

type Callback = Box<dyn FnMut(&Report) + Send + 'static>;

/// Watches the registry on a thread of its own: every interval it takes a
/// [`snapshot`](super::snapshot) and reports each deadlock, and each wait
/// longer than a threshold, once.
///
/// A deadlock is reported when two snapshots in a row show the same waits
/// and none of them was polled in between: waits that are just being
/// served, or whose task still runs another branch of a `join!` or
/// `select!`, never are. If it dissolves and comes back later, it is
/// reported again.
///
/// ```no_run
/// use std::time::Duration;
/// use fairsync::diagnostics::Watchdog;
///
/// let watchdog = Watchdog::new()
///     .interval(Duration::from_millis(500))
///     .long_wait(Duration::from_secs(10))
///     .start();
/// // ... run the program ...
/// watchdog.stop();
/// ```
pub struct Watchdog {
    interval: Duration,
    long_wait: Option<Duration>,
    on_report: Option<Callback>,
}

impl Watchdog {
    /// A watchdog that checks every second for deadlocks only and prints
    /// what it finds to standard error.
    pub fn new() -> Self {
        Watchdog {
            interval: Duration::from_secs(1),
            long_wait: None,
            on_report: None,
        }
    }

    /// Checks every `interval` instead of every second.
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        assert!(
            !interval.is_zero(),
            "Watchdog::interval: the interval must not be zero"
        );
        self.interval = interval;
        self
    }

    /// Also reports each wait that has lasted longer than `threshold`.
    #[must_use]
    pub fn long_wait(mut self, threshold: Duration) -> Self {
        self.long_wait = Some(threshold);
        self
    }

    /// Hands each report to `on_report`, on the watchdog's thread, instead
    /// of printing it to standard error.
    ///
    /// If `on_report` panics, the watchdog's thread ends and nothing more
    /// is reported.
    #[must_use]
    pub fn on_report<F>(mut self, on_report: F) -> Self
    where
        F: FnMut(&Report) + Send + 'static,
    {
        self.on_report = Some(Box::new(on_report));
        self
    }

    /// Starts the thread, named `fairsync-watchdog`. It runs until the
    /// handle is stopped or dropped, or, once detached, for the rest of the
    /// process.
    ///
    /// # Panics
    ///
    /// If the thread cannot be spawned.
    pub fn start(self) -> WatchdogHandle {
        let stop = Arc::new(Stop::default());
        let Watchdog {
            interval,
            long_wait,
            on_report,
        } = self;
        let mut on_report =
            on_report.unwrap_or_else(|| Box::new(|report: &Report| std::eprintln!("{report}")));
        let thread = thread::Builder::new()
            .name("fairsync-watchdog".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    let mut monitor = Monitor::new(long_wait);
                    while !stop.wait(interval) {
                        if let Some(report) = monitor.check(&super::snapshot()) {
                            on_report(&report);
                        }
                    }
                }
            })
            .expect("failed to spawn the fairsync-watchdog thread");
        WatchdogHandle {
            stop,
            thread: Some(thread),
        }
    }
}

impl Default for Watchdog {
    fn default() -> Self {
        Watchdog::new()
    }
}

impl fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchdog")
            .field("interval", &self.interval)
            .field("long_wait", &self.long_wait)
            .field(
                "on_report",
                &format_args!(
                    "{}",
                    if self.on_report.is_some() {
                        "custom"
                    } else {
                        "print to stderr"
                    }
                ),
            )
            .finish()
    }
}

/// The stop request for a watchdog thread, which sleeps on it so it wakes
/// at once when asked to stop.
#[derive(Debug, Default)]
struct Stop {
    requested: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn request(&self) {
        *self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Sleeps for `interval` unless a stop is requested first; returns
    /// whether one was.
    fn wait(&self, interval: Duration) -> bool {
        let deadline = Instant::now() + interval;
        let mut requested = self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            if *requested || now >= deadline {
                return *requested;
            }
            requested = self
                .wake
                .wait_timeout(requested, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Controls a started [`Watchdog`]. Dropping it stops the watchdog, like
/// [`stop`](Self::stop).
#[derive(Debug)]
#[must_use = "dropping the handle stops the watchdog; call `detach` to keep it running"]
pub struct WatchdogHandle {
    stop: Arc<Stop>,
    /// `None` once detached.
    thread: Option<JoinHandle<()>>,
}

impl WatchdogHandle {
    /// Stops the watchdog and waits for its thread to end, which happens
    /// at once unless a report is being handed over.
    pub fn stop(self) {
        drop(self);
    }

    /// Lets the watchdog run for the rest of the process.
    pub fn detach(mut self) {
        self.thread = None;
    }
}

impl Drop for WatchdogHandle {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.request();
            // A panic of the callback already ended the thread and was
            // printed by the panic hook; there is nothing left to stop.
            let _ = thread.join();
        }
    }
}

/// Decides what a watchdog reports, one snapshot after another.
#[derive(Debug)]
pub(crate) struct Monitor {
    long_wait: Option<Duration>,
    /// The cycles of the previous check, by the waiter ids of their links,
    /// with how often each of those waits had been polled.
    previous: BTreeMap<Vec<u64>, Vec<u64>>,
    /// The cycles reported and still present.
    reported: BTreeSet<Vec<u64>>,
    /// The long waits reported and still waiting.
    reported_waits: BTreeSet<u64>,
}

impl Monitor {
    pub(crate) fn new(long_wait: Option<Duration>) -> Self {
        Monitor {
            long_wait,
            previous: BTreeMap::new(),
            reported: BTreeSet::new(),
            reported_waits: BTreeSet::new(),
        }
    }

    /// What `snapshot` shows that was not reported yet: deadlocks also
    /// present, with not one of their waits polled since, at the previous
    /// check, and waits over the threshold.
    pub(crate) fn check(&mut self, snapshot: &Snapshot) -> Option<Report> {
        let mut current = BTreeMap::new();
        let mut deadlocks = Vec::new();
        for deadlock in snapshot.deadlocks() {
            let mut waits: Vec<(u64, u64)> = deadlock
                .links()
                .iter()
                .map(|l| (l.wait().id, l.wait().polls))
                .collect();
            waits.sort_unstable();
            let (cycle, polls): (Vec<u64>, Vec<u64>) = waits.into_iter().unzip();
            let unmoved = self.previous.get(&cycle) == Some(&polls);
            if unmoved && !self.reported.contains(&cycle) {
                self.reported.insert(cycle.clone());
                deadlocks.push(deadlock);
            }
            current.insert(cycle, polls);
        }
        self.reported.retain(|cycle| current.contains_key(cycle));
        self.previous = current;

        let mut long_waits = Vec::new();
        if let Some(threshold) = self.long_wait {
            for (primitive, waiter) in snapshot.waits_longer_than(threshold) {
                if self.reported_waits.insert(waiter.id) {
                    long_waits.push(LongWait {
                        primitive: primitive.id(),
                        kind: primitive.kind(),
                        waiter: waiter.clone(),
                    });
                }
            }
            // Waiter ids are never reused: forget the waits that ended.
            let waiting: BTreeSet<u64> = snapshot
                .primitives()
                .iter()
                .flat_map(|p| p.waiters())
                .map(|w| w.id)
                .collect();
            self.reported_waits.retain(|id| waiting.contains(id));
        }

        if deadlocks.is_empty() && long_waits.is_empty() {
            None
        } else {
            Some(Report {
                deadlocks,
                long_waits,
            })
        }
    }
}

/// What a [`Watchdog`] found at one check that it had not reported before.
#[derive(Clone, Debug)]
pub struct Report {
    deadlocks: Vec<Deadlock>,
    long_waits: Vec<LongWait>,
}

impl Report {
    /// The deadlocks seen at this check and the one before.
    pub fn deadlocks(&self) -> &[Deadlock] {
        &self.deadlocks
    }

    /// The waits that have gone over the threshold, longest first.
    pub fn long_waits(&self) -> &[LongWait] {
        &self.long_waits
    }
}

/// Every deadlock, then the long waits after a `long waits:` line.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for deadlock in &self.deadlocks {
            write!(f, "{separator}{deadlock}")?;
            separator = "\n";
        }
        if !self.long_waits.is_empty() {
            write!(f, "{separator}long waits:")?;
            for long_wait in &self.long_waits {
                write!(f, "\n  {long_wait}")?;
            }
        }
        Ok(())
    }
}

/// A wait that has lasted longer than a [`Watchdog`]'s threshold.
#[derive(Clone, Debug)]
pub struct LongWait {
    primitive: PrimitiveId,
    kind: &'static str,
    waiter: Waiter,
}

impl LongWait {
    /// The primitive waited for.
    pub fn primitive(&self) -> PrimitiveId {
        self.primitive
    }

    /// That primitive's type, such as `"Semaphore"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The wait: who, for what, where and since when.
    pub fn waiter(&self) -> &Waiter {
        &self.waiter
    }
}

impl fmt::Display for LongWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waiter = &self.waiter;
        write!(
            f,
            "{} has waited {:.1?} for {} {} ({}, called at {})",
            waiter.owner, waiter.waited, self.kind, self.primitive, waiter.access, waiter.site
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::build::{task, Build};
    use super::*;
    use std::string::ToString;
    use std::sync::mpsc;

    /// Tasks 1 and 2 holding one lock each and waiting for the other's.
    fn two_task_cycle() -> Build {
        let mut b = Build::new();
        let (x, y) = (b.lock(), b.lock());
        b.hold(x, task(1), 1).hold(y, task(2), 1);
        b.wait(y, task(1), 1);
        b.wait(x, task(2), 1);
        b
    }

    fn deadlocks_reported(monitor: &mut Monitor, snapshot: &Snapshot) -> usize {
        monitor
            .check(snapshot)
            .map_or(0, |report| report.deadlocks().len())
    }

    #[test]
    fn a_deadlock_is_reported_once_on_its_second_sighting() {
        let mut monitor = Monitor::new(None);
        let deadlocked = two_task_cycle().snapshot();
        assert_eq!(deadlocks_reported(&mut monitor, &deadlocked), 0);
        assert_eq!(deadlocks_reported(&mut monitor, &deadlocked), 1);
        assert_eq!(deadlocks_reported(&mut monitor, &deadlocked), 0);
    }

    #[test]
    fn a_cycle_whose_wait_was_polled_again_is_not_yet_a_deadlock() {
        let mut monitor = Monitor::new(None);
        let deadlocked = two_task_cycle().snapshot();
        // Task 1 polled its wait again: something else in that task (a
        // `join!` sibling holding the lock, a `select!` branch) is running.
        let mut moved = deadlocked.clone();
        moved.primitives[1].waiters[0].polls += 1;
        assert_eq!(deadlocks_reported(&mut monitor, &deadlocked), 0);
        assert_eq!(deadlocks_reported(&mut monitor, &moved), 0);
        assert_eq!(deadlocks_reported(&mut monitor, &moved), 1);
    }

    #[test]
    fn a_deadlock_that_comes_back_is_reported_again() {
        let mut monitor = Monitor::new(None);
        let deadlocked = two_task_cycle().snapshot();
        let clear = Build::new().snapshot();
        assert_eq!(deadlocks_reported(&mut monitor, &deadlocked), 0);
        assert_eq!(deadlocks_reported(&mut monitor, &deadlocked), 1);
        assert_eq!(deadlocks_reported(&mut monitor, &clear), 0);
        assert_eq!(deadlocks_reported(&mut monitor, &deadlocked), 0);
        assert_eq!(deadlocks_reported(&mut monitor, &deadlocked), 1);
    }

    #[test]
    fn a_cycle_of_new_waits_is_a_new_deadlock() {
        let mut monitor = Monitor::new(None);
        assert_eq!(
            deadlocks_reported(&mut monitor, &two_task_cycle().snapshot()),
            0
        );
        // The same owners and locks, but other waits (other waiter ids, as
        // a third task's wait for a signal came first): the first picture
        // may have been a passing one.
        let mut shifted = Build::new();
        let (x, y) = (shifted.lock(), shifted.lock());
        let signal = shifted.primitive("Semaphore", 0);
        shifted.hold(x, task(1), 1).hold(y, task(2), 1);
        shifted.wait(signal, task(3), 1);
        shifted.wait(y, task(1), 1);
        shifted.wait(x, task(2), 1);
        assert_eq!(deadlocks_reported(&mut monitor, &shifted.snapshot()), 0);
        assert_eq!(deadlocks_reported(&mut monitor, &shifted.snapshot()), 1);
    }

    #[test]
    fn a_long_wait_is_reported_once() {
        let mut monitor = Monitor::new(Some(Duration::from_secs(5)));
        let mut b = Build::new();
        let semaphore = b.primitive("Semaphore", 0);
        let id = b.wait_for(semaphore, task(3), 1, Duration::from_secs(6));

        let report = monitor.check(&b.snapshot()).expect("a long wait");
        assert!(report.deadlocks().is_empty());
        assert_eq!(report.long_waits().len(), 1);
        assert_eq!(report.long_waits()[0].waiter().id, id);
        assert_eq!(report.long_waits()[0].primitive(), PrimitiveId(0x1000));
        assert!(monitor.check(&b.snapshot()).is_none());
    }

    #[test]
    fn waits_under_the_threshold_are_not_reported() {
        let mut monitor = Monitor::new(Some(Duration::from_secs(5)));
        let mut b = Build::new();
        let semaphore = b.primitive("Semaphore", 0);
        b.wait_for(semaphore, task(3), 1, Duration::from_secs(4));
        assert!(monitor.check(&b.snapshot()).is_none());
        // Without a threshold, no wait is too long.
        b.wait_for(semaphore, task(4), 1, Duration::from_secs(3600));
        assert!(Monitor::new(None).check(&b.snapshot()).is_none());
    }

    #[test]
    fn the_report_lists_deadlocks_then_long_waits() {
        let mut monitor = Monitor::new(Some(Duration::from_millis(500)));
        let snapshot = two_task_cycle().snapshot();
        monitor.check(&snapshot);
        let report = monitor.check(&snapshot).expect("a deadlock").to_string();
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 5, "{report}");
        assert_eq!(lines[0], "deadlock: 2 tasks wait for each other");
        // The long waits went out with the first check.
        assert!(!report.contains("long waits:"), "{report}");

        let mut b = Build::new();
        let semaphore = b.primitive("Semaphore", 0);
        b.wait_for(semaphore, task(3), 1, Duration::from_millis(12_340));
        let report = Monitor::new(Some(Duration::from_secs(1)))
            .check(&b.snapshot())
            .expect("a long wait")
            .to_string();
        assert!(
            report.starts_with(
                "long waits:\n  task #3 has waited 12.3s for Semaphore 0x1000 (1 permit, called at "
            ),
            "{report}"
        );
    }

    #[test]
    #[should_panic(expected = "the interval must not be zero")]
    fn a_zero_interval_panics() {
        let _ = Watchdog::new().interval(Duration::ZERO);
    }

    #[test]
    fn the_thread_reports_nothing_when_nothing_waits_and_stops_at_once() {
        let (reports, received) = mpsc::channel();
        let watchdog = Watchdog::new()
            .interval(Duration::from_millis(10))
            .on_report(move |report| {
                let _ = reports.send(report.to_string());
            })
            .start();
        assert_eq!(
            received.recv_timeout(Duration::from_millis(200)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );

        // A long interval must not delay the stop: the thread is woken.
        let (done, stopped) = mpsc::channel();
        let slow = Watchdog::new().interval(Duration::from_secs(3600)).start();
        thread::spawn(move || {
            watchdog.stop();
            slow.stop();
            let _ = done.send(());
        });
        stopped
            .recv_timeout(Duration::from_secs(60))
            .expect("stop waited for the interval");
        // The callback, and with it the sender, went with the thread.
        assert_eq!(received.recv(), Err(mpsc::RecvError));
    }
}
