//! Natural gas: Henry Hub and regional hub daily prices, in US dollars per MMBtu, and the
//! EIA's weekly gas in storage by region, in billion cubic feet.
//!
//! Four formats, one per publication:
//! - [`eia_csv`] (`eia_spot_csv`): the CSV download of an EIA daily spot series
//!   (`eia.gov/dnav/ng/hist/rngwhhdD.htm`, series RNGWHHD, Henry Hub);
//! - [`eia_api`] (`eia_api_v2`): the EIA API v2 JSON answer of `/v2/natural-gas/pri/fut/data/`
//!   for daily spot series (futures settlements RNGC1..RNGC4 are rejected, see there);
//! - [`basis`] (`gas_basis_csv`): regional hub index prices with their basis to Henry Hub,
//!   in a CSV layout gridflow defines (docs/markets/gas.md);
//! - [`storage`] (`eia_storage`): the EIA API v2 answer of `/v2/natural-gas/stor/wkly/data/`,
//!   working gas in underground storage per region (a quantity for the `fundamentals`
//!   operator, not a price; its time convention is described there).
//!
//! # Time: the gas day and the trade date
//! North American gas flows by the NAESB gas day, 9:00 to 9:00 Central time. Daily spot
//! prices are set on a trade date (the EIA's `Day`, the API's `period`) for gas that flows on
//! the next gas day (over a weekend or holiday, for every day up to the next trade date).
//! gridflow stores what the publication states, the trade date, as a whole local day:
//! [`NativeInterval::Day`] in `America/Chicago`, which resolves to Central midnight to
//! midnight (05:00 or 06:00 UTC). It does not shift the date to the flow day nor move the
//! interval to 9:00: the price is a daily price identified by its trade date, the way EIA,
//! NGI and Platts index it, and the flow day is a market convention a user can apply.
//!
//! Every price is [`Market::Gas`], [`Product::Daily`], [`LocationType::Hub`], USD per
//! [`Unit::MillionBtu`]. Negative prices are kept as published (Waha traded below zero).

pub mod basis;
pub mod eia_api;
pub mod eia_csv;
pub mod storage;

use std::sync::Arc;

use gridflow_engine::record::{
    Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation, Origin,
    Price, Product, PublishedPrice, Unit,
};
use jiff::civil::Date;

/// The clock gas days are stated in (NAESB: Central time).
pub const CLOCK: &str = "America/Chicago";

/// The location code of a hub named in an EIA series title: `Henry Hub Natural Gas Spot
/// Price` → `HENRY_HUB`. The name is what precedes `Natural Gas Spot Price` (or `Spot
/// Price`), upper-cased, with every run of other characters than letters and digits made
/// one `_`. `None` when no name is left.
pub fn hub_location(series_title: &str) -> Option<String> {
    let title = series_title.trim();
    let lower = title.to_ascii_lowercase();
    let end = lower
        .find("natural gas spot price")
        .or_else(|| lower.find("spot price"))
        .unwrap_or(title.len());
    let name = title.get(..end)?;
    let mut code = String::with_capacity(name.len());
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            code.push(character.to_ascii_uppercase());
        } else if !code.is_empty() && !code.ends_with('_') {
            code.push('_');
        }
    }
    while code.ends_with('_') {
        code.pop();
    }
    (!code.is_empty()).then_some(code)
}

/// One daily gas price at a hub.
pub(crate) fn gas_price(
    location: Arc<str>,
    date: Date,
    clock: &MarketClock,
    price: Price,
    components: Components,
    origin: Origin,
) -> Observation {
    Observation::Price(PublishedPrice {
        market: Market::Gas,
        product: Product::Daily,
        location,
        location_type: LocationType::Hub,
        interval: NativeInterval::Day {
            date,
            clock: clock.clone(),
        },
        price,
        currency: Currency::USD,
        unit: Unit::MillionBtu,
        components,
        published_at: None,
        revision: None,
        origin,
    })
}

#[cfg(test)]
mod tests;
