//! One component's table from a pipeline file, ready for its kind to deserialize.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, SourceText};
use crate::Spanned;

/// The table of one component (`[sources.NAME]`, ...) with `kind` and `inputs` removed.
pub struct ComponentConfig<'text> {
    pub(crate) label: String,
    pub(crate) table: Spanned<DeTable<'text>>,
    pub(crate) source: &'text SourceText,
}

impl<'text> ComponentConfig<'text> {
    /// `sources.NAME`, `operators.NAME` or `sinks.NAME`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The component's `NAME`: its label without the section.
    pub fn name(&self) -> &str {
        self.label
            .split_once('.')
            .map_or(self.label.as_str(), |(_, name)| name)
    }

    /// The pipeline file (for resolving relative paths in messages).
    pub fn source(&self) -> &SourceText {
        self.source
    }

    /// Deserializes the table into a kind's config struct. Unknown fields, missing fields
    /// and wrong types come back as errors pointing into the file; use `deny_unknown_fields`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Vec<ConfigError>> {
        T::deserialize(toml::de::Deserializer::from(self.table.clone())).map_err(|error| {
            let message = error.message().trim().to_string();
            vec![self.error(error.span().or_else(|| Some(self.table.span())), message)]
        })
    }

    /// An error at `span` (e.g. from a [`Spanned`] field) in this component.
    pub fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.source, span, Some(self.label.clone()), message)
    }

    /// The span of a field's value, or of the whole table when the field is absent.
    pub fn span_of(&self, field: &str) -> Range<usize> {
        self.table
            .get_ref()
            .get(field)
            .map_or_else(|| self.table.span(), |value| value.span())
    }
}

/// Replaces `${NAME}` and `${NAME:-default}` in every string of a value with environment
/// variables; returns the names that are unset and have no default, with their spans.
pub(crate) fn interpolate_environment(
    value: &mut Spanned<DeValue<'_>>,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<(String, Range<usize>)>,
) {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(text) if text.contains("${") => {
            let mut out = String::with_capacity(text.len());
            let mut rest: &str = text;
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else {
                    out.push_str(&rest[start..]);
                    rest = "";
                    break;
                };
                let expression = &after[..end];
                let (name, default) = match expression.split_once(":-") {
                    Some((name, default)) => (name, Some(default)),
                    None => (expression, None),
                };
                match lookup(name)
                    .filter(|v| !v.is_empty())
                    .or(default.map(str::to_string))
                {
                    Some(value) => out.push_str(&value),
                    None => {
                        // Keep the reference so later checks of this value do not pile
                        // a second, derived error on top of the missing variable.
                        out.push_str(&rest[start..start + 2 + end + 1]);
                        missing.push((name.to_string(), span.clone()));
                    }
                }
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            *text = out.into();
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                interpolate_environment(item, lookup, missing);
            }
        }
        DeValue::Table(table) => {
            for (_, item) in table.iter_mut() {
                interpolate_environment(item, lookup, missing);
            }
        }
        _ => {}
    }
}
