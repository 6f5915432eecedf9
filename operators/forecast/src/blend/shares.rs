//! Choosing the blend's shares from realised prices: every share vector of the 0.05 grid is
//! scored on every point as it is added (a running sum per fold of weeks and hour of the
//! day), so choosing again after more days costs a pass over the sums, not over the points.
//! That is what lets the shares be re-chosen every day of the test period.

use super::block_of;
use crate::data::HOURS_PER_DAY;
use crate::features::Normalization;

/// Steps of a share: 0, 0.05, …, 1.
const SHARE_STEPS: u32 = 20;

/// The block counts the cross-validation chooses from: every divisor of 24.
pub(super) const BLOCK_COUNTS: [usize; 8] = [1, 2, 3, 4, 6, 8, 12, 24];

/// Folds of the cross-validation over the weeks.
pub(super) const FOLDS: usize = 4;

/// Days of realised prices below which one share vector covers the whole day: eight weeks,
/// two per fold.
pub(super) const CROSS_VALIDATION_DAYS: usize = 2 * FOLDS * 7;

/// The fold of `day`: weeks counted from `first_day`, dealt in turn.
pub(super) fn fold_of(day: usize, first_day: usize) -> usize {
    (day - first_day) / 7 % FOLDS
}

/// A realised hour: the actual price and each family's location in model space (the
/// networks' first).
pub(super) struct SharePoint {
    pub(super) actual: f64,
    pub(super) hour_of_day: usize,
    pub(super) fold: usize,
    pub(super) locations: Vec<f64>,
}

/// The shares [`ShareErrors::choose`] settled on, and the summed absolute errors behind them.
pub(super) struct ChosenShares {
    /// One share vector (a share per member) per block of hours.
    pub(super) shares: Vec<Vec<f64>>,
    /// Each block count tried and its held-out error summed over the folds.
    pub(super) blocks_tried: Vec<(usize, f64)>,
    /// The networks alone on every point.
    pub(super) alone: f64,
    /// The chosen shares on every point.
    pub(super) blended: f64,
}

/// Every grid vector's absolute error summed over the points added so far, per fold and
/// hour of the day.
pub(super) struct ShareErrors<'a> {
    grid: Vec<Vec<f64>>,
    norm: &'a Normalization,
    /// `[fold][hour of day][grid vector]`, flattened.
    sums: Vec<f64>,
}

impl<'a> ShareErrors<'a> {
    /// No points yet, for blends of `members` families beside the networks.
    pub(super) fn new(members: usize, norm: &'a Normalization) -> Self {
        let grid = share_grid(members);
        let sums = vec![0.0; FOLDS * HOURS_PER_DAY * grid.len()];
        Self { grid, norm, sums }
    }

    fn at(&self, fold: usize, hour_of_day: usize) -> usize {
        (fold * HOURS_PER_DAY + hour_of_day) * self.grid.len()
    }

    /// Scores every grid vector on `point`.
    pub(super) fn add(&mut self, point: &SharePoint) {
        let start = self.at(point.fold, point.hour_of_day);
        for (sum, weights) in self.sums[start..].iter_mut().zip(&self.grid) {
            let networks = 1.0 - weights.iter().sum::<f64>();
            let location = networks * point.locations[0]
                + weights
                    .iter()
                    .zip(&point.locations[1..])
                    .map(|(w, v)| w * v)
                    .sum::<f64>();
            *sum += (self.norm.price_from_model(location) - point.actual).abs();
        }
    }

    /// The summed error of grid vector `vector` at `hour_of_day` over the folds `keep` selects.
    fn error(&self, hour_of_day: usize, vector: usize, keep: impl Fn(usize) -> bool) -> f64 {
        (0..FOLDS)
            .filter(|&fold| keep(fold))
            .map(|fold| self.sums[self.at(fold, hour_of_day) + vector])
            .sum()
    }

