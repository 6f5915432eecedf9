//! The `regime` operator kind: its pipeline-file table, checks and plan node.

use std::sync::Arc;

use gridflow_engine::component::{
    BuildContext, Built, OperatorKind, OperatorPlan, Stream, StreamKind,
};
use gridflow_engine::pipeline::{ComponentConfig, ConfigError};
use gridflow_engine::record::{Market, Product, RegimeMethod};
use gridflow_regime::{Bocpd, BocpdSettings, FitOptions, NormalGammaPrior, RegimeError};
use serde::Deserialize;

use super::{HmmSettings, MethodSettings, Regime, RegimeSettings, SeriesFilter};

/// `[operators.NAME]` with `kind = "regime"`: regime probabilities (`hmm`) or change
/// points (`bocpd`) for every price series of its inputs (operators producing prices).
///
/// A series is one (market, product, location). Fields marked *hmm* or *bocpd* apply to
/// that method only; giving one to the other method is an error.
///
/// ```toml
/// [operators.regimes]
/// kind = "regime"
/// inputs = ["normalize"]
/// method = "hmm"
/// states = 3
/// warm_up = 288
/// refit_every = 48
/// window = 576
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeConfig {
    /// `"hmm"` (a Gaussian hidden Markov model, fitted by Baum–Welch and filtered online)
    /// or `"bocpd"` (Bayesian online change points). Default `"hmm"`.
    /// Example: `method = "bocpd"`.
    #[serde(default = "default_method")]
    pub method: RegimeMethod,
    /// *hmm*: the number of regimes K, 1 to 32; regime 0 has the lowest fitted mean.
    /// Default 3 (e.g. negative/oversupply, normal, spike). Example: `states = 2`.
    pub states: Option<usize>,
    /// Prices a series needs before it has rows; the first row is the `warm_up`-th price,
    /// and the HMM's first fit uses these prices. Default 500 for `hmm`, 1 for `bocpd`.
    /// Example: `warm_up = 288` (one day of 5-minute prices).
    pub warm_up: Option<usize>,
    /// *hmm*: refit every this many prices after the warm-up, on the `window` prices
    /// before each fit point; 0 = fit once. Default 0. Example: `refit_every = 288`.
    pub refit_every: Option<usize>,
    /// *hmm*: how many prices each fit uses (the latest before its fit point), at least 1.
    /// Default: `warm_up`. Example: `window = 2016` (a week of 5-minute prices).
    pub window: Option<usize>,
    /// *hmm*: random starts of each Baum–Welch fit, drawn from `seed`; the fit with the
    /// highest likelihood is kept. 1 to 1,000, default 4. Example: `initialisations = 8`.
    pub initialisations: Option<usize>,
    /// *hmm*: the seed of the random starts (the same seed gives the same fits).
    /// Default 0. Example: `seed = 42`.
    pub seed: Option<u64>,
    /// *hmm*: Baum–Welch iterations per start, at least 1. Default 10 (hmmlearn's).
    /// Example: `max_iterations = 50`.
    pub max_iterations: Option<usize>,
    /// *hmm*: stop a start's iterations once the log-likelihood improves by less than
    /// this. Default 0.01 (hmmlearn's). Example: `tolerance = 0.001`.
    pub tolerance: Option<f64>,
    /// *bocpd*: the probability that a new segment starts at any price, strictly between
    /// 0 and 1 (expected segment length 1 / hazard). Default 0.004.
    /// Example: `hazard = 0.01`.
    pub hazard: Option<f64>,
    /// *bocpd*: run-length hypotheses kept; the last stands for "this many or more".
    /// 1 to 100,000, default 1,000. Example: `max_run_length = 500`.
    pub max_run_length: Option<usize>,
    /// *bocpd*: the Normal-Gamma prior of a segment's mean and precision. Default
    /// `{ mean = 0, mean_observations = 1, shape = 1, rate = 1 }`; set `mean` and
    /// `rate / shape` (a variance) to the prices' scale.
    /// Example: `prior = { mean = 40.0, mean_observations = 0.1, shape = 1.0, rate = 50.0 }`.
    pub prior: Option<PriorConfig>,
    /// Keep a checkpoint of each series' online state every this many prices, so that a
    /// revised price re-runs the series from the checkpoint before it rather than from
    /// the start. At least 1, default 64. Example: `checkpoint_every = 288`.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: usize,
    /// The most periodic checkpoints kept per series (the newest; the latest state is
    /// always kept besides). Default 16. Example: `max_checkpoints = 4`.
    #[serde(default = "default_max_checkpoints")]
    pub max_checkpoints: usize,
    /// Follow only these markets; all when empty (default).
    /// Example: `markets = ["NEM"]`.
    #[serde(default)]
    pub markets: Vec<Market>,
    /// Follow only these products; all when empty (default).
    /// Example: `products = ["REAL_TIME_5_MIN"]`.
    #[serde(default)]
    pub products: Vec<Product>,
    /// Follow only these locations; all when empty (default).
    /// Example: `locations = ["NSW1", "SA1"]`.
    #[serde(default)]
    pub locations: Vec<String>,
}

