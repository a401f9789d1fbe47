// dualbrain web UI: knowledge bases, upload, live learning progress, documents, versions, chat, report.
// Talks only to this server's own API; the browser sends the key (HTTP Basic password) with every call.
// Text from the server (document names, answers) is always set as textContent, never parsed as HTML.
"use strict";

const POLL_MS = 1500;
const CHAT_TOKENS = 128;
const state = { me: null, kb: null, requests: [], pollTimer: null };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function showError(message) {
  const toast = $("toast");
  toast.textContent = message;
  toast.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { toast.hidden = true; }, 8000);
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.error?.message || `${response.status} ${response.statusText}`);
  return body;
}

const kbPath = (suffix = "") => `/v1/kbs/${encodeURIComponent(state.kb)}${suffix}`;
const allows = (scope) => ["read", "write", "admin"].indexOf(state.me.scope) >= ["read", "write", "admin"].indexOf(scope);

// ---- knowledge bases -------------------------------------------------------------------------
async function loadKnowledgeBases(select) {
  const { data } = await api("/v1/kbs");
  const picker = $("kb-select");
  picker.replaceChildren(...data.map((kb) => el("option", { value: kb.name, textContent: kb.name })));
  state.kb = select && data.some((kb) => kb.name === select) ? select : (data[0]?.name ?? null);
  picker.value = state.kb ?? "";
  await refreshAll();
}

$("kb-select").addEventListener("change", async (event) => {
  state.kb = event.target.value;
  $("chat-log").replaceChildren();
  $("upload-result").replaceChildren();
  await refreshAll();
});

$("new-kb").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const name = $("new-kb-name").value.trim();
    await api("/v1/kbs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
    $("new-kb-name").value = "";
    await loadKnowledgeBases(name);
  } catch (error) { showError(error.message); }
});

// ---- upload ----------------------------------------------------------------------------------
const dropZone = $("drop-zone");
dropZone.addEventListener("dragover", (event) => { event.preventDefault(); dropZone.classList.add("over"); });
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("over");
  upload(event.dataTransfer.files);
});
$("file-input").addEventListener("change", (event) => { upload(event.target.files); event.target.value = ""; });

async function upload(files) {
  if (!state.kb || !files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const result = $("upload-result");
  result.replaceChildren(el("li", { className: "muted", textContent: `uploading ${files.length} file(s)…` }));
  try {
    const body = await api(kbPath("/documents"), { method: "POST", body: form });
    result.replaceChildren(
      ...body.added.map((d) => el("li", { className: "status-done", textContent: `✓ ${d.source_name} (${d.chars} characters): answerable now, learning queued` })),
      ...body.problems.map((p) => el("li", { className: "status-failed", textContent: `✗ ${p.file}: ${p.reason}` })),
    );
  } catch (error) {
    result.replaceChildren(el("li", { className: "status-failed", textContent: `✗ ${error.message}` }));
  }
  await refreshAll();
}

// ---- learning progress -----------------------------------------------------------------------
function describeProgress(progress) {
  if (!progress) return "starting…";
  const step = `${progress.phase} ${progress.step}/${progress.total_steps}`;
  const shard = progress.shards > 1 ? ` · shard ${progress.shard}/${progress.shards}` : "";
  if (progress.phase !== "training") return `${step}${shard} · ETA ${Math.round(progress.eta_seconds)} s`;
  return `${step}${shard} · loss ${progress.loss.toFixed(3)} · ${Math.round(progress.tokens_per_second)} tokens/s · ETA ${Math.round(progress.eta_seconds)} s`;
}

function drawLoss(points) {
  // Drawn while a request trains; the last curve stays up after it finishes.
  if (!points || points.length < 2) return;
  const canvas = $("loss-chart");
  canvas.hidden = false;
  const g = canvas.getContext("2d");
  const [w, h, pad] = [canvas.width, canvas.height, 28];
  const steps = points.map((p) => p[0]), losses = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...losses), Math.max(...losses)];
  const x = (s) => pad + ((s - x0) / Math.max(x1 - x0, 1)) * (w - pad - 8);
  const y = (l) => h - pad + 8 - ((l - y0) / Math.max(y1 - y0, 1e-9)) * (h - pad - 8);
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#d9dee4"; g.strokeRect(pad, 8, w - pad - 8, h - pad - 8);
  g.fillStyle = "#6a7480"; g.font = "11px system-ui";
  g.fillText(y1.toFixed(2), 2, 16); g.fillText(y0.toFixed(2), 2, h - pad + 8);
  g.fillText(`step ${x1}`, w - 60, h - 8); g.fillText("training loss", pad + 4, h - 8);
  g.strokeStyle = "#2f6fd0"; g.lineWidth = 2; g.beginPath();
  points.forEach(([s, l], i) => (i ? g.lineTo(x(s), y(l)) : g.moveTo(x(s), y(l))));
  g.stroke();
}

