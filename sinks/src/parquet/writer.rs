//! Writes one table of the lake: rows buffered per Hive partition, encoded in memory, and
//! committed as a file by an atomic rename.
//!
//! The worker appends rows to per-partition Arrow builders; full chunks and commits go to
//! the table's encoder thread (`encoder.rs`), which encodes each file into memory while it
//! fills, so a worker holds no file descriptors however many partitions it writes at once.
//! A file's size is bounded by `max_file_rows`, `max_file_age_seconds` and the worker's
//! buffer budget. At commit it is written under a hidden `.part-*.tmp` name that no
//! `*.parquet` glob matches, synced, renamed into place, and its directory synced. A crash
//! therefore leaves at most a stray temporary file, never a partial `.parquet`, and loses
//! only what was not yet committed.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use arrow_schema::ArrowError;
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::{Diff, Time};

use timely::scheduling::SyncActivator;

use super::encoder::{Encoder, FileId, Job, Settings};
use super::schema::{Columns, Table};

/// File names take a process-wide sequence number, so that two writers of one process
/// (two sinks sharing a lake, or two runs in one test binary) never pick the same name.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Rows a partition buffers in Arrow builders before encoding them. Small enough that
/// many partitions can buffer at once; large enough to encode efficiently.
const CHUNK_ROWS: usize = 4096;

/// How files are cut.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Rows per row group; chunks never exceed it.
    pub(crate) row_group_rows: usize,
    /// Rows per file before it is committed.
    pub(crate) max_file_rows: usize,
    /// Age of a file's first row after which it is committed.
    pub(crate) max_file_age: Duration,
    /// Encoded bytes one writer holds before committing its largest file early.
    pub(crate) max_buffer_bytes: usize,
}

/// What makes this writer's file names unique.
#[derive(Clone, Debug)]
pub(crate) struct Naming {
    /// Start of the run, microseconds since the epoch.
    pub(crate) run: u64,
    /// Worker index.
    pub(crate) worker: usize,
}

