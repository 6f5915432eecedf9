//! History for `gridflow train` and `gridflow eval` read from a gridflow lake instead of an
//! EPF CSV: one hourly price series from the `prices` table and, for models that read
//! them, two exogenous series from the `fundamentals` table, as current at the lake's end
//! (each key's version that is still current after every retraction), cut into whole days
//! of the market's clock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use arrow_array::{
    Array, Decimal128Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use gridflow_forecast::EpfDataset;
use gridflow_forecast::data::HOURS_PER_DAY;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const HOUR_MICROS: i64 = 3_600_000_000;
/// Decimal columns hold micro-units.
const DECIMAL_UNIT: f64 = 1e6;

/// Which series of a lake to train on.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct LakeSeries {
    /// A gridflow lake (the `path` of a `parquet` sink) to read the history from, instead
    /// of `--epf`.
    #[arg(long, conflicts_with = "epf", requires_all = ["market", "location"])]
    pub(crate) lake: Option<PathBuf>,
    /// The market of the price series (the `market` partition, e.g. `NORDPOOL`).
    #[arg(long)]
    pub(crate) market: Option<String>,
    /// Its location (e.g. `SYSTEM`).
    #[arg(long)]
    pub(crate) location: Option<String>,
    /// Its product.
    #[arg(long, default_value = "DAY_AHEAD_HOURLY")]
    pub(crate) product: String,
    /// Hours the market's clock is ahead of UTC: days run from its midnight, and the
    /// timestamps in the forecasts file are its wall-clock time (NORDPOOL 1, PJM -5).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub(crate) clock_offset_hours: i64,
    /// The two exogenous series of the `fundamentals` table, as `SERIES@LOCATION` (e.g.
    /// `LOAD_FORECAST@SYSTEM,WIND_POWER_FORECAST@SYSTEM`); without them the model is trained
    /// on prices only.
    #[arg(long, value_delimiter = ',')]
    pub(crate) exogenous: Vec<String>,
}

/// The versions of one key seen in the changelog: version → net `diff`.
type Versions = HashMap<(i128, Option<i64>, i64), i64>;

impl LakeSeries {
    /// Reads the series into a dataset named `<market>-<location>`.
    pub(crate) fn read(&self, lake: &Path) -> Result<EpfDataset> {
        let (market, location) = match (&self.market, &self.location) {
            (Some(market), Some(location)) => (market, location),
            _ => bail!("--lake needs --market and --location"),
        };
        ensure!(
            self.exogenous.is_empty() || self.exogenous.len() == 2,
            "--exogenous takes two series, or none for a prices-only model"
        );
        let prices = current_values(
            &lake.join("prices").join(format!("market={market}")),
            |batch, row| {
                Ok(text(batch, "location")?.value(row) == location
                    && text(batch, "product")?.value(row) == self.product)
            },
            "price",
        )?;
        ensure!(
            !prices.is_empty(),
            "no {} prices of {market} at {location} in {}",
            self.product,
            lake.display()
        );
        let offset = self.clock_offset_hours * HOUR_MICROS;
        // From the first local midnight to the end of the last whole local day.
        let first = *prices.keys().min().expect("not empty");
        let last = *prices.keys().max().expect("not empty");
        let day = HOURS_PER_DAY as i64 * HOUR_MICROS;
        let start = (first + offset + day - 1).div_euclid(day) * day - offset;
        let end = (last + HOUR_MICROS + offset).div_euclid(day) * day - offset;
        ensure!(
            end > start,
            "{market} at {location} has no whole day of prices"
        );
        let hours: Vec<i64> = (start..end).step_by(HOUR_MICROS as usize).collect();
        let series = |values: &HashMap<i64, f64>, what: &str| -> Result<Vec<f64>> {
            hours
                .iter()
                .map(|hour| {
                    values.get(hour).copied().with_context(|| {
                        format!(
                            "{what} has no value for the hour starting {} (UTC{:+})",
                            wall_clock(*hour + offset),
                            self.clock_offset_hours
                        )
                    })
                })
                .collect()
        };
        let price_column = series(&prices, &format!("{market} {location} price"))?;
        let mut exogenous = [vec![0.0; hours.len()], vec![0.0; hours.len()]];
        let mut names = [String::from("none"), String::from("none")];
        for (k, spec) in self.exogenous.iter().enumerate() {
            let (series_name, series_location) = spec
                .split_once('@')
                .with_context(|| format!("--exogenous {spec:?}: expected SERIES@LOCATION"))?;
            let values = current_values(
                &lake.join("fundamentals").join(format!("market={market}")),
                |batch, row| {
                    Ok(text(batch, "series")?.value(row) == series_name
                        && text(batch, "location")?.value(row) == series_location)
                },
                "value",
            )?;
            exogenous[k] = series(&values, spec)?;
            names[k] = spec.clone();
        }
        let timestamps = hours.iter().map(|h| wall_clock(h + offset)).collect();
        let [first_name, second_name] = names;
        EpfDataset::from_columns(
            format!("{market}-{location}"),
            [
                "Date".to_owned(),
                format!("{market} {location} price"),
                first_name,
                second_name,
            ],
            timestamps,
            price_column,
            exogenous,
        )
        .context("building the dataset from the lake")
    }

