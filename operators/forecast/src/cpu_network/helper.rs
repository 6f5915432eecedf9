//! A second thread for work too small to cut into chunks: one series' forward pass.
//!
//! A single forecast takes about 15 µs on one core. It can be cut into halves for two
//! threads (half its tokens each, [`split`](super::split)), but only if the second thread
//! is already running:
//! waking a sleeping thread, or handing a job to rayon's pool from outside it, takes about
//! as long as the forecast. So there is one helper thread per process, started at first
//! use, that spins for [`SPIN`] after each job before it sleeps: forecasts that follow
//! each other closely find it awake, and an idle process does not keep a core busy.
//!
//! A job is a list of stages of two tasks each (its halves); a task may read what tasks of
//! earlier stages wrote. Tasks are claimed in order from one counter by whichever thread
//! is free, and a thread starts a task only once every task of the earlier stages is done.
//! A thread therefore only ever waits for tasks that a running thread has claimed, so a
//! job finishes whether or not the helper joins it (busy with another caller's job,
//! asleep, or late): the calling thread then runs every task itself. Which thread runs a
//! task cannot change what it computes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long the helper keeps looking for the next job before it sleeps: dozens of
/// forecasts' worth, so that forecasts that follow each other (single-series calls one
/// after another, and the few calls that [`Faster`](super::faster::Faster) times without
/// the helper now and then) keep it awake, while an idle process gives the core back
/// within a millisecond.
const SPIN: Duration = Duration::from_micros(500);

/// Tasks per stage: the two halves of each step.
pub(super) const TASKS_PER_STAGE: usize = 2;

/// Work for [`run_with_helper`].
pub(super) trait Job: Sync {
    /// Stages, each of [`TASKS_PER_STAGE`] tasks.
    fn stages(&self) -> usize;

    /// Runs task `task` of `stage` on the calling thread. `participant` is 0 on the
    /// thread that called [`run_with_helper`] and 1 on the helper, so that each thread
    /// keeps its own working memory.
    fn run(&self, stage: usize, task: usize, participant: usize);
}

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const JOINED: u8 = 2;
const LEFT: u8 = 3;

struct Helper {
    /// Held by the caller whose job is posted: one job at a time.
    taken: AtomicBool,
    /// [`IDLE`], [`POSTED`] (the helper may join), [`JOINED`], [`LEFT`] (the helper is
    /// done with the job).
    state: AtomicU8,
    /// The posted job: a `*const &dyn Job` to the caller's stack, valid while the state is
    /// not [`IDLE`].
    job: AtomicPtr<()>,
    next_task: AtomicUsize,
    done_tasks: AtomicUsize,
    /// A task panicked: every thread stops waiting for the others.
    failed: AtomicBool,
    sleeping: AtomicBool,
    thread: OnceLock<Option<Thread>>,
}

static HELPER: Helper = Helper {
    taken: AtomicBool::new(false),
    state: AtomicU8::new(IDLE),
    job: AtomicPtr::new(std::ptr::null_mut()),
    next_task: AtomicUsize::new(0),
    done_tasks: AtomicUsize::new(0),
    failed: AtomicBool::new(false),
    sleeping: AtomicBool::new(false),
    thread: OnceLock::new(),
};

/// Whether this machine has a second core for the helper (a helper sharing the caller's
/// only core would make every wait a wait for the scheduler).
pub(super) fn available() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| thread::available_parallelism().map_or(1, usize::from)) >= 2
}

/// Runs every task of `job`, with the helper's help when it is awake; returns false,
/// having run nothing, when the helper is busy with another caller's job or cannot be
/// started (the caller then computes the same thing on its own).
#[allow(unsafe_code)]
pub(super) fn run_with_helper(job: &dyn Job) -> bool {
    let helper = &HELPER;
    let Some(thread) = helper.thread.get_or_init(start) else {
        return false;
    };
    if helper
        .taken
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    // Unposts the job, waits for the helper to be done with it and frees the helper for
    // the next caller, also when a task panics on this thread.
    struct Close<'a>(&'a Helper);
    impl Drop for Close<'_> {
        fn drop(&mut self) {
            let helper = self.0;
            if thread::panicking() {
                helper.failed.store(true, Ordering::SeqCst);
            }
            if helper
                .state
                .compare_exchange(POSTED, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                while helper.state.load(Ordering::Acquire) != LEFT {
                    std::hint::spin_loop();
                }
                helper.state.store(IDLE, Ordering::Release);
            }
            helper.failed.store(false, Ordering::Relaxed);
            helper.taken.store(false, Ordering::Release);
        }
    }

    let job_pointer: *const &dyn Job = &job;
    helper.job.store(job_pointer as *mut (), Ordering::Relaxed);
    helper.next_task.store(0, Ordering::Relaxed);
    helper.done_tasks.store(0, Ordering::Relaxed);
    let close = Close(helper);
    // SeqCst with the helper's `sleeping` flag: either it sees the job before it sleeps,
    // or this thread sees it asleep and wakes it.
    helper.state.store(POSTED, Ordering::SeqCst);
    if helper.sleeping.load(Ordering::SeqCst) {
        thread.unpark();
    }
    claim_tasks(helper, job, 0);
    let total = job.stages() * TASKS_PER_STAGE;
    while helper.done_tasks.load(Ordering::Acquire) < total {
        check_failed(helper);
        std::hint::spin_loop();
    }
    drop(close);
    true
}