    /// Per block of hours, the index of the grid vector with the lowest error over the
    /// folds `keep` selects (the first in grid order on a tie: no member before a member).
    fn fit(&self, blocks: usize, keep: impl Fn(usize) -> bool + Copy) -> Vec<usize> {
        (0..blocks)
            .map(|block| {
                let hours: Vec<usize> = (0..HOURS_PER_DAY)
                    .filter(|&h| block_of(h, blocks) == block)
                    .collect();
                let mut best = (f64::INFINITY, 0);
                for vector in 0..self.grid.len() {
                    let error: f64 = hours.iter().map(|&h| self.error(h, vector, keep)).sum();
                    if error < best.0 {
                        best = (error, vector);
                    }
                }
                best.1
            })
            .collect()
    }

    /// The summed error over the folds `keep` selects with one grid vector per block.
    fn blocks_error(&self, fitted: &[usize], keep: impl Fn(usize) -> bool + Copy) -> f64 {
        (0..HOURS_PER_DAY)
            .map(|h| self.error(h, fitted[block_of(h, fitted.len())], keep))
            .sum()
    }

    /// Chooses the block count by cross-validation over the folds (when `cross_validate`;
    /// one block otherwise) and fits its shares on every point.
    pub(super) fn choose(&self, cross_validate: bool) -> ChosenShares {
        let mut blocks_tried = Vec::new();
        if cross_validate {
            for blocks in BLOCK_COUNTS {
                let held_out: f64 = (0..FOLDS)
                    .map(|fold| {
                        let fitted = self.fit(blocks, |f| f != fold);
                        self.blocks_error(&fitted, |f| f == fold)
                    })
                    .sum();
                blocks_tried.push((blocks, held_out));
            }
        }
        let blocks = blocks_tried
            .iter()
            .fold((1, f64::INFINITY), |best, &(blocks, error)| {
                if error < best.1 {
                    (blocks, error)
                } else {
                    best
                }
            })
            .0;
        let fitted = self.fit(blocks, |_| true);
        ChosenShares {
            alone: self.blocks_error(&[0], |_| true),
            blended: self.blocks_error(&fitted, |_| true),
            shares: fitted.iter().map(|&v| self.grid[v].clone()).collect(),
            blocks_tried,
        }
    }
}

