//! Runs a pipeline from inside a Rust program instead of the `gridflow` command:
//! Nord Pool's bundled day-ahead prices, normalized, written to a lake in a temporary
//! directory, then counted.
//!
//! ```sh
//! cargo run --example embedded
//! ```

use std::sync::Arc;

use gridflow_engine::metrics::{ComponentCounters, Metrics, Role};
use gridflow_engine::pipeline;
use gridflow_engine::runtime::{self, RunOptions};

const PIPELINE: &str = r#"
[pipeline]
name = "embedded"
base_currency = "EUR"

[sources.nordpool]
kind = "files"
format = "nordpool_v2"
path = "data/nordpool/*.json"

[operators.normalize]
kind = "normalize"
inputs = ["nordpool"]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "${LAKE}"
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The bundled data is addressed from the repository root, wherever this runs from.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    let lake = std::env::temp_dir().join(format!("gridflow-embedded-{}", std::process::id()));
    let lake_path = lake.display().to_string();
    let plan = pipeline::load_with_environment(
        "embedded.toml",
        PIPELINE,
        &gridflow::registry(),
        &|name| (name == "LAKE").then(|| lake_path.clone()),
    )?;
    print!("{}", plan.to_text());

    let metrics = Arc::new(Metrics::new(
        plan.nodes.iter().map(|node| (node.role, node.name.clone())),
    ));
    runtime::run(Arc::new(plan), metrics.clone(), RunOptions::default())?;

    let written = metrics.total(Role::Sink, |counters| &counters.records_out);
    let read = ComponentCounters::get(&metrics.component(Role::Source, "nordpool").records_out);
    println!(
        "read {read} Nord Pool prices, wrote {written} rows under {}",
        lake.display()
    );
    std::fs::remove_dir_all(&lake)?;
    Ok(())
}
