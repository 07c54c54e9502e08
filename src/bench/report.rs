//! The benchmark's figures: each measure with its unit, its target and, where Backstage was
//! measured on the same data, Backstage's figure and the ratio; printed as a table, written as
//! JSON, and compared across scales (the growth table).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// What a figure counts, and so which way is better.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    FilesPerSecond,
    RequestsPerSecond,
    Seconds,
    Milliseconds,
    MiB,
    KiB,
    Count,
    Percent,
}

impl Unit {
    /// Whether a larger value is better (throughput) rather than worse (time, memory, count).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Unit::FilesPerSecond | Unit::RequestsPerSecond)
    }

    fn suffix(self) -> &'static str {
        match self {
            Unit::FilesPerSecond => "files/s",
            Unit::RequestsPerSecond => "req/s",
            Unit::Seconds => "s",
            Unit::Milliseconds => "ms",
            Unit::MiB => "MiB",
            Unit::KiB => "KiB",
            Unit::Count => "",
            Unit::Percent => "%",
        }
    }
}

/// A target a figure should meet.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
    /// At least this many times better than Backstage's figure.
    TimesBackstage(f64),
}

/// One measured figure.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Figure {
    /// The phase that measured it: `validate`, `crawl`, `graphql`, ...
    pub phase: String,
    /// What it is, e.g. "first crawl, until queryable".
    pub measure: String,
    pub value: f64,
    pub unit: Unit,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// Backstage's figure for the same measure on the same data (same unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backstage: Option<f64>,
    /// Context: counts, what was included, why a figure is a bound.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Figure {
    pub fn new(phase: &str, measure: impl Into<String>, value: f64, unit: Unit) -> Figure {
        Figure {
            phase: phase.to_owned(),
            measure: measure.into(),
            value,
            unit,
            targets: Vec::new(),
            backstage: None,
            note: String::new(),
        }
    }

    pub fn target(mut self, target: Target) -> Figure {
        self.targets.push(target);
        self
    }

    pub fn backstage(mut self, value: Option<f64>) -> Figure {
        self.backstage = value;
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Figure {
        self.note = note.into();
        self
    }

    /// How many times better sextant is than Backstage (above 1: sextant is better).
    pub fn ratio(&self) -> Option<f64> {
        let backstage = self.backstage?;
        if backstage <= 0.0 || self.value <= 0.0 {
            return None;
        }
        Some(if self.unit.higher_is_better() {
            self.value / backstage
        } else {
            backstage / self.value
        })
    }

    /// Whether every target is met (`None` without targets, or when a ratio target has no
    /// Backstage figure).
    pub fn meets_targets(&self) -> Option<bool> {
        if self.targets.is_empty() {
            return None;
        }
        let mut met = true;
        for target in &self.targets {
            met &= self.meets(*target)?;
        }
        Some(met)
    }

    /// Whether one target is met (`None` for a ratio target without a Backstage figure).
    fn meets(&self, target: Target) -> Option<bool> {
        Some(match target {
            Target::AtLeast(bound) => self.value >= bound,
            Target::AtMost(bound) => self.value <= bound,
            Target::TimesBackstage(times) => self.ratio()? >= times,
        })
    }

    /// Each target with its own verdict: `≥ 50,000 files/s (MISSED), ≥ 10× Backstage (met)`.
    fn targets_text(&self) -> String {
        self.targets
            .iter()
            .map(|target| {
                let bound = match *target {
                    Target::AtLeast(bound) => format!("≥ {}", format_value(bound, self.unit)),
                    Target::AtMost(bound) => format!("≤ {}", format_value(bound, self.unit)),
                    Target::TimesBackstage(times) => format!("≥ {times:.0}× Backstage"),
                };
                match self.meets(*target) {
                    Some(true) => format!("{bound} (met)"),
                    Some(false) => format!("{bound} (MISSED)"),
                    None => bound,
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One scale's run: where and what was measured, and every figure.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Report {
    pub scale: String,
    pub repositories: usize,
    pub entities: usize,
    pub commit: String,
    pub started_at: String,
    pub machine: String,
    pub seconds: f64,
    pub figures: Vec<Figure>,
}

impl Report {
    pub fn add(&mut self, figure: Figure) {
        self.figures.push(figure);
    }

    /// The figures as a Markdown table (readable in a terminal too).
    pub fn table(&self) -> String {
        let mut text = format!(
            "\n## sextant bench --scale {}: {} repositories, {} entities\n{} · commit {} · {} · {:.0} s\n\n",
            self.scale,
            thousands(self.repositories as f64),
            thousands(self.entities as f64),
            self.started_at,
            self.commit,
            self.machine,
            self.seconds
        );
        text.push_str("| phase | measure | sextant | target | Backstage | ratio | note |\n|---|---|---|---|---|---|---|\n");
        for figure in &self.figures {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {} | {} | {} |",
                figure.phase,
                figure.measure,
                format_value(figure.value, figure.unit),
                figure.targets_text(),
                figure.backstage.map_or(String::new(), |value| format_value(value, figure.unit)),
                figure.ratio().map_or(String::new(), |ratio| format!("{ratio:.1}×")),
                figure.note
            );
        }
        text
    }
}

/// How each figure grows from the first report to the last (e.g. small to medium): the value
/// at each scale and the factor, beside the factor by which the entities grew.
pub fn growth_table(reports: &[Report]) -> String {
    let (Some(first), Some(last)) = (reports.first(), reports.last()) else {
        return String::new();
    };
    if reports.len() < 2 {
        return String::new();
    }
    let size = last.entities as f64 / first.entities.max(1) as f64;
    let mut text = format!(
        "\n## Growth: {} → {} ({} → {} entities, ×{size:.1})\n\n| phase | measure | {} | growth | reading |\n|---|---|{}---|---|\n",
        first.scale,
        last.scale,
        thousands(first.entities as f64),
        thousands(last.entities as f64),
        reports.iter().map(|report| report.scale.as_str()).collect::<Vec<_>>().join(" | "),
        "---|".repeat(reports.len())
    );
    for figure in &first.figures {
        let values: Vec<Option<&Figure>> = reports
            .iter()
            .map(|report| {
                report
                    .figures
                    .iter()
                    .find(|other| other.phase == figure.phase && other.measure == figure.measure)
            })
            .collect();
        let Some(Some(final_figure)) = values.last() else {
            continue;
        };
        let factor = if figure.value > 0.0 {
            final_figure.value / figure.value
        } else {
            f64::NAN
        };
        let reading = growth_reading(factor, size, figure.unit);
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {reading} |",
            figure.phase,
            figure.measure,
            values
                .iter()
                .map(|value| value.map_or("–".to_owned(), |value| format_value(value.value, value.unit)))
                .collect::<Vec<_>>()
                .join(" | "),
            if factor.is_finite() {
                format!("×{factor:.2}")
            } else {
                "–".to_owned()
            }
        );
    }
    text
}

/// Whether a cost grows with the size (linear), slower (sublinear) or faster (superlinear).
fn growth_reading(factor: f64, size: f64, unit: Unit) -> &'static str {
    if !factor.is_finite() || size <= 1.0 {
        return "";
    }
    if unit.higher_is_better() {
        // A rate that holds as the data grows is linear cost.
        return if factor >= 0.8 {
            "rate holds (linear cost)"
        } else if factor >= 0.5 {
            "rate drops (slightly superlinear)"
        } else {
            "rate falls (superlinear)"
        };
    }
    let exponent = factor.ln() / size.ln();
    if exponent < 0.25 {
        "flat"
    } else if exponent < 0.8 {
        "sublinear"
    } else if exponent <= 1.2 {
        "linear"
    } else {
        "superlinear"
    }
}

/// A value in its unit, with thousands separated: "52,310 files/s", "14.2 ms".
pub fn format_value(value: f64, unit: Unit) -> String {
    let number = match unit {
        Unit::FilesPerSecond | Unit::RequestsPerSecond | Unit::KiB | Unit::Count => thousands(value),
        Unit::Seconds | Unit::Milliseconds | Unit::MiB | Unit::Percent if value >= 100.0 => thousands(value),
        Unit::Seconds | Unit::Milliseconds | Unit::MiB | Unit::Percent if value >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    };
    match unit.suffix() {
        "" => number,
        suffix => format!("{number} {suffix}"),
    }
}

/// 30871.4 → "30,871".
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 { format!("-{grouped}") } else { grouped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_favour_sextant_whichever_way_the_unit_points() {
        let rate = Figure::new("validate", "one core", 50_000.0, Unit::FilesPerSecond).backstage(Some(5_000.0));
        assert_eq!(rate.ratio(), Some(10.0));
        let time = Figure::new("crawl", "first", 2.0, Unit::Seconds).backstage(Some(100.0));
        assert_eq!(time.ratio(), Some(50.0));
        assert_eq!(time.clone().target(Target::TimesBackstage(50.0)).meets_targets(), Some(true));
        assert_eq!(time.target(Target::TimesBackstage(51.0)).meets_targets(), Some(false));
        let alone = Figure::new("crawl", "first", 2.0, Unit::Seconds).target(Target::TimesBackstage(2.0));
        assert_eq!(alone.meets_targets(), None, "no Backstage figure, no verdict");
    }

    #[test]
    fn each_target_of_a_figure_gets_its_own_verdict() {
        let rate = Figure::new("validate", "one core", 25_000.0, Unit::FilesPerSecond)
            .backstage(Some(2_000.0))
            .target(Target::AtLeast(50_000.0))
            .target(Target::TimesBackstage(10.0));
        assert_eq!(rate.meets_targets(), Some(false));
        assert_eq!(rate.targets_text(), "≥ 50,000 files/s (MISSED), ≥ 10× Backstage (met)");
    }

    #[test]
    fn targets_are_checked_each_way() {
        let latency = Figure::new("graphql", "p99", 21.0, Unit::Milliseconds).target(Target::AtMost(20.0));
        assert_eq!(latency.meets_targets(), Some(false));
        let rate = Figure::new("graphql", "rate", 2_100.0, Unit::RequestsPerSecond).target(Target::AtLeast(2_000.0));
        assert_eq!(rate.meets_targets(), Some(true));
        assert!(
            Report {
                scale: "small".into(),
                repositories: 1,
                entities: 2,
                commit: "c".into(),
                started_at: "t".into(),
                machine: "m".into(),
                seconds: 1.0,
                figures: vec![latency]
            }
            .table()
            .contains("≤ 20.0 ms (MISSED)")
        );
    }

    #[test]
    fn growth_reads_the_exponent() {
        let report = |scale: &str, entities: usize, crawl: f64, walk: f64| Report {
            scale: scale.into(),
            repositories: entities / 3,
            entities,
            commit: String::new(),
            started_at: String::new(),
            machine: String::new(),
            seconds: 0.0,
            figures: vec![
                Figure::new("crawl", "first", crawl, Unit::Seconds),
                Figure::new("graph", "walk", walk, Unit::Milliseconds),
            ],
        };
        let table = growth_table(&[report("small", 1_000, 1.0, 5.0), report("medium", 10_000, 10.5, 5.5)]);
        assert!(table.contains("| crawl | first | 1.00 s | 10.5 s | ×10.50 | linear |"), "{table}");
        assert!(table.contains("| graph | walk | 5.00 ms | 5.50 ms | ×1.10 | flat |"), "{table}");
        assert!(
            table.contains("|---|---|---|---|---|---|\n"),
            "one separator column per column: {table}"
        );
        let nothing = growth_table(&[report("small", 1_000, 0.0, 5.0), report("medium", 10_000, 0.0, 5.5)]);
        assert!(nothing.contains("| crawl | first | 0.00 s | 0.00 s | – |"), "{nothing}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(30_871.4), "30,871");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
    }
}
