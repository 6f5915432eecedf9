//! The thread that encodes one table writer's chunks into Parquet and commits the files.
//!
//! Compression and file I/O are most of a sink's cost. Run inside the timely operator they
//! would stall the worker's dataflow; here they run beside it: the worker appends rows to
//! Arrow builders, hands each full chunk over a bounded channel (so a slow disk slows the
//! worker down instead of filling memory), and learns from [`Progress`] which jobs are done
//! — what lets it report durability — and how much memory the unfinished files hold.
//! Jobs run in the order they were sent, so "job `n` is done" means every earlier one is.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use ::parquet::arrow::ArrowWriter;
use ::parquet::file::properties::WriterProperties;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use gridflow_engine::metrics::ComponentCounters;
use timely::scheduling::SyncActivator;

use super::writer::{WriteError, create_directories, io_error, write_durably};

/// A file being written, unique within one writer.
pub(crate) type FileId = u64;

/// Chunks a writer may hand over before it waits for the encoder.
const QUEUED_CHUNKS: usize = 4;

/// What the encoder does next.
pub(crate) enum Job {
    /// Appends a chunk of rows to a file (started by its first chunk).
    Encode { file: FileId, batch: RecordBatch },
    /// Finishes a file and publishes it as `directory/name`; `rows` is its row count.
    Commit {
        file: FileId,
        directory: PathBuf,
        name: String,
        rows: usize,
    },
}

/// What the encoder has done, read by the worker.
#[derive(Default)]
pub(crate) struct Progress {
    /// Jobs finished.
    done: AtomicU64,
    /// Whether a file was lost: the writer then claims nothing durable any more.
    failed: AtomicBool,
    /// Memory held by the unfinished files, in bytes.
    buffered: AtomicUsize,
    /// The same, per file.
    sizes: Mutex<HashMap<FileId, usize>>,
}

impl Progress {
    /// Jobs finished so far.
    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }

    /// Whether a file could not be written.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Memory held by the unfinished files.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Relaxed)
    }

    /// The unfinished file holding the most memory.
    pub(crate) fn largest(&self) -> Option<FileId> {
        let sizes = self.sizes.lock().unwrap_or_else(PoisonError::into_inner);
        sizes
            .iter()
            .max_by_key(|(_, bytes)| **bytes)
            .map(|(file, _)| *file)
    }

    fn set_size(&self, file: FileId, bytes: Option<usize>) {
        let mut sizes = self.sizes.lock().unwrap_or_else(PoisonError::into_inner);
        let old = match bytes {
            Some(bytes) => sizes.insert(file, bytes),
            None => sizes.remove(&file),
        };
        let total = self.buffered.load(Ordering::Relaxed) - old.unwrap_or(0) + bytes.unwrap_or(0);
        self.buffered.store(total, Ordering::Relaxed);
    }
}

/// Whom the encoder reports to, and what it writes.
pub(crate) struct Settings {
    pub(crate) sink: Arc<str>,
    pub(crate) table: &'static str,
    pub(crate) schema: SchemaRef,
    pub(crate) properties: WriterProperties,
    pub(crate) counters: Arc<ComponentCounters>,
    /// Whether committed rows count as the sink's `records_out`.
    pub(crate) count_rows: bool,
    /// Wakes the sink's operator when a file is committed, so it reports durability.
    pub(crate) activator: Option<SyncActivator>,
}

/// The worker's handle on its encoder thread.
pub(crate) struct Encoder {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    progress: Arc<Progress>,
    sent: u64,
}

impl Encoder {
    /// Starts the thread.
    pub(crate) fn start(settings: Settings, worker: usize) -> std::io::Result<Self> {
        let (jobs, receiver) = std::sync::mpsc::sync_channel(QUEUED_CHUNKS);
        let progress = Arc::new(Progress::default());
        let shared = progress.clone();
        let thread = std::thread::Builder::new()
            .name(format!(
                "parquet-{}-{}-w{worker}",
                settings.sink, settings.table
            ))
            .spawn(move || encode(receiver, settings, &shared))?;
        Ok(Encoder {
            jobs: Some(jobs),
            thread: Some(thread),
            progress,
            sent: 0,
        })
    }

