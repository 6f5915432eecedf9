//! The `[sinks.NAME]` table of a `parquet` sink, and the checks serde cannot make.

use std::path::PathBuf;

use serde::Deserialize;

/// Configuration of a `parquet` sink: where the lake is and how files are cut.
///
/// ```toml
/// [sinks.lake]
/// kind = "parquet"
/// inputs = ["normalize"]
/// path = "lake"
/// # Optional, with their defaults:
/// stream = "prices"
/// rejects_stream = "rejects"
/// quantities_stream = "fundamentals"
/// regimes_stream = "regimes"
/// forecasts_stream = "forecasts"
/// row_group_rows = 131072
/// max_file_rows = 1000000
/// max_file_age_seconds = 60
/// max_buffer_megabytes = 256
/// compression_level = 3
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSinkConfig {
    /// Root directory of the lake; created if missing. A relative path is resolved against
    /// the directory gridflow runs in. Example: `path = "lake"`.
    pub path: PathBuf,
    /// Table (directory under `path`) that receives the normalized prices, partitioned as
    /// `market=<MARKET>/date=<YYYY-MM-DD>`. Default `"prices"`. Example: `stream = "prices_eu"`.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// Table that receives every reject produced upstream of this sink (parse and
    /// normalization failures), partitioned as `source=<SOURCE>/date=<YYYY-MM-DD>`.
    /// Default `"rejects"`. Example: `rejects_stream = "rejects_eu"`.
    #[serde(default = "default_rejects_stream")]
    pub rejects_stream: String,
    /// Table that receives the normalized quantities (gas in storage, ...) of inputs that
    /// produce them (a `fundamentals` operator), partitioned as
    /// `market=<MARKET>/date=<YYYY-MM-DD>`. Default `"fundamentals"`.
    /// Example: `quantities_stream = "fundamentals_us"`.
    #[serde(default = "default_quantities_stream")]
    pub quantities_stream: String,
    /// Table that receives the rows of inputs that produce regimes (a `regime` operator),
    /// partitioned as `market=<MARKET>/date=<YYYY-MM-DD>`. Default `"regimes"`.
    /// Example: `regimes_stream = "regimes_nem"`.
    #[serde(default = "default_regimes_stream")]
    pub regimes_stream: String,
    /// Table that receives the rows of inputs that produce forecasts (a `forecast`
    /// operator), partitioned as `market=<MARKET>/date=<YYYY-MM-DD>` (the forecast hour's
    /// UTC day). Default `"forecasts"`. Example: `forecasts_stream = "forecasts_np"`.
    #[serde(default = "default_forecasts_stream")]
    pub forecasts_stream: String,
    /// Rows per Parquet row group (the unit readers skip by statistics and read in
    /// parallel). Default `131072`. Example: `row_group_rows = 65536`.
    #[serde(default = "default_row_group_rows")]
    pub row_group_rows: usize,
    /// A file is committed and a new one started once it holds this many rows.
    /// Default `1000000`. Example: `max_file_rows = 250000`.
    #[serde(default = "default_max_file_rows")]
    pub max_file_rows: usize,
    /// A file is committed at the latest this many seconds after its first row, so that a
    /// live pipeline publishes what it learns without waiting to fill a file. Default `60`.
    /// Example: `max_file_age_seconds = 10`.
    #[serde(default = "default_max_file_age_seconds")]
    pub max_file_age_seconds: u64,
    /// Memory, in megabytes, that one worker may hold in files not yet committed (they are
    /// encoded and compressed in memory until committed). Past it, the largest such file
    /// is committed early. Raise it for backfills that write many dates at once, to get
    /// fewer, larger files. Default `256`. Example: `max_buffer_megabytes = 1024`.
    #[serde(default = "default_max_buffer_megabytes")]
    pub max_buffer_megabytes: usize,
    /// ZSTD compression level, 1 (fastest) to 22 (smallest). Default `3`.
    /// Example: `compression_level = 9`.
    #[serde(default = "default_compression_level")]
    pub compression_level: i32,
}

fn default_stream() -> String {
    "prices".to_string()
}

fn default_rejects_stream() -> String {
    "rejects".to_string()
}

fn default_quantities_stream() -> String {
    "fundamentals".to_string()
}

fn default_regimes_stream() -> String {
    "regimes".to_string()
}

fn default_forecasts_stream() -> String {
    "forecasts".to_string()
}

fn default_row_group_rows() -> usize {
    131_072
}

fn default_max_file_rows() -> usize {
    1_000_000
}

fn default_max_file_age_seconds() -> u64 {
    60
}

fn default_max_buffer_megabytes() -> usize {
    256
}

fn default_compression_level() -> i32 {
    3
}

/// A value of a [`ParquetSinkConfig`] that is well-typed but unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {message}")]
pub struct InvalidField {
    /// The field's name in the pipeline file.
    pub field: &'static str,
    /// What is wrong, phrased to follow the field name (`must be greater than 0`).
    pub message: String,
}

