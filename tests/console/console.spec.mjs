// The console in a real browser: Debian's headless Chromium driven by
// playwright-core, against a running `herald console` (started, with its
// fleet, by tests/e2e/tests/it/console.rs).
//
// Environment:
//   CONSOLE_URL     the console (http://127.0.0.1:PORT)
//   SCREENSHOTS     directory for destinations.png, preview.png, dead-letters.png, deliveries.png
//   SECRETS         newline-separated values no answer may contain
//   DEAD_EVENT      the event id of the dead letter to replay
//   TRACE_URL       where its Jaeger link must point
//   CHROMIUM        the browser (default /usr/bin/chromium)
//
// Prints one line per step and a closing `N passed, N failed`; exits non-zero on failure.

import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.env.CONSOLE_URL;
const shots = process.env.SCREENSHOTS;
const secrets = (process.env.SECRETS || "").split("\n").filter(Boolean);
const deadEvent = process.env.DEAD_EVENT;
const STEP = 45_000;

if (!url || !shots || !deadEvent) {
  console.error("CONSOLE_URL, SCREENSHOTS and DEAD_EVENT are required");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "herald-console-chromium-"));
// A closed network: without the background-networking flags Chromium keeps
// trying to reach its services and misbehaves.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1400, height: 860 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(STEP);

const bodies = [];
const pending = [];
page.on("response", (r) => {
  if (new URL(r.url()).origin === new URL(url).origin) {
    pending.push(r.text().then((t) => bodies.push(`${r.url()}\n${t}`), () => {}));
  }
});
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));

let passed = 0;
let failed = 0;
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    await page.screenshot({ path: join(shots, `failure-${passed + failed}.png`) }).catch(() => {});
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

await step("the page loads and shows every destination", async () => {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  for (const d of ["ops-webhook", "flaky", "ops-teams", "sec-jira"]) {
    await page.waitForSelector(`#destination-rows tr[data-destination="${d}"]`);
  }
  const channel = await page.textContent('tr[data-destination="ops-teams"] td:nth-child(2)');
  expect(channel === "teams", `ops-teams shows channel ${channel}`);
});

await step("Test sends a real notification and shows the provider's answer", async () => {
  await page.click('button.test[data-destination="ops-webhook"]');
  await page.waitForSelector('#test-result.ok[data-destination="ops-webhook"]');
  const text = await page.textContent("#test-result");
  expect(text.includes("Delivered") && text.includes("200"), `test result: ${text}`);
});

await step("Test of a Jira destination asks first, and sends nothing when declined", async () => {
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    d.dismiss();
  });
  await page.click('button.test[data-destination="sec-jira"]');
  expect(asked.includes("real issue"), `the confirmation said: ${asked}`);
  const shown = await page.getAttribute("#test-result", "data-destination");
  expect(shown === "ops-webhook", `a declined test still ran: ${shown}`);
  await page.screenshot({ path: join(shots, "destinations.png") });
});

await step("Preview renders a Teams Adaptive Card with Microsoft's renderer", async () => {
  await page.click('.tab[data-tab="preview"]');
  await page.selectOption("#preview-destination", "ops-teams");
  await page.selectOption("#preview-seed", "dsops-rotation.failed");
  await page.click("#preview-run");
  await page.waitForSelector('#rendered[data-channel="teams"] .teams-card .ac-adaptiveCard');
  const card = await page.textContent("#rendered .teams-card");
  expect(card.includes("postgres-prod"), `card text: ${card}`);
  const raw = await page.textContent("#raw-request");
  expect(raw.startsWith("POST ") && raw.includes("AdaptiveCard"), `raw request: ${raw.slice(0, 200)}`);
  await page.screenshot({ path: join(shots, "preview.png") });
});

await step("Preview shows a Slack-like rendering of a hostile event, escaped", async () => {
  await page.selectOption("#preview-destination", "ops-webhook");
  await page.selectOption("#preview-seed", "hostile-injection");
  await page.click("#preview-run");
  await page.waitForFunction(() => document.querySelector("#raw-request").textContent.includes("hostile"));
  const injected = await page.$$eval("#rendered script", (s) => s.length);
  expect(injected === 0, "a script element was injected");
});

await step("Dead letters: the failed event is listed and replayed", async () => {
  await page.click('.tab[data-tab="dlq"]');
  await page.selectOption("#dlq-destination", "flaky");
  const row = `#dlq-rows tr[data-event="${deadEvent}"]`;
  await page.waitForSelector(row);
  const text = await page.textContent(row);
  expect(text.includes("permanent") && text.includes("400"), `dead letter row: ${text}`);
  await page.screenshot({ path: join(shots, "dead-letters.png") });
  await page.click(`${row} button.replay`);
  await page.waitForSelector("#dlq-result.ok");
  const result = await page.textContent("#dlq-result");
  expect(result.includes(`Replayed dead letter`), `replay result: ${result}`);
});

await step("Live deliveries show the replayed event delivered", async () => {
  await page.click('.tab[data-tab="deliveries"]');
  const flaky = `#delivery-rows tr[data-event="${deadEvent}"][data-destination="flaky"]`;
  await page.waitForSelector(`${flaky}[data-outcome="delivered"]`);
  await page.waitForSelector(`${flaky}[data-outcome="dead_lettered"]`);
  const link = await page.getAttribute(`${flaky}[data-outcome="dead_lettered"] a`, "href");
  expect(link === process.env.TRACE_URL, `trace link ${link}`);
  await page.screenshot({ path: join(shots, "deliveries.png") });
});

await step("No answer carries a configured secret, and the page threw nothing", async () => {
  await Promise.all(pending);
  expect(bodies.length > 10, `only ${bodies.length} answers seen`);
  for (const body of bodies) {
    for (const s of secrets) expect(!body.includes(s), `a secret in ${body.split("\n")[0]}`);
  }
  expect(pageErrors.length === 0, `page errors: ${pageErrors.join("; ")}`);
});

await context.close();
rmSync(profile, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
