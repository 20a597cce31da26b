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
  const text = await response.text(); // empty on a 204, whatever its content-type says
  const body = text && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  if (!response.ok) throw new ApiError(response.status, typeof body === "object" ? describe(body.detail ?? body) : body);
  return body;
}

// An error body's `detail` in words: a 422's list of invalid fields as `field: what is wrong`.
function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.every((d) => d && typeof d.msg === "string")) {
    return detail.map((d) => `${(d.loc ?? []).filter((part) => part !== "body").join(".")}: ${d.msg}`).join("\n");
  }
  return JSON.stringify(detail);
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

// One job's events from its first (Last-Event-ID 0: no snapshot, every event) until it ends.
function followJob(id, onEvent) {
  let ended = false;
  return stream(`/v1/jobs/${encodeURIComponent(id)}/events`, (type, data) => {
    if (TERMINAL.has(type)) ended = true;
    onEvent(type, data);
  }, { lastEventId: 0, stop: () => ended });
}

// A succeeded event's result; a large one travels by reference (result_ref, result null): fetched once.
async function resultOf(id, data) {
  if (data.result != null || !data.result_ref) return data.result;
  return api(`/v1/jobs/${encodeURIComponent(id)}/result`);
}

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
  const label = document.createElement("span");
  label.className = "percent";
  wrap.append(document.createElement("div"), label);
  setBar(wrap, fraction);
  return wrap;
}

function setBar(wrap, fraction) {
  wrap.firstChild.style.width = `${Math.round(fraction * 100)}%`;
  wrap.lastChild.textContent = `${Math.round(fraction * 100)}%`;
}

function cell(content, className = "") {
  const td = document.createElement("td");
  td.className = className;
  td.append(content);
  return td;
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
  // The whole history, then live events until the job ends.
  followJob(id, (type, data) => {
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
      job = { ...job, status: type, result: data.result ?? job.result, progress: { fraction: 1, message: "" } };
      if (!job.result) resultOf(id, data).then((result) => showJobState(job = { ...job, result }));
    }
    else if (type === "failed") job = { ...job, status: type, error: data.error };
    else if (type === "cancelled") job = { ...job, status: type };
    showJobState(job);
  });
}

// --- collections -------------------------------------------------------------------
// PDFs go in with `rag.index` jobs, questions with `rag.ask` jobs; both are followed like the
// job page follows its job. A source links to its page through a file link: a new tab cannot
// send the key, so the API hands out a URL that opens that one file for a while.

const COLLECTION = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const PAGE_DONE = /^page (\d+) of (\d+): (\d+) chunks?/; // services/rag/indexing.py's progress
const fileNames = new Map(); // file id -> Promise of its upload's name
const fileLinks = new Map(); // file id -> {promise, expiresAt} of a link that opens it without the key
let collection = null; // the open collection's name
let pendingUploads = null; // {name, files} chosen on the list, uploaded on the collection's page
let asking = null; // the stream of the question being answered

const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
const inCollection = (name) => `/v1/collections/${encodeURIComponent(name)}`;

async function showCollections() {
  $("#collections-view").hidden = false;
  $("#collections-error").textContent = "";
  const body = $("#collections tbody");
  body.replaceChildren();
  try {
    const { collections } = await api("/v1/collections");
    for (const c of collections) {
      const tr = document.createElement("tr");
      tr.dataset.collection = c.name;
      const link = document.createElement("a");
      link.href = `#/collections/${encodeURIComponent(c.name)}`;
      link.textContent = c.name;
      tr.append(cell(link, "name"), cell(String(c.files), "files"), cell(String(c.pages), "pages"),
        cell(String(c.chunks), "chunks"));
      body.append(tr);
    }
    $("#collections-empty").hidden = collections.length > 0;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) $("#collections-error").textContent = e.message;
  }
}

function newCollection(event) {
  event.preventDefault();
  const name = $("#new-collection-name").value.trim();
  const files = [...$("#new-collection-files").files];
  const error = !COLLECTION.test(name)
    ? "A collection name is 1 to 63 lower-case letters, digits, _ and -, starting with a letter or a digit."
    : files.length === 0 ? "Choose one or more PDFs to upload into it." : "";
  $("#new-collection-error").textContent = error;
  if (error) return;
  pendingUploads = { name, files };
  $("#new-collection").reset();
  location.hash = `#/collections/${name}`;
}

