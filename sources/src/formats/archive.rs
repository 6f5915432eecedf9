//! Zip-packaged publications: ERCOT MIS (and other operators) deliver each report as a zip
//! holding one CSV. [`single_member`] returns the bytes to parse, from either the zip or
//! the bare file, so a format reads both.

use std::borrow::Cow;
use std::io::{Cursor, Read};

use super::common::Context;
use super::{FileError, FileErrorKind};

/// The most bytes one member may unpack to. ERCOT's largest single-CSV reports (a day-ahead
/// file of every settlement point, one SCED run of every electrical bus) are a few MiB; the
/// limit stops a zip bomb from exhausting memory.
pub(crate) const MOST_UNPACKED_BYTES: u64 = 256 << 20;

/// Whether `bytes` start like a zip archive (a local file header, or the end record of an
/// empty archive).
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some(b"PK\x03\x04" | b"PK\x05\x06" | b"PK\x07\x08")
    )
}

/// The file's own bytes, or, for a zip, its one member (a single file, or the single `.csv`
/// among several). A zip that cannot be read, holds no such member, or unpacks past
/// [`MOST_UNPACKED_BYTES`] is a [`FileErrorKind::Structure`] error naming what was found.
pub(crate) fn single_member<'b>(
    context: &Context<'_>,
    bytes: &'b [u8],
) -> Result<Cow<'b, [u8]>, FileError> {
    if !is_zip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let structure = |message: String| context.error(FileErrorKind::Structure(message));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| structure(format!("not a readable zip archive: {error}")))?;
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|error| structure(format!("zip entry {index} is unreadable: {error}")))?;
        if !entry.is_dir() {
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            files.push((index, name));
        }
    }
    let csvs: Vec<_> = files
        .iter()
        .filter(|(_, name)| name.to_ascii_lowercase().ends_with(".csv"))
        .collect();
    let (index, name) = match (files.as_slice(), csvs.as_slice()) {
        ([only], _) => only.clone(),
        (_, [csv]) => (*csv).clone(),
        _ => {
            let names: Vec<&str> = files.iter().map(|(_, name)| name.as_str()).collect();
            return Err(structure(format!(
                "a zip must hold one CSV file; found {} files ({}): unpack it and read the \
                 members one by one",
                names.len(),
                names.join(", ")
            )));
        }
    };
    let mut member = archive
        .by_index(index)
        .map_err(|error| structure(format!("zip member `{name}` is unreadable: {error}")))?;
    // The declared size may lie: reserve at most 16 MiB up front.
    let mut unpacked =
        Vec::with_capacity(usize::try_from(member.size().min(16 << 20)).unwrap_or_default());
    (&mut member)
        .take(MOST_UNPACKED_BYTES + 1)
        .read_to_end(&mut unpacked)
        .map_err(|error| structure(format!("zip member `{name}` is corrupt: {error}")))?;
    if u64::try_from(unpacked.len()).unwrap_or(u64::MAX) > MOST_UNPACKED_BYTES {
        return Err(structure(format!(
            "zip member `{name}` unpacks to more than {MOST_UNPACKED_BYTES} bytes"
        )));
    }
    if is_zip(&unpacked) {
        return Err(structure(format!(
            "zip member `{name}` is itself a zip (an ERCOT monthly bundle?): unpack the \
             outer archive and read the inner ones"
        )));
    }
    Ok(Cow::Owned(unpacked))
}

/// Every file in a zip archive, in archive order, as (name, unpacked bytes), for publishers
/// that pack several CSVs into one download (CAISO OASIS: one CSV per `LMP_TYPE` for a
/// `grp_type=ALL` query). Folders are skipped. Together the members may unpack to at most
/// [`MOST_UNPACKED_BYTES`]. An archive or member that cannot be read, or a member that is
/// itself a zip, is a [`FileErrorKind::Structure`] error; the caller decides which members
/// it reads.
pub(crate) fn members(
    context: &Context<'_>,
    bytes: &[u8],
) -> Result<Vec<(String, Vec<u8>)>, FileError> {
    let structure = |message: String| context.error(FileErrorKind::Structure(message));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| structure(format!("not a readable zip archive: {error}")))?;
    let mut members = Vec::new();
    let mut left = MOST_UNPACKED_BYTES;
    for index in 0..archive.len() {
        let mut member = archive
            .by_index(index)
            .map_err(|error| structure(format!("zip entry {index} is unreadable: {error}")))?;
        if member.is_dir() {
            continue;
        }
        let name = String::from_utf8_lossy(member.name_raw()).into_owned();
        // The declared size may lie: reserve at most 16 MiB up front.
        let reserve = member.size().min(16 << 20).min(left);
        let mut unpacked = Vec::with_capacity(usize::try_from(reserve).unwrap_or_default());
        (&mut member)
            .take(left + 1)
            .read_to_end(&mut unpacked)
            .map_err(|error| structure(format!("zip member `{name}` is corrupt: {error}")))?;
        let size = u64::try_from(unpacked.len()).unwrap_or(u64::MAX);
        if size > left {
            return Err(structure(format!(
                "the zip's members unpack to more than {MOST_UNPACKED_BYTES} bytes (at `{name}`)"
            )));
        }
        left -= size;
        if is_zip(&unpacked) {
            return Err(structure(format!(
                "zip member `{name}` is itself a zip: unpack the outer archive and read the \
                 inner ones"
            )));
        }
        members.push((name, unpacked));
    }
    Ok(members)
}
