//! Locating the workspace's binaries, built once per test process.
//!
//! Integration tests of one package do not get the other packages' binaries
//! built, so the first call runs `cargo build --bins` in the workspace (every
//! worker and the `herald` CLI) with the same profile and target directory as the
//! running test executable. [`run_herald`] runs the `herald` command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};

/// The package built alone when the whole workspace does not build, so the
/// webhook tests still run and report.
const FALLBACK: &str = "herald-webhook";

/// Where the build put the binaries, or why it failed; computed once.
static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The path of workspace binary `name` (`herald-webhook`, `herald`), building
/// the binaries first on the first call in this process.
///
/// # Errors
/// When the build fails or the binary does not exist after it.
pub fn binary(name: &str) -> Result<PathBuf> {
    let dir = BUILT
        .get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("{e}"))?;
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

/// `target/<profile>` and the profile of the running test executable, which
/// lives in `target/<profile>/deps/`.
fn profile_dir() -> Result<(PathBuf, String)> {
    let exe = std::env::current_exe().context("locating the test executable")?;
    let deps = exe
        .parent()
        .context("the test executable has no directory")?;
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().context("no profile directory")?
    } else {
        deps
    };
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("no profile name")?
        .to_string();
    Ok((dir.to_path_buf(), profile))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build() -> Result<PathBuf> {
    let (dir, profile) = profile_dir()?;
    let target_dir = dir.parent().context("no target directory")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let run = |packages: &[&str]| -> Result<std::process::Output> {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(workspace_root()).arg("build");
        for p in packages {
            cmd.args(["-p", p]);
        }
        cmd.arg("--bins").arg("--target-dir").arg(target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        cmd.output().context("running cargo build")
    };
    let out = run(&[])?;
    if out.status.success() {
        return Ok(dir);
    }
    // Let tests of the webhook worker run while another package does not build.
    let fallback = run(&[FALLBACK])?;
    if fallback.status.success() {
        eprintln!(
            "herald-testkit: building the workspace's binaries failed; only {FALLBACK} was built:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return Ok(dir);
    }
    bail!(
        "cargo build --bins failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the `herald` command with `args` (no `NATS_URL` or `HERALD_CONFIG`
/// from the environment, warnings only), failing after `deadline`.
///
/// # Errors
/// When it cannot start or does not finish in time.
pub async fn run_herald(args: &[&str], deadline: Duration) -> Result<Output> {
    let child = tokio::process::Command::new(binary("herald")?)
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("HERALD_CONFIG")
        .env("HERALD_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting herald")?;
    tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .with_context(|| format!("herald {args:?} did not finish"))?
        .context("reading herald's output")
}

/// Runs `herald` (see [`run_herald`]) and returns its standard output,
/// failing when it fails.
///
/// # Errors
/// When it cannot start, does not finish in time, or exits unsuccessfully.
pub async fn run_herald_ok(args: &[&str], deadline: Duration) -> Result<String> {
    let out = run_herald(args, deadline).await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "herald {args:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}
