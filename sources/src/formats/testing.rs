//! Fixtures and helpers shared by the parser tests.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{Observation, Price, PublishedPrice, PublishedQuantity, Reject};
use jiff::Timestamp;

use super::{FileError, Format};

/// Absolute path of a file under the workspace's `data/`.
pub(crate) fn data_path(relative: &str) -> String {
    format!("{}/../data/{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// The bytes of a file under `data/`.
pub(crate) fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(data_path(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// Parses `bytes` as if read from a file called `name`.
pub(crate) fn parse(
    format: &dyn Format,
    name: &str,
    bytes: &[u8],
) -> Result<SourceOutput, FileError> {
    let mut out = SourceOutput::default();
    format.parse(bytes, &Arc::from(name), &Arc::from("test"), &mut out)?;
    Ok(out)
}

/// Parses and expects success.
pub(crate) fn parse_ok(format: &dyn Format, name: &str, bytes: &[u8]) -> SourceOutput {
    parse(format, name, bytes).unwrap_or_else(|error| panic!("{error}"))
}

/// The prices among the observations.
pub(crate) fn prices(out: &SourceOutput) -> Vec<&PublishedPrice> {
    out.observations
        .iter()
        .filter_map(|observation| match observation {
            Observation::Price(price) => Some(price),
            Observation::Rate(_) | Observation::Quantity(_) => None,
        })
        .collect()
}

/// The quantities among the observations.
pub(crate) fn quantities(out: &SourceOutput) -> Vec<&PublishedQuantity> {
    out.observations
        .iter()
        .filter_map(|observation| match observation {
            Observation::Quantity(quantity) => Some(quantity),
            Observation::Price(_) | Observation::Rate(_) => None,
        })
        .collect()
}

/// A price from its decimal text.
pub(crate) fn p(text: &str) -> Price {
    text.parse().unwrap()
}

/// A UTC instant from RFC 3339 text.
pub(crate) fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The UTC start of a price's interval.
pub(crate) fn start_of(price: &PublishedPrice) -> Timestamp {
    price.interval.resolve().unwrap().start
}

/// Asserts a reject's line and that its reason mentions every fragment.
pub(crate) fn assert_reject(reject: &Reject, line: u64, fragments: &[&str]) {
    assert_eq!(reject.origin.line, line, "{reject:?}");
    assert_eq!(&*reject.stage, "parse");
    for fragment in fragments {
        assert!(
            reject.reason.contains(fragment),
            "reason `{}` lacks `{fragment}`",
            reject.reason
        );
    }
}

/// `text` with the first occurrence of `from` replaced.
pub(crate) fn replace_once(text: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains(from), "fixture lacks `{from}`");
    text.replacen(from, to, 1).into_bytes()
}
