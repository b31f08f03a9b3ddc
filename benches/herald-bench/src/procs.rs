//! Child processes: nats-server, the consumer under test, and their CPU time.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

/// CPU time a process has used so far, in clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cpu {
    pub(crate) user: u64,
    pub(crate) system: u64,
}

impl Cpu {
    /// Reads `utime` and `stime` from `/proc/<pid>/stat` (`pid` 0: this process).
    pub(crate) fn of(pid: u32) -> anyhow::Result<Self> {
        let path = if pid == 0 {
            "/proc/self/stat".to_string()
        } else {
            format!("/proc/{pid}/stat")
        };
        let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .context("malformed stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
        let field = |i: usize| -> anyhow::Result<u64> {
            fields
                .get(i)
                .context("short stat")?
                .parse()
                .context("stat field")
        };
        Ok(Self {
            user: field(11)?,
            system: field(12)?,
        })
    }

    /// The CPU used between `earlier` and `self`, in µs, as (user, system).
    pub(crate) fn since_us(self, earlier: Self, ticks_per_sec: u64) -> (f64, f64) {
        let us = |t: u64| t as f64 * 1e6 / ticks_per_sec as f64;
        (
            us(self.user.saturating_sub(earlier.user)),
            us(self.system.saturating_sub(earlier.system)),
        )
    }
}

/// Busy CPU time of the whole machine so far, in clock ticks (all CPUs).
pub(crate) fn machine_busy_ticks() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat").context("read /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait.
    Ok([0usize, 1, 2, 5, 6, 7]
        .iter()
        .map(|i| v.get(*i).copied().unwrap_or(0))
        .sum())
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 when unknown).
pub(crate) fn ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A child process killed when dropped, with its output in a log file.
#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) log: PathBuf,
}

impl Proc {
    /// Starts `program` with `args`, stdout and stderr going to `log`.
    pub(crate) fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        let out = std::fs::File::create(&log).with_context(|| format!("create {log:?}"))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("start {}", program.display()))?;
        let pid = child.id().context("child has no pid")?;
        Ok(Self {
            name: name.to_string(),
            child,
            pid,
            log,
        })
    }

    /// Fails, quoting the log, if the process has exited.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); its log:\n{}",
                self.name,
                self.log_tail()
            );
        }
        Ok(())
    }

    /// The last lines of the log.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Kills the process and reaps it.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A `nats-server -js` on a free port with its own store.
#[derive(Debug)]
pub(crate) struct NatsServer {
    pub(crate) proc: Proc,
    pub(crate) url: String,
    /// The monitoring endpoint's `/varz`.
    pub(crate) varz: String,
}

/// Messages the server has received from and sent to clients so far.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MsgCounts {
    pub(crate) received: u64,
    pub(crate) sent: u64,
    /// Subscriptions created so far (`/subsz` `num_inserts`).
    pub(crate) subscribed: u64,
}

impl NatsServer {
    /// Reads `in_msgs` and `out_msgs` from `/varz`, `num_inserts` from `/subsz`.
    pub(crate) async fn msg_counts(&self, http: &reqwest::Client) -> anyhow::Result<MsgCounts> {
        let v: serde_json::Value = http.get(&self.varz).send().await?.json().await?;
        let subsz = self.varz.replace("/varz", "/subsz");
        let s: serde_json::Value = http.get(&subsz).send().await?.json().await?;
        let n = |v: &serde_json::Value, k: &str| {
            v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0)
        };
        Ok(MsgCounts {
            received: n(&v, "in_msgs"),
            sent: n(&v, "out_msgs"),
            subscribed: n(&s, "num_inserts"),
        })
    }
}

impl NatsServer {
    /// Starts one and waits until it accepts connections.
    pub(crate) async fn start(dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let monitor = free_port()?;
        let store = dir.join("jetstream");
        let args = vec![
            "-js".to_string(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-m".into(),
            monitor.to_string(),
            "-sd".into(),
            store.display().to_string(),
        ];
        let mut proc = Proc::spawn(
            "nats-server",
            Path::new("nats-server"),
            &args,
            &[],
            dir.join("nats-server.log"),
        )?;
        let url = format!("nats://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            proc.check_alive()?;
            if async_nats::connect(url.as_str()).await.is_ok() {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                bail!("nats-server did not come up; its log:\n{}", proc.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let varz = format!("http://127.0.0.1:{monitor}/varz");
        Ok(Self { proc, url, varz })
    }
}

/// Memory and threads of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Footprint {
    /// Peak resident set (`VmHWM`), in KiB.
    pub(crate) peak_kib: u64,
    /// Resident set now (`VmRSS`), in KiB.
    pub(crate) rss_kib: u64,
    /// Threads now.
    pub(crate) threads: u64,
}

impl Footprint {
    /// Reads `VmHWM`, `VmRSS` and `Threads` of `pid`.
    pub(crate) fn of(pid: u32) -> anyhow::Result<Self> {
        let path = format!("/proc/{pid}/status");
        let status = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(Self {
            peak_kib: field("VmHWM:"),
            rss_kib: field("VmRSS:"),
            threads: field("Threads:"),
        })
    }

    /// The peak in MiB.
    pub(crate) fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }

    /// The resident set in MiB.
    pub(crate) fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
}
