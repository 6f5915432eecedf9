//! The zip OASIS serves (`resultformat=6`): one CSV, or one CSV per `LMP_TYPE` for a
//! `grp_type=ALL` query, or an XML error report instead of data.

use std::borrow::Cow;
use std::sync::Arc;

use super::super::archive::{is_zip, members};
use super::super::common::Context;
use super::super::{FileError, FileErrorKind};

/// One CSV to read: its name (for origins) and its bytes.
pub(super) type Document<'b> = (Arc<str>, Cow<'b, [u8]>);

/// The CSVs to read: the file itself, or the CSV members of a zip. One CSV keeps the
/// file's name; several are named `file!member`.
pub(super) fn documents<'b>(
    context: &Context<'_>,
    bytes: &'b [u8],
) -> Result<Vec<Document<'b>>, FileError> {
    if !is_zip(bytes) {
        return Ok(vec![(context.file.clone(), Cow::Borrowed(bytes))]);
    }
    let (mut csvs, others): (Vec<_>, Vec<_>) = members(context, bytes)?
        .into_iter()
        .partition(|(name, _)| name.to_ascii_lowercase().ends_with(".csv"));
    match csvs.len() {
        0 => {
            let names: Vec<&str> = others.iter().map(|(name, _)| name.as_str()).collect();
            let said = others
                .iter()
                .find_map(|(_, content)| oasis_error(content))
                .map(|said| format!("; OASIS says: {said}"))
                .unwrap_or_default();
            Err(context.error(FileErrorKind::Structure(format!(
                "the zip holds no CSV file (found {} files: {}){said}",
                names.len(),
                names.join(", ")
            ))))
        }
        1 => {
            let (_, content) = csvs.swap_remove(0);
            Ok(vec![(context.file.clone(), Cow::Owned(content))])
        }
        _ => Ok(csvs
            .into_iter()
            .map(|(name, content)| {
                let file: Arc<str> = Arc::from(format!("{}!{name}", context.file));
                (file, Cow::Owned(content))
            })
            .collect()),
    }
}

/// The description (and code) in an OASIS XML error report, such as
/// `<m:ERR_CODE>1000</m:ERR_CODE><m:ERR_DESC>No data returned for the specified
/// selection</m:ERR_DESC>`, at most 200 characters.
fn oasis_error(xml: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(xml);
    let element = |name: &str| {
        let open = format!("{name}>");
        let from = text.find(&open)? + open.len();
        let rest = text.get(from..)?;
        let value = rest.get(..rest.find('<')?)?.trim();
        Some(value.chars().take(200).collect::<String>())
    };
    let description = element("ERR_DESC")?;
    Some(match element("ERR_CODE") {
        Some(code) => format!("{description} (ERR_CODE {code})"),
        None => description,
    })
}