impl Naming {
    fn next(&self) -> String {
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        format!("part-{}-w{}-{sequence:06}.parquet", self.run, self.worker)
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        #[source]
        error: io::Error,
    },
    #[error("encoding Parquet: {0}")]
    Parquet(#[from] ParquetError),
    #[error("building a record batch: {0}")]
    Arrow(#[from] ArrowError),
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |error| WriteError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// One Hive partition's pending rows and the file they are being encoded into.
struct Partition<T: Table> {
    key: T::Key,
    directory: PathBuf,
    columns: T::Columns,
    /// The file the encoder is writing for this partition, once a chunk was handed over.
    file: Option<FileId>,
    /// Rows of the current file, encoded or still in `columns`.
    rows: usize,
    /// When the current file's first row arrived.
    started: Option<Instant>,
    /// The earliest dataflow time among the current file's rows.
    earliest: Option<Time>,
}

/// Writes one table for one worker: buffers rows per partition and hands chunks and
/// commits to its [`Encoder`] thread.
pub(crate) struct TableWriter<T: Table> {
    sink: Arc<str>,
    root: PathBuf,
    properties: WriterProperties,
    limits: Limits,
    naming: Naming,
    counters: Arc<ComponentCounters>,
    /// Whether committed rows count as the sink's `records_out` (prices do; rejects are
    /// counted where they arise).
    count_rows: bool,
    /// Started with the first chunk, so a table that gets no rows costs no thread.
    encoder: Option<Encoder>,
    activator: Option<SyncActivator>,
    partitions: Vec<Partition<T>>,
    index: HashMap<T::Key, usize>,
    /// The partition of the previous row: consecutive rows usually share one.
    last: Option<(T::Key, usize)>,
    next_file: FileId,
    /// Commits handed to the encoder and not known to be done: (job, earliest time).
    committing: VecDeque<(u64, Time)>,
    /// Whether rows were lost before reaching the encoder: this writer then no longer
    /// claims anything durable.
    failed: bool,
}

impl<T: Table> TableWriter<T> {
    /// A writer of the table at `root` (`<lake>/<table>`).
    pub(crate) fn new(
        sink: Arc<str>,
        root: PathBuf,
        properties: WriterProperties,
        limits: Limits,
        naming: Naming,
        counters: Arc<ComponentCounters>,
        count_rows: bool,
    ) -> Self {
        TableWriter {
            sink,
            root,
            properties,
            limits,
            naming,
            counters,
            count_rows,
            encoder: None,
            activator: None,
            partitions: Vec::new(),
            index: HashMap::new(),
            last: None,
            next_file: 0,
            committing: VecDeque::new(),
            failed: false,
        }
    }

    /// Whom the encoder wakes when it commits a file (the sink's operator).
    pub(crate) fn wake(&mut self, activator: SyncActivator) {
        self.activator = Some(activator);
    }

    /// Appends one update; may hand a chunk or a commit to the encoder.
    #[inline]
    pub(crate) fn push(&mut self, record: &T::Record, time: Time, diff: Diff, now: Instant) {
        let key = T::key(record, time);
        let index = match &self.last {
            Some((last, index)) if *last == key => *index,
            _ => {
                let index = self.partition(&key);
                self.last = Some((key, index));
                index
            }
        };
        let partition = &mut self.partitions[index];
        partition.columns.push(record, time, diff);
        partition.rows += 1;
        partition.started.get_or_insert(now);
        partition.earliest = Some(partition.earliest.map_or(time, |t| t.min(time)));
        if partition.rows >= self.limits.max_file_rows {
            self.commit(index);
        } else if partition.columns.len() >= CHUNK_ROWS.min(self.limits.row_group_rows) {
            self.encode(index);
            if self
                .encoder
                .as_ref()
                .is_some_and(|encoder| encoder.progress().buffered() > self.limits.max_buffer_bytes)
            {
                self.commit_largest();
            }
        }
    }

    fn partition(&mut self, key: &T::Key) -> usize {
        if let Some(&index) = self.index.get(key) {
            return index;
        }
        let index = self.partitions.len();
        self.partitions.push(Partition {
            key: key.clone(),
            directory: self.root.join(T::directory(key)),
            columns: T::Columns::with_capacity(256),
            file: None,
            rows: 0,
            started: None,
            earliest: None,
        });
        self.index.insert(key.clone(), index);
        index
    }

    /// Commits every file whose first row is older than the age limit, forgets idle
    /// partitions, and returns when the next file will be due.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<Instant> {
        let age = self.limits.max_file_age;
        for index in 0..self.partitions.len() {
            if self.partitions[index]
                .started
                .is_some_and(|started| now.duration_since(started) >= age)
            {
                self.commit(index);
            }
        }
        self.forget_idle();
        self.partitions
            .iter()
            .filter_map(|partition| partition.started)
            .min()
            .map(|started| started + age)
    }

    /// The latest time through which every row this writer received is committed, given
    /// that no row can still arrive at or before `frontier` − 1; `None` once a file failed.
    pub(crate) fn durable_through(&mut self, frontier: Option<Time>) -> Option<Time> {
        let done = match &self.encoder {
            Some(encoder) if encoder.progress().failed() => return None,
            Some(encoder) => encoder.progress().done(),
            None => u64::MAX,
        };
        if self.failed {
            return None;
        }
        while self.committing.front().is_some_and(|(job, _)| *job <= done) {
            self.committing.pop_front();
        }
        let pending = self
            .partitions
            .iter()
            .filter_map(|p| p.earliest)
            .chain(self.committing.iter().map(|(_, earliest)| *earliest))
            .min();
        let complete = frontier.map_or(Time::MAX, |time| time.saturating_sub(1));
        Some(pending.map_or(complete, |time| time.saturating_sub(1).min(complete)))
    }

    /// Commits every pending row (end of input) and waits until the files are written.
    pub(crate) fn commit_all(&mut self) {
        for index in 0..self.partitions.len() {
            self.commit(index);
        }
        self.forget_idle();
        if let Some(encoder) = &mut self.encoder {
            encoder.finish();
        }
    }

    /// Drops partitions with nothing pending, so that a long live run does not keep an
    /// entry for every date it ever saw.
    fn forget_idle(&mut self) {
        if self.partitions.iter().all(|p| p.rows > 0) {
            return;
        }
        self.partitions.retain(|p| p.rows > 0);
        self.index.clear();
        self.index.extend(
            self.partitions
                .iter()
                .enumerate()
                .map(|(index, p)| (p.key.clone(), index)),
        );
        self.last = None;
    }

    /// Commits the file holding the most memory, to stay within the buffer budget.
    fn commit_largest(&mut self) {
        let largest = self.encoder.as_ref().and_then(|e| e.progress().largest());
        if let Some(index) = (0..self.partitions.len())
            .find(|&i| largest.is_some() && self.partitions[i].file == largest)
        {
            self.commit(index);
        }
    }

    /// The encoder, started on first use.
    fn encoder(&mut self) -> Result<&mut Encoder, io::Error> {
        if self.encoder.is_none() {
            let settings = Settings {
                sink: self.sink.clone(),
                table: T::KIND,
                schema: T::schema(),
                properties: self.properties.clone(),
                counters: self.counters.clone(),
                count_rows: self.count_rows,
                activator: self.activator.clone(),
            };
            self.encoder = Some(Encoder::start(settings, self.naming.worker)?);
        }
        Ok(self.encoder.as_mut().expect("started above"))
    }

    /// Hands the rows buffered in a partition's builders to the encoder.
    fn encode(&mut self, index: usize) {
        if self.partitions[index].columns.len() == 0 {
            return;
        }
        let file = *self.partitions[index].file.get_or_insert_with(|| {
            self.next_file += 1;
            self.next_file
        });
        let result = (|| -> Result<(), WriteError> {
            let columns = &mut self.partitions[index].columns;
            let rows = columns.len();
            let batch = columns.finish()?;
            // Builders start empty after `finish`; growing them row by row again cost
            // more than allocating what the last chunk needed at once.
            *columns = T::Columns::with_capacity(rows);
            self.encoder()
                .map_err(io_error(Path::new("encoder thread")))?
                .send(Job::Encode { file, batch });
            Ok(())
        })();
        if let Err(error) = result {
            self.fail(index, &error);
        }
    }

    /// Hands a partition's pending rows to the encoder to be committed as a file.
    fn commit(&mut self, index: usize) {
        self.encode(index);
        let partition = &mut self.partitions[index];
        let Some(file) = partition.file.take() else {
            return;
        };
        let rows = std::mem::take(&mut partition.rows);
        let earliest = partition.earliest.take();
        partition.started = None;
        let job = Job::Commit {
            file,
            directory: partition.directory.clone(),
            name: self.naming.next(),
            rows,
        };
        let Some(encoder) = self.encoder.as_mut() else {
            return;
        };
        let sequence = encoder.send(job);
        if let Some(earliest) = earliest {
            self.committing.push_back((sequence, earliest));
        }
    }

    /// Gives up a partition's current file: its rows are counted as rejected by the sink
    /// and logged, and the partition starts afresh, so the next rows try a new file.
    fn fail(&mut self, index: usize, error: &WriteError) {
        let partition = &mut self.partitions[index];
        // The encoder drops what it has of the file when the commit never comes.
        partition.file = None;
        // Discard what is still in the builders: it belonged to the lost file.
        let _ = partition.columns.finish();
        let lost = std::mem::take(&mut partition.rows);
        partition.started = None;
        partition.earliest = None;
        self.failed = true;
        ComponentCounters::add(&self.counters.rejected, lost as u64);
        tracing::error!(
            sink = %self.sink,
            table = T::KIND,
            directory = %partition.directory.display(),
            rows_lost = lost,
            %error,
            "could not write a lake file; its rows are not in the lake"
        );
    }
}

/// Writes `bytes` to `temporary`, syncs it, renames it to `target` and syncs the
/// directory: the file appears complete or not at all, and stays after a crash.
pub(crate) fn write_durably(
    temporary: &Path,
    bytes: &[u8],
    target: &Path,
) -> Result<(), WriteError> {
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(error) = written.and_then(|()| fs::rename(temporary, target)) {
        let _ = fs::remove_file(temporary);
        return Err(WriteError::Io {
            path: temporary.to_path_buf(),
            error,
        });
    }
    if let Some(directory) = target.parent()
        && let Err(error) = sync_directory(directory)
    {
        // The file is complete and visible; only its survival of a power loss is in doubt.
        tracing::warn!(path = %directory.display(), %error, "could not sync directory");
    }
    Ok(())
}

/// Creates `directory` and its missing ancestors, syncing each parent that gained an
/// entry, so that a committed file's directories survive a crash too.
pub(crate) fn create_directories(directory: &Path) -> io::Result<()> {
    if directory.as_os_str().is_empty() || directory.is_dir() {
        return Ok(());
    }
    let parent = directory.parent().unwrap_or(Path::new(""));
    create_directories(parent)?;
    match fs::create_dir(directory) {
        Ok(()) => sync_directory(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        }),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(unix)]
fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> io::Result<()> {
    // Directories cannot be opened for syncing here; renames are durable on their own.
    Ok(())
}
