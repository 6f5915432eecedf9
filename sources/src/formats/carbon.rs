//! EU carbon: daily prices of EU emission allowances (EUA), in euros per tonne of CO₂.
//!
//! Two formats:
//! - [`investing`] (`investing_eua_csv`): the daily history CSV Investing.com exports for
//!   "Carbon Emissions Futures" (the ICE EUA futures continuation);
//! - [`eex`] (`eex_eua_auction`): EEX's yearly primary-market auction report, the workbook
//!   `emission-spot-primary-market-auction-report-<year>-data.xlsx` (EEX publishes it as
//!   XLSX only; [`xlsx`] is the small reader it needs).
//!
//! # Time
//! Both state a trade (or auction) date and no time. gridflow stores it as a whole day,
//! [`NativeInterval::Day`] in `Europe/Berlin` (EEX is in Leipzig; ICE Endex trades EUA
//! futures in London hours, but the settlement date is the same calendar date), which
//! resolves to 23:00 or 22:00 UTC the evening before. The normalize operator converts a
//! price with the rate of the UTC date its interval starts on; carbon prices are in euros
//! and need no rate when the pipeline's base currency is EUR.
//!
//! Every price is [`Market::Carbon`], [`Product::Daily`], [`LocationType::Region`] (an EU
//! ETS allowance has no place; the location names the instrument), EUR per
//! [`Unit::TonneCo2`].

pub mod eex;
pub mod investing;
pub mod xlsx;

use std::sync::Arc;

use gridflow_engine::record::{
    Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation, Origin,
    Price, Product, PublishedPrice, Unit,
};
use jiff::civil::Date;

/// The clock carbon trade dates are stated in.
pub const CLOCK: &str = "Europe/Berlin";

/// One daily EUA price.
pub(crate) fn carbon_price(
    location: Arc<str>,
    date: Date,
    clock: &MarketClock,
    price: Price,
    origin: Origin,
) -> Observation {
    Observation::Price(PublishedPrice {
        market: Market::Carbon,
        product: Product::Daily,
        location,
        location_type: LocationType::Region,
        interval: NativeInterval::Day {
            date,
            clock: clock.clone(),
        },
        price,
        currency: Currency::EUR,
        unit: Unit::TonneCo2,
        components: Components::default(),
        published_at: None,
        revision: None,
        origin,
    })
}

#[cfg(test)]
mod tests;
