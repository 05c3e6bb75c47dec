// The matcalc page: reads the form, posts it to /api/derive, shows the answer.
// Every piece of text from the user or the server goes into the page as text (textContent,
// input values) or through KaTeX, which typesets matcalc's LaTeX without trusting commands
// that could load or run anything; no string is ever parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const SCALAR_NAMES = new Set(["alpha", "beta", "gamma", "delta", "epsilon", "eps", "eta",
  "lambda", "lam", "mu", "nu", "rho", "sigma", "tau", "theta", "c", "t", "lr"]);
let functionNames = new Set();
let declared = new Map();       // name -> {kind, rows, cols, assume}: what the user set or we guessed
let valueKinds = {};            // what may be assumed of a variable's values: name -> adjective
let lastAnswer = null;
let examples = [];

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function math(tex, display) {
  const node = el(display ? "div" : "span", null, "math");
  if (window.katex) {
    katex.render(tex, node, {displayMode: !!display, throwOnError: false, trust: false,
                             strict: "ignore", maxExpand: 1000});
  } else {
    node.textContent = tex;
  }
  return node;
}

// ---- variables: found in the expression, guessed, editable -------------------------------
function namesIn(expr) {
  const names = [];
  const re = /[A-Za-z_][A-Za-z0-9_]*/g;
  let m;
  while ((m = re.exec(expr)) !== null) {
    const before = expr.slice(0, m.index);
    const after = expr.slice(m.index + m[0].length);
    if (/[.0-9]$/.test(before)) continue;          // X.T, 1e5
    if (/^\s*\(/.test(after)) continue;             // a function call
    if (functionNames.has(m[0])) continue;
    if (!names.includes(m[0])) names.push(m[0]);
  }
  const dims = new Set();          // names that are dimensions of another symbol: not symbols
  for (const n of names) {
    const d = declared.get(n);
    if (d && d.kind !== "scalar") { dims.add(d.rows); if (d.kind === "matrix") dims.add(d.cols); }
  }
  return names.filter((n) => !dims.has(n));
}

function guess(name) {
  if (SCALAR_NAMES.has(name)) return {kind: "scalar", rows: "n", cols: "n"};
  if (/^[A-Z]/.test(name)) return {kind: "matrix", rows: "n", cols: "n"};
  return {kind: "vector", rows: "n", cols: "1"};
}

function refreshVariables() {
  const names = namesIn($("expr").value);
  const same = $("vars").dataset.expr === $("expr").value;   // a kind changed: keep the ticks as they are
  $("vars").dataset.expr = $("expr").value;     // the expression the table was made for
  const body = $("vars").tBodies[0];
  const wrt = new Set(currentWrt());
  for (const n of names) if (!declared.has(n)) declared.set(n, guess(n));
  body.replaceChildren();
  names.forEach((name, i) => {
    const d = declared.get(name);
    const tr = el("tr");
    tr.dataset.name = name;
    tr.append(el("td", name, "mono"));
    const kind = el("select");
    kind.setAttribute("aria-label", `kind of ${name}`);
    for (const k of ["scalar", "vector", "matrix"]) kind.append(new Option(k, k, false, k === d.kind));
    kind.addEventListener("change", () => { d.kind = kind.value; refreshVariables(); });
    const rows = el("input"); rows.className = "dim mono"; rows.value = d.rows;
    rows.setAttribute("aria-label", `rows of ${name}`);
    rows.addEventListener("input", () => { d.rows = rows.value.trim(); });
    const cols = el("input"); cols.className = "dim mono"; cols.value = d.cols;
    cols.setAttribute("aria-label", `columns of ${name}`);
    cols.addEventListener("input", () => { d.cols = cols.value.trim(); });
    rows.disabled = d.kind === "scalar";
    cols.disabled = d.kind !== "matrix";
    const values = el("select"); values.className = "assume";
    values.setAttribute("aria-label", `values of ${name}`);
    values.append(new Option("any", "", false, !d.assume));
    for (const [k, adjective] of Object.entries(valueKinds)) values.append(new Option(adjective, k, false, k === d.assume));
    values.disabled = d.kind === "scalar";
    values.addEventListener("change", () => { d.assume = values.value; });
    const by = el("input"); by.type = "checkbox"; by.className = "wrt";
    by.setAttribute("aria-label", `differentiate by ${name}`);
    by.checked = wrt.size || same ? wrt.has(name) : i === 0;
    for (const node of [kind, rows, cols, values, by]) { const td = el("td"); td.append(node); tr.append(td); }
    body.append(tr);
  });
}

function currentWrt() {
  return [...$("vars").querySelectorAll("tbody tr")]
    .filter((tr) => tr.querySelector("input.wrt").checked).map((tr) => tr.dataset.name);
}

function dimension(text) {
  return /^[0-9]+$/.test(text) ? parseInt(text, 10) : text;
}

function shapes() {
  const out = {};
  for (const tr of $("vars").querySelectorAll("tbody tr")) {
    const d = declared.get(tr.dataset.name);
    out[tr.dataset.name] = d.kind === "scalar" ? [] : d.kind === "vector" ? [dimension(d.rows)]
      : [dimension(d.rows), dimension(d.cols)];
  }
  return out;
}

// ---- the request, the permalink ------------------------------------------------------------
function request() {
  if ($("kind").value === "network") {
    return {net: $("net").value, loss: $("loss").value, batch: $("batch").value};
  }
  const wrt = currentWrt();
  const body = {expr: $("expr").value, shapes: shapes(), wrt: wrt.length === 1 ? wrt[0] : wrt,
                kind: $("kind").value};
  const assume = {};
  for (const tr of $("vars").querySelectorAll("tbody tr")) {
    const d = declared.get(tr.dataset.name);
    if (d.assume && d.kind !== "scalar") assume[tr.dataset.name] = d.assume;
  }
  if (Object.keys(assume).length) body.assume = assume;
  return body;
}

function stateOf(body) {
  const p = new URLSearchParams();
  if (body.net !== undefined) {
    p.set("net", body.net); p.set("loss", body.loss); p.set("batch", body.batch);
    return p;
  }
  p.set("kind", body.kind); p.set("expr", body.expr);
  for (const [name, dims] of Object.entries(body.shapes)) p.append("shape", `${name}=${dims.join(",")}`);
  p.set("wrt", [].concat(body.wrt).join(","));
  for (const [name, kind] of Object.entries(body.assume || {})) p.append("assume", `${name}=${kind}`);
  return p;
}

function requestOf(p) {
  if (p.has("net")) return {net: p.get("net"), loss: p.get("loss") || "sse", batch: p.get("batch") || "N"};
  if (!p.has("expr")) return null;
  const shapesIn = {};
  for (const item of p.getAll("shape")) {
    const [name, dims] = item.split("=");
    shapesIn[name] = dims ? dims.split(",").map(dimension) : [];
  }
  const body = {expr: p.get("expr"), shapes: shapesIn, wrt: (p.get("wrt") || "").split(",").filter(Boolean),
                kind: p.get("kind") || "gradient"};
  const assume = {};
  for (const item of p.getAll("assume")) { const [n, k] = item.split("="); assume[n] = k; }
  if (Object.keys(assume).length) body.assume = assume;
  return body;
}

function showRequest(body) {
  clearErrors();
  if (body.net !== undefined) {
    $("kind").value = "network";
    $("net").value = body.net; $("loss").value = body.loss || "sse"; $("batch").value = body.batch || "N";
  } else {
    $("kind").value = body.kind || "gradient";
    $("expr").value = body.expr;
    for (const [name, dims] of Object.entries(body.shapes || {})) {
      const kind = dims.length === 0 ? "scalar" : dims.length === 1 ? "vector" : "matrix";
      declared.set(name, {kind, rows: String(dims[0] ?? "n"), cols: String(dims[1] ?? (kind === "vector" ? "1" : "n")),
                          assume: (body.assume || {})[name] || ""});
    }
    const wrt = new Set([].concat(body.wrt || []));
    refreshVariables();
    for (const tr of $("vars").querySelectorAll("tbody tr")) {
      tr.querySelector("input.wrt").checked = wrt.has(tr.dataset.name);
    }
  }
  showSection();
}

function showSection() {
  const net = $("kind").value === "network";
  $("net-section").hidden = !net;
  $("expr-section").hidden = net;
}

// ---- errors at their column ----------------------------------------------------------------
function clearErrors() {
  for (const id of ["expr", "net"]) {
    $(id).removeAttribute("aria-invalid");
    $(`${id}-error`).hidden = true;
    $(`${id}-error`).textContent = "";
  }
  $("status").textContent = "";
  $("status").className = "";
}

function showError(error) {
  const field = error.field === "net" ? "net" : error.field === "expr" ? "expr" : null;
  $("status").className = "error";
  $("status").textContent = error.message;
  if (!field) return;
  const input = $(field);
  input.setAttribute("aria-invalid", "true");
  const box = $(`${field}-error`);
  box.hidden = false;
  if (error.column) {
    const text = input.value;
    box.append(el("span", text, "echo"), "\n", el("span", " ".repeat(error.column - 1) + "^", "caret"),
               el("span", /\bcolumn \d/.test(error.message) ? error.message
               : `${error.message} at column ${error.column}`, "message"));
    input.focus();
    input.setSelectionRange(error.column - 1, Math.min(error.column, text.length));
  } else {
    box.textContent = error.message;
  }
}

// ---- the answer ----------------------------------------------------------------------------
function showAnswer(a) {
  lastAnswer = a;
  $("output").hidden = false;
  const results = $("results");
  results.replaceChildren();
  for (const r of a.results) {
    const div = el("div", null, "result");
    div.dataset.name = r.name;
    const lhs = {gradient: `\\frac{\\partial f}{\\partial ${r.name_latex}}`, jacobian: "J", hessian: "H",
                 hvp: "H[V]", network: `\\frac{\\partial L}{\\partial ${r.name_latex}}`}[a.kind];
    div.append(math(`${lhs} = ${r.latex}`, true));
    div.append(el("code", `${r.name}: ${r.text}`, "text"));
    results.append(div);
  }
  const check = $("check");
  if (a.check && a.check.error) {
    check.className = "failed"; check.textContent = `not checked: ${a.check.error}`;
  } else if (a.check) {
    check.className = a.check.ok ? "ok" : "failed";
    check.textContent = a.check.report;
  }
  $("convention").textContent = a.convention;
  const steps = $("steps");
  steps.replaceChildren();
  let number = 0;
  for (const s of a.steps) {
    if (s.heading) { steps.append(el("li", s.heading, "heading")); continue; }
    const li = el("li", null, "step");
    li.value = ++number;               // headings are not counted
    const details = el("details");
    const summary = el("summary");
    const eq = s.lhs ? `${s.lhs} = ${s.rhs}` : `= ${s.rhs}`;
    summary.append(math(eq, false));
    if (s.rule) summary.append(el("span", s.rule.split(":")[0], "rule"));
    if (s.shape) summary.append(el("span", s.shape, "shape"));
    details.append(summary);
    if (s.note) details.append(math(s.note, false), el("div"));
    details.append(el("code", s.text, "text"));
    li.append(details);
    steps.append(li);
  }
  $("steps-omitted").hidden = !a.steps_omitted;
  $("steps-omitted").textContent = a.steps_omitted ? `… and ${a.steps_omitted} more lines (all of them are in the LaTeX below)` : "";
  $("latex").value = a.latex;
  if (a.code && a.code.source) {
    $("code").textContent = a.code.source;
    $("code-note").textContent = a.code.filename;
    $("download-code").disabled = false;
  } else {
    $("code").textContent = "";
    $("code-note").textContent = a.code ? `no code: ${a.code.error}` : "";
    $("download-code").disabled = true;
  }
}

async function derive() {
  clearErrors();
  const body = request();
  const state = stateOf(body);
  history.replaceState(null, "", "#" + state.toString());
  $("permalink").href = "#" + state.toString();
  $("permalink").hidden = false;
  $("status").className = "busy";
  $("status").textContent = "deriving…";
  $("derive").disabled = true;
  try {
    const response = await fetch("/api/derive", {method: "POST", headers: {"Content-Type": "application/json"},
                                                 body: JSON.stringify(body)});
    const answer = await response.json();
    clearErrors();
    if (answer.error) {
      showError(answer.error);
    } else {
      showAnswer(answer);
      $("status").textContent = "done";
    }
  } catch (e) {
    $("status").className = "error";
    $("status").textContent = `no answer from the server: ${e}`;
  } finally {
    $("derive").disabled = false;
    document.body.dataset.state = $("status").className === "error" ? "error" : "done";
  }
}

async function copy(text) {
  try { await navigator.clipboard.writeText(text); $("status").textContent = "copied"; }
  catch (e) { $("status").textContent = `could not copy: ${e}`; }
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], {type: "text/x-python"}));
  const a = el("a");
  a.href = url; a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function start() {
  try {
    const notation = await (await fetch("/api/notation")).json();
    functionNames = new Set(notation.functions);
    valueKinds = notation.assume || {};
    examples = await (await fetch("/api/examples")).json();
  } catch (e) { /* the page still works; guesses may include function names */ }
  examples.forEach((ex, i) => $("examples").append(new Option(ex.title, String(i))));
  $("examples").addEventListener("change", () => {
    const ex = examples[Number($("examples").value)];
    if (ex) { declared = new Map(); showRequest(ex.request); derive(); }
  });
  $("kind").addEventListener("change", showSection);
  let timer = null;
  $("expr").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refreshVariables, 200); });
  $("form").addEventListener("submit", (e) => { e.preventDefault(); refreshVariables(); derive(); });
  $("expand").addEventListener("click", () => $("steps").querySelectorAll("details").forEach((d) => { d.open = true; }));
  $("collapse").addEventListener("click", () => $("steps").querySelectorAll("details").forEach((d) => { d.open = false; }));
  $("copy-latex").addEventListener("click", () => copy($("latex").value));
  $("copy-code").addEventListener("click", () => copy($("code").textContent));
  $("download-code").addEventListener("click", () => {
    if (lastAnswer && lastAnswer.code && lastAnswer.code.source) download(lastAnswer.code.filename, lastAnswer.code.source);
  });
  // a link to another derivation followed in this page (or the address edited) derives it;
  // derive() itself writes the address with replaceState, which fires no hashchange
  window.addEventListener("hashchange", () => {
    const r = requestOf(new URLSearchParams(location.hash.slice(1)));
    if (r) { declared = new Map(); showRequest(r); derive(); }
  });
  const initial = requestOf(new URLSearchParams(location.hash.slice(1)));
  if (initial) { showRequest(initial); derive(); }
  else { showRequest(examples.length ? examples[1].request : {expr: "tr(X @ A @ X.T)", shapes: {X: ["n", "m"], A: ["m", "m"]}, wrt: "X", kind: "gradient"}); }
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
