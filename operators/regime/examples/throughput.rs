//! Prints the online update rates: `cargo run --release -p gridflow-regime --example throughput`.

fn main() {
    let hmm = gridflow_regime::throughput::hmm_filter(20_000_000);
    println!(
        "HMM forward filter, K = 3: {:>12.0} updates/s ({} updates in {:.3} s)",
        hmm.per_second(),
        hmm.updates,
        hmm.elapsed.as_secs_f64()
    );
    let bocpd = gridflow_regime::throughput::bocpd(200_000, 1_000);
    println!(
        "BOCPD, R = 1000:           {:>12.0} updates/s ({} updates in {:.3} s)",
        bocpd.per_second(),
        bocpd.updates,
        bocpd.elapsed.as_secs_f64()
    );
}