async function refreshRequests() {
  const { data } = await api(kbPath("/requests"));
  const finished = state.requests.filter((r) => r.status === "running" || r.status === "queued")
    .some((r) => ["done", "failed"].includes(data.find((d) => d.id === r.id)?.status));
  state.requests = data;
  const active = data.find((r) => r.status === "running") || data.find((r) => r.status === "queued");
  const status = $("learn-status"), bar = $("learn-progress");
  if (active) {
    const progress = active.progress;
    status.textContent = `${active.kind} request ${active.id}: ${active.status === "queued" ? "waiting for the worker" : describeProgress(progress)}`;
    bar.hidden = false;
    bar.value = progress ? progress.step / Math.max(progress.total_steps, 1) : 0;
    drawLoss(progress?.loss_history);
  } else {
    const last = data[data.length - 1];
    status.textContent = last ? `Last request ${last.id} (${last.kind}): ${last.status}${last.error ? ` — ${last.error}` : ""}` : "Nothing is being learned.";
    status.className = last ? `status-${last.status}` : "muted";
    bar.hidden = true;
  }
  $("requests").replaceChildren(...data.slice(-5).reverse().map((r) =>
    el("li", { className: `status-${r.status}`, textContent: `#${r.id} ${r.kind} · ${r.status} · ${new Date(r.updated_at).toLocaleTimeString()}` })));
  // While something learns, the documents' states move (short-term → learning → in weights) with it; versions
  // change only when a request finishes.
  await Promise.all([finished || active ? refreshDocuments() : null, finished ? refreshVersions() : null]);
}

function schedulePolling() {
  clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(async () => {
    try { if (state.kb) await refreshRequests(); } catch (error) { showError(error.message); }
    schedulePolling();
  }, POLL_MS);
}

// ---- documents and versions ------------------------------------------------------------------
async function refreshDocuments() {
  const { data } = await api(kbPath("/documents"));
  $("documents").replaceChildren(...data.map((d) => {
    // A forget that failed leaves its document "forgetting": it can be asked for again.
    const forget = el("button", { className: "secondary", textContent: d.status === "forgetting" ? "Forget again" : "Forget",
                                  disabled: !allows("write") });
    forget.addEventListener("click", async () => {
      if (!confirm(`Forget ${d.source_name}? What was learned from it is removed by retraining its shard.`)) return;
      try { await api(kbPath(`/documents/${encodeURIComponent(d.id)}`), { method: "DELETE" }); await refreshRequests(); }
      catch (error) { showError(error.message); }
    });
    return el("tr", {}, el("td", { textContent: d.source_name }), el("td", { textContent: d.chars.toLocaleString() }),
      el("td", { className: `memory-${d.memory ?? d.status}`, textContent: describeMemory(d) }), el("td", {}, forget));
  }));
}

function describeMemory(d) {
  // What answers for the document: its passages until it is learned, then the knowledge network's weights.
  if (d.memory === "short-term") return "short-term (answered from its text)";
  if (d.memory === "learning") {
    const p = d.progress;
    return p ? `learning ${Math.round((100 * p.step) / Math.max(p.total_steps, 1))}% (${p.phase})` : "learning";
  }
  if (d.memory === "weights") return "in weights";
  return d.status;  // superseded, forgetting
}

