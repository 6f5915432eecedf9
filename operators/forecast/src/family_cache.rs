//! A folder of LEAR's and the DNN's day forecasts, so that evaluating other networks
//! against the same families (`gridflow eval --families-cache DIR`) reads them back instead
//! of recomputing them: on PJM that is half an hour of the benchmark's 36 minutes.
//!
//! A file holds one family's forecasts of one range of days. Its first line is the key: the
//! family, the dataset's name and a hash of its contents (timestamps, prices and exogenous
//! series), the days, the family's settings and this crate's version. A file is used only
//! when that line equals the key asked for, so a changed file, setting or release never
//! reads stale forecasts; a change to the families' code within one version does, which is
//! why the cache is opt-in. Prices are written in Rust's shortest round-trip form, so a
//! forecast read back is the same `f64`.

use std::io::{BufRead, BufReader, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::data::{EpfDataset, HOURS_PER_DAY};
use crate::lear::DayForecasts;

/// What a cached file must have been computed from.
#[derive(Debug, Serialize)]
struct Key<'a, S: Serialize> {
    family: &'a str,
    dataset: &'a str,
    /// xxHash64 of the dataset's contents, hexadecimal.
    contents: String,
    days: [usize; 2],
    settings: &'a S,
    version: &'a str,
}

/// The cache folder and the key of one family's forecasts in it.
#[derive(Debug)]
pub struct CachedFamily {
    path: PathBuf,
    key: String,
}

impl CachedFamily {
    /// The file in `folder` for `family`'s forecasts of `days` of `data` with `settings`.
    pub fn new<S: Serialize>(
        folder: &Path,
        family: &str,
        data: &EpfDataset,
        days: Range<usize>,
        settings: &S,
    ) -> Self {
        let key = Key {
            family,
            dataset: data.name(),
            contents: format!("{:016x}", contents_hash(data)),
            days: [days.start, days.end],
            settings,
            version: env!("CARGO_PKG_VERSION"),
        };
        let key = serde_json::to_string(&key).expect("a key of plain fields serializes");
        let name = format!(
            "{family}-{}-{:016x}.csv",
            sanitized(data.name()),
            twox_hash::XxHash64::oneshot(0, key.as_bytes())
        );
        Self {
            path: folder.join(name),
            key,
        }
    }

    /// Where the forecasts are (or will be) stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored forecasts when the file exists, its key is this one and it reads whole;
    /// `None` otherwise (a damaged file is logged and left to be overwritten).
    pub fn load(&self) -> Option<DayForecasts> {
        let file = std::fs::File::open(&self.path).ok()?;
        match read(BufReader::new(file), &self.key) {
            Ok(forecasts) => forecasts,
            Err(reason) => {
                tracing::warn!(path = %self.path.display(), %reason, "ignoring a damaged cache file");
                None
            }
        }
    }

