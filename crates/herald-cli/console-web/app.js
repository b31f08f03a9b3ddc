// The Herald console page. Plain JavaScript, no build step. Every text that
// comes from events, providers or the configuration is inserted as text
// (textContent), or escaped before any markup is added.
"use strict";

const $ = (sel) => document.querySelector(sel);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** Calls the API; actions carry the console's header and a JSON body. */
async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: {} };
  if (method !== "GET") {
    init.headers["X-Herald-Console"] = "1";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  const r = await fetch(path, init);
  let data = null;
  try { data = await r.json(); } catch { data = { error: `HTTP ${r.status}` }; }
  return { ok: r.ok, status: r.status, data };
}

function ago(iso) {
  if (!iso) return "never";
  const t = new Date(iso);
  const s = Math.max(0, Math.round((Date.now() - t.getTime()) / 1000));
  const rel = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
  return `${rel} ago`;
}

function time(iso) {
  return iso ? new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

// ---------------------------------------------------------------- tabs

function showTab(name) {
  for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== name;
  if (name === "dlq") loadDeadLetters();
  history.replaceState(null, "", `#${name}`);
}

// ---------------------------------------------------------------- destinations

let destinations = [];

async function refreshDestinations() {
  const r = await api("/api/destinations");
  if (!r.ok) {
    $("#refreshed").textContent = `Cannot read the fleet: ${r.data.error}`;
    return;
  }
  destinations = r.data.destinations;
  const rows = destinations.map((d) => {
    const rec = d.record || {};
    const rate = d.rate_limit ? `${d.rate_limit.per_second}/s, burst ${d.rate_limit.burst}${d.rate_limit.default ? " (default)" : ""}` : "none";
    const lastError = rec.last_error ? `${ago(rec.last_error.at)}: ${rec.last_error.reason}` : "";
    const broken = d.state === "broken" && rec.last_broken ? ` — broken: ${rec.last_broken.reason}` : "";
    return el("tr", { "data-destination": d.destination },
      el("td", {}, el("strong", { text: d.destination })),
      el("td", { text: d.channel }),
      el("td", {}, el("code", { text: d.events.join(", ") })),
      el("td", { text: rate }),
      el("td", {}, el("span", { class: `badge ${d.state.replace(" ", "_")}`, text: d.state })),
      el("td", { class: "num", text: d.pending }),
      el("td", { class: "num", text: d.ack_pending }),
      el("td", { class: "num", text: d.dead_letters }),
      el("td", { text: ago(rec.last_success) }),
      el("td", { class: "last-error", text: lastError + broken }),
      el("td", {}, el("button", { class: "test", "data-destination": d.destination, text: "Test", onclick: () => testSend(d) })),
    );
  });
  $("#destination-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: 11, class: "muted", text: "No destinations in the configuration." }))]));
  $("#refreshed").textContent = `Updated ${time(r.data.time)}`;
  fillDestinationSelects();
}

async function testSend(d) {
  const out = $("#test-result");
  let confirm = false;
  if (d.test_notice) {
    confirm = window.confirm(`A test of ${d.destination} (${d.channel}) ${d.test_notice}.\n\nSend it?`);
    if (!confirm) return;
  }
  out.hidden = false;
  out.className = "result";
  out.textContent = `Sending a test notification to ${d.destination}…`;
  const r = await api(`/api/destinations/${encodeURIComponent(d.destination)}/test`, { method: "POST", body: { confirm } });
  out.className = `result ${r.ok && r.data.delivered ? "ok" : "bad"}`;
  const lines = [`${d.destination}: ${r.ok ? r.data.message : r.data.error}`];
  if (r.ok && r.data.request) lines.push(`${r.data.request.method} ${r.data.request.target}`);
  out.replaceChildren(el("strong", { text: r.ok && r.data.delivered ? "Delivered" : "Not delivered" }), "\n", lines.join("\n"));
  out.dataset.destination = d.destination;
  refreshDestinations();
}

function fillDestinationSelects() {
  for (const id of ["#preview-destination", "#dlq-destination"]) {
    const sel = $(id);
    const have = [...sel.options].map((o) => o.value).filter((v) => v);
    const want = destinations.map((d) => d.destination);
    if (have.join() === want.join()) continue;
    const keep = sel.value;
    const first = id === "#dlq-destination" ? [el("option", { value: "", text: "All destinations" })] : [];
    sel.replaceChildren(...first, ...destinations.map((d) => el("option", { value: d.destination, text: `${d.destination} (${d.channel})` })));
    if (keep) sel.value = keep;
    if (id === "#dlq-destination") dlqSelectionChanged();
  }
}

// ---------------------------------------------------------------- preview

async function runPreview(ev) {
  ev?.preventDefault();
  const destination = $("#preview-destination").value;
  const pasted = $("#preview-event").value.trim();
  const subject = $("#preview-subject").value.trim() || undefined;
  const body = { destination, subject };
  $("#preview-error").hidden = true;
  $("#preview-note").hidden = true;
  if ($("#paste").open && pasted) {
    try { body.event = JSON.parse(pasted); } catch (e) {
      showPreviewError({ error: `The pasted event is not JSON: ${e.message}` });
      return;
    }
  } else {
    body.seed = $("#preview-seed").value;
  }
  const r = await api("/api/preview", { method: "POST", body });
  if (!r.ok) {
    showPreviewError(r.data);
    return;
  }
  const p = r.data;
  if (p.note) { $("#preview-note").hidden = false; $("#preview-note").textContent = p.note; }
  const req = p.request;
  $("#raw-request").textContent = `${req.method} ${req.target}\n${req.headers.map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${pretty(req.body)}`;
  $("#rendered-title").textContent = `Rendered (${p.channel})`;
  const target = $("#rendered");
  target.replaceChildren();
  try {
    renderers[p.channel] ? renderers[p.channel](req, target) : target.append(el("p", { class: "muted", text: `No rendering for ${p.channel}: the request beside is what is sent.` }));
  } catch (e) {
    target.append(el("p", { class: "error", text: `Cannot render this ${p.channel} request: ${e.message}` }));
  }
  target.dataset.channel = p.channel;
}

function showPreviewError(data) {
  const box = $("#preview-error");
  box.hidden = false;
  const where = [];
  if (data.template_line) where.push(`template line ${data.template_line}`);
  if (data.config_line) where.push(`configuration line ${data.config_line}`);
  box.replaceChildren(el("strong", { text: where.length ? `Error at ${where.join(", ")}` : "Error" }), "\n", data.error || "unknown error");
  if (data.template_line) box.dataset.templateLine = data.template_line;
  $("#rendered").replaceChildren();
  $("#raw-request").textContent = "";
}

function pretty(body) {
  try { return JSON.stringify(JSON.parse(body), null, 2); } catch { return body; }
}

const renderers = {
  teams(req, target) {
    const body = JSON.parse(req.body);
    const att = (body.attachments || []).find((a) => a.contentType === "application/vnd.microsoft.card.adaptive");
    const content = att ? att.content : body.type === "AdaptiveCard" ? body : null;
    if (!content) {
      target.append(el("p", { class: "muted", text: "A legacy MessageCard: Teams renders it itself; the request beside is what is sent." }));
      return;
    }
    const card = new AdaptiveCards.AdaptiveCard();
    card.hostConfig = new AdaptiveCards.HostConfig({ fontFamily: "'Segoe UI', 'DejaVu Sans', sans-serif" });
    card.onExecuteAction = () => {};
    card.parse(content);
    const rendered = card.render();
    target.append(el("div", { class: "teams-card" }, rendered));
  },
  slack(req, target) {
    const body = JSON.parse(req.body);
    const parts = [];
    if (body.text && !body.blocks) parts.push(el("div", { class: "section", innerHTML: mrkdwn(body.text) }));
    for (const b of body.blocks || []) parts.push(slackBlock(b));
    for (const a of body.attachments || []) {
      const inner = [];
      if (a.title) inner.push(el("div", { class: "header", text: a.title }));
      if (a.text) inner.push(el("div", { class: "section", innerHTML: mrkdwn(a.text) }));
      if (a.fields) inner.push(el("div", { class: "fields" }, a.fields.map((f) => el("div", {}, el("strong", { text: f.title }), el("div", { innerHTML: mrkdwn(f.value || "") })))));
      for (const b of a.blocks || []) inner.push(slackBlock(b));
      if (a.footer) inner.push(el("div", { class: "context", text: a.footer }));
      const bar = el("div", { class: "attachment" }, inner);
      if (/^#?[0-9a-fA-F]{6}$/.test(a.color || "")) bar.style.borderLeftColor = a.color.startsWith("#") ? a.color : `#${a.color}`;
      parts.push(bar);
    }
    target.append(el("div", { class: "slack" }, el("div", { class: "msg" }, el("div", { class: "avatar", text: "H" }), el("div", {}, el("div", { class: "who", text: "Herald" }), parts))));
  },
  discord(req, target) {
    const body = JSON.parse(req.body);
    const parts = [];
    if (body.content) parts.push(el("div", { class: "content", text: body.content }));
    for (const e of body.embeds || []) {
      const inner = [];
      if (e.author?.name) inner.push(el("div", { class: "fname", text: e.author.name }));
      if (e.title) inner.push(el("div", { class: "title" + (e.url ? " link" : ""), text: e.title }));
      if (e.description) inner.push(el("div", { class: "desc", text: e.description }));
      if (e.fields?.length) inner.push(el("div", { class: "dfields" }, e.fields.map((f) => el("div", { class: f.inline ? "dfield inline" : "dfield" }, el("div", { class: "fname", text: f.name }), el("div", { text: f.value })))));
      const foot = [e.footer?.text, e.timestamp ? time(e.timestamp) : null].filter(Boolean).join(" • ");
      if (foot) inner.push(el("div", { class: "footer", text: foot }));
      const box = el("div", { class: "embed" }, inner);
      if (Number.isInteger(e.color)) box.style.borderLeftColor = `#${e.color.toString(16).padStart(6, "0")}`;
      parts.push(box);
    }
    target.append(el("div", { class: "discord" }, parts));
  },
  email(req, target) {
    let html = "";
    const marker = "----- text/html -----\n";
    if (req.body.includes(marker)) html = req.body.slice(req.body.indexOf(marker) + marker.length);
    else {
      try { html = JSON.parse(req.body).message.body.content; } catch { html = ""; }
    }
    const subject = req.headers.find(([k]) => k.toLowerCase() === "subject");
    if (subject) target.append(el("p", {}, el("strong", { text: "Subject: " }), subject[1]));
    // A sandbox without allow-scripts or allow-same-origin: the mail's HTML
    // runs nothing and reaches nothing.
    const frame = el("iframe", { title: "email preview" });
    frame.setAttribute("sandbox", "");
    frame.srcdoc = html;
    target.append(frame);
  },
};

function slackBlock(b) {
  const text = (t) => (t ? (t.type === "mrkdwn" ? mrkdwn(t.text) : escapeHtml(t.text)) : "");
  switch (b.type) {
    case "header": return el("div", { class: "header", innerHTML: text(b.text) });
    case "section": {
      const out = el("div", { class: "section" });
      if (b.text) out.append(el("div", { innerHTML: text(b.text) }));
      if (b.fields) out.append(el("div", { class: "fields" }, b.fields.map((f) => el("div", { innerHTML: text(f) }))));
      return out;
    }
    case "context": return el("div", { class: "context" }, (b.elements || []).map((e) => el("span", { innerHTML: e.type === "image" ? "" : text(e) + " " })));
    case "divider": return el("div", { class: "divider" });
    case "actions": return el("div", { class: "actions" }, (b.elements || []).map((e) => el("span", { class: `btn ${e.style || ""}`, innerHTML: text(e.text) })));
    default: return el("div", { class: "context", text: `[${b.type} block]` });
  }
}

/** Slack mrkdwn as HTML: control sequences (<url|text>, <@U1>, <!here>) and the
 *  three entities Slack uses are decoded, everything is escaped, then the
 *  formatting Slack shows is applied. */
function mrkdwn(src) {
  const decode = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const format = (s) => escapeHtml(decode(s))
    .replace(/```([\s\S]+?)```/g, "<pre>$1</pre>")
    .replace(/`([^`\n]+)`/g, "<code>$1</code>")
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<strong>$2</strong>")
    .replace(/(^|[\s(])_([^_\n]+)_/g, "$1<em>$2</em>")
    .replace(/(^|[\s(])~([^~\n]+)~/g, "$1<del>$2</del>")
    .replace(/\n/g, "<br>");
  return String(src).split(/(<[^<>]*>)/).map((part) => {
    const m = /^<([^<>]*)>$/.exec(part);
    if (!m) return format(part);
    const inner = m[1];
    if (inner.startsWith("@")) return `<span class="link">@${escapeHtml(decode(inner.slice(1)))}</span>`;
    if (inner.startsWith("!")) return `<span class="link">@${escapeHtml(decode(inner.slice(1).split("|")[0]))}</span>`;
    const [url, label] = inner.split("|");
    return `<span class="link" title="${escapeHtml(decode(url))}">${escapeHtml(decode(label ?? url))}</span>`;
  }).join("");
}

// ---------------------------------------------------------------- dead letters

function dlqSelectionChanged() {
  const d = $("#dlq-destination").value;
  $("#dlq-replay-all").disabled = !d;
  $("#dlq-purge").disabled = !d;
}

function dlqResult(ok, text) {
  const out = $("#dlq-result");
  out.hidden = false;
  out.className = `result ${ok ? "ok" : "bad"}`;
  out.textContent = text;
}

async function loadDeadLetters() {
  const d = $("#dlq-destination").value;
  const r = await api(`/api/dlq${d ? `?destination=${encodeURIComponent(d)}` : ""}`);
  if (!r.ok) { dlqResult(false, r.data.error); return; }
  const rows = r.data.letters.slice().reverse().map((l) => el("tr", { "data-seq": l.seq, "data-destination": l.destination, "data-event": l.event_id },
    el("td", { class: "num", text: l.seq }),
    el("td", { text: time(l.time) }),
    el("td", { text: l.destination }),
    el("td", {}, el("span", { class: "badge dead_lettered", text: l.reason || "-" })),
    el("td", { text: l.status || "" }),
    el("td", { class: "num", text: l.attempts || "" }),
    el("td", {}, el("code", { text: l.event_id })),
    el("td", { text: l.error || "" }),
    el("td", {}, el("button", { class: "replay", text: "Replay", onclick: () => replayOne(l) })),
  ));
  $("#dlq-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: 9, class: "muted", text: "No dead letters." }))]));
}

async function replayOne(l) {
  const r = await api(`/api/dlq/${l.seq}/replay`, { method: "POST" });
  dlqResult(r.ok, r.ok ? replayedText(r.data.replayed) : r.data.error);
}

function replayedText(replayed) {
  if (!replayed.length) return "Nothing to replay.";
  return replayed.map((x) => `${x.duplicate ? "Already replayed" : "Replayed"} dead letter ${x.seq} (event ${x.event_id}) to ${x.destination}.`).join("\n") +
    "\nWatch Live deliveries for the outcome.";
}

async function replayAll() {
  const d = $("#dlq-destination").value;
  if (!d) return;
  const r = await api(`/api/dlq/replay?destination=${encodeURIComponent(d)}`, { method: "POST" });
  dlqResult(r.ok, r.ok ? replayedText(r.data.replayed) : r.data.error);
}

async function purge() {
  const d = $("#dlq-destination").value;
  if (!d) return;
  const probe = await api(`/api/dlq/purge?destination=${encodeURIComponent(d)}`, { method: "POST", body: { confirm: false } });
  if (probe.status !== 409) { dlqResult(probe.ok, probe.data.error || "Nothing purged."); return; }
  if (!window.confirm(`${probe.data.error}.\n\nDelete them for good?`)) return;
  const r = await api(`/api/dlq/purge?destination=${encodeURIComponent(d)}`, { method: "POST", body: { confirm: true } });
  dlqResult(r.ok, r.ok ? `Deleted ${r.data.purged} dead letter(s) of ${r.data.destination}.` : r.data.error);
  loadDeadLetters();
}

// ---------------------------------------------------------------- live deliveries

let lastDelivery = 0;
const KEEP_ROWS = 200;

async function pollDeliveries() {
  const r = await api(`/api/deliveries?after=${lastDelivery}`);
  if (!r.ok) return;
  if (r.data.last < lastDelivery) lastDelivery = 0; // the console restarted
  const body = $("#delivery-rows");
  if (r.data.entries.length) body.querySelector("tr.empty")?.remove();
  for (const e of r.data.entries) {
    lastDelivery = Math.max(lastDelivery, e.n);
    const trace = e.trace_url ? el("a", { href: e.trace_url, target: "_blank", rel: "noopener noreferrer", text: "trace" }) : e.trace_id ? el("code", { text: e.trace_id.slice(0, 8), title: e.trace_id }) : "";
    body.prepend(el("tr", { class: "fresh", "data-event": e.event_id, "data-outcome": e.outcome, "data-destination": e.destination },
      el("td", { text: time(e.time) }),
      el("td", { text: e.destination }),
      el("td", { text: e.channel }),
      el("td", {}, el("code", { text: e.event_id })),
      el("td", { text: e.type }),
      el("td", {}, el("span", { class: `badge ${e.outcome}`, text: e.outcome.replace("_", " ") })),
      el("td", { text: e.status ?? "" }),
      el("td", { class: "num", text: e.attempt }),
      el("td", { text: e.reason ?? "" }),
      el("td", {}, trace),
    ));
  }
  while (body.rows.length > KEEP_ROWS) body.lastElementChild.remove();
}

// ---------------------------------------------------------------- start

async function start() {
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("#preview-form").addEventListener("submit", runPreview);
  $("#dlq-destination").addEventListener("change", () => { dlqSelectionChanged(); loadDeadLetters(); });
  $("#dlq-refresh").addEventListener("click", loadDeadLetters);
  $("#dlq-replay-all").addEventListener("click", replayAll);
  $("#dlq-purge").addEventListener("click", purge);
  const info = await api("/api/info");
  if (info.ok) {
    $("#whoami").textContent = `${info.data.file} · signed in as ${info.data.who}`;
    $("#preview-seed").replaceChildren(...info.data.seeds.map((s) => el("option", { value: s.name, text: `${s.name} (${s.subject})` })));
    $("#feed-state").textContent = info.data.feed ? "Newest first, as the workers report them." : "The workers' live feed is off (status.feed: false).";
  }
  await refreshDestinations();
  setInterval(refreshDestinations, 2000);
  setInterval(pollDeliveries, 1000);
  pollDeliveries();
  const tab = location.hash.slice(1);
  if (["destinations", "preview", "dlq", "deliveries"].includes(tab)) showTab(tab);
  document.body.dataset.ready = "true";
}

start();
