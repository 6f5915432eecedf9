//! The zip archives AEMO publishes MMS files in: one CSV per archive on NEMWEB's current
//! reports, a zip of such zips in its daily archive. A corrupt archive refuses the file.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use super::super::common::Context;
use super::super::{FileError, FileErrorKind};

/// The most bytes one archive member may inflate to (a month of DISPATCHPRICE is about
/// 100 MB); beyond it the file is refused rather than exhausting memory.
const MOST_MEMBER_BYTES: u64 = 2 << 30;

/// Zips nested inside a zip are opened this deep (NEMWEB's archive is a zip of zips).
const MOST_DEPTH: usize = 1;

/// Whether `bytes` start like a zip archive (a local file header, or an empty archive).
pub(super) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// The archive's files, nested archives opened, each with its path in the archive.
pub(super) fn members(
    context: &Context<'_>,
    bytes: &[u8],
) -> Result<Vec<(String, Vec<u8>)>, FileError> {
    let mut members = Vec::new();
    unzip(context, bytes, "", 0, &mut members)?;
    if members.is_empty() {
        return Err(context.error(FileErrorKind::Structure(
            "the zip archive holds no files".into(),
        )));
    }
    Ok(members)
}

fn unzip(
    context: &Context<'_>,
    bytes: &[u8],
    prefix: &str,
    depth: usize,
    members: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), FileError> {
    let corrupt = |error: zip::result::ZipError| {
        context.error(FileErrorKind::Structure(format!(
            "corrupt zip archive{}: {error}",
            if prefix.is_empty() {
                String::new()
            } else {
                format!(" `{}`", prefix.trim_end_matches('!'))
            }
        )))
    };
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(corrupt)?;
        if entry.is_dir() {
            continue;
        }
        let name = format!("{prefix}{}", entry.name().map_err(corrupt)?);
        let mut content = Vec::new();
        (&mut entry)
            .take(MOST_MEMBER_BYTES + 1)
            .read_to_end(&mut content)
            .map_err(|error| corrupt(error.into()))?;
        if content.len() as u64 > MOST_MEMBER_BYTES {
            return Err(context.error(FileErrorKind::Structure(format!(
                "zip member `{name}` inflates to more than {MOST_MEMBER_BYTES} bytes"
            ))));
        }
        drop(entry);
        if is_zip(&content) && depth < MOST_DEPTH {
            unzip(context, &content, &format!("{name}!"), depth + 1, members)?;
        } else {
            members.push((name, content));
        }
    }
    Ok(())
}
