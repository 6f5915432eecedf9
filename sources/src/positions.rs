//! Source positions: what a live source has fully ingested, kept in a small JSON file so a
//! restart neither reads it again nor skips what changed meanwhile.
//!
//! A position is recorded in memory when its data is emitted, with the dataflow time it
//! was emitted at, and written to disk only once the runtime reports that every sink has
//! durably written everything up to that time ([`SourceReader::committed`]). The file is
//! replaced atomically (temporary file, fsync, rename), so a crash leaves the previous
//! positions, never a torn file: at worst the last files are read again.
//!
//! [`SourceReader::committed`]: gridflow_engine::component::SourceReader::committed

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use gridflow_engine::Time;
use serde::{Deserialize, Serialize};

/// What was ingested of one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// Size in bytes.
    pub size: u64,
    /// CRC-32 of the content: a file rewritten with the same bytes is not read again.
    pub crc32: u32,
}

impl FilePosition {
    /// The position of `content`.
    pub fn of(content: &[u8]) -> Self {
        FilePosition {
            size: content.len() as u64,
            crc32: crc32fast::hash(content),
        }
    }
}

/// HTTP cache validators of a fetched URL, sent back as `If-None-Match` and
/// `If-Modified-Since` so an unchanged publication costs a 304.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The `ETag` the server sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` the server sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    /// Layout version of this file.
    version: u32,
    /// Ingested files (paths or URLs).
    files: BTreeMap<String, FilePosition>,
    /// Cache validators of ingested URLs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    validators: BTreeMap<String, Validators>,
}

/// The durable positions of one source and those waiting for the sinks.
#[derive(Debug)]
pub struct Positions {
    path: Option<PathBuf>,
    durable: BTreeMap<String, FilePosition>,
    validators: BTreeMap<String, Validators>,
    /// Emitted, not yet durable: (time emitted, file, position, validators).
    pending: Vec<(Time, String, FilePosition, Option<Validators>)>,
}

impl Positions {
    /// Loads the positions stored at `path` (none yet is fine); `None` keeps them in memory.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let stored = match path {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|error| format!("{}: not a positions file: {error}", path.display()))?
            }
            _ => Stored::default(),
        };
        Ok(Positions {
            path: path.map(Path::to_path_buf),
            durable: stored.files,
            validators: stored.validators,
            pending: Vec::new(),
        })
    }

    /// The last position of `file` that was emitted (durable or not).
    pub fn get(&self, file: &str) -> Option<FilePosition> {
        self.pending
            .iter()
            .rev()
            .find(|(_, pending, _, _)| pending == file)
            .map(|(_, _, position, _)| *position)
            .or_else(|| self.durable.get(file).copied())
    }

    /// The durable cache validators of every URL.
    pub fn validators(&self) -> &BTreeMap<String, Validators> {
        &self.validators
    }

    /// Records that `file` at `position` was emitted at dataflow time `time`.
    pub fn emitted(&mut self, time: Time, file: String, position: FilePosition) {
        self.pending.push((time, file, position, None));
    }

    /// Records an emitted URL with the validators its response carried.
    pub fn emitted_url(
        &mut self,
        time: Time,
        url: String,
        position: FilePosition,
        validators: Validators,
    ) {
        self.pending.push((time, url, position, Some(validators)));
    }

    /// Makes every position emitted up to `through` durable and writes the file.
    pub fn committed(&mut self, through: Time) -> Result<(), String> {
        let before = self.pending.len();
        let mut kept = Vec::with_capacity(before);
        for (time, file, position, validators) in self.pending.drain(..) {
            if time <= through {
                if let Some(validators) = validators {
                    self.validators.insert(file.clone(), validators);
                }
                self.durable.insert(file, position);
            } else {
                kept.push((time, file, position, validators));
            }
        }
        let changed = kept.len() != before;
        self.pending = kept;
        match &self.path {
            Some(path) if changed => self.write(path),
            _ => Ok(()),
        }
    }

    fn write(&self, path: &Path) -> Result<(), String> {
        let stored = Stored {
            version: 1,
            files: self.durable.clone(),
            validators: self.validators.clone(),
        };
        let text = serde_json::to_string_pretty(&stored).map_err(|error| error.to_string())?;
        let directory = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "positions".into());
        let temporary = directory.join(format!(".{name}.tmp"));
        let result = (|| {
            std::fs::create_dir_all(directory)?;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, path)
        })();
        result.map_err(|error| format!("writing positions {}: {error}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_durable_positions_are_written_and_they_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/positions.json");
        let mut positions = Positions::load(Some(&path)).unwrap();
        positions.emitted(10, "a.csv".into(), FilePosition::of(b"one"));
        positions.emitted(20, "b.csv".into(), FilePosition::of(b"two"));
        assert_eq!(positions.get("b.csv"), Some(FilePosition::of(b"two")));
        positions.committed(15).unwrap();
        let reloaded = Positions::load(Some(&path)).unwrap();
        assert_eq!(reloaded.get("a.csv"), Some(FilePosition::of(b"one")));
        assert_eq!(reloaded.get("b.csv"), None, "not durable yet");
        positions.committed(Time::MAX).unwrap();
        let reloaded = Positions::load(Some(&path)).unwrap();
        assert_eq!(reloaded.get("b.csv"), Some(FilePosition::of(b"two")));
        assert!(!dir.path().join("state/.positions.json.tmp").exists());
    }

    #[test]
    fn a_corrupt_positions_file_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("positions.json");
        std::fs::write(&path, "{not json").unwrap();
        let error = Positions::load(Some(&path)).unwrap_err();
        assert!(error.contains("not a positions file"), "{error}");
    }
}
