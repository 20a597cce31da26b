// The dashboard: plain JS, no build step and no CDN. It talks to the same HTTP API as
// every other client, with the key the user typed in (kept in this tab's sessionStorage).
"use strict";

const KEY = "jobs-api-key";
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const $ = (selector) => document.querySelector(selector);
const jobs = new Map(); // id -> job view, for the live table
let pageStreams = []; // AbortControllers of the current view's streams

function key() { return sessionStorage.getItem(KEY); }

class ApiError extends Error {
  constructor(status, detail) { super(`${status}: ${detail}`); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${key()}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) { logout("That key was not accepted."); throw new ApiError(401, "unauthorized"); }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = typeof body === "object" ? JSON.stringify(body.detail ?? body) : body;
    throw new ApiError(response.status, detail);
  }
  return body;
}

// Server-Sent Events over fetch (EventSource cannot send an Authorization header).
// Reconnects with Last-Event-ID after a dropped connection until `stop()` says so.
function stream(path, onEvent, { lastEventId = null, stop = () => false, onOpen = () => {} } = {}) {
  const controller = new AbortController();
  pageStreams.push(controller);
  (async () => {
    while (!controller.signal.aborted && !stop()) {
      try {
        const headers = { Authorization: `Bearer ${key()}` };
        if (lastEventId !== null) headers["Last-Event-ID"] = String(lastEventId);
        const response = await fetch(path, { headers, signal: controller.signal });
        if (!response.ok) throw new ApiError(response.status, await response.text());
        onOpen();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = {};
            for (const line of block.split("\n")) {
              if (!line || line.startsWith(":")) continue;
              const at = line.indexOf(": ");
              fields[line.slice(0, at)] = line.slice(at + 2);
            }
            if (fields.event && fields.data) {
              if (fields.id) lastEventId = Number(fields.id);
              onEvent(fields.event, JSON.parse(fields.data));
            }
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 404) return;
      }
      if (!stop()) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return controller;
}

function closeStreams() { pageStreams.forEach((c) => c.abort()); pageStreams = []; }

function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s >= 86400) return `${Math.floor(s / 86400)}d`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

function bar(fraction) {
  const wrap = document.createElement("div");
  wrap.className = "bar";
  const fill = document.createElement("div");
  fill.style.width = `${Math.round(fraction * 100)}%`;
  const label = document.createElement("span");
  label.className = "percent";
  label.textContent = `${Math.round(fraction * 100)}%`;
  wrap.append(fill, label);
  return wrap;
}

function cancelButton(id) {
  const button = document.createElement("button");
  button.className = "cancel";
  button.textContent = "Cancel";
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try { upsert(await api(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" })); } catch (e) { button.title = e.message; }
  });
  return button;
}

// --- the list view -----------------------------------------------------------------

function row(job) {
  const tr = document.createElement("tr");
  tr.dataset.jobId = job.id;
  const link = document.createElement("a");
  link.href = `#/jobs/${encodeURIComponent(job.id)}`;
  const code = document.createElement("code");
  code.textContent = job.id;
  link.append(code);
  const cells = [link, job.operation, job.status, bar(job.progress.fraction), String(job.attempts), age(job.created_at)];
  for (const [i, content] of cells.entries()) {
    const td = document.createElement("td");
    td.className = ["id", "operation", `status ${job.status}`, "progress", "attempts", "age"][i];
    td.append(content);
    tr.append(td);
  }
  const actions = document.createElement("td");
  if (!TERMINAL.has(job.status)) actions.append(cancelButton(job.id));
  tr.append(actions);
  return tr;
}

function upsert(job) {
  const known = jobs.get(job.id);
  if (known && known.seq > job.seq) return; // an older state arriving late
  jobs.set(job.id, { ...known, ...job });
  const body = $("#jobs tbody");
  const fresh = row(jobs.get(job.id));
  const old = [...body.rows].find((tr) => tr.dataset.jobId === job.id);
  if (old) old.replaceWith(fresh); else body.prepend(fresh);
}

async function refreshQueues() {
  try {
    const queues = await api("/v1/queues");
    $("#queues tbody").replaceChildren();
    for (const q of queues) {
      const tr = document.createElement("tr");
      tr.dataset.queue = q.name;
      for (const value of [q.name, q.messages, q.consumers]) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.append(td);
      }
      $("#queues tbody").append(tr);
    }
  } catch (e) {
    // 403: not an admin key (API_ADMIN_TENANTS), so no platform-wide numbers; otherwise the
    // numbers stay as they were and the next refresh tries again.
    if (e instanceof ApiError && e.status === 403) $("#queues-panel").hidden = true;
  }
}

async function showList() {
  $("#list-view").hidden = false;
  const page = await api("/v1/jobs?limit=100");
  jobs.clear();
  $("#jobs tbody").replaceChildren();
  for (const job of page.items.reverse()) upsert(job);
  stream("/v1/events", (type, job) => { if (type === "job") upsert(job); }, {
    onOpen: () => { $("#live-state").textContent = "live"; },
  });
  refreshQueues();
  const timer = setInterval(refreshQueues, 5000);
  pageStreams.push({ abort: () => clearInterval(timer) });
}

async function loadOperations() {
  const operations = await api("/v1/operations");
  const select = $("#operation");
  select.replaceChildren();
  for (const op of operations) {
    const option = document.createElement("option");
    option.value = op.name;
    option.textContent = op.name;
    option.title = op.description;
    option.dataset.example = JSON.stringify(op.example ?? {}, null, 2);
    select.append(option);
  }
  const fill = () => { $("#input").value = select.selectedOptions[0]?.dataset.example ?? "{}"; };
  select.onchange = fill;
  fill();
}

async function submitJob(event) {
  event.preventDefault();
  $("#submit-error").textContent = "";
  try {
    const input = JSON.parse($("#input").value || "{}");
    const file = $("#file").files[0];
    if (file) {
      const form = new FormData();
      form.append("file", file);
      input.file_id = (await api("/v1/files", { method: "POST", body: form })).id;
    }
    const job = await api("/v1/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ operation: $("#operation").value, input }),
    });
    if (typeof input.text === "string") sessionStorage.setItem(`jobs-input-${job.id}`, input.text);
    upsert(job);
  } catch (e) {
    $("#submit-error").textContent = e.message;
  }
}