function fileName(id) {
  if (!fileNames.has(id)) {
    fileNames.set(id, api(`/v1/files/${encodeURIComponent(id)}`).then((file) => file.filename, (e) => {
      if (e instanceof ApiError && e.status === 404) return `${id} (upload deleted)`;
      fileNames.delete(id);
      return id;
    }));
  }
  return fileNames.get(id);
}

function fileLabel(id) {
  const span = document.createElement("span");
  span.className = "file-name";
  span.title = id;
  span.textContent = id;
  fileName(id).then((name) => { span.textContent = name; });
  return span;
}

function fileLink(id) {
  const known = fileLinks.get(id);
  if (known && (known.expiresAt === null || known.expiresAt - Date.now() > 60_000)) return known.promise;
  const entry = { expiresAt: null };
  entry.promise = api(`/v1/files/${encodeURIComponent(id)}/link`, { method: "POST" }).then((link) => {
    entry.expiresAt = Date.parse(link.expires_at);
    return link;
  }, (e) => { fileLinks.delete(id); throw e; });
  fileLinks.set(id, entry);
  return entry.promise;
}

// `anchor` opens the file at `page` in a new tab (the browser's PDF viewer reads `#page=N`).
function linkToPage(anchor, fileId, page) {
  const point = (link) => {
    anchor.href = `${link.url}#page=${page}`;
    anchor.dataset.expires = link.expires_at;
  };
  fileLink(fileId).then(point, (e) => { anchor.classList.add("gone"); anchor.title = e.message; });
  anchor.addEventListener("click", async (event) => {
    if (anchor.href && Date.parse(anchor.dataset.expires) - Date.now() > 10_000) return;
    // The link has expired (the page stayed open): a fresh one, opened from this click.
    event.preventDefault();
    try {
      point(await fileLink(fileId));
      window.open(anchor.href, "_blank", "noopener");
    } catch (e) { anchor.title = e.message; }
  });
}

async function showCollection(name) {
  collection = name;
  asking = null;
  $("#collection-view").hidden = false;
  $("#collection-name").textContent = name;
  for (const id of ["#collection-error", "#upload-error", "#ask-error", "#collection-summary"]) $(id).textContent = "";
  $("#collection-files tbody").replaceChildren();
  $("#uploads").replaceChildren();
  $("#answer-block").hidden = true;
  if (!COLLECTION.test(name)) {
    $("#collection-error").textContent = "Not a collection name: 1 to 63 lower-case letters, digits, _ and -.";
    return;
  }
  await refreshCollection();
  if (pendingUploads?.name === name) {
    const { files } = pendingUploads;
    pendingUploads = null;
    await uploadAll(name, files);
  }
}

async function refreshCollection() {
  const name = collection;
  let detail = null;
  try {
    detail = await api(inCollection(name));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) detail = null;
    else { $("#collection-error").textContent = e.message; return; }
  }
  if (name !== collection) return; // another collection was opened meanwhile
  const files = detail?.files ?? [];
  $("#collection-summary").textContent = detail
    ? `${count(files.length, "file")}, ${count(detail.pages, "page")}, ${count(detail.chunks, "chunk")}`
    : "Nothing indexed in this collection yet: add PDFs to create it.";
  $("#collection-files").hidden = files.length === 0;
  const body = $("#collection-files tbody");
  body.replaceChildren();
  for (const file of files) {
    const tr = document.createElement("tr");
    tr.dataset.fileId = file.file_id;
    const remove = document.createElement("td");
    remove.append(removeButton(name, file.file_id));
    tr.append(cell(fileLabel(file.file_id), "file"), cell(String(file.pages), "pages"),
      cell(String(file.chunks), "chunks"), cell(age(file.indexed_at), "age"), remove);
    body.append(tr);
  }
}

