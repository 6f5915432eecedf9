//! No parser panics, whatever the bytes: random input, and real fixtures mutated by
//! byte flips, insertions, deletions and truncation.

use std::sync::{Arc, LazyLock};

use gridflow_engine::component::SourceOutput;
use proptest::prelude::*;

use super::testing::fixture;
use super::{Format, FormatOptions, format_by_name};

/// One edit to a fixture, at a position taken modulo its length.
#[derive(Clone, Debug)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to the formats are more likely than uniform noise.
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b",\"\n\r<>/:.-0123456789eE{}[]TZ ".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Edit::Delete(at, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            Edit::Replace(at, byte) => {
                if let Some(slot) = bytes.get_mut(at % len) {
                    *slot = byte;
                }
            }
            Edit::Insert(at, byte) => bytes.insert((at % len).min(bytes.len()), byte),
            Edit::Delete(at, count) => {
                let from = (at % len).min(bytes.len());
                let to = (from + count).min(bytes.len());
                bytes.drain(from..to);
            }
            Edit::Truncate(at) => bytes.truncate(at % len),
        }
    }
    bytes
}

/// (format, a file name that selects its default product, fixture, prefix kept).
const CASES: &[(&str, &str, &str, usize)] = &[
    (
        "spp_lmp",
        "RTBM-LMP-SL-x.csv",
        "spp/RTBM-LMP-SL-202503310840.csv",
        3_000,
    ),
    ("nyiso_lbmp", "lmp.csv", "nyiso/lmp.csv", 3_000),
    ("epf_csv", "NP.csv", "epf/NP.csv", 3_000),
    ("epf_exogenous_csv", "PJM.csv", "epf/PJM.csv", 3_000),
    (
        "nyiso_lbmp",
        "20241103damlbmp_zone.csv",
        "nyiso/20241103damlbmp_zone.csv",
        3_000,
    ),
    (
        "nyiso_lbmp",
        "20241103realtime_gen.csv",
        "nyiso/20241103realtime_gen.csv",
        4_000,
    ),
    (
        "spp_lmp",
        "DA-LMP-SL-x.csv",
        "spp/dst/DA-LMP-SL-202411030100.csv",
        3_000,
    ),
    (
        "ecb_fx",
        "eurofxref-hist.csv",
        "fx/eurofxref-hist_excerpt.csv",
        3_000,
    ),
    ("ecb_fx", "eurofxref.csv", "fx/eurofxref.csv", 3_000),
    (
        "ecb_fx",
        "eurofxref-daily.xml",
        "fx/eurofxref-daily.xml",
        3_000,
    ),
    (
        "ecb_fx",
        "eurofxref-hist-90d.xml",
        "fx/eurofxref-hist-90d_sample.xml",
        3_000,
    ),
    (
        "eia_spot_csv",
        "hh.csv",
        "gas/Henry_Hub_Natural_Gas_Spot_Price.csv",
        3_000,
    ),
    (
        "eia_api_v2",
        "rngwhhd.json",
        "gas/eia_api_v2_rngwhhd_2022-12.json",
        3_000,
    ),
    (
        "gas_basis_csv",
        "basis.csv",
        "gas/gas_basis_2024_sample.csv",
        3_000,
    ),
    (
        "eia_storage",
        "storage.json",
        "gas/eia_storage_wkly_2022-12.json",
        3_000,
    ),
    (
        "investing_eua_csv",
        "eua.csv",
        "carbon/Carbon_Emissions_Futures_Historical_Data.csv",
        3_000,
    ),
    (
        "eex_eua_auction",
        "auction.xlsx",
        "carbon/eex_primary_market_auction_2025-02_sample.xlsx",
        8_000,
    ),
    (
        "caiso_oasis",
        "caiso.csv",
        "caiso/20191101_20191201_PRC_LMP_DAM_20200603_00_24_23_v1_excerpt_20191102-04.csv",
        3_000,
    ),
    (
        "caiso_oasis",
        "caiso.zip",
        "caiso/20230917_20230919_PRC_RTPD_LMP_RTPD_20230921_11_49_39_v2.zip",
        10_000,
    ),
    (
        "caiso_oasis",
        "caiso_rtm.zip",
        "caiso/20240414_20240414_PRC_INTVL_LMP_RTM_20240415_09_12_44_v3.zip",
        3_000,
    ),
    (
        "nordpool_v2",
        "se.json",
        "nordpool/se_current_day_price.json",
        4_000,
    ),
    (
        "miso_lmp",
        "20241103_rt_lmp_final.csv",
        "miso/20241103_rt_lmp_final.csv",
        4_000,
    ),
    ("entsoe_a44", "fr.xml", "entsoe/FR_prices.xml", 7_000),
    (
        "pjm_dataminer",
        "da_hrl_lmps.json",
        "pjm/da_hrl_lmps_2026-06-09.json",
        3_000,
    ),
    (
        "pjm_dataminer",
        "rt_hrl_lmps.json",
        "pjm/rt_hrl_lmps_2024-02-20_excerpt.json",
        3_000,
    ),
    (
        "ieso_da_zonal",
        "ieso.xml",
        "ieso/da_hourly_ontario_zonal_price_report_20260528.xml",
        3_000,
    ),
    (
        "ieso_rt_lmp",
        "PUB_RealtimeEnergyLMP_2025110204.csv",
        "ieso/PUB_RealtimeEnergyLMP_2025110204.csv",
        3_000,
    ),
    (
        "ieso_da_lmp",
        "PUB_DAHourlyEnergyLMP_20251102.csv",
        "ieso/PUB_DAHourlyEnergyLMP_20251102.csv",
        3_000,
    ),
    (
        "aeso_pool_price",
        "aeso.json",
        "aeso/poolprice_2024-11-03.json",
        3_000,
    ),
    (
        "jepx_spot",
        "spot_summary_2025.csv",
        "jepx/spot_summary_2025_excerpt.csv",
        3_000,
    ),
    (
        "nem_mms",
        "dispatch.zip",
        "nem/PUBLIC_DISPATCHIS_202501211805_0000000449135472.zip",
        2_000,
    ),
    (
        "nem_mms",
        "dispatch.CSV",
        "nem/PUBLIC_DISPATCHIS_202510121230_0000000475309120.CSV",
        4_000,
    ),
    (
        "nem_dispatch_json",
        "5min.json",
        "nem/aemo_5min_data.json",
        3_000,
    ),
    (
        "entsoe_a44",
        "es.xml",
        "entsoe/ES_day_ahead_price.xml",
        5_000,
    ),
    ("entsoe_a44", "at.xml", "entsoe/AT_2023-06-14.xml", 4_000),
    ("entsoe_a44", "nl.xml", "entsoe/NL_2025-09-23.xml", 5_000),
    (
        "entsoe_a44",
        "de_lu_15min.xml",
        "entsoe/DE_LU_15min_2026-05-01.xml",
        6_000,
    ),
    (
        "nordpool_v2",
        "dayaheadprices_15min.json",
        "nordpool/dayaheadprices_2025-10-02_15min.json",
        4_000,
    ),
    (
        "nordpool_v2",
        "dayaheadprices_dst.json",
        "nordpool/dayaheadprices_2024-10-27_dst.json",
        4_000,
    ),
    (
        "ercot_dam_spp",
        "dam.csv",
        "ercot/cdr.00012331.0000000000000000.20241102.123150.DAMSPNP4190.csv",
        3_000,
    ),
    (
        "ercot_dam_spp",
        "dam.zip",
        "ercot/cdr.00012331.0000000000000000.20240309.123145812.DAMSPNP4190_csv.zip",
        4_000,
    ),
    (
        "ercot_rt_spp",
        "rt.csv",
        "ercot/rt_spp_2024-11-03_0000-0300_combined.csv",
        3_000,
    ),
    (
        "ercot_rt_spp",
        "rt.zip",
        "ercot/cdr.00012301.0000000000000000.20230906.194701385.SPPHLZNP6905_20230906_1945_csv.zip",
        4_000,
    ),
    (
        "ercot_sced_lmp",
        "sced.csv",
        "ercot/sced_lmp_2024-11-03_0055-0200_combined.csv",
        2_000,
    ),
    (
        "ercot_rt_adders",
        "adders.csv",
        "ercot/rt_adders_2023-09-06_1925-1940_combined.csv",
        2_000,
    ),
];

