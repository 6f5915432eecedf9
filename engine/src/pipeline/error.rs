//! Pipeline-file errors with file:line:col, the component, and the fix.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// The text of a pipeline file, for turning byte spans into line and column.
#[derive(Clone, Debug)]
pub struct SourceText {
    /// The path as given by the user.
    pub path: Arc<str>,
    /// The file's contents.
    pub text: Arc<str>,
}

impl SourceText {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

/// One mistake in a pipeline file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The component, as `sources.NAME`, `operators.NAME` or `sinks.NAME`; `None` for
    /// file-level mistakes.
    pub component: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something specific to say.
    pub help: Option<String>,
}

impl ConfigError {
    /// An error at a byte span of `source`.
    pub fn at(
        source: &SourceText,
        span: Option<Range<usize>>,
        component: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = span.map_or((1, 1), |span| source.line_col(span.start));
        ConfigError {
            path: source.path.clone(),
            line,
            column,
            component,
            message: message.into(),
            help: None,
        }
    }

    /// Adds a suggested fix.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path, self.line, self.column)?;
        if let Some(component) = &self.component {
            write!(f, "{component}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Every mistake found in a pipeline file, in file order.
#[derive(Clone, Debug, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {error}")?;
        }
        write!(f, "\n{} error(s)", self.0.len())
    }
}

/// Closest known name to `unknown`, for "did you mean" hints.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|candidate| (edit_distance(unknown, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= (candidate.len().max(unknown.len()) / 3).max(2)
        })
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let source = SourceText {
            path: "p.toml".into(),
            text: "a = 1\nbé = 2\n".into(),
        };
        assert_eq!(source.line_col(0), (1, 1));
        assert_eq!(source.line_col(6), (2, 1));
        assert_eq!(source.line_col(10), (2, 4));
    }

    #[test]
    fn suggests_near_names() {
        assert_eq!(closest("spp_rt2", ["spp_rt", "spp_da"]), Some("spp_rt"));
        assert_eq!(closest("parquett", ["parquet", "files"]), Some("parquet"));
        assert_eq!(closest("zzz", ["parquet", "files"]), None);
    }
}