function removeButton(name, fileId) {
  const button = document.createElement("button");
  button.className = "remove";
  button.textContent = "Remove";
  button.title = "Remove the file's chunks from this collection (the upload itself stays)";
  button.addEventListener("click", async () => {
    if (!confirm("Remove this file from the collection?")) return;
    button.disabled = true;
    $("#collection-error").textContent = "";
    try {
      await api(`${inCollection(name)}/files/${encodeURIComponent(fileId)}`, { method: "DELETE" });
    } catch (e) {
      $("#collection-error").textContent = e.message;
    }
    await refreshCollection();
  });
  return button;
}

async function deleteCollection() {
  const name = collection;
  if (!confirm(`Delete the collection ${name} and all its chunks? (The uploads themselves stay.)`)) return;
  $("#collection-error").textContent = "";
  try {
    await api(inCollection(name), { method: "DELETE" });
    location.hash = "#/collections";
  } catch (e) {
    $("#collection-error").textContent = e.message;
  }
}

async function uploadFiles(event) {
  event.preventDefault();
  const files = [...$("#upload-files").files];
  $("#upload-error").textContent = files.length ? "" : "Choose one or more PDFs.";
  $("#upload-form").reset();
  await uploadAll(collection, files);
}

// One file after another: each indexes while the next one uploads.
async function uploadAll(name, files) {
  for (const file of files) await uploadOne(name, file);
}

async function uploadOne(name, file) {
  const item = uploadItem(file.name);
  $("#uploads").append(item.li);
  try {
    const form = new FormData();
    form.append("file", file);
    const stored = await api("/v1/files", { method: "POST", body: form });
    fileNames.set(stored.id, Promise.resolve(stored.filename));
    item.li.dataset.fileId = stored.id;
    const job = await api("/v1/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ operation: "rag.index", input: { file_id: stored.id, collection: name } }),
    });
    item.li.dataset.jobId = job.id;
    item.state("queued", "queued");
    followJob(job.id, (type, data) => item.event(type, data));
  } catch (e) {
    item.state("failed", "failed");
    item.error.textContent = e.message;
  }
}

// An upload's line: its state, a bar, one box per page (filled as the page is indexed).
function uploadItem(filename) {
  const li = document.createElement("li");
  li.className = "upload";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = filename;
  const status = document.createElement("span");
  const progress = bar(0);
  const pages = document.createElement("ol");
  pages.className = "pages";
  const message = document.createElement("span");
  message.className = "message";
  const error = document.createElement("p");
  error.className = "error";
  li.append(name, " ", status, progress, pages, message, error);

  const state = (text, kind) => {
    status.textContent = text;
    status.className = `state status ${kind}`;
    li.dataset.state = kind;
  };
  const page = (number, total, title) => {
    while (pages.children.length < total) {
      const box = document.createElement("li");
      box.dataset.page = String(pages.children.length + 1);
      box.textContent = box.dataset.page;
      pages.append(box);
    }
    const box = pages.children[number - 1];
    if (!box) return;
    box.classList.add("done");
    if (title) box.title = title;
  };
  state("uploading", "queued");
  return {
    li,
    error,
    state,
    event(type, data) {
      if (type === "started") state("indexing", "running");
      else if (type === "retrying") {
        state("retrying", "queued");
        message.textContent = data.error ? `${data.error.code}: ${data.error.message}` : "";
      } else if (type === "progress") {
        state("indexing", "running");
        setBar(progress, data.fraction);
        message.textContent = data.message;
        const done = PAGE_DONE.exec(data.message);
        if (done) page(Number(done[1]), Number(done[2]), count(Number(done[3]), "chunk"));
      } else if (type === "succeeded") {
        state("done", "succeeded");
        setBar(progress, 1);
        resultOf(li.dataset.jobId, data).then((result) => {
          if (!result) return;
          for (let n = 1; n <= result.pages; n++) page(n, result.pages, "");
          const ocr = result.ocr_pages ? `, ${result.ocr_pages} read by OCR` : "";
          const note = result.note ? `: ${result.note}` : "";
          message.textContent = `${count(result.pages, "page")}, ${count(result.chunks, "chunk")}${ocr}${note}`;
        });
        refreshCollection();
      } else if (type === "failed") {
        state("failed", "failed");
        error.textContent = `${data.error.code}: ${data.error.message}`;
      } else if (type === "cancelled") state("cancelled", "cancelled");
    },
  };
}