/// Every combination of `members` shares on the 0.05 grid whose sum is at most 1, in
/// lexicographic order (all zeros, the networks alone, first).
fn share_grid(members: usize) -> Vec<Vec<f64>> {
    let mut grid = vec![Vec::new()];
    for _ in 0..members {
        let mut next = Vec::new();
        for prefix in &grid {
            let used: u32 = prefix.iter().sum();
            for step in 0..=SHARE_STEPS - used {
                let mut extended = prefix.clone();
                extended.push(step);
                next.push(extended);
            }
        }
        grid = next;
    }
    grid.into_iter()
        .map(|steps| {
            steps
                .into_iter()
                .map(|s| f64::from(s) / f64::from(SHARE_STEPS))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose_shares(
        points: &[SharePoint],
        members: usize,
        norm: &Normalization,
        days: usize,
    ) -> ChosenShares {
        let mut errors = ShareErrors::new(members, norm);
        for point in points {
            errors.add(point);
        }
        errors.choose(days >= CROSS_VALIDATION_DAYS)
    }

    #[test]
    fn the_share_grid_covers_the_simplex_in_steps_of_a_twentieth() {
        assert_eq!(share_grid(0), vec![Vec::<f64>::new()]);
        assert_eq!(share_grid(1).len(), 21);
        let two = share_grid(2);
        assert_eq!(two.len(), 231);
        assert!(two.iter().all(|w| w.iter().sum::<f64>() <= 1.0 + 1e-12));
        assert!(two.contains(&vec![0.45, 0.35]));
        assert!(two.contains(&vec![0.0, 1.0]));
    }

    /// `days` of validation points where the networks are right in the afternoon and off by
    /// a day-dependent amount in the morning, and the member the other way round.
    fn half_day_points(days: usize) -> Vec<SharePoint> {
        (0..days * HOURS_PER_DAY)
            .map(|hour| {
                let actual = 30.0 + (hour % 17) as f64;
                let model = (actual - 30.0) / 10.0;
                let off = 0.3 + 0.1 * ((hour / HOURS_PER_DAY) % 5) as f64;
                let morning = hour % HOURS_PER_DAY < 12;
                let networks = if morning {
                    model.asinh() + off
                } else {
                    model.asinh()
                };
                let member = if morning {
                    model.asinh()
                } else {
                    model.asinh() - off
                };
                SharePoint {
                    actual,
                    hour_of_day: hour % HOURS_PER_DAY,
                    fold: hour / HOURS_PER_DAY / 7 % FOLDS,
                    locations: vec![networks, member],
                }
            })
            .collect()
    }

    fn norm() -> Normalization {
        Normalization {
            price_median: 30.0,
            price_iqr: 10.0,
            exogenous_median: [0.0; 2],
            exogenous_iqr: [1.0; 2],
        }
    }

    #[test]
    fn cross_validation_gives_the_morning_and_the_afternoon_their_own_shares() {
        let points = half_day_points(56);
        let chosen = choose_shares(&points, 1, &norm(), 56);
        assert_eq!(chosen.blocks_tried.len(), BLOCK_COUNTS.len());
        // One share for the whole day errs on the held-out weeks; two blocks do not.
        let held_out = |blocks| {
            chosen
                .blocks_tried
                .iter()
                .find(|t| t.0 == blocks)
                .unwrap()
                .1
        };
        assert!(
            held_out(1) > 100.0 * held_out(2),
            "{:?}",
            chosen.blocks_tried
        );
        assert!(held_out(3) > 100.0 * held_out(2), "hour 12 inside a block");
        // The fewest blocks with the lowest held-out error: two (four and six tie or lose).
        assert_eq!(chosen.shares, vec![vec![1.0], vec![0.0]]);
        assert!(
            chosen.blended < 1e-9 * chosen.alone,
            "{} {}",
            chosen.blended,
            chosen.alone
        );
    }

    #[test]
    fn a_short_validation_period_keeps_one_share_for_the_whole_day() {
        let points = half_day_points(55);
        let chosen = choose_shares(&points, 1, &norm(), 55);
        assert!(chosen.blocks_tried.is_empty());
        assert_eq!(chosen.shares.len(), 1);
        // One share cannot be right in both halves of the day.
        assert!(chosen.blended <= chosen.alone);
        assert!(
            chosen.blended > 0.1 * chosen.alone,
            "{} {}",
            chosen.blended,
            chosen.alone
        );
    }

    #[test]
    fn shares_chosen_again_follow_the_days_added_since() {
        // The member is right for four weeks, then the networks for twelve.
        let points: Vec<SharePoint> = (0..16 * 7 * HOURS_PER_DAY)
            .map(|hour| {
                let day = hour / HOURS_PER_DAY;
                let actual = 30.0 + (hour % 13) as f64;
                let right = ((actual - 30.0) / 10.0).asinh();
                let (networks, member) = if day < 28 {
                    (right + 0.5, right)
                } else {
                    (right, right - 0.5)
                };
                SharePoint {
                    actual,
                    hour_of_day: hour % HOURS_PER_DAY,
                    fold: fold_of(day, 0),
                    locations: vec![networks, member],
                }
            })
            .collect();
        let norm = norm();
        let mut errors = ShareErrors::new(1, &norm);
        let days = |d: usize| &points[..d * HOURS_PER_DAY];
        days(28).iter().for_each(|p| errors.add(p));
        assert_eq!(errors.choose(false).shares, vec![vec![1.0]]);
        points[28 * HOURS_PER_DAY..]
            .iter()
            .for_each(|p| errors.add(p));
        let later = errors.choose(true);
        assert_eq!(later.shares, vec![vec![0.0]], "{:?}", later.blocks_tried);
        // The same sums as choosing once on every point.
        let once = choose_shares(&points, 1, &norm, 16 * 7);
        assert_eq!(once.blocks_tried, later.blocks_tried);
        assert_eq!(fold_of(35, 7), 0);
        assert_eq!(fold_of(36, 8), 0);
        assert_eq!(fold_of(14, 0), 2);
    }
}
