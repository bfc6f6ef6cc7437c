// The dashboard draws its charts as plain SVG: two small charts don't justify shipping a charting library.
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const COLORS = { promoter: "#2e9e5b", passive: "#e2a72e", detractor: "#d64545" };
const category = (n) => (n >= 9 ? "promoter" : n >= 7 ? "passive" : "detractor");
const fmt = (v, digits = 1) => (v === null || v === undefined ? "n/a" : (v > 0 ? "+" : "") + v.toFixed(digits));
// A margin is undefined for one response or when all fall in one category; the report says why instead of ± 0.
const undefinedMargin = (r) => r.nps !== null && r.margin === null;

function el(tag, attrs = {}, text) {
  const node = tag in { svg: 1, rect: 1, path: 1, line: 1, text: 1, circle: 1, g: 1, title: 1 }
    ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function query() {
  const params = new URLSearchParams(new FormData(document.getElementById("filters")));
  for (const [k, v] of new FormData(document.getElementById("comment-filters"))) params.set(k, v);
  for (const [k, v] of [...params]) if (!v) params.delete(k);
  return params;
}

function drawDistribution(counts) {
  const box = document.getElementById("distribution");
  const W = 440, H = 260, pad = 28, max = Math.max(1, ...counts), bw = (W - pad * 2) / 11;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "score distribution" });
  counts.forEach((n, score) => {
    const h = ((H - pad * 2) * n) / max;
    svg.append(el("rect", { x: pad + score * bw + 2, y: H - pad - h, width: bw - 4, height: h,
      fill: COLORS[category(score)], "data-score": score, "data-count": n }));
    svg.append(el("text", { x: pad + score * bw + bw / 2, y: H - 8, "text-anchor": "middle", "font-size": 12 }, score));
    if (n) svg.append(el("text", { x: pad + score * bw + bw / 2, y: H - pad - h - 4, "text-anchor": "middle", "font-size": 11 }, n));
  });
  box.replaceChildren(svg);
}

function drawTrend(points) {
  const box = document.getElementById("trend");
  const W = 880, H = 260, pad = 36;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "NPS trend" });
  const y = (v) => pad + ((100 - v) / 200) * (H - pad * 2);
  for (const v of [-100, -50, 0, 50, 100]) {
    svg.append(el("line", { x1: pad, x2: W - 8, y1: y(v), y2: y(v), stroke: v === 0 ? "#9aa5b1" : "#e3e6ea" }));
    svg.append(el("text", { x: 4, y: y(v) + 4, "font-size": 11, fill: "#6b7785" }, v));
  }
  const shown = points.filter((p) => p.nps !== null);
  const step = shown.length > 1 ? (W - pad - 16) / (shown.length - 1) : 0;
  const x = (i) => pad + 8 + i * step;
  if (shown.length) {
    // the band runs only through points that have a margin: a gap where it is undefined, never a pinch to zero
    const runs = [[]];
    shown.forEach((p, i) => (undefinedMargin(p) ? runs.push([]) : runs[runs.length - 1].push([p, i])));
    for (const run of runs.filter((r) => r.length)) {
      const band = run.map(([p, i]) => `${x(i)},${y(Math.min(100, p.nps + p.margin))}`)
        .concat(run.map(([p, i]) => `${x(i)},${y(Math.max(-100, p.nps - p.margin))}`).reverse());
      svg.append(el("path", { d: "M" + band.join(" L") + " Z", fill: "rgba(46,158,91,0.15)",
        stroke: run.length === 1 ? "rgba(46,158,91,0.5)" : "none" }));
    }
    svg.append(el("path", { d: "M" + shown.map((p, i) => `${x(i)},${y(p.nps)}`).join(" L"), fill: "none",
      stroke: COLORS.promoter, "stroke-width": 3 }));
    shown.forEach((p, i) => {
      const dot = el("circle", { cx: x(i), cy: y(p.nps), r: 4, fill: p.significant ? COLORS.promoter : "#fff",
        stroke: COLORS.promoter, "data-significant": p.significant, "data-margin": undefinedMargin(p) ? "undefined" : p.margin });
      dot.append(el("title", {}, `${p.period}: NPS ${fmt(p.nps)} ± ${undefinedMargin(p) ? `n/a (${p.margin_reason})` : p.margin.toFixed(1)}`));
      svg.append(dot);
      svg.append(el("text", { x: x(i), y: H - 6, "text-anchor": "middle", "font-size": 11, fill: "#6b7785" }, p.period));
    });
  }
  box.replaceChildren(svg);
}