fn check_failed(helper: &Helper) {
    if helper.failed.load(Ordering::Relaxed) {
        panic!("a task of a forward pass panicked on the forecast helper thread");
    }
}

/// Claims and runs tasks until none is left; returns early if another thread's task
/// panicked.
fn claim_tasks(helper: &Helper, job: &dyn Job, participant: usize) {
    let total = job.stages() * TASKS_PER_STAGE;
    loop {
        let claimed = helper.next_task.fetch_add(1, Ordering::Relaxed);
        if claimed >= total {
            return;
        }
        let stage = claimed / TASKS_PER_STAGE;
        // Acquire: what the earlier stages' tasks wrote before their Release below.
        while helper.done_tasks.load(Ordering::Acquire) < stage * TASKS_PER_STAGE {
            if helper.failed.load(Ordering::Relaxed) {
                return;
            }
            std::hint::spin_loop();
        }
        job.run(stage, claimed % TASKS_PER_STAGE, participant);
        helper.done_tasks.fetch_add(1, Ordering::Release);
    }
}

fn start() -> Option<Thread> {
    let spawned = thread::Builder::new()
        .name("gridflow-forecast-helper".into())
        .spawn(|| helper_loop(&HELPER));
    match spawned {
        Ok(handle) => Some(handle.thread().clone()),
        Err(error) => {
            tracing::warn!(%error, "no forecast helper thread: single forecasts use one core");
            None
        }
    }
}

#[allow(unsafe_code)]
fn helper_loop(helper: &Helper) {
    let mut idle_since = Instant::now();
    let mut polls: u32 = 0;
    loop {
        if helper.state.load(Ordering::Relaxed) == POSTED
            && helper
                .state
                .compare_exchange(POSTED, JOINED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            // SAFETY: the caller posted a pointer to its `&dyn Job` before the state it
            // published, and keeps both alive until the state is `LEFT`.
            let job: &dyn Job = unsafe { *(helper.job.load(Ordering::Relaxed) as *const &dyn Job) };
            if catch_unwind(AssertUnwindSafe(|| claim_tasks(helper, job, 1))).is_err() {
                helper.failed.store(true, Ordering::SeqCst);
            }
            helper.state.store(LEFT, Ordering::Release);
            idle_since = Instant::now();
            continue;
        }
        std::hint::spin_loop();
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(64) && idle_since.elapsed() > SPIN {
            helper.sleeping.store(true, Ordering::SeqCst);
            if helper.state.load(Ordering::SeqCst) != POSTED {
                thread::park();
            }
            helper.sleeping.store(false, Ordering::SeqCst);
            idle_since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records which participant ran each task, and checks on every task that the earlier
    /// stage is complete and the task itself runs once.
    struct Recorded {
        stages: usize,
        ran_by: Vec<AtomicUsize>,
        work: Duration,
    }

    impl Job for Recorded {
        fn stages(&self) -> usize {
            self.stages
        }

        fn run(&self, stage: usize, task: usize, participant: usize) {
            if stage > 0 {
                for earlier in 0..TASKS_PER_STAGE {
                    let slot = &self.ran_by[(stage - 1) * TASKS_PER_STAGE + earlier];
                    assert_ne!(slot.load(Ordering::Relaxed), 0, "stage {stage} began early");
                }
            }
            let started = Instant::now();
            while started.elapsed() < self.work {
                std::hint::spin_loop();
            }
            let slot = &self.ran_by[stage * TASKS_PER_STAGE + task];
            assert_eq!(
                slot.swap(participant + 1, Ordering::Relaxed),
                0,
                "run twice"
            );
        }
    }

    #[test]
    fn every_task_runs_once_after_its_earlier_stages_and_the_helper_takes_part() {
        let mut helped = 0;
        for round in 0..2_000 {
            let job = Recorded {
                stages: 7,
                ran_by: (0..7 * TASKS_PER_STAGE)
                    .map(|_| AtomicUsize::new(0))
                    .collect(),
                work: Duration::from_micros(5),
            };
            if !run_with_helper(&job) {
                // Another test's forward pass holds the helper.
                thread::yield_now();
                continue;
            }
            let ran_by: Vec<usize> = job
                .ran_by
                .iter()
                .map(|s| s.load(Ordering::Relaxed))
                .collect();
            assert!(
                ran_by.iter().all(|&p| p == 1 || p == 2),
                "round {round}: {ran_by:?}"
            );
            if ran_by.contains(&2) {
                helped += 1;
            }
        }
        if available() {
            assert!(helped > 0, "the helper never took part in 2,000 jobs");
        }
    }
}
