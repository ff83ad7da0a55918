//! Shared test support: run one async body on several runtimes, plus wakers
//! and polling helpers for deterministic single-task tests.
//!
//! Every test binary that declares `mod common;` uses a different subset of
//! these helpers.
#![allow(dead_code)]

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use embassy_executor::raw::TaskStorage;
use embassy_executor::SendSpawner;
use futures::channel::oneshot;
use futures::task::ArcWake;
use futures::FutureExt;

/// How long one runtime may take to run a test body before it is reported as
/// hung (a deadlock or a lost wake-up).
#[cfg(not(miri))]
pub const WATCHDOG: Duration = Duration::from_secs(20);

/// How long one runtime may take to run a test body before it is reported as
/// hung. Longer under Miri: its interpreter is about 100x slower, and its
/// clock (virtual under isolation, real without) advances with that slowness.
#[cfg(miri)]
pub const WATCHDOG: Duration = Duration::from_secs(300);

/// How long `wait_until`/`spin_until` wait for a condition.
#[cfg(not(miri))]
pub const CONDITION_DEADLINE: Duration = Duration::from_secs(10);

/// How long `wait_until`/`spin_until` wait for a condition; longer under Miri
/// for the same reason as [`WATCHDOG`].
#[cfg(miri)]
pub const CONDITION_DEADLINE: Duration = Duration::from_secs(150);

/// `native` normally, `miri` under Miri: an iteration count for a loop that
/// would take minutes in Miri's interpreter (about 100x slower).
pub const fn iterations(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    TokioCurrentThread,
    TokioMultiThread,
    AsyncStd,
    /// `smol::block_on` for the body; spawned tasks run on smol's global
    /// executor.
    Smol,
    /// `futures::executor::block_on` for the body; every spawned task gets
    /// its own thread running `futures::executor::block_on`.
    FuturesExecutor,
    /// embassy-executor's std executor, an embedded executor: the body and
    /// every spawned task are tasks of one executor on the runtime thread.
    /// Sleeps and timeouts use a timer thread, as for the futures executor:
    /// embassy's own timer (embassy-time) would add a process-wide time
    /// driver and its dependencies.
    Embassy,
}

impl Kind {
    /// The runtimes [`on_all_runtimes`] uses.
    #[cfg(not(miri))]
    pub const ALL: &'static [Kind] = &[
        Kind::TokioCurrentThread,
        Kind::TokioMultiThread,
        Kind::AsyncStd,
        Kind::Smol,
        Kind::FuturesExecutor,
        Kind::Embassy,
    ];

    /// The runtimes [`on_all_runtimes`] uses. Under Miri, async-std and smol
    /// are left out: their reactor (async-io) calls `timerfd_create`, which
    /// Miri does not implement. Both tokio runtimes (epoll-based I/O and time drivers) and
    /// the futures executor (plain threads) run under Miri. Embassy is left
    /// out too: its executor must outlive every waker of its tasks
    /// (`run_until` takes `&'static mut self`), so each run leaks one, and
    /// Miri's leak check fails the test binary on that leak. With the leak
    /// check off, the embassy runs pass under Miri.
    #[cfg(miri)]
    pub const ALL: &'static [Kind] = &[
        Kind::TokioCurrentThread,
        Kind::TokioMultiThread,
        Kind::FuturesExecutor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::TokioCurrentThread => "tokio-current-thread",
            Kind::TokioMultiThread => "tokio-multi-thread",
            Kind::AsyncStd => "async-std",
            Kind::Smol => "smol",
            Kind::FuturesExecutor => "futures-executor",
            Kind::Embassy => "embassy",
        }
    }
}

/// A runtime-agnostic handle passed to every test body.
#[derive(Clone, Copy, Debug)]
pub struct Rt {
    kind: Kind,
    /// The executor that [`Rt::spawn`] adds tasks to, for [`Kind::Embassy`].
    embassy: Option<EmbassySpawner>,
}

/// A spawner onto one embassy executor, usable from any thread.
#[derive(Clone, Copy)]
struct EmbassySpawner(SendSpawner);