// NPS ± margin cells: n/a with the reason where the margin is undefined.
function marginCell(r) {
  return undefinedMargin(r) ? el("td", { class: "undefined-margin", title: r.margin_reason }, "n/a")
    : el("td", {}, r.margin === null ? "" : r.margin.toFixed(1));
}

function drawBreakdowns(breakdowns, minimum) {
  const root = document.getElementById("breakdowns");
  root.replaceChildren();
  for (const [dim, rows] of Object.entries(breakdowns)) {
    if (!rows.length) continue;
    const picker = document.getElementById(dim);  // a dimension most setups leave empty shows only when used
    if (picker && "hideEmpty" in picker.dataset && rows.every((r) => r.key === null)) continue;
    const table = el("table", { "data-dimension": dim });
    const head = el("tr");
    const delivery = dim === "channel";  // did the questions arrive: delivered, the rate against them, skipped
    const extra = delivery ? ["delivered", "rate of delivered", "skipped"] : [];
    for (const h of [dim, "responses", "NPS", "± margin", "P", "Pa", "D", ...extra]) head.append(el("th", {}, h));
    table.append(head);
    for (const r of rows) {
      const tr = el("tr");
      const nps = el("td", {}, fmt(r.nps));
      if (!r.significant) nps.append(el("span", { class: "flag", title: `fewer than ${minimum} responses: not significant` }, ` (n<${minimum})`));
      tr.append(el("td", {}, r.key ?? "—"), el("td", {}, r.responses), nps, marginCell(r),
        el("td", {}, r.promoters), el("td", {}, r.passives), el("td", {}, r.detractors));
      if (delivery) tr.append(...deliveryCells(r));
      table.append(tr);
    }
    root.append(table);
  }
  markWide(root);
}

// A table whose columns don't fit its grid cell spans the whole row instead of spilling into its neighbour.
function markWide(root) {
  const tables = [...root.querySelectorAll(":scope > table")];
  tables.forEach((t) => t.classList.remove("wide"));
  const cell = parseFloat(getComputedStyle(root).gridTemplateColumns.split(" ")[0]);  // one column's width
  for (const table of tables) if (table.offsetWidth > cell + 1) table.classList.add("wide");
}

// Questions delivered (sent, for a channel that reports no delivery), the response rate against them, and the
// surveys skipped by reason (throttled, unreachable, outside_window…).
function deliveryCells(r) {
  const sentOnly = !r.delivery_reported;
  const delivered = el("td", sentOnly ? { title: "this channel reports no delivery: questions sent" } : {},
    `${r.questions_delivered ?? 0}${sentOnly ? " (sent)" : ""}`);
  const rate = r.response_rate_delivered;
  const skipped = Object.entries(r.skipped || {}).map(([why, n]) => `${why} ${n}`).join(", ");
  return [delivered, el("td", {}, rate === null || rate === undefined ? "n/a" : `${Math.round(rate * 100)}%`),
    el("td", { class: "small" }, skipped || "—")];
}

function fillSelect(id, values) {
  const select = document.getElementById(id);
  if ("fixed" in select.dataset) return;  // its choices are known up front (the survey kinds)
  const chosen = select.value;
  const first = select.options[0];
  select.replaceChildren(first, ...values.map((v) => el("option", { value: v }, v)));
  if (chosen && !values.includes(chosen)) select.append(el("option", { value: chosen }, chosen));
  select.value = chosen;
  if ("hideEmpty" in select.dataset) select.hidden = !values.length && !chosen;  // e.g. no Slack workspaces
}

function hours(seconds) {
  return seconds === null || seconds === undefined ? "n/a" : `${(seconds / 3600).toFixed(1)} h`;
}

function drawFollowUp(f) {
  document.getElementById("open").textContent = f.open;
  document.getElementById("median").textContent = `${f.claimed} claimed · ${f.resolved} resolved · median time to resolve ${hours(f.median_seconds_to_resolve)}`;
  document.getElementById("followup-counts").textContent = `${f.open} open · ${f.claimed} claimed · ${f.resolved} resolved · median time to resolve ${hours(f.median_seconds_to_resolve)}`;
  const table = document.getElementById("followups");
  const head = el("tr");
  const columns = [["score", "num"], ["comment", "text"], ["customer", "text"], ["agent", "text"], ["profile", "text"],
    ["priority", "text"], ["tags", "text"], ["SLA", "text"], ["status", "text"], ["claimed by", "text"]];
  for (const [h, kind] of columns) head.append(el("th", { class: kind }, h));
  // The most urgent first, as a support lead works through them; newest first within a priority.
  const items = [...f.items].sort((a, b) => PRIORITY_RANK[b.priority || "normal"] - PRIORITY_RANK[a.priority || "normal"]);
  table.replaceChildren(head, ...items.map((d) => {
    const tr = el("tr", { "data-status": d.status, "data-priority": d.priority || "normal" });
    const cells = [d.score, d.comment || "—", d.customer_name || d.user_id, d.agent || "—", `${d.profile}/${d.channel}`];
    const tags = el("td", { class: "text" });
    for (const t of d.tags || []) tags.append(el("span", { class: "tag" }, t), " ");
    cells.forEach((v, i) => tr.append(el("td", { class: columns[i][1], "data-label": columns[i][0] }, v)));
    tr.append(el("td", { class: `text priority-${d.priority || "normal"}`, "data-label": "priority" }, d.priority || "normal"));
    tags.dataset.label = "tags";
    tr.append(tags, slaCell(d.sla), el("td", { class: "text", "data-label": "status" }, d.status),
      el("td", { class: "text", "data-label": "claimed by" }, d.claimed_by || ""));
    return tr;
  }));
}

