//! The `parquet` sink's table in a pipeline file: defaults, and errors pointing at fields.

use std::sync::Arc;

use gridflow_engine::component::{
    BuildContext, Built, OperatorKind, OperatorPlan, SourceError, SourceKind, SourcePlan,
    SourceReader, Stream, StreamKind,
};
use gridflow_engine::pipeline::{self, ComponentConfig, ConfigError, ConfigErrors};
use gridflow_engine::{Plan, Registry};

/// Stand-ins for the real source and `normalize`: only their stream kinds matter here.
struct FakeSource;
struct FakeSourcePlan;
struct FakeNormalize;
struct FakeNormalizePlan;

impl SourceKind for FakeSource {
    fn kind(&self) -> &'static str {
        "files"
    }
    fn summary(&self) -> &'static str {
        "test source"
    }
    fn configure(&self, _: &ComponentConfig<'_>) -> Result<Arc<dyn SourcePlan>, Vec<ConfigError>> {
        Ok(Arc::new(FakeSourcePlan))
    }
}

impl SourcePlan for FakeSourcePlan {
    fn describe(&self) -> String {
        String::new()
    }
    fn bounded(&self) -> bool {
        true
    }
    fn open(&self, _: &BuildContext) -> Result<Box<dyn SourceReader>, SourceError> {
        unimplemented!("configuration tests never run")
    }
}

impl OperatorKind for FakeNormalize {
    fn kind(&self) -> &'static str {
        "normalize"
    }
    fn summary(&self) -> &'static str {
        "test operator"
    }
    fn configure(
        &self,
        _: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn OperatorPlan>, Vec<ConfigError>> {
        Ok(Arc::new(FakeNormalizePlan))
    }
}

impl OperatorPlan for FakeNormalizePlan {
    fn describe(&self) -> String {
        String::new()
    }
    fn accepts(&self) -> &'static [StreamKind] {
        &[StreamKind::Observations]
    }
    fn output(&self) -> StreamKind {
        StreamKind::Prices
    }
    fn build<'scope>(&self, _: Vec<Stream<'scope>>, _: &BuildContext) -> Built<'scope> {
        unimplemented!("configuration tests never run")
    }
}

fn load_errors(sink: &str) -> Vec<ConfigError> {
    match load(sink) {
        Ok(_) => panic!("the pipeline loaded"),
        Err(ConfigErrors(errors)) => errors,
    }
}

fn load(sink: &str) -> Result<Plan, ConfigErrors> {
    let mut registry = Registry::new();
    registry.add_source(FakeSource).add_operator(FakeNormalize);
    gridflow_sinks::register(&mut registry);
    let text = format!(
        "[sources.spp]\nkind = \"files\"\n\n\
         [operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp\"]\n\n\
         [sinks.lake]\nkind = \"parquet\"\n{sink}"
    );
    pipeline::load_with_environment("p.toml", &text, &registry, &|_| None)
}

#[test]
fn defaults_fill_everything_but_the_path() {
    let plan = load("inputs = [\"normalize\"]\npath = \"lake\"\n").unwrap();
    let text = plan.to_text();
    assert!(text.contains("kind=parquet"), "{text}");
    assert!(
        text.contains("lake/prices (market/date), rejects to lake/rejects"),
        "{text}"
    );
}

#[test]
fn invalid_values_point_at_their_field() {
    let errors = load_errors(
        "inputs = [\"normalize\"]\npath = \"lake\"\nrow_group_rows = 0\n\
         compression_level = 23\nrejects_stream = \"prices\"\n",
    );
    let found: Vec<(usize, &str)> = errors
        .iter()
        .map(|error| (error.line, error.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (12, "`row_group_rows` must be greater than 0"),
            (13, "`compression_level` must be a ZSTD level from 1 to 22"),
            (
                14,
                "`rejects_stream` must differ from `stream`: prices and rejects have different columns"
            ),
        ]
    );
    assert!(
        errors
            .iter()
            .all(|e| e.component.as_deref() == Some("sinks.lake"))
    );
}

#[test]
fn unknown_fields_and_missing_path_are_refused() {
    let errors = load_errors("inputs = [\"normalize\"]\npath = \"lake\"\ncompresion = 3\n");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 12);
    assert!(
        errors[0].message.contains("unknown field `compresion`"),
        "{}",
        errors[0].message
    );

    let errors = load_errors("inputs = [\"normalize\"]\n");
    assert!(
        errors[0].message.contains("missing field `path`"),
        "{}",
        errors[0].message
    );
}

#[test]
fn observations_must_be_normalized_first() {
    let errors = load_errors("inputs = [\"spp\"]\npath = \"lake\"\n");
    assert!(
        errors[0].message.contains("produces observations"),
        "{}",
        errors[0].message
    );
}