impl ParquetSinkConfig {
    /// A configuration writing to `path` with every other field at its default.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ParquetSinkConfig {
            path: path.into(),
            stream: default_stream(),
            rejects_stream: default_rejects_stream(),
            quantities_stream: default_quantities_stream(),
            regimes_stream: default_regimes_stream(),
            forecasts_stream: default_forecasts_stream(),
            row_group_rows: default_row_group_rows(),
            max_file_rows: default_max_file_rows(),
            max_file_age_seconds: default_max_file_age_seconds(),
            max_buffer_megabytes: default_max_buffer_megabytes(),
            compression_level: default_compression_level(),
        }
    }

    /// Every field whose value cannot work, in declaration order.
    pub fn validate(&self) -> Result<(), Vec<InvalidField>> {
        let mut invalid = Vec::new();
        let mut check = |field: &'static str, ok: bool, message: &str| {
            if !ok {
                invalid.push(InvalidField {
                    field,
                    message: message.to_string(),
                });
            }
        };
        check(
            "path",
            !self.path.as_os_str().is_empty(),
            "must name the lake's root directory, e.g. \"lake\"",
        );
        if let Err(message) = table_name(&self.stream) {
            check("stream", false, &message);
        }
        if let Err(message) = table_name(&self.rejects_stream) {
            check("rejects_stream", false, &message);
        } else if self.rejects_stream == self.stream {
            check(
                "rejects_stream",
                false,
                "must differ from `stream`: prices and rejects have different columns",
            );
        }
        if let Err(message) = table_name(&self.quantities_stream) {
            check("quantities_stream", false, &message);
        } else if self.quantities_stream == self.stream
            || self.quantities_stream == self.rejects_stream
        {
            check(
                "quantities_stream",
                false,
                "must differ from `stream` and `rejects_stream`: each table has its own columns",
            );
        }
        if let Err(message) = table_name(&self.regimes_stream) {
            check("regimes_stream", false, &message);
        } else if [&self.stream, &self.rejects_stream, &self.quantities_stream]
            .contains(&&self.regimes_stream)
        {
            check(
                "regimes_stream",
                false,
                "must differ from `stream`, `rejects_stream` and `quantities_stream`: each table \
                 has its own columns",
            );
        }
        if let Err(message) = table_name(&self.forecasts_stream) {
            check("forecasts_stream", false, &message);
        } else if [
            &self.stream,
            &self.rejects_stream,
            &self.quantities_stream,
            &self.regimes_stream,
        ]
        .contains(&&self.forecasts_stream)
        {
            check(
                "forecasts_stream",
                false,
                "must differ from the other tables' names: each table has its own columns",
            );
        }
        let positive = "must be greater than 0";
        check("row_group_rows", self.row_group_rows > 0, positive);
        check("max_file_rows", self.max_file_rows > 0, positive);
        check(
            "max_file_age_seconds",
            self.max_file_age_seconds > 0,
            positive,
        );
        check(
            "max_buffer_megabytes",
            self.max_buffer_megabytes > 0,
            positive,
        );
        check(
            "compression_level",
            (1..=22).contains(&self.compression_level),
            "must be a ZSTD level from 1 to 22",
        );
        if invalid.is_empty() {
            Ok(())
        } else {
            Err(invalid)
        }
    }
}

/// A table name becomes one directory under the lake root, beside the other tables.
fn table_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_string());
    }
    if name.starts_with('.') {
        // Hidden names are what readers skip, and `..` would leave the lake.
        return Err("must not start with `.`".to_string());
    }
    if name.contains(['/', '\\', '=']) {
        // `=` would make the directory look like a Hive partition to readers.
        return Err("must be a single directory name, without `/`, `\\` or `=`".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ParquetSinkConfig::new("lake").validate(), Ok(()));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let config = ParquetSinkConfig {
            path: PathBuf::new(),
            stream: "../x".into(),
            rejects_stream: "a=b".into(),
            quantities_stream: String::new(),
            regimes_stream: ".hidden".into(),
            forecasts_stream: "a/b".into(),
            row_group_rows: 0,
            max_file_rows: 0,
            max_file_age_seconds: 0,
            max_buffer_megabytes: 0,
            compression_level: 0,
        };
        let fields: Vec<&str> = config
            .validate()
            .unwrap_err()
            .iter()
            .map(|invalid| invalid.field)
            .collect();
        assert_eq!(
            fields,
            [
                "path",
                "stream",
                "rejects_stream",
                "quantities_stream",
                "regimes_stream",
                "forecasts_stream",
                "row_group_rows",
                "max_file_rows",
                "max_file_age_seconds",
                "max_buffer_megabytes",
                "compression_level"
            ]
        );
    }

    #[test]
    fn tables_must_differ() {
        let mut config = ParquetSinkConfig::new("lake");
        config.rejects_stream = "prices".into();
        let invalid = config.validate().unwrap_err();
        assert_eq!(invalid[0].field, "rejects_stream");

        let mut config = ParquetSinkConfig::new("lake");
        config.quantities_stream = "rejects".into();
        let invalid = config.validate().unwrap_err();
        assert_eq!(invalid[0].field, "quantities_stream");

        let mut config = ParquetSinkConfig::new("lake");
        config.regimes_stream = "fundamentals".into();
        let invalid = config.validate().unwrap_err();
        assert_eq!(invalid[0].field, "regimes_stream");
    }
}