    /// Whether exogenous series were named.
    pub(crate) fn has_exogenous(&self) -> bool {
        !self.exogenous.is_empty()
    }
}

/// Every `*.parquet` file under `dir` (hidden files, being written, are skipped).
fn parquet_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            parquet_files(&path, files)?;
        } else if name.ends_with(".parquet") && !name.starts_with('.') {
            files.push(path);
        }
    }
    Ok(())
}

/// The current value (decimal column `value_column`) per `interval_start` of the rows
/// `keep` selects, from a changelog table's files under `dir`: each key's versions are
/// summed over `diff`, and of those still current the winner is the highest `revision`,
/// then the latest `published_at`.
fn current_values(
    dir: &Path,
    keep: impl Fn(&RecordBatch, usize) -> Result<bool>,
    value_column: &str,
) -> Result<HashMap<i64, f64>> {
    let mut files = Vec::new();
    parquet_files(dir, &mut files)?;
    let mut keys: HashMap<i64, Versions> = HashMap::new();
    for file in &files {
        let reader = std::fs::File::open(file)
            .map_err(anyhow::Error::from)
            .and_then(|f| Ok(ParquetRecordBatchReaderBuilder::try_new(f)?.build()?))
            .with_context(|| format!("reading {}", file.display()))?;
        for batch in reader {
            let batch = batch.with_context(|| format!("reading {}", file.display()))?;
            let starts = column::<TimestampMicrosecondArray>(&batch, "interval_start")?;
            let values = column::<Decimal128Array>(&batch, value_column)?;
            let revisions = column::<Int64Array>(&batch, "revision")?;
            let published = column::<TimestampMicrosecondArray>(&batch, "published_at")?;
            let diffs = column::<Int64Array>(&batch, "diff")?;
            for row in 0..batch.num_rows() {
                if !keep(&batch, row)? {
                    continue;
                }
                let revision = (!revisions.is_null(row)).then(|| revisions.value(row));
                let version = (values.value(row), revision, published.value(row));
                *keys
                    .entry(starts.value(row))
                    .or_default()
                    .entry(version)
                    .or_default() += diffs.value(row);
            }
        }
    }
    Ok(keys
        .into_iter()
        .filter_map(|(start, versions)| {
            versions
                .into_iter()
                .filter(|(_, net)| *net > 0)
                .map(|(version, _)| version)
                .max_by_key(|(_, revision, published)| (*revision, *published))
                .map(|(value, _, _)| (start, value as f64 / DECIMAL_UNIT))
        })
        .collect())
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .with_context(|| format!("the lake file has no column {name} of the expected type"))
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    column::<StringArray>(batch, name)
}

/// `YYYY-MM-DD HH:MM:SS` of microseconds since the epoch (already shifted to the clock).
fn wall_clock(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let time = jiff::Timestamp::from_second(seconds).expect("an hour within jiff's range");
    time.strftime("%Y-%m-%d %H:%M:%S").to_string()
}