/// `prior = { ... }` of a `bocpd` operator: λ ~ Gamma(shape, rate) and
/// μ | λ ~ Normal(mean, 1 / (mean_observations · λ)).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorConfig {
    /// Prior guess of a segment's mean price. Default 0.
    #[serde(default)]
    pub mean: f64,
    /// How many prices that guess is worth (> 0). Default 1.
    #[serde(default = "one")]
    pub mean_observations: f64,
    /// Gamma shape of the precision (> 0). Default 1.
    #[serde(default = "one")]
    pub shape: f64,
    /// Gamma rate of the precision (> 0); rate / shape is a prior guess of the variance.
    /// Default 1.
    #[serde(default = "one")]
    pub rate: f64,
}

fn default_method() -> RegimeMethod {
    RegimeMethod::Hmm
}

fn default_checkpoint_every() -> usize {
    64
}

fn default_max_checkpoints() -> usize {
    16
}

fn one() -> f64 {
    1.0
}

/// Registers as `kind = "regime"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegimeKind;

struct RegimePlan {
    settings: RegimeSettings,
}

impl OperatorKind for RegimeKind {
    fn kind(&self) -> &'static str {
        "regime"
    }

    fn summary(&self) -> &'static str {
        "regimes of price series: Gaussian HMM filtered online, or BOCPD change points"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn OperatorPlan>, Vec<ConfigError>> {
        let parsed: RegimeConfig = config.deserialize()?;
        let name = config.name();
        let settings = parsed.settings(Arc::from(name)).map_err(|invalid| {
            invalid
                .into_iter()
                .map(|(field, message)| config.error(Some(config.span_of(field)), message))
                .collect::<Vec<_>>()
        })?;
        Ok(Arc::new(RegimePlan { settings }))
    }
}

