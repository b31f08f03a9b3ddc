//! The receiver examples in `docs/receiving-webhooks.md` verify what a
//! worker really sends: the Python and Node.js functions are taken from the
//! page as written and run against a request signed with two active secrets.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_testkit::{NatsServer, Receiver, event, publish, webhook, write_fleet_config};
use serde_json::{Value, json};

use crate::support::{SOON, start_worker};

const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const WRONG: &str = "whsec_dGhpcyBpcyBub3QgdGhlIGtleSBhdCBhbGw=";

/// The first fenced block in `language` after the heading `heading`.
fn example(doc: &str, heading: &str, language: &str) -> Result<String> {
    let section = doc
        .split_once(&format!("\n## {heading}\n"))
        .with_context(|| format!("no `## {heading}` section"))?
        .1;
    let fence = format!("```{language}\n");
    let code = section
        .split_once(&fence)
        .with_context(|| format!("no {language} block under {heading}"))?
        .1;
    Ok(code
        .split_once("\n```")
        .with_context(|| format!("unclosed {language} block"))?
        .0
        .to_owned())
}

/// What each check expects: (secrets, tamper with the body, seconds from the
/// signing time, verifies).
fn checks(ts: i64) -> Vec<(Vec<&'static str>, bool, i64, bool)> {
    vec![
        (vec![OLD], false, 0, true),
        (vec![NEW], false, 0, true),
        (vec![WRONG, NEW], false, 0, true),
        (vec![WRONG], false, 0, false),
        (vec![OLD, NEW], true, 0, false),
        (vec![OLD], false, 299, true),
        (vec![OLD], false, 301, false),
        (vec![OLD], false, -301, false),
    ]
    .into_iter()
    .map(|(s, t, d, v)| (s, t, ts + d, v))
    .collect()
}

fn run(program: &str, args: &[&Path]) -> Result<Vec<bool>> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{program} printed: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

const PYTHON_HARNESS: &str = r#"
import base64, json, sys
namespace = {}
exec(open(sys.argv[1]).read(), namespace)
case = json.load(open(sys.argv[2]))
body = base64.b64decode(case["body"])
print(json.dumps([
    namespace["verify"](c["secrets"], case["headers"], body + (b" " if c["tamper"] else b""), now=c["now"])
    for c in case["checks"]
]))
"#;

const NODE_HARNESS: &str = r#"
const fs = require("node:fs");
const { verify } = require(process.argv[2]);
const c = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const body = Buffer.from(c.body, "base64");
console.log(JSON.stringify(c.checks.map((k) =>
  verify(k.secrets, c.headers, k.tamper ? Buffer.concat([body, Buffer.from(" ")]) : body, k.now))));
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_python_and_node_receivers_verify_a_worker_request() -> Result<()> {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/receiving-webhooks.md");
    let doc = std::fs::read_to_string(&doc_path)
        .with_context(|| format!("reading {}", doc_path.display()))?;
    let python = example(&doc, "Python", "python")?;
    let node = example(&doc, "Node.js", "javascript")?;

    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut dest = webhook("signed", &receiver.url(), &["rotation.>"]);
    dest["signing"] = json!({"scheme": "standard-webhooks", "secrets": [NEW, OLD]});
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;
    publish(
        &js,
        "rotation.failed",
        "recv-1",
        event(
            "recv-1",
            &json!({"resource": "postgres-prod", "note": "ünïcode & <b>"}),
        ),
    )
    .await?;
    let req = receiver.wait_for(1, SOON).await?.remove(0);
    let signature = req.header("webhook-signature").unwrap_or_default();
    ensure!(
        signature.split(' ').count() == 2,
        "two secrets, two signatures: {signature}"
    );
    let ts: i64 = req
        .header("webhook-timestamp")
        .unwrap_or_default()
        .parse()?;
    let headers: Value = ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .map(|h| ((*h).to_owned(), json!(req.header(h).unwrap_or_default())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let expected: Vec<bool> = checks(ts).iter().map(|c| c.3).collect();
    let case = json!({
        "headers": headers,
        "body": STANDARD.encode(&req.body),
        "checks": checks(ts).iter().map(|(secrets, tamper, now, _)| json!({
            "secrets": secrets, "tamper": tamper, "now": now,
        })).collect::<Vec<_>>(),
    });

    let dir = tempfile::tempdir()?;
    let write = |name: &str, text: &str| -> Result<std::path::PathBuf> {
        let p = dir.path().join(name);
        std::fs::write(&p, text)?;
        Ok(p)
    };
    let case_file = write("case.json", &case.to_string())?;
    let py = run(
        "python3",
        &[
            &write("harness.py", PYTHON_HARNESS)?,
            &write("verify.py", &python)?,
            &case_file,
        ],
    )?;
    ensure!(py == expected, "python: {py:?}, expected {expected:?}");
    let js_results = run(
        "node",
        &[
            &write("harness.js", NODE_HARNESS)?,
            &write("verify.js", &node)?,
            &case_file,
        ],
    )?;
    ensure!(
        js_results == expected,
        "node: {js_results:?}, expected {expected:?}"
    );
    Ok(())
}
