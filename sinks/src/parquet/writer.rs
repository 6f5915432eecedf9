//! Writes one table of the lake: rows buffered per Hive partition, encoded in memory, and
//! committed as a file by an atomic rename. Runs on the sink's writer thread (`sink.rs`).
//!
//! A file is encoded into memory while it fills, so a worker holds no file descriptors
//! however many partitions it writes at once; its size is bounded by `max_file_rows`,
//! `max_file_age_seconds` and the worker's buffer budget. At commit it is written under a
//! hidden `.part-*.tmp` name that no `*.parquet` glob matches, synced, renamed into place,
//! and its directory synced. A crash therefore leaves at most a stray temporary file,
//! never a partial `.parquet`, and loses only what was not yet committed.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ::parquet::arrow::ArrowWriter;
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use arrow_schema::{ArrowError, SchemaRef};
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::{Diff, Time};

use super::schema::{Columns, PartitionKey, Table};

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
enum WriteError {
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

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |error| WriteError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// One Hive partition's pending rows and the file they are being encoded into.
struct Partition<T: Table> {
    key: T::Key,
    directory: PathBuf,
    directory_ready: bool,
    columns: T::Columns,
    file: Option<ArrowWriter<Vec<u8>>>,
    /// Rows of the current file, encoded or still in `columns`.
    rows: usize,
    /// When the current file's first row arrived.
    started: Option<Instant>,
    /// Memory the encoded file held when last measured.
    bytes: usize,
    /// The earliest dataflow time among the current file's rows.
    earliest: Option<Time>,
}

/// Writes one table for one worker.
pub(crate) struct TableWriter<T: Table> {
    sink: Arc<str>,
    root: PathBuf,
    schema: SchemaRef,
    properties: WriterProperties,
    limits: Limits,
    naming: Naming,
    counters: Arc<ComponentCounters>,
    /// Whether committed rows count as the sink's `records_out` (prices do; rejects are
    /// counted where they arise).
    count_rows: bool,
    partitions: Vec<Partition<T>>,
    index: HashMap<T::Key, usize>,
    /// The partition of the previous row: consecutive rows usually share one.
    last: Option<(T::Key, usize)>,
    /// Sum of the partitions' `bytes`.
    buffered_bytes: usize,
    /// Whether a file could not be written: its rows are lost, so this writer no longer
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
            schema: T::schema(),
            properties,
            limits,
            naming,
            counters,
            count_rows,
            partitions: Vec::new(),
            index: HashMap::new(),
            last: None,
            buffered_bytes: 0,
            failed: false,
        }
    }

    /// Appends one update; may encode a chunk or commit a file.
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
            if self.buffered_bytes > self.limits.max_buffer_bytes {
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
            directory: self.root.join(key.directory()),
            directory_ready: false,
            columns: T::Columns::with_capacity(256),
            file: None,
            rows: 0,
            started: None,
            bytes: 0,
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
    pub(crate) fn durable_through(&self, frontier: Option<Time>) -> Option<Time> {
        if self.failed {
            return None;
        }
        let pending = self.partitions.iter().filter_map(|p| p.earliest).min();
        let complete = frontier.map_or(Time::MAX, |time| time.saturating_sub(1));
        Some(pending.map_or(complete, |time| time.saturating_sub(1).min(complete)))
    }

    /// Commits every pending row (end of input).
    pub(crate) fn commit_all(&mut self) {
        for index in 0..self.partitions.len() {
            self.commit(index);
        }
        self.forget_idle();
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
        if let Some(index) = (0..self.partitions.len()).max_by_key(|&i| self.partitions[i].bytes) {
            self.commit(index);
        }
    }

    /// Encodes the rows buffered in a partition's builders into its file.
    fn encode(&mut self, index: usize) {
        let partition = &mut self.partitions[index];
        if partition.columns.len() == 0 {
            return;
        }
        let result = (|| -> Result<usize, WriteError> {
            let rows = partition.columns.len();
            let batch = partition.columns.finish()?;
            // Builders start empty after `finish`; growing them row by row again cost
            // more than allocating what the last chunk needed at once.
            partition.columns = T::Columns::with_capacity(rows);
            let writer = match &mut partition.file {
                Some(writer) => writer,
                empty => empty.insert(ArrowWriter::try_new(
                    Vec::new(),
                    self.schema.clone(),
                    Some(self.properties.clone()),
                )?),
            };
            writer.write(&batch)?;
            Ok(writer.inner().capacity() + writer.memory_size())
        })();
        match result {
            Ok(bytes) => {
                self.buffered_bytes = self.buffered_bytes - partition.bytes + bytes;
                partition.bytes = bytes;
            }
            Err(error) => self.fail(index, &error),
        }
    }

    /// Writes out a partition's pending rows as a committed file.
    fn commit(&mut self, index: usize) {
        self.encode(index);
        let partition = &mut self.partitions[index];
        let Some(writer) = partition.file.take() else {
            return;
        };
        let result = (|| -> Result<PathBuf, WriteError> {
            let bytes = writer.into_inner()?;
            if !partition.directory_ready {
                create_directories(&partition.directory).map_err(io_error(&partition.directory))?;
                partition.directory_ready = true;
            }
            let name = self.naming.next();
            let target = partition.directory.join(&name);
            write_durably(
                &partition.directory.join(format!(".{name}.tmp")),
                &bytes,
                &target,
            )?;
            Ok(target)
        })();
        self.buffered_bytes -= partition.bytes;
        partition.bytes = 0;
        match result {
            Ok(target) => {
                let rows = std::mem::take(&mut partition.rows);
                partition.started = None;
                partition.earliest = None;
                ComponentCounters::add(&self.counters.files, 1);
                if self.count_rows {
                    ComponentCounters::add(&self.counters.records_out, rows as u64);
                }
                tracing::debug!(sink = %self.sink, path = %target.display(), rows, "committed");
            }
            Err(error) => self.fail(index, &error),
        }
    }

    /// Gives up a partition's current file: its rows are counted as rejected by the sink
    /// and logged, and the partition starts afresh, so the next rows try a new file.
    fn fail(&mut self, index: usize, error: &WriteError) {
        let partition = &mut self.partitions[index];
        partition.file = None;
        self.buffered_bytes -= partition.bytes;
        partition.bytes = 0;
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
fn write_durably(temporary: &Path, bytes: &[u8], target: &Path) -> Result<(), WriteError> {
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