async function refreshVersions() {
  const { data } = await api(kbPath("/versions"));
  $("versions").replaceChildren(...data.slice().reverse().map((v) => {
    const item = el("li", { textContent: `${v.id} · ${v.documents.length} document(s) · ${new Date(v.created_at).toLocaleString()} ` });
    if (v.current) item.append(el("strong", { textContent: "serving" }));
    else if (allows("write")) {
      const back = el("button", { className: "secondary", textContent: "Roll back to this" });
      back.addEventListener("click", async () => {
        try {
          await api(kbPath("/rollback"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ version: v.id }) });
          await refreshVersions();
        } catch (error) { showError(error.message); }
      });
      item.append(back);
    }
    return item;
  }));
}

async function refreshAll() {
  for (const node of document.querySelectorAll(".write-only")) node.hidden = !state.kb || !allows("write");
  if (!state.kb) return;
  try { await Promise.all([refreshRequests(), refreshDocuments(), refreshVersions()]); }
  catch (error) { showError(error.message); }
}

// ---- chat ------------------------------------------------------------------------------------
async function streamAnswer(model, question, target) {
  // OpenAI-style server-sent events: "data: {chunk}" lines, then "data: [DONE]".
  const response = await fetch("/v1/chat/completions", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: question }], max_tokens: CHAT_TOKENS, stream: true }),
  });
  if (!response.ok) throw new Error((await response.json()).error?.message || response.statusText);
  const reader = response.body.getReader(), decoder = new TextDecoder();
  let buffer = "", text = "", version = null, memory = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split(/\r?\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const chunk = JSON.parse(line.slice(6));
      text += chunk.choices[0].delta?.content ?? "";
      version = chunk.system_fingerprint ?? version;
      memory = chunk.memory ?? memory;
      target.textContent = text.trimStart();
    }
  }
  return { version, memory };
}

$("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("chat-input").value.trim();
  if (!question || !state.kb) return;
  $("chat-input").value = "";
  $("chat-send").disabled = true;
  const log = $("chat-log");
  log.append(el("div", { className: "turn user", textContent: question }));
  const answers = el("div", { className: "answers" });
  log.append(answers);
  const models = [[`dualbrain/${state.kb}`, "knowledge"]];
  if ($("compare-base").checked) models.push(["base", "base model"]);
  for (const [model, label] of models) {  // one after the other: the server answers one at a time anyway
    const text = el("span", { className: "text", textContent: "…" });
    const tag = el("span", { className: "label", textContent: label });
    answers.append(el("div", { className: `answer answer-${label === "knowledge" ? "knowledge" : "base"}` }, tag, text));
    try {
      const { version, memory } = await streamAnswer(model, question, text);
      const from = [memory && memory !== "knowledge" ? `from ${memory === "both" ? "weights + short-term" : memory}` : null,
        version].filter(Boolean);
      if (from.length) tag.textContent = `${label} (${from.join(", ")})`;
    } catch (error) { text.textContent = `error: ${error.message}`; }
    log.scrollTop = log.scrollHeight;
  }
  $("chat-send").disabled = false;
});

$("chat-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("chat-form").requestSubmit(); }
});

// ---- benchmark report ------------------------------------------------------------------------
async function loadReport() {
  try {
    const report = await api("/v1/reports/latest");
    $("report").replaceChildren(
      el("p", { className: "muted small", textContent: `Report of ${report.created}` }),
      ...report.charts.map((name) => el("img", { src: `/v1/reports/latest/${encodeURIComponent(name)}`, alt: name })),
      el("details", {}, el("summary", { textContent: "Full report" }), el("pre", { textContent: report.markdown })),
    );
  } catch { /* no report yet: the placeholder stays */ }
}

// ---- start -----------------------------------------------------------------------------------
(async () => {
  try {
    state.me = await api("/v1/me");
    $("key-info").textContent = `key ${state.me.key_id} · ${state.me.scope}${state.me.kb ? ` · ${state.me.kb} only` : ""}`;
    $("new-kb").hidden = !(allows("admin") && !state.me.kb);
    await loadKnowledgeBases();
    await loadReport();
  } catch (error) { showError(error.message); }
  schedulePolling();
})();