const PRIORITY_RANK = { low: 0, normal: 1, high: 2, urgent: 3 };

// One line per deadline of the follow-up's SLA: "claim by 14:05 · breached · escalated".
function slaCell(sla) {
  const td = el("td", { class: "text sla", "data-label": "SLA" });
  if (!sla) { td.textContent = "—"; return td; }
  for (const kind of ["claim", "resolve"]) {
    const d = sla[kind];
    if (!d) continue;
    const due = new Date(d.due_at).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
    const line = el("div", { class: `deadline ${d.status}`, "data-kind": kind, "data-status": d.status },
      `${kind} by ${due} · ${d.status}${d.escalated ? " · escalated" : ""}`);
    td.append(line);
  }
  return td;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "n/a";
  return seconds < 3600 ? `${Math.round(seconds / 60)} min` : hours(seconds);
}

// Follow-up SLAs: breaches, escalations and time to claim / resolve (median · 90th percentile) by team and agent.
function drawSla(sla) {
  const all = sla.all[0];
  document.getElementById("sla-counts").textContent = `${all.with_sla} of ${all.detractors} detractors had an SLA · `
    + `${all.claim_breaches} claimed late · ${all.resolve_breaches} resolved late · ${all.escalations} escalations · `
    + `time to claim ${duration(all.claim_median_seconds)} (p90 ${duration(all.claim_p90_seconds)}) · `
    + `time to resolve ${duration(all.resolve_median_seconds)} (p90 ${duration(all.resolve_p90_seconds)})`;
  const root = document.getElementById("sla-tables");
  root.replaceChildren();
  for (const dim of ["team", "agent"]) {
    if (!sla[dim].length) continue;
    const table = el("table", { "data-sla": dim });
    const head = el("tr");
    const columns = [dim, "detractors", "claimed late", "resolved late", "escalations", "to claim", "p90", "to resolve", "p90"];
    columns.forEach((h, i) => head.append(el("th", { class: i ? "num" : "text" }, h)));
    table.append(head);
    for (const r of sla[dim]) {
      const tr = el("tr");
      tr.append(el("td", { class: "text" }, r.key ?? "—"));
      for (const v of [r.detractors, r.claim_breaches, r.resolve_breaches, r.escalations]) tr.append(el("td", { class: "num" }, v));
      for (const v of [r.claim_median_seconds, r.claim_p90_seconds, r.resolve_median_seconds, r.resolve_p90_seconds]) {
        tr.append(el("td", { class: "num" }, duration(v)));
      }
      table.append(tr);
    }
    root.append(table);
  }
  markWide(root);
}

function drawComments(items) {
  const list = document.getElementById("comments");
  list.replaceChildren(...items.map((c) => {
    const li = el("li");
    li.append(el("span", { class: `score ${c.category}` }, c.score), el("span", {}, c.comment));
    li.append(el("span", { class: "small" }, ` — ${c.customer_name || c.user_id}, agent ${c.agent || "—"}, ${c.profile}/${c.channel}`));
    return li;
  }));
}

// Comment themes: one stacked bar per theme (its mentions by category), a table of its driver figures, and a
// click on either that narrows the comments list to that theme.
const pct = (v) => (v === null || v === undefined ? "n/a" : `${Math.round(v * 100)} %`);

function filterByTheme(theme) {
  document.getElementById("theme-filter").value = theme || "";
  const chip = document.getElementById("theme-chip");
  chip.hidden = !theme;
  chip.replaceChildren();
  if (theme) {
    const clear = el("button", { type: "button", class: "chip", "data-theme": theme, title: "show every comment" }, `theme: ${theme} ✕`);
    clear.addEventListener("click", () => filterByTheme(""));
    chip.append(clear);
  }
  load();
}

