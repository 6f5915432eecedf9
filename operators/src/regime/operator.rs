//! The timely operator of `regime`: [`crate::series::in_time_order`] with the worker's
//! [`Regimes`] applying each complete time.

use std::sync::Arc;

use gridflow_engine::Collection;
use gridflow_engine::record::{PriceRecord, RegimeRecord};

use super::RegimeSettings;
use super::state::Regimes;
use crate::series::in_time_order;

/// Regime rows of every followed series in `prices`.
pub(super) fn detect<'scope>(
    prices: Collection<'scope, PriceRecord>,
    settings: Arc<RegimeSettings>,
) -> Collection<'scope, RegimeRecord> {
    let name = format!("Regime: {}", settings.name);
    let mut regimes = Regimes::new(settings);
    in_time_order(prices, name, move |updates, changes| {
        regimes.process(updates, changes)
    })
}
