//! Prints the online update rates:
//! `cargo run --release -p gridflow-regime --example throughput [hmm|bocpd]` (both when no
//! argument is given).

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if which.is_empty() || which == "hmm" {
        let hmm = gridflow_regime::throughput::hmm_filter(20_000_000);
        println!(
            "HMM forward filter, K = 3: {:>12.0} updates/s ({} updates in {:.3} s)",
            hmm.per_second(),
            hmm.updates,
            hmm.elapsed.as_secs_f64()
        );
    }
    if which.is_empty() || which == "bocpd" {
        let bocpd = gridflow_regime::throughput::bocpd(200_000, 1_000);
        println!(
            "BOCPD, R = 1000:           {:>12.0} updates/s ({} updates in {:.3} s)",
            bocpd.per_second(),
            bocpd.updates,
            bocpd.elapsed.as_secs_f64()
        );
    }
}