async function ask(event) {
  event.preventDefault();
  const name = collection;
  $("#ask-error").textContent = "";
  asking?.abort();
  asking = null;
  const topK = $("#top-k").value.trim();
  const input = { collection: name, question: $("#question").value, top_k: topK === "" ? 5 : Number(topK) };
  $("#ask").disabled = true;
  try {
    const job = await api("/v1/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ operation: "rag.ask", input }),
    });
    $("#answer-block").hidden = false;
    $("#answer-block").dataset.jobId = job.id;
    $("#answer").textContent = "";
    $("#answer-model").replaceChildren();
    $("#sources").replaceChildren();
    answerState("queued", "queued");
    asking = followJob(job.id, (type, data) => answerEvent(job.id, type, data));
  } catch (e) {
    $("#ask-error").textContent = e.message;
  } finally {
    $("#ask").disabled = false;
  }
}

function answerState(text, kind) {
  $("#answer-status").textContent = text;
  $("#answer-status").className = `status ${kind}`;
}

function answerEvent(id, type, data) {
  if ($("#answer-block").dataset.jobId !== id) return; // a question asked before this one
  if (type === "started") answerState("searching the collection", "running");
  else if (type === "retrying") answerState("retrying", "queued");
  else if (type === "progress") {
    // The answer so far (services/rag/asking.py): it grows as the model writes it.
    answerState("answering", "running");
    if (data.message) $("#answer").textContent = data.message;
  } else if (type === "succeeded") {
    answerState("answered", "succeeded");
    resultOf(id, data).then((result) => { if (result && $("#answer-block").dataset.jobId === id) showAnswer(id, result); });
  } else if (type === "failed") {
    answerState("failed", "failed");
    $("#ask-error").textContent = `${data.error.code}: ${data.error.message}`;
  } else if (type === "cancelled") answerState("cancelled", "cancelled");
}

function showAnswer(id, result) {
  $("#answer").textContent = result.answer;
  const job = document.createElement("a");
  job.href = `#/jobs/${encodeURIComponent(id)}`;
  job.textContent = "job";
  $("#answer-model").append(result.method === "extractive"
    ? "extractive: the best passage itself (no LLM endpoint configured)" : `by ${result.model}`, " \u00b7 ", job);
  const list = $("#sources");
  list.replaceChildren();
  for (const source of result.sources) {
    const li = document.createElement("li");
    li.dataset.fileId = source.file_id;
    li.dataset.page = String(source.page);
    const link = document.createElement("a");
    link.className = "source-link";
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.append(fileLabel(source.file_id), `, page ${source.page}`);
    linkToPage(link, source.file_id, source.page);
    const score = document.createElement("small");
    score.className = "score";
    score.textContent = `score ${source.score.toFixed(3)}`;
    const text = document.createElement("blockquote");
    text.textContent = source.text;
    li.append(link, " ", score, text);
    list.append(li);
  }
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
  for (const id of ["#login", "#list-view", "#job-view", "#collections-view", "#collection-view"]) $(id).hidden = true;
  $("#logout").hidden = !key();
  $("#nav").hidden = !key();
  if (!key()) { $("#login").hidden = false; return; }
  const job = location.hash.match(/^#\/jobs\/([A-Za-z0-9_.-]{1,64})$/);
  const named = location.hash.match(/^#\/collections\/([^/]+)$/);
  try {
    if (job) await showJob(job[1]);
    else if (named) await showCollection(decodeURIComponent(named[1]));
    else if (location.hash === "#/collections") await showCollections();
    else await showList();
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
$("#new-collection").addEventListener("submit", newCollection);
$("#upload-form").addEventListener("submit", uploadFiles);
$("#ask-form").addEventListener("submit", ask);
$("#collection-delete").addEventListener("click", deleteCollection);
window.addEventListener("hashchange", route);
route().then(() => { if (key()) loadOperations(); });