function sparkline(points) {
  const W = 90, H = 22, shares = points.map((p) => p.share_of_comments || 0), max = Math.max(0.01, ...shares);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "spark", role: "img", "aria-label": "share of comments over time" });
  if (points.length) {
    const x = (i) => (points.length > 1 ? 2 + (i * (W - 4)) / (points.length - 1) : W / 2);
    const y = (v) => H - 2 - ((H - 4) * v) / max;
    svg.append(el("path", { d: "M" + shares.map((v, i) => `${x(i)},${y(v)}`).join(" L"), fill: "none", stroke: "#4a5968", "stroke-width": 1.5 }));
    svg.append(el("title", {}, points.map((p) => `${p.period}: ${pct(p.share_of_comments)}`).join("\n")));
  }
  return svg;
}

function drawThemes(t, minimum) {
  const rows = t.themes;
  const box = document.getElementById("theme-chart");
  const W = 440, bar = 22, gap = 8, left = 110, H = Math.max(60, rows.length * (bar + gap) + 10);
  const max = Math.max(1, ...rows.map((r) => r.mentions));
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "theme mentions by category" });
  svg.style.height = `${H}px`; // set through the CSSOM: the page's policy allows no inline style attribute
  rows.forEach((r, i) => {
    const g = el("g", { class: "theme-bar", "data-theme": r.theme, "data-mentions": r.mentions });
    const top = 5 + i * (bar + gap);
    g.append(el("text", { x: left - 6, y: top + bar * 0.7, "text-anchor": "end", "font-size": 12 }, r.theme));
    let x = left;
    for (const cat of ["detractor", "passive", "promoter"]) {
      const n = r[`${cat}s`], w = ((W - left - 40) * n) / max;
      if (n) g.append(el("rect", { x, y: top, width: w, height: bar, fill: COLORS[cat], "data-category": cat }));
      x += w;
    }
    g.append(el("text", { x: x + 4, y: top + bar * 0.7, "font-size": 11, fill: "#6b7785" }, r.mentions));
    g.append(el("title", {}, `${r.theme}: ${r.mentions} mentions (${r.detractors} D · ${r.passives} Pa · ${r.promoters} P)`));
    g.addEventListener("click", () => filterByTheme(r.theme));
    svg.append(g);
  });
  box.replaceChildren(svg);
  const table = document.getElementById("themes");
  const head = el("tr");
  for (const h of ["theme", "mentions", "of D comments", "of Pa", "of P", "NPS", "± margin", "impact", "trend"]) head.append(el("th", {}, h));
  table.replaceChildren(head, ...rows.map((r) => {
    const tr = el("tr", { "data-theme": r.theme, class: "clickable" });
    const nps = el("td", {}, fmt(r.nps));
    if (!r.significant) nps.append(el("span", { class: "flag", title: `fewer than ${minimum} responses: not significant` }, ` (n<${minimum})`));
    const impact = el("td", { class: r.impact < 0 ? "negative" : "", title: `overall NPS without this theme's pull: ${fmt(r.nps_without)}` }, fmt(r.impact));
    const trend = el("td");
    trend.append(sparkline(t.trend[r.theme] || []));
    tr.append(el("td", {}, r.theme), el("td", {}, r.mentions), el("td", {}, pct(r.share.detractor)), el("td", {}, pct(r.share.passive)),
      el("td", {}, pct(r.share.promoter)), nps, marginCell(r), impact, trend);
    tr.addEventListener("click", () => filterByTheme(r.theme));
    return tr;
  }));
}

// The profile's benchmark (an industry NPS) next to the headline: the difference, and whether the benchmark lies
// outside the 95 % interval.
function drawBenchmark(b) {
  const node = document.getElementById("benchmark");
  node.dataset.significant = b ? String(b.significant) : "";
  if (!b) { node.textContent = ""; return; }
  const verdict = b.significant === null ? "" : b.significant ? " · significant" : " · within the margin of error";
  node.textContent = `benchmark ${fmt(b.benchmark)}: ${fmt(b.difference)}${verdict}`;
}