impl std::fmt::Debug for EmbassySpawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbassySpawner")
    }
}

/// A spawned task as embassy stores it. Embassy keeps each task in a
/// `TaskStorage` of one concrete future type, so the tasks are boxed.
type EmbassyTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The test body as embassy stores it; unlike spawned tasks it need not be
/// `Send`, since it is created on the executor's thread.
type EmbassyBody = Pin<Box<dyn Future<Output = ()>>>;

/// Storages of finished embassy tasks, shared by every executor in the test
/// binary, so that a binary allocates only as many storages as it ever has
/// tasks at once (embassy's storages must live forever).
static EMBASSY_FREE_TASKS: StdMutex<Vec<&'static TaskStorage<EmbassyTask>>> =
    StdMutex::new(Vec::new());

/// Spawns `task` onto the executor behind `spawner`, in a free storage or a
/// new one.
fn embassy_spawn(spawner: SendSpawner, task: EmbassyTask) {
    let mut task = Some(task);
    loop {
        let free = EMBASSY_FREE_TASKS.lock().unwrap().pop();
        let storage: &'static TaskStorage<EmbassyTask> =
            free.unwrap_or_else(|| Box::leak(Box::new(TaskStorage::new())));
        let spawned = storage.spawn(|| {
            let task = task.take().expect("a task is spawned once");
            Box::pin(async move {
                task.await;
                EMBASSY_FREE_TASKS.lock().unwrap().push(storage);
            })
        });
        match spawned {
            Ok(token) => return spawner.spawn(token),
            // The storage's task put it back on the list but has not yet
            // returned from its last poll. Leave that storage out (it is
            // only lost to reuse) rather than wait for it.
            Err(embassy_executor::SpawnError::Busy) => continue,
        }
    }
}

/// Join handle of a task spawned with [`Rt::spawn`]. Awaiting it yields the
/// task's output or resumes the task's panic in the awaiting task.
pub struct JoinHandle<T> {
    rx: oneshot::Receiver<std::thread::Result<T>>,
    runtime: &'static str,
}

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.rx.poll_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Ok(value))) => Poll::Ready(value),
            Poll::Ready(Ok(Err(payload))) => resume_unwind(payload),
            Poll::Ready(Err(_)) => panic!(
                "[{}] a spawned task was dropped before it completed",
                self.runtime
            ),
        }
    }
}