// --- the job view ------------------------------------------------------------------

function highlight(text, entities) {
  const out = document.createDocumentFragment();
  let at = 0;
  for (const e of [...entities].sort((a, b) => a.start - b.start)) {
    if (e.start < at) continue;
    out.append(text.slice(at, e.start));
    const mark = document.createElement("mark");
    mark.className = e.label;
    mark.textContent = text.slice(e.start, e.end);
    const label = document.createElement("small");
    label.textContent = e.label;
    mark.append(label);
    out.append(mark);
    at = e.end;
  }
  out.append(text.slice(at));
  return out;
}

function showResult(id, result) {
  $("#job-result").textContent = JSON.stringify(result, null, 2);
  $("#job-text").replaceChildren();
  $("#job-pages").replaceChildren();
  if (Array.isArray(result?.entities)) {
    const text = sessionStorage.getItem(`jobs-input-${id}`);
    const p = document.createElement("p");
    p.id = "entities";
    if (text) p.append(highlight(text, result.entities));
    else for (const e of result.entities) { p.append(highlight(e.text, [{ ...e, start: 0, end: e.text.length }]), " "); }
    $("#job-text").append(p);
  }
  if (Array.isArray(result?.pages)) { // OCR: the text of each page
    for (const [i, page] of result.pages.entries()) {
      const div = document.createElement("div");
      div.className = "page";
      div.textContent = `page ${page.number ?? i + 1}\n${page.text ?? ""}`;
      $("#job-pages").append(div);
    }
  } else if (typeof result?.text === "string" && !result.entities) {
    const div = document.createElement("div");
    div.className = "page";
    div.textContent = result.text;
    $("#job-text").append(div);
  }
}

function showJobState(job) {
  $("#job-operation").textContent = job.operation;
  $("#job-status").textContent = job.status;
  $("#job-status").className = `status ${job.status}`;
  $("#job-attempts").textContent = job.attempts;
  $("#job-bar").style.width = `${Math.round(job.progress.fraction * 100)}%`;
  $("#job-percent").textContent = `${Math.round(job.progress.fraction * 100)}%`;
  $("#job-message").textContent = job.progress.message || "";
  $("#job-cancel").hidden = TERMINAL.has(job.status);
  $("#job-error").textContent = job.error ? `${job.error.code}: ${job.error.message}` : "";
  if (job.result) showResult(job.id, job.result);
}

async function showJob(id) {
  $("#job-view").hidden = false;
  $("#job-id").textContent = id;
  $("#timeline").replaceChildren();
  $("#job-result").textContent = "";
  $("#job-text").replaceChildren();
  $("#job-pages").replaceChildren();
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  let job = await api(path);
  showJobState(job);
  $("#job-cancel").onclick = async () => { showJobState(job = await api(`${path}/cancel`, { method: "POST" })); };
  let ended = false;
  // Last-Event-ID 0: the whole history, then live events until the job ends.
  stream(`${path}/events`, (type, data) => {
    const li = document.createElement("li");
    li.dataset.event = type;
    const time = document.createElement("time");
    time.textContent = new Date(data.at).toLocaleTimeString();
    const detail = type === "progress" ? ` ${Math.round(data.fraction * 100)}% ${data.message}`
      : data.error ? ` ${data.error.code}: ${data.error.message}` : "";
    li.append(time, `${type} (attempt ${data.attempt})${detail}`);
    $("#timeline").append(li);
    if (type === "progress") job = { ...job, status: "running", progress: { fraction: data.fraction, message: data.message } };
    else if (type === "started") job = { ...job, status: "running", attempts: data.attempt };
    else if (type === "retrying") job = { ...job, status: "queued" };
    else if (type === "succeeded") {
      // A large result travels by reference (result_ref, result null): fetch it once.
      job = { ...job, status: type, result: data.result ?? job.result, progress: { fraction: 1, message: "" } };
      if (!job.result && data.result_ref) api(`${path}/result`).then((result) => showJobState(job = { ...job, result }));
    }
    else if (type === "failed") job = { ...job, status: type, error: data.error };
    else if (type === "cancelled") job = { ...job, status: type };
    showJobState(job);
    if (TERMINAL.has(type)) ended = true;
  }, { lastEventId: 0, stop: () => ended });
}

// --- routing and the key -------------------------------------------------------------

function logout(message = "") {
  sessionStorage.removeItem(KEY);
  closeStreams();
  route();
  $("#login-error").textContent = message;
}

async function route() {
  closeStreams();
  for (const id of ["#login", "#list-view", "#job-view"]) $(id).hidden = true;
  $("#logout").hidden = !key();
  if (!key()) { $("#login").hidden = false; return; }
  const match = location.hash.match(/^#\/jobs\/([A-Za-z0-9_.-]{1,64})$/);
  try {
    if (match) await showJob(match[1]); else await showList();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) document.body.dataset.error = e.message;
  }
}

$("#login").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("#api-key").value.trim());
  $("#login-error").textContent = "";
  await route();
  if (key()) await loadOperations();
});
$("#logout").addEventListener("click", () => logout());
$("#submit-form").addEventListener("submit", submitJob);
window.addEventListener("hashchange", route);
route().then(() => { if (key()) loadOperations(); });
