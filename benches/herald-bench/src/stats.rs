//! Percentiles, medians, and a description of the machine for the report.

use std::fmt::Write as _;

/// The `p` quantile in ms of samples in µs (sorts them); NaN when empty.
/// `p = 1.0` is the maximum.
pub(crate) fn percentile(samples: &mut [u32], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    f64::from(samples[rank - 1]) / 1_000.0
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        f64::midpoint(v[m - 1], v[m])
    }
}

/// The first line a command prints (stdout, else stderr), or `?`.
pub(crate) fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if s.is_empty() {
                s = String::from_utf8_lossy(&o.stderr).trim().to_string();
            }
            s
        })
        .unwrap_or_else(|| "?".into())
}

/// `Machine: 2 CPU(s) (model), Linux x, nats-server vX; clock tick N Hz.`
pub(crate) fn machine(ticks: u64) -> String {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mut out = String::new();
    let _ = write!(
        out,
        "Machine: {} CPU(s) ({cpu_model}), Linux {}, {}; clock tick {ticks} Hz.",
        std::thread::available_parallelism().map_or(0, usize::from),
        command_output("uname", &["-r"]),
        command_output("nats-server", &["--version"]),
    );
    out
}

/// CPU used by everything else on the machine over an interval, in cores:
/// machine busy time minus the processes measured (`ours_us`), over `secs`.
pub(crate) fn other_cores(busy_ticks: u64, ticks: u64, ours_us: f64, secs: f64) -> f64 {
    let busy_us = busy_ticks as f64 * 1e6 / ticks as f64;
    ((busy_us - ours_us) / 1e6 / secs.max(1e-9)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let mut v: Vec<u32> = (1..=100).map(|i| i * 1_000).collect();
        assert!((percentile(&mut v, 0.5) - 50.0).abs() < 1e-9);
        assert!((percentile(&mut v, 0.99) - 99.0).abs() < 1e-9);
        assert!((percentile(&mut v, 1.0) - 100.0).abs() < 1e-9);
        assert!(percentile(&mut [], 0.5).is_nan());
        assert!((median(vec![3.0, 1.0, 2.0]) - 2.0).abs() < 1e-9);
        assert!((median(vec![4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-9);
    }

    #[test]
    fn other_load_is_busy_time_minus_ours() {
        // 300 ticks at 100 Hz = 3 s busy over 2 s; ours 1 s: 1 core of other load.
        assert!((other_cores(300, 100, 1e6, 2.0) - 1.0).abs() < 1e-9);
        assert!(other_cores(10, 100, 1e6, 2.0).abs() < 1e-9);
    }
}
