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

/// `rounds` samples of each of `count` layers: each round takes one sample from every layer, in a
/// rotating order, so that the floor and each layer see the same machine state. `sample(i)`
/// measures layer i once.
pub fn interleaved_rounds(rounds: usize, count: usize, mut sample: impl FnMut(usize) -> f64) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::with_capacity(rounds); count];
    for round in 0..rounds {
        for offset in 0..count {
            let index = (round + offset) % count;
            samples[index].push(sample(index));
        }
    }
    samples
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
