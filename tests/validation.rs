//! Pipeline-file validation: one test per error class, asserting the message a user sees.

use gridflow_engine::pipeline::{self, ConfigError};

fn errors(text: &str) -> Vec<ConfigError> {
    match pipeline::load_with_environment("test.toml", text, &gridflow::registry(), &|name| {
        (name == "SET_VARIABLE").then(|| "lake-from-env".to_string())
    }) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.0,
    }
}

fn only(text: &str) -> ConfigError {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "expected one error, got: {all:#?}");
    all.remove(0)
}

const SOURCE: &str = r#"
[sources.spp_rt]
kind = "files"
format = "spp_lmp"
path = "data/spp/RTBM-LMP-SL-*.csv"
"#;

const SINK: &str = r#"
[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "target/unused-lake"
"#;

#[test]
fn valid_pipeline_loads_and_orders_the_graph() {
    let text = format!(
        "{SOURCE}\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt\"]\n{SINK}"
    );
    let plan = pipeline::load("test.toml", &text, &gridflow::registry()).unwrap();
    let names: Vec<&str> = plan.nodes.iter().map(|node| &*node.name).collect();
    assert_eq!(names, ["spp_rt", "normalize", "lake"]);
    assert!(
        plan.to_dot()
            .contains("\"spp_rt\" -> \"normalize\" [label=\"observations\"]")
    );
    assert!(plan.to_text().contains("normalize"));
}

#[test]
fn unknown_kind() {
    let text = format!(
        "[sources.spp_rt]\nkind = \"file\"\nformat = \"spp_lmp\"\npath = \"x\"\n\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt\"]\n{SINK}"
    );
    let error = only(&text);
    assert_eq!((error.line, error.column), (2, 8));
    assert_eq!(error.component.as_deref(), Some("sources.spp_rt"));
    assert!(
        error
            .message
            .starts_with("unknown source kind `file`; known: files"),
        "{}",
        error.message
    );
    assert_eq!(error.help.as_deref(), Some("did you mean `files`?"));
}

#[test]
fn unknown_input() {
    let text = format!(
        "{SOURCE}\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt2\"]\n{SINK}"
    );
    let error = only(&text);
    assert_eq!(
        error.to_string().lines().next().unwrap(),
        "test.toml:9:11: operators.normalize: unknown input `spp_rt2`; known: spp_rt"
    );
    assert_eq!(error.help.as_deref(), Some("did you mean `spp_rt`?"));
}

#[test]
fn cycle() {
    let text = format!(
        "{SOURCE}\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt\", \"other\"]\n\n[operators.other]\nkind = \"normalize\"\ninputs = [\"normalize\"]\n{SINK}"
    );
    let all = errors(&text);
    let cycle = all
        .iter()
        .find(|e| e.message.starts_with("cycle"))
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert!(
        cycle.message == "cycle in the pipeline graph: normalize -> other -> normalize"
            || cycle.message == "cycle in the pipeline graph: other -> normalize -> other",
        "{}",
        cycle.message
    );
}

#[test]
fn missing_field() {
    let text = format!(
        "{SOURCE}\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt\"]\n\n[sinks.lake]\nkind = \"parquet\"\ninputs = [\"normalize\"]\n"
    );
    let error = only(&text);
    assert_eq!(error.component.as_deref(), Some("sinks.lake"));
    assert!(
        error.message.contains("missing field `path`"),
        "{}",
        error.message
    );
    assert_eq!(error.line, 11);
}

#[test]
fn wrong_type() {
    let text = format!(
        "{SOURCE}batch_size = \"large\"\n\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt\"]\n{SINK}"
    );
    let error = only(&text);
    assert_eq!((error.line, error.column), (6, 14));
    assert!(
        error.message.contains("invalid type: string \"large\""),
        "{}",
        error.message
    );
}

#[test]
fn unknown_field() {
    let text = format!(
        "{SOURCE}\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt\"]\nmax_rate_age = 3\n{SINK}"
    );
    let error = only(&text);
    assert_eq!((error.line, error.column), (10, 1));
    assert!(
        error
            .message
            .contains("unknown field `max_rate_age`, expected `max_rate_age_days`"),
        "{}",
        error.message
    );
}

#[test]
fn empty_inputs() {
    let text =
        format!("{SOURCE}\n[operators.normalize]\nkind = \"normalize\"\ninputs = []\n{SINK}");
    let error = only(&text);
    assert_eq!(error.message, "`inputs` is empty");
    assert_eq!((error.line, error.column), (9, 10));
}

#[test]
fn wrong_stream_kind() {
    let text = format!(
        "{SOURCE}\n[sinks.lake]\nkind = \"parquet\"\ninputs = [\"spp_rt\"]\npath = \"target/unused\"\n"
    );
    let error = only(&text);
    assert!(
        error
            .message
            .contains("produces observations but `parquet` accepts prices"),
        "{}",
        error.message
    );
    assert_eq!(
        error.help.as_deref(),
        Some(
            "route the source through a `normalize` operator first (`fundamentals` for \
             quantities such as gas storage)"
        )
    );
}

#[test]
fn environment_interpolation() {
    let text = format!(
        "{SOURCE}\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt\"]\n\n[sinks.lake]\nkind = \"parquet\"\ninputs = [\"normalize\"]\npath = \"${{UNSET_VARIABLE}}\"\n"
    );
    let error = only(&text);
    assert_eq!(
        error.message,
        "environment variable `UNSET_VARIABLE` is not set"
    );
    let with_default = text.replace("${UNSET_VARIABLE}", "${UNSET_VARIABLE:-lake}");
    assert!(
        pipeline::load_with_environment("t.toml", &with_default, &gridflow::registry(), &|_| None)
            .is_ok()
    );
    let set = text.replace("UNSET_VARIABLE", "SET_VARIABLE");
    let plan = pipeline::load_with_environment("t.toml", &set, &gridflow::registry(), &|name| {
        (name == "SET_VARIABLE").then(|| "lake-from-env".to_string())
    })
    .unwrap();
    assert!(
        plan.to_text().contains("lake-from-env"),
        "{}",
        plan.to_text()
    );
}

#[test]
fn syntax_error_has_a_position() {
    let error = errors("[sources.a\nkind = 1\n").remove(0);
    assert_eq!(error.line, 1);
    assert!(error.component.is_none());
}

#[test]
fn broken_pipeline_reports_every_error_at_once() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/broken.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let all = match pipeline::load("pipelines/broken.toml", &text, &gridflow::registry()) {
        Ok(_) => panic!("broken.toml validated"),
        Err(errors) => errors.0,
    };
    let rendered: Vec<String> = all.iter().map(ToString::to_string).collect();
    let expect = [
        "invalid type: string \"large\"",
        "unknown source kind `file`",
        "operators.normalize: unknown input `spp_rt2`; known: loop_a, loop_b, nordpool, spp_da, spp_rt",
        "unknown field `max_rate_age`",
        "missing field `path`",
        "cycle in the pipeline graph: loop_a -> loop_b -> loop_a",
    ];
    for needle in expect {
        assert!(
            rendered.iter().any(|r| r.contains(needle)),
            "no error contains {needle:?}: {rendered:#?}"
        );
    }
    assert!(
        rendered
            .iter()
            .all(|r| r.starts_with("pipelines/broken.toml:")),
        "{rendered:#?}"
    );

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gridflow"))
        .args(["validate", "pipelines/broken.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("operators.normalize: unknown input `spp_rt2`; known: "),
        "{stderr}"
    );
    assert!(stderr.contains("help: did you mean `spp_rt`?"), "{stderr}");
}

/// `SOURCE`, `normalize` and a `regime` operator with `fields` (from line 14 on).
fn with_regime(fields: &str) -> String {
    format!(
        "{SOURCE}\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"spp_rt\"]\n\n[operators.regimes]\nkind = \"regime\"\ninputs = [\"normalize\"]\n{fields}\n{SINK}"
    )
}

#[test]
fn regime_settings_for_the_other_method_and_out_of_range_are_each_reported() {
    let all = errors(&with_regime("method = \"bocpd\"\nstates = 3\nhazard = 2.0"));
    let found: Vec<(usize, usize, &str)> = all
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                15,
                10,
                "`states` applies to method = \"hmm\"; this operator's method is \"bocpd\""
            ),
            (16, 10, "`hazard` = 2 must be strictly between 0 and 1"),
        ]
    );
    assert!(
        all.iter()
            .all(|e| e.component.as_deref() == Some("operators.regimes"))
    );
    assert!(
        all[0]
            .to_string()
            .starts_with("test.toml:15:10: operators.regimes: `states` applies"),
        "{}",
        all[0]
    );

    let all = errors(&with_regime("states = 40\nwarm_up = 0"));
    let found: Vec<(usize, usize, &str)> = all
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (14, 10, "`states` = 40 is out of range: 1 to 32 regimes"),
            (15, 11, "`warm_up` must be at least 1"),
        ]
    );

    let error = only(&with_regime(
        "method = \"bocpd\"\nprior = { mean = 40.0, rate = -1.0 }",
    ));
    assert_eq!((error.line, error.column), (15, 9));
    assert_eq!(
        error.message,
        "`prior.rate` = -1 must be positive and finite"
    );
}

#[test]
fn regime_refuses_unknown_fields_and_unnormalized_input() {
    let error = only(&with_regime("refit = 48"));
    assert_eq!((error.line, error.column), (14, 1));
    assert!(
        error
            .message
            .contains("unknown field `refit`, expected one of"),
        "{}",
        error.message
    );

    let text = format!(
        "{SOURCE}\n[operators.regimes]\nkind = \"regime\"\ninputs = [\"spp_rt\"]\n\n[sinks.lake]\nkind = \"parquet\"\ninputs = [\"regimes\"]\npath = \"target/unused\"\n"
    );
    let error = only(&text);
    assert_eq!((error.line, error.column), (9, 11));
    assert!(
        error
            .message
            .contains("input `spp_rt` produces observations but `regime` accepts prices"),
        "{}",
        error.message
    );
}