    /// Stores `forecasts`, through a temporary file renamed into place so that a reader
    /// never sees half a file.
    pub fn store(&self, forecasts: &DayForecasts) -> std::io::Result<()> {
        if let Some(folder) = self.path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let partial = self.path.with_extension("partial");
        {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
            writeln!(out, "# {}", self.key)?;
            writeln!(out, "{} {}", forecasts.days.start, forecasts.days.end)?;
            for day in forecasts.prices.chunks(HOURS_PER_DAY) {
                let line: Vec<String> = day.iter().map(f64::to_string).collect();
                writeln!(out, "{}", line.join(","))?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        std::fs::rename(&partial, &self.path)
    }
}

/// Reads a cache file: `Ok(None)` when it holds another key, `Err` when it is damaged.
fn read(reader: impl BufRead, key: &str) -> Result<Option<DayForecasts>, String> {
    let mut lines = reader.lines();
    let mut next = || -> Result<String, String> {
        lines
            .next()
            .ok_or("the file ends early")?
            .map_err(|e| e.to_string())
    };
    if next()?.strip_prefix("# ") != Some(key) {
        return Ok(None);
    }
    let range = next()?;
    let bounds: Vec<usize> = range
        .split(' ')
        .map(|b| b.parse().map_err(|_| format!("bad day range {range:?}")))
        .collect::<Result<_, _>>()?;
    let [start, end] = bounds[..] else {
        return Err(format!("bad day range {range:?}"));
    };
    let mut prices = Vec::with_capacity(end.saturating_sub(start) * HOURS_PER_DAY);
    for _ in start..end {
        let line = next()?;
        let before = prices.len();
        for price in line.split(',') {
            prices.push(price.parse().map_err(|_| format!("bad price {price:?}"))?);
        }
        if prices.len() - before != HOURS_PER_DAY {
            return Err(format!("a day of {} prices", prices.len() - before));
        }
    }
    Ok(Some(DayForecasts {
        days: start..end,
        prices,
    }))
}

/// xxHash64 of everything in `data` a family's forecast can depend on.
fn contents_hash(data: &EpfDataset) -> u64 {
    let mut hasher = twox_hash::XxHash64::with_seed(0);
    for timestamp in data.timestamps() {
        std::hash::Hasher::write(&mut hasher, timestamp.as_bytes());
        std::hash::Hasher::write_u8(&mut hasher, b'\n');
    }
    for series in [data.prices(), data.exogenous(0), data.exogenous(1)] {
        for value in series {
            std::hash::Hasher::write(&mut hasher, &value.to_bits().to_le_bytes());
        }
    }
    std::hash::Hasher::finish(&hasher)
}

/// A dataset name as a file-name part: anything but letters, digits, `-` and `_` becomes `_`.
fn sanitized(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lear::LearConfig;

    fn dataset(days: usize, price_shift: f64) -> EpfDataset {
        let mut csv = String::from("Date,Price,Exogenous 1,Exogenous 2\n");
        for hour in 0..days * HOURS_PER_DAY {
            let (day, hour_of_day) = (hour / HOURS_PER_DAY, hour % HOURS_PER_DAY);
            csv.push_str(&format!(
                "2018-01-{:02} {hour_of_day:02}:00:00,{},{},{}\n",
                day + 1,
                30.0 + price_shift + (hour % 7) as f64,
                1000.0 + hour as f64,
                50.0
            ));
        }
        EpfDataset::from_reader("NP", csv.as_bytes()).unwrap()
    }

    fn forecasts(days: Range<usize>) -> DayForecasts {
        let prices = (0..days.len() * HOURS_PER_DAY)
            .map(|i| (i as f64).sqrt() * 0.1 + 1.0 / 3.0 - 20.0)
            .collect();
        DayForecasts { days, prices }
    }

    #[test]
    fn forecasts_read_back_bit_for_bit_under_the_same_key_only() {
        let folder = tempfile::tempdir().unwrap();
        let data = dataset(10, 0.0);
        let settings = LearConfig::default();
        let cached = CachedFamily::new(folder.path(), "lear", &data, 8..10, &settings);
        assert_eq!(cached.load(), None, "nothing stored yet");
        let stored = forecasts(8..10);
        cached.store(&stored).unwrap();
        assert_eq!(cached.load(), Some(stored.clone()));
        // The same key built again finds it.
        let again = CachedFamily::new(folder.path(), "lear", &data, 8..10, &settings);
        assert_eq!(again.load(), Some(stored));
        // Any other family, days, settings or contents do not.
        let windows = LearConfig { windows: vec![56] };
        for other in [
            CachedFamily::new(folder.path(), "dnn", &data, 8..10, &settings),
            CachedFamily::new(folder.path(), "lear", &data, 7..10, &settings),
            CachedFamily::new(folder.path(), "lear", &data, 8..10, &windows),
            CachedFamily::new(folder.path(), "lear", &dataset(10, 1e-9), 8..10, &settings),
        ] {
            assert_ne!(other.path(), cached.path());
            assert_eq!(other.load(), None);
        }
    }

    #[test]
    fn a_file_under_another_key_or_damaged_is_not_used() {
        let folder = tempfile::tempdir().unwrap();
        let data = dataset(10, 0.0);
        let cached = CachedFamily::new(folder.path(), "lear", &data, 8..10, &());
        cached.store(&forecasts(8..10)).unwrap();
        let text = std::fs::read_to_string(cached.path()).unwrap();
        let other_key = text.replacen("\"days\":[8,10]", "\"days\":[8,11]", 1);
        assert_ne!(other_key, text);
        std::fs::write(cached.path(), other_key).unwrap();
        assert_eq!(cached.load(), None);
        let mut lines: Vec<&str> = text.lines().collect();
        lines.pop();
        std::fs::write(cached.path(), lines.join("\n")).unwrap();
        assert_eq!(cached.load(), None, "a day missing");
        std::fs::write(cached.path(), text.replacen(',', ",x", 1)).unwrap();
        assert_eq!(cached.load(), None, "a price that does not parse");
        // Storing again repairs it.
        cached.store(&forecasts(8..10)).unwrap();
        assert_eq!(cached.load(), Some(forecasts(8..10)));
    }
}