impl RegimeConfig {
    /// Validated settings, or every unusable field with what is wrong with it.
    pub fn settings(&self, name: Arc<str>) -> Result<RegimeSettings, Vec<(&'static str, String)>> {
        let mut invalid: Vec<(&'static str, String)> = Vec::new();
        let method = self.method.as_str();
        let mut only = |field: &'static str, given: bool, wanted: RegimeMethod| {
            if given && self.method != wanted {
                invalid.push((
                    field,
                    format!(
                        "`{field}` applies to method = \"{wanted}\"; this operator's method is \
                         \"{method}\""
                    ),
                ));
            }
        };
        only("states", self.states.is_some(), RegimeMethod::Hmm);
        only("refit_every", self.refit_every.is_some(), RegimeMethod::Hmm);
        only("window", self.window.is_some(), RegimeMethod::Hmm);
        only(
            "initialisations",
            self.initialisations.is_some(),
            RegimeMethod::Hmm,
        );
        only("seed", self.seed.is_some(), RegimeMethod::Hmm);
        only(
            "max_iterations",
            self.max_iterations.is_some(),
            RegimeMethod::Hmm,
        );
        only("tolerance", self.tolerance.is_some(), RegimeMethod::Hmm);
        only("hazard", self.hazard.is_some(), RegimeMethod::Bocpd);
        only(
            "max_run_length",
            self.max_run_length.is_some(),
            RegimeMethod::Bocpd,
        );
        only("prior", self.prior.is_some(), RegimeMethod::Bocpd);

        let mut check = |field: &'static str, ok: bool, message: String| {
            if !ok {
                invalid.push((field, message));
            }
        };
        let hmm = self.method == RegimeMethod::Hmm;
        let warm_up = self.warm_up.unwrap_or(if hmm { 500 } else { 1 });
        check(
            "warm_up",
            warm_up >= 1,
            "`warm_up` must be at least 1".into(),
        );
        check(
            "checkpoint_every",
            self.checkpoint_every >= 1,
            "`checkpoint_every` must be at least 1".into(),
        );
        let method = if hmm {
            let states = self.states.unwrap_or(3);
            check(
                "states",
                (1..=32).contains(&states),
                format!("`states` = {states} is out of range: 1 to 32 regimes"),
            );
            let window = self.window.unwrap_or(warm_up);
            // Unset, it is `warm_up`, whose own check speaks for it.
            check(
                "window",
                self.window.is_none() || window >= 1,
                "`window` must be at least 1".into(),
            );
            let initialisations = self.initialisations.unwrap_or(4);
            check(
                "initialisations",
                (1..=1000).contains(&initialisations),
                format!("`initialisations` = {initialisations} is out of range: 1 to 1,000"),
            );
            let max_iterations = self.max_iterations.unwrap_or(10);
            check(
                "max_iterations",
                max_iterations >= 1,
                "`max_iterations` must be at least 1".into(),
            );
            let tolerance = self.tolerance.unwrap_or(1e-2);
            check(
                "tolerance",
                tolerance.is_finite() && tolerance >= 0.0,
                format!("`tolerance` = {tolerance} must be zero or positive"),
            );
            MethodSettings::Hmm(HmmSettings {
                states,
                refit_every: self.refit_every.unwrap_or(0),
                window,
                initialisations,
                seed: self.seed.unwrap_or(0),
                fit: FitOptions {
                    max_iterations,
                    tolerance,
                    ..FitOptions::default()
                },
            })
        } else {
            let prior = self
                .prior
                .clone()
                .map_or_else(NormalGammaPrior::default, |p| NormalGammaPrior {
                    mean: p.mean,
                    mean_observations: p.mean_observations,
                    shape: p.shape,
                    rate: p.rate,
                });
            let settings = BocpdSettings {
                prior,
                hazard: self.hazard.unwrap_or(1.0 / 250.0),
                max_run_length: self.max_run_length.unwrap_or(1_000),
            };
            check(
                "max_run_length",
                settings.max_run_length <= 100_000,
                format!(
                    "`max_run_length` = {} is more than 100,000",
                    settings.max_run_length
                ),
            );
            // The detector checks the rest; name the field it refused.
            if let Err(RegimeError::InvalidSetting {
                setting,
                value,
                reason,
            }) = Bocpd::new(settings.clone())
            {
                let field = if setting.starts_with("prior") {
                    "prior"
                } else if setting == "hazard" {
                    "hazard"
                } else {
                    "max_run_length"
                };
                invalid.push((field, format!("`{setting}` = {value} {reason}")));
            }
            MethodSettings::Bocpd(settings)
        };
        if !invalid.is_empty() {
            return Err(invalid);
        }
        Ok(RegimeSettings {
            name,
            method,
            warm_up,
            checkpoint_every: self.checkpoint_every,
            max_checkpoints: self.max_checkpoints,
            only: SeriesFilter {
                markets: self.markets.clone(),
                products: self.products.clone(),
                locations: self
                    .locations
                    .iter()
                    .map(|l| Arc::from(l.as_str()))
                    .collect(),
            },
        })
    }
}

impl OperatorPlan for RegimePlan {
    fn describe(&self) -> String {
        let settings = &self.settings;
        match &settings.method {
            MethodSettings::Hmm(hmm) => format!(
                "Gaussian HMM, {} regimes; warm-up {}, refit every {} on {} prices",
                hmm.states,
                settings.warm_up,
                if hmm.refit_every == 0 {
                    "never".to_string()
                } else {
                    hmm.refit_every.to_string()
                },
                hmm.window
            ),
            MethodSettings::Bocpd(bocpd) => format!(
                "BOCPD, hazard {}, at most {} run lengths; warm-up {}",
                bocpd.hazard, bocpd.max_run_length, settings.warm_up
            ),
        }
    }

    fn accepts(&self) -> &'static [StreamKind] {
        &[StreamKind::Prices]
    }

    fn output(&self) -> StreamKind {
        StreamKind::Regimes
    }

    fn build<'scope>(&self, inputs: Vec<Stream<'scope>>, _context: &BuildContext) -> Built<'scope> {
        let all = crate::series::all_prices(inputs, "regime");
        let scope = all.scope();
        Built {
            output: Stream::Regimes(all.regime(&self.settings)),
            // Every price becomes a row or waits for its warm-up: nothing is refused.
            rejects: differential_dataflow::collection::concatenate(scope, Vec::new()),
        }
    }
}
