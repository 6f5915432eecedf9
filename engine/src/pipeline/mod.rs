//! Pipeline definition files: TOML in, a validated [`Plan`] out.
//!
//! Loading has two stages. The *raw* stage parses TOML, checks the top-level layout and
//! interpolates `${ENV}` references. The *validated* stage asks each registered kind to
//! deserialize its table, resolves `inputs`, rejects cycles and type mismatches, and orders
//! the graph. Every stage collects all errors before failing, so one `gridflow validate`
//! shows every mistake with file:line:col.
//!
//! ```toml
//! [pipeline]
//! name = "demo"
//! base_currency = "EUR"
//!
//! [sources.spp_da]
//! kind = "files"
//! format = "spp_lmp"
//! path = "data/spp/DA-LMP-SL-*.csv"
//!
//! [operators.normalize]
//! kind = "normalize"
//! inputs = ["spp_da"]
//!
//! [sinks.lake]
//! kind = "parquet"
//! inputs = ["normalize"]
//! path = "lake"
//! ```

mod config;
mod error;
mod plan;

use std::sync::Arc;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

pub use config::ComponentConfig;
pub use error::{ConfigError, ConfigErrors, SourceText, closest};
pub use plan::{Node, NodeImplementation, Plan};

use crate::Spanned;
use crate::metrics::Role;
use crate::record::Currency;
use crate::registry::Registry;

/// Pipeline-wide settings: the `[pipeline]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// A name for logs and the run summary.
    #[serde(default = "default_name")]
    pub name: String,
    /// What the pipeline is for.
    #[serde(default)]
    pub description: String,
    /// The currency every normalized price is converted to (ISO 4217, default `EUR`, the
    /// ECB's reference currency). Example: `base_currency = "USD"`.
    #[serde(
        default = "default_currency",
        deserialize_with = "deserialize_currency"
    )]
    pub base_currency: Currency,
}

fn default_name() -> String {
    "pipeline".to_string()
}

fn default_currency() -> Currency {
    Currency::EUR
}

fn deserialize_currency<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Currency, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            name: default_name(),
            description: String::new(),
            base_currency: Currency::EUR,
        }
    }
}

const SECTIONS: [(&str, Role); 3] = [
    ("sources", Role::Source),
    ("operators", Role::Operator),
    ("sinks", Role::Sink),
];

/// A component as written, before its kind validates it.
struct RawComponent<'text> {
    role: Role,
    name: String,
    label: String,
    kind: Spanned<String>,
    inputs: Vec<Spanned<String>>,
    table: Spanned<DeTable<'text>>,
}

/// Loads and validates a pipeline file's text. `path` is only used in messages.
pub fn load(path: &str, text: &str, registry: &Registry) -> Result<Plan, ConfigErrors> {
    load_with_environment(path, text, registry, &|name| std::env::var(name).ok())
}