fn run(format: &dyn Format, name: &str, bytes: &[u8]) {
    let mut out = SourceOutput::default();
    let file: Arc<str> = Arc::from(name);
    let _ = format.parse(bytes, &file, &Arc::from("fuzz"), &mut out);
    for reject in &out.rejects {
        assert!(
            reject.origin.line > 0,
            "row rejects carry a line: {reject:?}"
        );
    }
}

type Case = (Arc<dyn Format>, &'static str, Vec<u8>);

/// Built once: the fixtures are read from disk for the first case only.
static FORMATS: LazyLock<Vec<Case>> = LazyLock::new(|| {
    CASES
        .iter()
        .map(|&(format, name, path, keep)| {
            let mut bytes = fixture(path);
            bytes.truncate(keep);
            let format = format_by_name(format, FormatOptions::default()).unwrap();
            (format, name, bytes)
        })
        .collect()
});

fn formats() -> Vec<Case> {
    FORMATS.clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for (format, name, _) in formats() {
            run(format.as_ref(), name, &bytes);
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(edits in prop::collection::vec(edit(), 1..8)) {
        for (format, name, fixture) in formats() {
            run(format.as_ref(), name, &apply(fixture, &edits));
        }
    }

    #[test]
    fn random_text_after_a_real_header_never_panics(tail in "[ -~\n]{0,300}") {
        for (format, name, fixture) in formats() {
            let header_end = fixture.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
            let mut bytes = fixture[..header_end.min(fixture.len())].to_vec();
            bytes.extend_from_slice(tail.as_bytes());
            run(format.as_ref(), name, &bytes);
        }
    }
}

#[test]
fn every_format_has_a_fixture_in_the_property_tests() {
    let covered: std::collections::BTreeSet<&str> =
        CASES.iter().map(|(format, _, _, _)| *format).collect();
    let missing: Vec<&&str> = super::FORMAT_NAMES
        .iter()
        .filter(|name| !covered.contains(**name))
        .collect();
    assert!(
        missing.is_empty(),
        "formats without a no-panic case: {missing:?}"
    );
}
