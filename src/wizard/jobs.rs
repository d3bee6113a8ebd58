//! Background work: a tokio runtime (created by `main`, running on its own threads) runs every
//! network call, file dialog and key generation; each job ends with a [`Reply`] that the UI thread
//! applies to the wizard at the start of the next frame, after which the job calls
//! `ctx.request_repaint()` so that frame comes at once.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};

use super::shell::Wizard;

/// What a finished job does to the wizard, on the UI thread.
pub(crate) type Reply = Box<dyn FnOnce(&mut Wizard) + Send>;

/// Ends a job started with [`Jobs::spawn_stoppable`] (the *Stop* beside a running test).
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<tokio::sync::Notify>);

impl Stop {
    /// Stops the job; its `stopped` reply follows. A stop after the job ended does nothing.
    pub fn stop(&self) {
        self.0.notify_one();
    }
}

/// A value the wizard asked a job for: not asked yet, being fetched, or the outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Task<T> {
    #[default]
    Idle,
    Pending,
    Done(T),
    Failed(String),
}

impl<T> Task<T> {
    /// True while the job runs.
    pub fn is_pending(&self) -> bool {
        matches!(self, Task::Pending)
    }

    /// The value, once there.
    pub fn done(&self) -> Option<&T> {
        match self {
            Task::Done(value) => Some(value),
            _ => None,
        }
    }
}

/// A value loaded for some inputs (rerun's "requested value"): the load's status and the data it
/// fetched in one value, with a fingerprint of the inputs it was asked for, so that a changed input
/// reloads and a reply that arrives for inputs since changed is dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct Load<T> {
    key: Option<u64>,
    pub task: Task<T>,
}

impl<T> Default for Load<T> {
    fn default() -> Self {
        Self {
            key: None,
            task: Task::Idle,
        }
    }
}

impl<T> Load<T> {
    /// Marks a load for `key` as started (the old value is gone).
    pub fn start(&mut self, key: u64) {
        self.key = Some(key);
        self.task = Task::Pending;
    }

    /// Must a step showing this load for `key` (re)load it: other inputs, never asked, or failed?
    pub fn wants(&self, key: u64) -> bool {
        self.key != Some(key) || matches!(self.task, Task::Idle | Task::Failed(_))
    }

    /// Was the last load asked for these inputs?
    pub fn is_for(&self, key: u64) -> bool {
        self.key == Some(key)
    }

    /// Stores a job's result if it is for the inputs last asked for; `false` when it is stale.
    pub fn finish(&mut self, key: u64, result: Result<T, String>) -> bool {
        if self.key != Some(key) {
            return false;
        }
        self.task = match result {
            Ok(value) => Task::Done(value),
            Err(message) => Task::Failed(message),
        };
        true
    }

    /// Sets the value directly (tests, benches, and values made on the UI thread).
    pub fn set(&mut self, value: T) {
        self.task = Task::Done(value);
    }

    /// Sets a failure directly.
    pub fn fail(&mut self, message: impl Into<String>) {
        self.task = Task::Failed(message.into());
    }

    /// The value, once loaded.
    pub fn done(&self) -> Option<&T> {
        self.task.done()
    }

    /// True while the job runs.
    pub fn is_pending(&self) -> bool {
        self.task.is_pending()
    }

    /// Why the load failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        match &self.task {
            Task::Failed(message) => Some(message),
            _ => None,
        }
    }
}

/// Wakes the UI from another thread.
#[derive(Clone, Default)]
pub(crate) struct Repainter(Arc<OnceLock<egui::Context>>);

impl Repainter {
    pub(crate) fn repaint(&self) {
        if let Some(ctx) = self.0.get() {
            ctx.request_repaint();
        }
    }
}

/// The job runner the wizard owns.
pub(crate) struct Jobs {
    runtime: tokio::runtime::Handle,
    tx: Sender<Reply>,
    rx: Receiver<Reply>,
    repainter: Repainter,
    running: Arc<AtomicUsize>,
}

/// Counts a job as running until it is dropped (also when the job panics).
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Jobs {
    pub(crate) fn new(runtime: tokio::runtime::Handle) -> Self {
        let (tx, rx) = channel();
        Self {
            runtime,
            tx,
            rx,
            repainter: Repainter::default(),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Remembers the egui context so jobs can wake the UI (called every frame; only the first sticks).
    pub(crate) fn attach(&self, ctx: &egui::Context) {
        let _ = self.repainter.0.set(ctx.clone());
    }

    pub(crate) fn repainter(&self) -> Repainter {
        self.repainter.clone()
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Runs `job` like [`Jobs::spawn`], with a [`Stop`] that ends it early: the job's future is
    /// dropped (no further request is sent) and `stopped` is the reply instead.
    pub(crate) fn spawn_stoppable<F>(&self, job: F, stopped: Reply) -> Stop
    where
        F: Future<Output = Reply> + Send + 'static,
    {
        let stop = Stop::default();
        let signal = stop.0.clone();
        self.spawn(async move {
            tokio::select! {
                reply = job => reply,
                () = signal.notified() => stopped,
            }
        });
        stop
    }

    /// Runs `job` on the runtime; its reply is applied on the UI thread.
    pub(crate) fn spawn<F>(&self, job: F)
    where
        F: Future<Output = Reply> + Send + 'static,
    {
        self.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(self.running.clone());
        let tx = self.tx.clone();
        let repainter = self.repainter.clone();
        self.runtime.spawn(async move {
            let reply = job.await;
            let _ = tx.send(reply);
            drop(running);
            repainter.repaint();
        });
    }

    /// Runs blocking work (file writes, key generation, keyring calls) on the runtime's blocking pool.
    pub(crate) fn spawn_blocking<F>(&self, job: F)
    where
        F: FnOnce() -> Reply + Send + 'static,
    {
        let handle = self.runtime.clone();
        self.spawn(async move {
            match handle.spawn_blocking(job).await {
                Ok(reply) => reply,
                Err(e) => Box::new(move |w: &mut Wizard| {
                    w.report_job_failure(format!("a background task stopped unexpectedly: {e}"))
                }),
            }
        });
    }

    /// Runs a future that cannot move between threads (the engine's reads borrow across awaits
    /// in ways that are not `Send`) to completion on a blocking thread of its own.
    pub(crate) fn spawn_pinned<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Reply> + 'static,
    {
        let handle = self.runtime.clone();
        self.spawn_blocking(move || handle.block_on(make()));
    }

    /// The replies that have arrived since the last frame.
    pub(crate) fn drain(&self) -> Vec<Reply> {
        self.rx.try_iter().collect()
    }

    /// How many jobs are running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }
}