/// As [`load`], with an explicit environment lookup (for tests).
pub fn load_with_environment(
    path: &str,
    text: &str,
    registry: &Registry,
    environment: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, ConfigErrors> {
    let source = SourceText {
        path: Arc::from(path),
        text: Arc::from(text),
    };
    let mut errors = Vec::new();
    let (settings, raw) = read_raw(&source, environment, &mut errors);
    let plan = plan::validate(&source, settings, raw, registry, &mut errors);
    errors.sort_by_key(|error| (error.line, error.column));
    errors.dedup();
    match plan {
        Some(plan) if errors.is_empty() => Ok(plan),
        _ => Err(ConfigErrors(errors)),
    }
}

fn read_raw<'text>(
    source: &'text SourceText,
    environment: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> (PipelineSettings, Vec<RawComponent<'text>>) {
    let (root, syntax_errors) = DeTable::parse_recoverable(&source.text);
    for error in syntax_errors {
        errors.push(ConfigError::at(
            source,
            error.span(),
            None,
            error.message().trim().to_string(),
        ));
    }
    let mut settings = PipelineSettings::default();
    let mut components = Vec::new();
    let root_span = root.span();
    for (key, value) in root.into_inner() {
        let key_name: &str = key.get_ref();
        if key_name == "pipeline" {
            let span = value.span();
            match value.into_inner() {
                DeValue::Table(table) => {
                    match PipelineSettings::deserialize(toml::de::Deserializer::from(Spanned::new(
                        span, table,
                    ))) {
                        Ok(parsed) => settings = parsed,
                        Err(error) => errors.push(ConfigError::at(
                            source,
                            error.span(),
                            Some("pipeline".into()),
                            error.message().trim().to_string(),
                        )),
                    }
                }
                _ => errors.push(ConfigError::at(
                    source,
                    Some(span),
                    None,
                    "`pipeline` must be a table",
                )),
            }
            continue;
        }
        let Some((section, role)) = SECTIONS.iter().find(|(name, _)| *name == key_name) else {
            let known = "pipeline, sources, operators, sinks";
            let mut error = ConfigError::at(
                source,
                Some(key.span()),
                None,
                format!("unknown top-level table `{key_name}`; expected one of: {known}"),
            );
            if let Some(near) = closest(key_name, ["pipeline", "sources", "operators", "sinks"]) {
                error = error.with_help(format!("did you mean `{near}`?"));
            }
            errors.push(error);
            continue;
        };
        let span = value.span();
        let DeValue::Table(section_table) = value.into_inner() else {
            errors.push(ConfigError::at(
                source,
                Some(span),
                None,
                format!("`{section}` must be a table of components"),
            ));
            continue;
        };
        for (name, component) in section_table {
            let name: String = name.into_inner().into_owned();
            let label = format!("{section}.{name}");
            let span = component.span();
            let DeValue::Table(table) = component.into_inner() else {
                errors.push(
                    ConfigError::at(
                        source,
                        Some(span),
                        Some(label.clone()),
                        "a component must be a table",
                    )
                    .with_help(format!(
                        "write it as [{label}] with a `kind = \"...\"` line"
                    )),
                );
                continue;
            };
            let mut table = Spanned::new(span.clone(), table);
            let mut missing = Vec::new();
            for (_, value) in table.get_mut().iter_mut() {
                config::interpolate_environment(value, environment, &mut missing);
            }
            for (variable, span) in missing {
                errors.push(
                    ConfigError::at(
                        source,
                        Some(span),
                        Some(label.clone()),
                        format!("environment variable `{variable}` is not set"),
                    )
                    .with_help(format!(
                        "export {variable}=..., or write ${{{variable}:-default}}"
                    )),
                );
            }
            let kind = take_string(source, &label, &mut table, "kind", errors);
            let inputs = take_inputs(source, &label, *role, &mut table, errors);
            if let Some(kind) = kind {
                components.push(RawComponent {
                    role: *role,
                    name,
                    label,
                    kind,
                    inputs,
                    table,
                });
            }
        }
    }
    if !components.iter().any(|c| c.role == Role::Sink) && errors.is_empty() {
        errors.push(
            ConfigError::at(
                source,
                Some(root_span.start..root_span.start),
                None,
                "the pipeline has no sinks",
            )
            .with_help("add a [sinks.NAME] table, e.g. kind = \"parquet\""),
        );
    }
    (settings, components)
}

fn take_string(
    source: &SourceText,
    label: &str,
    table: &mut Spanned<DeTable<'_>>,
    field: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Spanned<String>> {
    let span = table.span();
    match table.get_mut().remove(field) {
        Some(value) => {
            let value_span = value.span();
            match value.into_inner() {
                DeValue::String(text) => Some(Spanned::new(value_span, text.into_owned())),
                other => {
                    errors.push(ConfigError::at(
                        source,
                        Some(value_span),
                        Some(label.to_string()),
                        format!(
                            "invalid type: {}, expected a string for `{field}`",
                            other.type_str()
                        ),
                    ));
                    None
                }
            }
        }
        None => {
            errors.push(
                ConfigError::at(
                    source,
                    Some(span),
                    Some(label.to_string()),
                    format!("missing field `{field}`"),
                )
                .with_help(format!("add `{field} = \"...\"` to [{label}]")),
            );
            None
        }
    }
}

fn take_inputs(
    source: &SourceText,
    label: &str,
    role: Role,
    table: &mut Spanned<DeTable<'_>>,
    errors: &mut Vec<ConfigError>,
) -> Vec<Spanned<String>> {
    let span = table.span();
    let Some(value) = table.get_mut().remove("inputs") else {
        if role != Role::Source {
            errors.push(
                ConfigError::at(
                    source,
                    Some(span),
                    Some(label.to_string()),
                    "missing field `inputs`",
                )
                .with_help(format!(
                    "add `inputs = [\"...\"]` to [{label}] naming its upstream components"
                )),
            );
        }
        return Vec::new();
    };
    let value_span = value.span();
    if role == Role::Source {
        errors.push(ConfigError::at(
            source,
            Some(value_span),
            Some(label.to_string()),
            "sources take no `inputs`",
        ));
        return Vec::new();
    }
    match value.into_inner() {
        DeValue::Array(items) if items.is_empty() => {
            errors.push(
                ConfigError::at(
                    source,
                    Some(value_span),
                    Some(label.to_string()),
                    "`inputs` is empty",
                )
                .with_help("name at least one upstream source or operator"),
            );
            Vec::new()
        }
        DeValue::Array(items) => items
            .into_iter()
            .filter_map(|item| {
                let item_span = item.span();
                match item.into_inner() {
                    DeValue::String(text) => Some(Spanned::new(item_span, text.into_owned())),
                    other => {
                        errors.push(ConfigError::at(
                            source,
                            Some(item_span),
                            Some(label.to_string()),
                            format!(
                                "invalid type: {}, expected a component name in `inputs`",
                                other.type_str()
                            ),
                        ));
                        None
                    }
                }
            })
            .collect(),
        DeValue::String(text) => vec![Spanned::new(value_span, text.into_owned())],
        other => {
            errors.push(ConfigError::at(
                source,
                Some(value_span),
                Some(label.to_string()),
                format!(
                    "invalid type: {}, expected an array of component names for `inputs`",
                    other.type_str()
                ),
            ));
            Vec::new()
        }
    }
}
