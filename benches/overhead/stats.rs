//! Medians and ratios over interleaved rounds.

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

/// The median of the per-round ratios `samples[i] / baseline[i]`: robust against the machine
/// speeding up or slowing down between rounds, since both sides of a ratio share a round.
pub fn median_ratio(samples: &[f64], baseline: &[f64]) -> f64 {
    let ratios: Vec<f64> = samples.iter().zip(baseline).map(|(sample, base)| sample / base).collect();
    median(&ratios)
}

/// Human units for a duration in nanoseconds.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}
