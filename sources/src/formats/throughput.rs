//! Parser throughput, in release mode only:
//! `cargo test --release -p gridflow-sources throughput -- --ignored --nocapture`.

use std::time::Instant;

use super::testing::{fixture, parse_ok};
use super::{FormatOptions, format_by_name};

/// The header line of a fixture, then its body repeated until the input passes `size`; each
/// copy renames `token` so that keyed formats see new keys.
fn grown(path: &str, size: usize, token: Option<&str>) -> Vec<u8> {
    let mut bytes = fixture(path).trim_ascii().to_vec();
    bytes.push(b'\n');
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut out = bytes[..header_end].to_vec();
    let body = String::from_utf8(bytes[header_end..].to_vec()).unwrap();
    let mut copy = 0;
    while out.len() < size {
        match token {
            Some(token) => {
                out.extend_from_slice(body.replace(token, &format!("{token}_{copy}")).as_bytes())
            }
            None => out.extend_from_slice(body.as_bytes()),
        }
        copy += 1;
    }
    out
}

/// An XML or JSON document with its repeated middle part copied until it passes `size`.
fn grown_document(path: &str, open: &str, close: &str, size: usize) -> Vec<u8> {
    let text = String::from_utf8(fixture(path)).unwrap();
    let start = text.find(open).unwrap();
    let end = text.rfind(close).unwrap() + close.len();
    let (head, middle, tail) = (&text[..start], &text[start..end], &text[end..]);
    let mut out = head.to_string();
    while out.len() < size {
        out.push_str(middle);
        if close == "}" {
            out.push(',');
        }
    }
    if close == "}" {
        out.pop();
    }
    out.push_str(tail);
    out.into_bytes()
}

fn measure(format: &str, name: &str, bytes: &[u8]) -> f64 {
    let parser = format_by_name(format, FormatOptions::default()).unwrap();
    let mut best = f64::MAX;
    let mut count = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let out = parse_ok(parser.as_ref(), name, bytes);
        best = best.min(started.elapsed().as_secs_f64());
        count = out.observations.len();
        assert!(out.rejects.is_empty(), "{:?}", out.rejects.first());
    }
    let rate = bytes.len() as f64 / best / 1e6;
    println!(
        "{format:<12} {:>6.1} MB in {:>7.1} ms: {rate:>6.0} MB/s, {:>8.0} records/s",
        bytes.len() as f64 / 1e6,
        best * 1e3,
        count as f64 / best
    );
    rate
}

#[test]
#[ignore = "a benchmark: run in release mode"]
fn throughput() {
    let size = 50_000_000;
    measure(
        "spp_lmp",
        "DA-LMP-SL-x.csv",
        &grown("spp/DA-LMP-SL-202503190100.csv", size, None),
    );
    measure(
        "nyiso_lbmp",
        "lmp.csv",
        &grown("nyiso/lmp.csv", size / 5, None),
    );
    measure(
        "ecb_fx",
        "hist.csv",
        &grown("fx/eurofxref-hist_excerpt.csv", size / 5, None),
    );
    measure(
        "caiso_oasis",
        "c.csv",
        &grown(
            "caiso/20230917_20230919_PRC_RTPD_LMP_RTPD_20230921_11_49_39_v2.csv",
            size / 5,
            Some("CAS_PP_GNODE7"),
        ),
    );
    measure(
        "entsoe_a44",
        "es.xml",
        &grown_document(
            "entsoe/ES_day_ahead_price.xml",
            "<TimeSeries>",
            "</TimeSeries>",
            size / 2,
        ),
    );
    measure(
        "nordpool_v2",
        "np.json",
        &grown_document("nordpool/se_current_day_price.json", "{", "}", size / 5),
    );
}