// The variants experiment of the profile shown: each variant's response rate and NPS against the control's.
function drawVariants(v, minimum) {
  const note = document.getElementById("variants-note");
  const table = document.getElementById("variants");
  table.replaceChildren();
  if (!v) { note.textContent = "Choose a profile to compare its variants."; return; }
  if (!v.variants.length) { note.textContent = `No survey of ${v.profile} carries a variant.`; return; }
  note.textContent = `${v.profile}: each variant against the control, ${v.control}, at 95 % `
    + `(not enough data below ${minimum} responses, or ${minimum} asked for the response rate).`;
  const head = el("tr");
  for (const h of ["variant", "asked", "responses", "response rate", "vs control", "NPS", "± margin", "vs control"]) {
    head.append(el("th", {}, h));
  }
  const points = (d) => `${d > 0 ? "+" : ""}${(d * 100).toFixed(1)} pts`;
  table.append(head, ...v.variants.map((r) => {
    const c = r.versus_control;
    const tr = el("tr", { "data-variant": r.variant });
    tr.append(el("td", {}, c ? r.variant : `${r.variant} (control)`), el("td", {}, r.asked), el("td", {}, r.responses),
      el("td", {}, pct(r.response_rate)), versus(c && c.response_rate, points), el("td", {}, fmt(r.nps)), marginCell(r),
      versus(c && c.nps, fmt));
    return tr;
  }));
}

function versus(v, show) {
  if (!v) return el("td", {}, "—");
  const difference = v.difference === null ? "n/a" : show(v.difference);
  return el("td", { class: `verdict ${v.verdict.replaceAll(" ", "-")}`, "data-verdict": v.verdict }, `${difference} · ${v.verdict}`);
}

async function discoverPhrases() {
  const note = document.getElementById("discover-note");
  note.textContent = "reading comments…";
  const resp = await fetch("/report/themes/discover.json?" + query().toString(), { credentials: "same-origin" });
  const body = await resp.json();
  const table = document.getElementById("discovered");
  if (!resp.ok) { note.textContent = body.error; table.replaceChildren(); return; }
  note.textContent = `${body.read} of ${body.unmatched_comments} comments that match no theme read (${body.profile})`;
  const head = el("tr");
  for (const h of ["phrase", "comments", "language", "examples"]) head.append(el("th", {}, h));
  table.replaceChildren(head, ...body.phrases.map((p) => {
    const tr = el("tr", { "data-phrase": p.phrase });
    const also = p.related.length ? ` (also: ${p.related.slice(0, 4).join(", ")})` : "";
    tr.append(el("td", {}, p.phrase + also), el("td", {}, p.comments), el("td", {}, p.language), el("td", { class: "text" }, p.examples.join(" · ")));
    return tr;
  }));
}

async function load() {
  const params = query();
  document.getElementById("csv").href = "/report/responses.csv?" + params.toString();
  const resp = await fetch("/report/data.json?" + params.toString(), { credentials: "same-origin" });
  if (resp.status === 401) { window.location = "/report"; return; }
  const data = await resp.json();
  const s = data.summary;
  const select = document.getElementById("profile");
  if (select.options.length === 1) for (const p of data.profiles) select.append(el("option", { value: p }, p));
  for (const [dim, values] of Object.entries(data.options)) fillSelect(dim, values);
  document.getElementById("nps").textContent = fmt(s.nps);
  const interval = undefinedMargin(s) ? `margin of error undefined: ${s.margin_reason}` : `95 % interval ${s.low?.toFixed(1)} … ${s.high?.toFixed(1)}`;
  document.getElementById("interval").textContent = s.nps === null ? "" : interval + (s.significant ? "" : " · not significant");
  document.getElementById("responses").textContent = s.responses;
  document.getElementById("rate").textContent = s.response_rate === null ? "" : `of ${s.asked} asked (${Math.round(s.response_rate * 100)} %)`;
  const sampling = data.sampling;
  document.getElementById("sampled").textContent = sampling && sampling.sampled_out
    ? `sampled ${sampling.sampled} of ${sampling.closed} closed conversations` : "";
  drawBenchmark(s.benchmark);
  document.getElementById("mix").textContent = `${s.promoters} · ${s.passives} · ${s.detractors}`;
  const c = data.comparison;
  document.getElementById("change").textContent = c.change === null ? "n/a" : fmt(c.change);
  document.getElementById("change-note").textContent = c.significant === null ? "" : c.significant ? "significant change" : "within the margin of error";
  drawFollowUp(data.follow_up);
  drawSla(data.sla);
  drawTrend(data.trend);
  drawDistribution(data.distribution);
  drawBreakdowns(data.breakdowns, data.min_responses);
  drawComments(data.comments);
  drawThemes(data.themes, data.min_responses);
  drawVariants(data.variants, data.min_responses);
  document.body.dataset.loaded = "true";
}

for (const id of ["filters", "comment-filters"]) {
  document.getElementById(id).addEventListener("submit", (e) => { e.preventDefault(); load(); });
}
document.getElementById("discover").addEventListener("click", discoverPhrases);
load();
