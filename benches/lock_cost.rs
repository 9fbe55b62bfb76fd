//! What the UniFFI instance's lock would cost per method without the bias (docs/design.md, "The
//! UniFFI instance's lock"): an uncontended `std::sync::Mutex` lock and unlock, against the biased
//! thread's relaxed store, compiler fence and load. Medians of 11 rounds of 10 M each.
//!
//!     cargo bench --bench lock_cost

use std::hint::black_box;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

const N: u32 = 10_000_000;

fn median_ns(mut body: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..11)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..N {
                body();
            }
            start.elapsed().as_nanos() as f64 / f64::from(N)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

fn main() {
    let mutex = Mutex::new(0u64);
    let locked = median_ns(|| *black_box(&mutex).lock().unwrap() += 1);
    let (busy, bias) = (AtomicBool::new(false), AtomicU64::new(1));
    let biased = median_ns(|| {
        let (busy, bias) = black_box((&busy, &bias));
        busy.store(true, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        black_box(bias.load(Ordering::Relaxed));
        busy.store(false, Ordering::Release);
    });
    println!("uncontended Mutex lock + unlock: {locked:.2} ns");
    println!("biased thread's handshake: {biased:.2} ns");
}
