//! Summaries over seeds: the mean and spread of a statistic per method and setting, which the
//! plots draw and the report's sentences quote.

use std::collections::BTreeMap;

use crate::row::{Method, Metric, Row};

/// A method's statistic at one setting, over seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The swept value.
    pub setting: f64,
    /// The setting as shown.
    pub label: String,
    /// Mean over seeds.
    pub mean: f64,
    /// Smallest value over seeds.
    pub min: f64,
    /// Largest value over seeds.
    pub max: f64,
    /// Seeds with a finite value.
    pub seeds: usize,
}

/// Mean and spread (min, max over seeds) of one metric of one experiment, per method (ordered
/// by name) and setting (ascending).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats(BTreeMap<Method, Vec<Point>>);

impl Stats {
    /// The summary of `metric` over the rows of experiment `id` (non-finite values skipped).
    pub fn new(rows: &[Row], id: &str, metric: Metric) -> Self {
        let mut groups: BTreeMap<(Method, u64, String), Vec<f64>> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.experiment == id) {
            if let Some(v) = metric.of(r).filter(|v| v.is_finite()) {
                groups.entry((r.method, r.setting.to_bits(), r.label.clone())).or_default().push(v);
            }
        }
        let mut out: BTreeMap<Method, Vec<Point>> = BTreeMap::new();
        for ((method, bits, label), v) in groups {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let (min, max) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            out.entry(method).or_default().push(Point {
                setting: f64::from_bits(bits),
                label,
                mean,
                min,
                max,
                seeds: v.len(),
            });
        }
        for v in out.values_mut() {
            v.sort_by(|a, b| a.setting.total_cmp(&b.setting));
        }
        Self(out)
    }

    /// No finite value at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each method with its points.
    pub fn iter(&self) -> impl Iterator<Item = (Method, &[Point])> {
        self.0.iter().map(|(m, p)| (*m, p.as_slice()))
    }

    /// A method's points (empty without any).
    pub fn points(&self, m: Method) -> &[Point] {
        self.0.get(&m).map_or(&[], Vec::as_slice)
    }

    /// The mean over seeds of method `m` at its last setting (NaN without one: the report says
    /// so).
    pub fn last_mean(&self, m: Method) -> f64 {
        self.points(m).last().map_or(f64::NAN, |p| p.mean)
    }

    /// The mean over seeds of method `m` at `setting` (NaN without one).
    pub fn mean_at(&self, m: Method, setting: f64) -> f64 {
        self.points(m).iter().find(|p| p.setting == setting).map_or(f64::NAN, |p| p.mean)
    }
}