impl Rt {
    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Spawns `fut` as an independent task of this runtime.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let task = async move {
            let result = AssertUnwindSafe(fut).catch_unwind().await;
            let _ = tx.send(result);
        };
        match self.kind {
            Kind::TokioCurrentThread | Kind::TokioMultiThread => {
                drop(tokio::spawn(task));
            }
            Kind::AsyncStd => {
                drop(async_std::task::spawn(task));
            }
            Kind::Smol => smol::spawn(task).detach(),
            Kind::FuturesExecutor => {
                std::thread::Builder::new()
                    .name("futures-executor-task".into())
                    .spawn(move || futures::executor::block_on(task))
                    .expect("failed to spawn a task thread");
            }
            Kind::Embassy => {
                let spawner = self.embassy.expect("an embassy Rt has its executor");
                embassy_spawn(spawner.0, Box::pin(task));
            }
        }
        JoinHandle {
            rx,
            runtime: self.name(),
        }
    }

    /// Yields once to the scheduler.
    pub async fn yield_now(&self) {
        YieldNow { yielded: false }.await
    }

    /// Sleeps on the runtime's own timer (a timer thread for the futures
    /// executor and embassy).
    pub async fn sleep(&self, duration: Duration) {
        match self.kind {
            Kind::TokioCurrentThread | Kind::TokioMultiThread => tokio::time::sleep(duration).await,
            Kind::AsyncStd => async_std::task::sleep(duration).await,
            Kind::Smol => drop(smol::Timer::after(duration).await),
            Kind::FuturesExecutor | Kind::Embassy => ThreadSleep::new(duration).await,
        }
    }

    /// Runs `fut` under the runtime's own timeout (`tokio::time::timeout`,
    /// `async_std::future::timeout`, or a select against a timer thread), so
    /// `fut` is dropped wherever it stands when the time is up.
    pub async fn timeout<F: Future>(&self, duration: Duration, fut: F) -> Option<F::Output> {
        match self.kind {
            Kind::TokioCurrentThread | Kind::TokioMultiThread => {
                tokio::time::timeout(duration, fut).await.ok()
            }
            Kind::AsyncStd => async_std::future::timeout(duration, fut).await.ok(),
            Kind::Smol => {
                let timer = async {
                    smol::Timer::after(duration).await;
                    None
                };
                smol::future::or(async { Some(fut.await) }, timer).await
            }
            Kind::FuturesExecutor | Kind::Embassy => {
                let fut = std::pin::pin!(fut);
                match futures::future::select(fut, ThreadSleep::new(duration)).await {
                    futures::future::Either::Left((value, _)) => Some(value),
                    futures::future::Either::Right(((), _)) => None,
                }
            }
        }
    }

    /// Yields (and later sleeps briefly) until `cond` holds. Panics, naming
    /// `what` and the runtime, if it does not hold within
    /// [`CONDITION_DEADLINE`].
    pub async fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        let mut spins = 0u32;
        while !cond() {
            assert!(
                start.elapsed() < CONDITION_DEADLINE,
                "[{}] timed out waiting until {what}",
                self.name()
            );
            spins += 1;
            if spins < 200 {
                self.yield_now().await;
            } else {
                self.sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Shared state of a [`ThreadSleep`]: (expired, waker to wake on expiry).
type SleepState = Arc<StdMutex<(bool, Option<Waker>)>>;

/// A timer future backed by a thread, for executors without a timer.
struct ThreadSleep {
    duration: Duration,
    state: Option<SleepState>,
}

impl ThreadSleep {
    fn new(duration: Duration) -> Self {
        ThreadSleep {
            duration,
            state: None,
        }
    }
}

impl Future for ThreadSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let duration = self.duration;
        let state = self.state.get_or_insert_with(|| {
            let state = Arc::new(StdMutex::new((false, None::<Waker>)));
            let remote = Arc::clone(&state);
            std::thread::spawn(move || {
                std::thread::sleep(duration);
                let waker = {
                    let mut guard = remote.lock().unwrap();
                    guard.0 = true;
                    guard.1.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            });
            state
        });
        let mut guard = state.lock().unwrap();
        if guard.0 {
            Poll::Ready(())
        } else {
            guard.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

fn run_on<F, Fut>(kind: Kind, body: &F)
where
    F: Fn(Rt) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let rt = Rt {
        kind,
        embassy: None,
    };
    match kind {
        Kind::TokioCurrentThread => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio current-thread runtime");
            runtime.block_on(body(rt));
            runtime.shutdown_background();
        }
        Kind::TokioMultiThread => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio multi-thread runtime");
            runtime.block_on(body(rt));
            runtime.shutdown_background();
        }
        Kind::AsyncStd => async_std::task::block_on(body(rt)),
        Kind::Smol => smol::block_on(body(rt)),
        Kind::FuturesExecutor => futures::executor::block_on(body(rt)),
        Kind::Embassy => run_on_embassy(body),
    }
}

/// Runs `body` as a task of a new embassy executor on this thread, until the
/// body completes; tasks it spawned and left running are abandoned with the
/// executor. A panic of the body is resumed here, after the executor stopped,
/// so that no panic unwinds through embassy's polling loop.
fn run_on_embassy<F, Fut>(body: &F)
where
    F: Fn(Rt) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    // Embassy's executor and task storages must live forever: tasks left
    // running (and their wakers, held elsewhere) still point to them.
    let executor = Box::leak(Box::new(embassy_executor::Executor::new()));
    let body_storage: &'static TaskStorage<EmbassyBody> = Box::leak(Box::new(TaskStorage::new()));
    let outcome: Rc<RefCell<Option<std::thread::Result<()>>>> = Rc::default();
    let outcome_of_body = Rc::clone(&outcome);
    executor.run_until(
        |spawner| {
            let rt = Rt {
                kind: Kind::Embassy,
                embassy: Some(EmbassySpawner(spawner.make_send())),
            };
            let run = AssertUnwindSafe(body(rt)).catch_unwind();
            let token = body_storage
                .spawn(|| {
                    Box::pin(async move {
                        let result = run.await;
                        *outcome_of_body.borrow_mut() = Some(result);
                    })
                })
                .expect("a new task storage is free");
            spawner.spawn(token);
        },
        || outcome.borrow().is_some(),
    );
    let result = outcome.borrow_mut().take();
    if let Some(Err(payload)) = result {
        resume_unwind(payload);
    }
}

pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Runs `body` once on each runtime in [`Kind::ALL`], each on a fresh
/// runtime in its own thread, and fails naming every runtime on which the
/// body panicked or hung.
pub fn on_all_runtimes<F, Fut>(body: F)
where
    F: Fn(Rt) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    on_runtimes(Kind::ALL, body)
}

/// Like [`on_all_runtimes`], restricted to `kinds`.
pub fn on_runtimes<F, Fut>(kinds: &[Kind], body: F)
where
    F: Fn(Rt) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    // The runtimes run side by side, so a hung body costs one WATCHDOG,
    // not one per runtime.
    let body = Arc::new(body);
    let receivers: Vec<_> = kinds
        .iter()
        .map(|&kind| {
            let body = Arc::clone(&body);
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name(kind.name().to_string())
                .spawn(move || {
                    let result = catch_unwind(AssertUnwindSafe(|| run_on(kind, &*body)));
                    let _ = tx.send(result.map_err(|payload| panic_message(&*payload)));
                })
                .expect("failed to spawn a runtime thread");
            (kind, rx)
        })
        .collect();
    let deadline = Instant::now() + WATCHDOG;
    let mut failures = Vec::new();
    for (kind, rx) in receivers {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => failures.push(format!("[{}] panicked: {message}", kind.name())),
            Err(_) => failures.push(format!(
                "[{}] did not finish within {WATCHDOG:?} (deadlock or lost wake-up?)",
                kind.name()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "test body failed on {} of {} runtimes:\n{}",
        failures.len(),
        kinds.len(),
        failures.join("\n")
    );
}

/// Runs `f` on a fresh thread and fails if it does not return within
/// [`WATCHDOG`]; a panic inside `f` is resumed on the caller.
pub fn watchdog<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => resume_unwind(payload),
        Err(_) => panic!("did not finish within {WATCHDOG:?} (deadlock or lost wake-up?)"),
    }
}

/// Blocks the current thread until `cond` holds; panics naming `what` after
/// [`CONDITION_DEADLINE`].
pub fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut spins = 0u32;
    while !cond() {
        assert!(
            start.elapsed() < CONDITION_DEADLINE,
            "timed out waiting until {what}"
        );
        spins += 1;
        if spins < 1000 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A waker that counts how often it was woken.
#[derive(Default)]
pub struct WakeCounter {
    wakes: AtomicUsize,
}

impl WakeCounter {
    pub fn count(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl ArcWake for WakeCounter {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

pub fn counting_waker() -> (Arc<WakeCounter>, Waker) {
    let counter = Arc::new(WakeCounter::default());
    let waker = futures::task::waker(Arc::clone(&counter));
    (counter, waker)
}

pub fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Polls once and asserts the future is still pending.
#[track_caller]
pub fn assert_pending<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker, what: &str) {
    assert!(
        poll_once(fut, waker).is_pending(),
        "{what}: expected Pending"
    );
}

/// Polls once and returns the output, asserting the future is ready.
#[track_caller]
pub fn expect_ready<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker, what: &str) -> F::Output {
    match poll_once(fut, waker) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("{what}: expected Ready, got Pending"),
    }
}

/// A small deterministic pseudo-random generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// Seeds are mixed (splitmix64) so that every seed, even or odd, gives
    /// its own sequence; xorshift only needs a non-zero state.
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// Wraps a future and bumps `counter` the first time a poll of it returns
/// `Pending`: for an acquire future, the moment it has joined the queue.
/// Useful for primitives without a `waiters()` method.
pub struct ReportQueued<F: Future> {
    inner: Pin<Box<F>>,
    counter: Arc<AtomicUsize>,
    reported: bool,
}

pub fn report_queued<F: Future>(fut: F, counter: &Arc<AtomicUsize>) -> ReportQueued<F> {
    ReportQueued {
        inner: Box::pin(fut),
        counter: Arc::clone(counter),
        reported: false,
    }
}

impl<F: Future> Future for ReportQueued<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let poll = this.inner.as_mut().poll(cx);
        if poll.is_pending() && !this.reported {
            this.reported = true;
            this.counter.fetch_add(1, Ordering::SeqCst);
        }
        poll
    }
}

