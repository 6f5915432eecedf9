//! IESO (Ontario) public reports, from `reports-public.ieso.ca/public/`.
//!
//! Three formats:
//! - [`zonal`] (`ieso_da_zonal`): the XML report `DAHourlyOntarioZonalPrice`
//!   (`PUB_DAHourlyOntarioZonalPrice_YYYYMMDD.xml`), the day-ahead Ontario zonal price with
//!   its loss and congestion parts, one `HourlyPriceComponents` per `PricingHour` 1-24;
//! - [`lmp`] (`ieso_rt_lmp`): the real-time nodal LMP CSV of the renewed market
//!   (`PUB_RealtimeEnergyLMP_YYYYMMDDHH.csv`, since 2025-05-01), twelve five-minute
//!   intervals per delivery hour for every pricing location;
//! - [`da_lmp`] (`ieso_da_lmp`): the day-ahead nodal LMP CSV of the renewed market
//!   (`PUB_DAHourlyEnergyLMP_YYYYMMDD.csv`), the same layout without `Interval`, 24 hours
//!   per pricing location; read by the same code as [`lmp`].
//!
//! Time: IESO states every hour in Eastern Standard Time all year, with no daylight saving
//! (`Delivery Hour`/`PricingHour` 1-24 are hour-ending EST; the files do not say so).
//! Parsers state it as published on [`clock`] (`MarketClock::FixedOffsetMinutes(-300)`),
//! so a delivery day has 24 hours and 288 five-minute intervals even on the days North
//! America changes its clocks; the engine resolves it to UTC. Report creation times
//! (`CreatedAt`, `CREATED AT`) carry no offset and are read on the same clock.
//!
//! Prices are CAD/MWh. IESO decomposes them as `price = energy + loss + congestion` and
//! publishes the price, the loss and the congestion part; gridflow derives
//! `energy = price - loss - congestion` (gridstatus does the same).

pub mod da_lmp;
pub mod lmp;
pub mod zonal;

use gridflow_engine::record::{Anchor, MarketClock, NativeInterval, Occurrence, Price};
use jiff::Timestamp;
use jiff::civil::DateTime;

/// IESO's market clock: Eastern Standard Time (UTC-5) all year.
pub fn clock() -> MarketClock {
    MarketClock::FixedOffsetMinutes(-300)
}

/// A report creation time written without an offset (IESO time), as a UTC instant.
/// Resolved by the engine's own rule for [`clock`], not by hand.
fn created_at(time: DateTime) -> Option<Timestamp> {
    NativeInterval::Local {
        time,
        anchor: Anchor::Start,
        minutes: 0,
        clock: clock(),
        occurrence: Occurrence::Unstated,
    }
    .resolve()
    .ok()
    .map(|interval| interval.start)
}

/// `energy = price - loss - congestion`, when both parts are published.
fn energy_part(
    price: Price,
    loss: Option<Price>,
    congestion: Option<Price>,
) -> Result<Option<Price>, String> {
    match (loss, congestion) {
        (Some(loss), Some(congestion)) => price
            .checked_sub(loss)
            .and_then(|rest| rest.checked_sub(congestion))
            .map(Some)
            .ok_or_else(|| "price - loss - congestion is out of range".to_string()),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests;
