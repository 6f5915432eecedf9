//! Every complete pipeline in docs/pipelines.md validates and runs, so the reference
//! cannot drift.

use crate::common::{gridflow, parquet_files, read_prices};

#[test]
fn every_pipeline_example_in_the_reference_validates_and_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docs/pipelines.md")).unwrap();
    let registry = gridflow::registry();
    let mut examples = 0;
    let mut quantities = 0;
    let mut regimes = 0;
    let mut forecasts = 0;
    for block in text.split("```toml\n").skip(1) {
        let block = &block[..block.find("```").unwrap()];
        if !block.contains("[sinks.") || block.contains("NAME") {
            continue; // the layout sketch, not a pipeline
        }
        // Globs resolve against the working directory: cargo runs tests in the repository root.
        if let Err(errors) = gridflow_engine::pipeline::load("docs/pipelines.md", block, &registry)
        {
            panic!("example does not validate:\n{block}\n{errors}");
        }
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("example.toml");
        std::fs::write(&file, block).unwrap();
        let lake = temp.path().join("lake");
        let output = gridflow(
            &["run", file.to_str().unwrap(), "--no-progress"],
            &[("GRIDFLOW_LAKE", &lake)],
        );
        assert!(
            output.status.success(),
            "example failed:\n{block}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // A quantities-only example (`fundamentals`, no `normalize`) writes no prices: it
        // must write fundamentals rows instead.
        if block.contains("kind = \"fundamentals\"") {
            assert!(
                !parquet_files(&lake.join("fundamentals")).is_empty(),
                "example wrote no fundamentals:\n{block}"
            );
            quantities += 1;
        }
        // A `regime` example must write regimes rows, not just an empty table.
        if block.contains("kind = \"regime\"") {
            assert!(
                !parquet_files(&lake.join("regimes")).is_empty(),
                "example wrote no regimes:\n{block}"
            );
            regimes += 1;
        }
        // A `forecast` example must write forecast rows.
        if block.contains("kind = \"forecast\"") {
            assert!(
                !parquet_files(&lake.join("forecasts")).is_empty(),
                "example wrote no forecasts:\n{block}"
            );
            forecasts += 1;
        }
        if block.contains("kind = \"normalize\"") || !block.contains("kind = \"fundamentals\"") {
            assert!(
                !read_prices(&lake).is_empty(),
                "example wrote no prices:\n{block}"
            );
        }
        examples += 1;
    }
    assert!(examples >= 4, "found {examples} examples");
    assert!(quantities >= 1, "found no `fundamentals` example");
    assert!(regimes >= 1, "found no `regime` example");
    assert!(forecasts >= 1, "found no `forecast` example");
}