/// Disarms the watchdog of [`abort_on_hang`] when dropped.
pub struct HangGuard {
    done: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for HangGuard {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Arms a watchdog for a test whose threads may hang where a panic cannot
/// end them. A separate thread samples `progress` (any count that grows
/// while the test moves on, such as operations completed); if it stays the
/// same for `stall`, the thread writes `what` and `report()` (the state of
/// the test, read without blocking) to the process's stderr and aborts the
/// process. Dropping the returned guard disarms it. It writes to stderr
/// directly because the test harness's capture of `eprintln!` output would
/// be lost with the abort.
pub fn abort_on_hang(
    what: &str,
    stall: Duration,
    progress: impl Fn() -> usize + Send + 'static,
    report: impl Fn() -> String + Send + 'static,
) -> HangGuard {
    let (done, rx) = mpsc::channel::<()>();
    let what = what.to_string();
    let thread = std::thread::Builder::new()
        .name("hang-watchdog".into())
        .spawn(move || {
            let mut last = progress();
            let mut since = Instant::now();
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(stall / 20) {
                let now = progress();
                if now != last {
                    (last, since) = (now, Instant::now());
                    continue;
                }
                if since.elapsed() < stall {
                    continue;
                }
                use std::io::Write as _;
                let mut stderr = std::io::stderr().lock();
                let _ = writeln!(
                    stderr,
                    "\n{what}: no progress for {stall:?} (deadlock or lost wake-up?); \
                     aborting. State:\n{}",
                    report()
                );
                let _ = stderr.flush();
                std::process::abort();
            }
        })
        .expect("failed to spawn the watchdog thread");
    HangGuard {
        done: Some(done),
        thread: Some(thread),
    }
}

/// A count shown as `field: N` in `value`'s `Debug` output: how tests read
/// the waiter count of types whose `Debug` is their only window on it.
#[allow(dead_code)]
pub fn debug_count(value: &impl std::fmt::Debug, field: &str) -> usize {
    let text = format!("{value:?}");
    let count = text
        .split(&format!("{field}: "))
        .nth(1)
        .unwrap_or_else(|| panic!("no `{field}` in {text}"));
    // Only the digits: more fields may follow (`diagnostics` adds some).
    let digits = count.len() - count.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    count[..digits]
        .parse()
        .unwrap_or_else(|_| panic!("no count after `{field}` in {text}"))
}

/// A waker that runs `f` each time it is woken: a waker that calls back
/// into the primitive that woke it.
#[allow(dead_code)]
pub fn on_every_wake(f: impl Fn() + Send + Sync + 'static) -> std::task::Waker {
    struct Callback(Box<dyn Fn() + Send + Sync>);

    impl std::task::Wake for Callback {
        fn wake(self: Arc<Self>) {
            (self.0)();
        }
    }

    std::task::Waker::from(Arc::new(Callback(Box::new(f))))
}

/// A waker that runs `f` the first time it is woken only.
#[allow(dead_code)]
pub fn on_first_wake(f: impl Fn() + Send + Sync + 'static) -> std::task::Waker {
    let fired = std::sync::atomic::AtomicBool::new(false);
    on_every_wake(move || {
        if !fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            f();
        }
    })
}
