//! Native file formats, one module per market, behind the [`Format`] interface.
//!
//! A parser turns one file's bytes into [`Observation`](gridflow_engine::record::Observation)s.
//! A problem with one row becomes a [`Reject`](gridflow_engine::record::Reject) with the file,
//! the 1-based line and a reason, and the other rows still parse. A problem with the whole
//! file (empty, wrong header, invalid JSON or XML, not UTF-8) is a [`FileError`]; the
//! `files` source turns it into one reject at line 0 and goes on with the next file.
//!
//! Parsers never panic, whatever the input: every parser has a property test feeding it
//! random bytes and mutated fixtures.

mod archive;
mod common;

pub mod aeso;
pub mod caiso;
pub mod carbon;
pub mod ecb;
pub mod entsoe;
pub mod epf;
pub mod ercot;
pub mod gas;
pub mod ieso;
pub mod jepx;
pub mod miso;
pub mod nem;
pub mod nordpool;
pub mod nyiso;
pub mod pjm;
pub mod spp;

use std::fmt;
use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::Product;

/// A native file format.
pub trait Format: Send + Sync {
    /// The name used as `format = "..."` in pipeline files.
    fn name(&self) -> &'static str;

    /// Whether the format carries reference data other records depend on (FX rates).
    fn reference_data(&self) -> bool {
        false
    }

    /// Parses one whole file. `file` names it in every origin and `source` is the pipeline
    /// component reading it. Appends observations and per-row rejects to `out` (its `bytes`
    /// is left to the caller). On `Err`, `out` may hold part of the file's output; the
    /// `files` source discards it so that a refused file contributes exactly one reject.
    fn parse(
        &self,
        bytes: &[u8],
        file: &Arc<str>,
        source: &Arc<str>,
        out: &mut SourceOutput,
    ) -> Result<(), FileError>;
}

/// Names of every format, for `format = "..."`.
pub const FORMAT_NAMES: &[&str] = &[
    spp::NAME,
    nordpool::NAME,
    entsoe::NAME,
    nyiso::NAME,
    ecb::NAME,
    caiso::NAME,
    miso::NAME,
    pjm::NAME,
    ieso::zonal::NAME,
    ieso::lmp::NAME,
    ieso::da_lmp::NAME,
    aeso::NAME,
    ercot::dam::NAME,
    ercot::rt::NAME,
    ercot::sced::NAME,
    ercot::adders::NAME,
    jepx::NAME,
    nem::NAME,
    nem::json::NAME,
    gas::eia_csv::NAME,
    gas::eia_api::NAME,
    gas::basis::NAME,
    gas::storage::NAME,
    carbon::investing::NAME,
    carbon::eex::NAME,
    epf::NAME,
    epf::EXOGENOUS_NAME,
];

/// Per-pipeline choices a format may honour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FormatOptions {
    /// Overrides the product a format would infer from file names or interval lengths.
    /// Example: `Some(Product::RealTime5Min)`.
    pub product: Option<Product>,
}

/// Why a format cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatLookupError {
    /// No format has this name.
    #[error("unknown format `{name}`; known formats: {}", FORMAT_NAMES.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The format cannot publish the requested product.
    #[error("format `{format}` cannot read product `{product}`: {reason}")]
    Product {
        /// The format.
        format: &'static str,
        /// The requested product.
        product: Product,
        /// Why not.
        reason: String,
    },
}