    /// Queues a job (waiting while the queue is full) and returns its sequence number.
    pub(crate) fn send(&mut self, job: Job) -> u64 {
        self.sent += 1;
        if let Some(jobs) = &self.jobs
            && jobs.send(job).is_err()
        {
            // The thread is gone (it panicked): nothing it was given can be durable.
            self.progress.failed.store(true, Ordering::Release);
        }
        self.sent
    }

    /// What the thread has done.
    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Waits until every job sent is done and stops the thread.
    pub(crate) fn finish(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            self.progress.failed.store(true, Ordering::Release);
        }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The thread's loop: one job at a time, in order, until the worker hangs up.
fn encode(jobs: Receiver<Job>, settings: Settings, progress: &Progress) {
    let mut files: HashMap<FileId, ArrowWriter<Vec<u8>>> = HashMap::new();
    // Files that could not be encoded, and why: their later chunks are dropped and their
    // rows counted as lost when they would have been committed.
    let mut lost: HashMap<FileId, WriteError> = HashMap::new();
    let mut directories_ready: HashSet<PathBuf> = HashSet::new();
    for job in jobs {
        match job {
            // A lost file's later chunks are dropped.
            Job::Encode { file, .. } if lost.contains_key(&file) => {}
            Job::Encode { file, batch } => {
                let written = (|| -> Result<usize, WriteError> {
                    let writer = match files.entry(file) {
                        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                        std::collections::hash_map::Entry::Vacant(entry) => {
                            entry.insert(ArrowWriter::try_new(
                                Vec::new(),
                                settings.schema.clone(),
                                Some(settings.properties.clone()),
                            )?)
                        }
                    };
                    writer.write(&batch)?;
                    Ok(writer.inner().capacity() + writer.memory_size())
                })();
                match written {
                    Ok(bytes) => progress.set_size(file, Some(bytes)),
                    Err(error) => {
                        files.remove(&file);
                        progress.set_size(file, None);
                        progress.failed.store(true, Ordering::Release);
                        lost.insert(file, error);
                    }
                }
            }
            Job::Commit {
                file,
                directory,
                name,
                rows,
            } => {
                let committed = match (files.remove(&file), lost.remove(&file)) {
                    (_, Some(error)) => Err(error),
                    (None, None) => Ok(None),
                    (Some(writer), None) => {
                        commit(writer, &directory, &name, &mut directories_ready).map(Some)
                    }
                };
                progress.set_size(file, None);
                match committed {
                    Ok(None) => {}
                    Ok(Some(target)) => {
                        ComponentCounters::add(&settings.counters.files, 1);
                        if settings.count_rows {
                            ComponentCounters::add(&settings.counters.records_out, rows as u64);
                        }
                        tracing::debug!(sink = %settings.sink, path = %target.display(), rows, "committed");
                    }
                    Err(error) => {
                        progress.failed.store(true, Ordering::Release);
                        ComponentCounters::add(&settings.counters.rejected, rows as u64);
                        tracing::error!(
                            sink = %settings.sink,
                            table = settings.table,
                            directory = %directory.display(),
                            rows_lost = rows,
                            %error,
                            "could not write a lake file; its rows are not in the lake"
                        );
                    }
                }
            }
        }
        progress.done.fetch_add(1, Ordering::Release);
        if let Some(activator) = &settings.activator {
            // The worker may be gone at the end of a run; then nobody needs waking.
            let _ = activator.activate();
        }
    }
}

/// Finishes a file and publishes it under `directory/name`.
fn commit(
    writer: ArrowWriter<Vec<u8>>,
    directory: &Path,
    name: &str,
    directories_ready: &mut HashSet<PathBuf>,
) -> Result<PathBuf, WriteError> {
    let bytes = writer.into_inner()?;
    if !directories_ready.contains(directory) {
        create_directories(directory).map_err(io_error(directory))?;
        directories_ready.insert(directory.to_path_buf());
    }
    let target = directory.join(name);
    write_durably(&directory.join(format!(".{name}.tmp")), &bytes, &target)?;
    Ok(target)
}