/// The format called `name`, configured with `options`.
pub fn format_by_name(
    name: &str,
    options: FormatOptions,
) -> Result<Arc<dyn Format>, FormatLookupError> {
    Ok(match name {
        spp::NAME => Arc::new(spp::SppLmp::new(options.product)?),
        nordpool::NAME => Arc::new(nordpool::NordPoolV2::new(options.product)),
        entsoe::NAME => Arc::new(entsoe::EntsoeA44::new(options.product)?),
        nyiso::NAME => Arc::new(nyiso::NyisoLbmp::new(options.product)?),
        ecb::NAME => Arc::new(ecb::EcbFx::new(options.product)?),
        caiso::NAME => Arc::new(caiso::CaisoOasis::new(options.product)),
        miso::NAME => Arc::new(miso::MisoLmp::new(options.product)?),
        pjm::NAME => Arc::new(pjm::PjmDataMiner::new(options.product)?),
        ieso::zonal::NAME => Arc::new(ieso::zonal::IesoDaZonal::new(options.product)?),
        ieso::lmp::NAME => Arc::new(ieso::lmp::IesoRtLmp::new(options.product)?),
        ieso::da_lmp::NAME => Arc::new(ieso::da_lmp::IesoDaLmp::new(options.product)?),
        aeso::NAME => Arc::new(aeso::AesoPoolPrice::new(options.product)?),
        ercot::dam::NAME => Arc::new(ercot::ErcotDamSpp::new(options.product)?),
        ercot::rt::NAME => Arc::new(ercot::ErcotRtSpp::new(options.product)?),
        ercot::sced::NAME => Arc::new(ercot::ErcotScedLmp::new(options.product)?),
        ercot::adders::NAME => Arc::new(ercot::ErcotRtAdders::new(options.product)?),
        jepx::NAME => Arc::new(jepx::JepxSpot::new(options.product)?),
        nem::NAME => Arc::new(nem::NemMms::new(options.product)?),
        nem::json::NAME => Arc::new(nem::json::NemDispatchJson::new(options.product)?),
        gas::eia_csv::NAME => Arc::new(gas::eia_csv::EiaSpotCsv::new(options.product)?),
        gas::eia_api::NAME => Arc::new(gas::eia_api::EiaApiV2::new(options.product)?),
        gas::basis::NAME => Arc::new(gas::basis::GasBasisCsv::new(options.product)?),
        gas::storage::NAME => Arc::new(gas::storage::EiaStorage::new(options.product)?),
        carbon::investing::NAME => {
            Arc::new(carbon::investing::InvestingEuaCsv::new(options.product)?)
        }
        carbon::eex::NAME => Arc::new(carbon::eex::EexEuaAuction::new(options.product)?),
        epf::NAME => Arc::new(epf::EpfCsv::new(options.product)?),
        epf::EXOGENOUS_NAME => Arc::new(epf::EpfExogenousCsv::new(options.product)?),
        _ => {
            return Err(FormatLookupError::Unknown {
                name: name.to_string(),
            });
        }
    })
}

/// A problem with a whole file: the `files` source reports it as one reject at line 0.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{format}: {file}: {kind}")]
pub struct FileError {
    /// The format that refused the file.
    pub format: &'static str,
    /// The file.
    pub file: Arc<str>,
    /// What is wrong.
    pub kind: FileErrorKind,
}

impl FileError {
    /// The reject reason: the message without the file name, which the reject's origin
    /// already carries. An empty file is exactly `empty file`.
    pub fn reason(&self) -> String {
        match &self.kind {
            FileErrorKind::Empty => "empty file".to_string(),
            kind => format!("{}: {kind}", self.format),
        }
    }

    /// The offending text for the reject (the header found, when that is the problem).
    pub fn raw(&self) -> &str {
        match &self.kind {
            FileErrorKind::Header { found, .. } => found,
            _ => "",
        }
    }
}

/// What is wrong with a whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileErrorKind {
    /// The file has no content.
    Empty,
    /// The header lacks columns the format needs (renamed, missing or a different file).
    Header {
        /// The header the format expects.
        expected: String,
        /// The header the file has.
        found: String,
        /// Expected column names not found.
        missing: Vec<String>,
    },
    /// The bytes are not text in the encoding the format reads (UTF-8; Shift-JIS for JEPX).
    Encoding(String),
    /// The document is not well-formed JSON or XML.
    Syntax {
        /// 1-based line of the problem (0 when unknown).
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// Well-formed, but not the document the format reads.
    Structure(String),
}

impl fmt::Display for FileErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileErrorKind::Empty => f.write_str("empty file"),
            FileErrorKind::Header {
                expected,
                found,
                missing,
            } => write!(
                f,
                "unexpected header: expected `{expected}`, found `{found}` (missing: {}); \
                 was a column renamed, or is this file in another format?",
                missing.join(", ")
            ),
            FileErrorKind::Encoding(message) => write!(f, "undecodable text: {message}"),
            FileErrorKind::Syntax { line, message } => {
                write!(f, "malformed document at line {line}: {message}")
            }
            FileErrorKind::Structure(message) => f.write_str(message),
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
pub(crate) mod testing;
