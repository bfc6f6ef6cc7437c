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

function drawBreakdowns(breakdowns, minimum) {
  const root = document.getElementById("breakdowns");
  root.replaceChildren();
  for (const [dim, rows] of Object.entries(breakdowns)) {
    if (!rows.length) continue;
    const table = el("table", { "data-dimension": dim });
    const head = el("tr");
    for (const h of [dim, "responses", "NPS", "± margin", "P", "Pa", "D"]) head.append(el("th", {}, h));
    table.append(head);
    for (const r of rows) {
      const tr = el("tr");
      const nps = el("td", {}, fmt(r.nps));
      if (!r.significant) nps.append(el("span", { class: "flag", title: `fewer than ${minimum} responses: not significant` }, ` (n<${minimum})`));
      const margin = undefinedMargin(r) ? el("td", { class: "undefined-margin", title: r.margin_reason }, "n/a")
        : el("td", {}, r.margin === null ? "" : r.margin.toFixed(1));
      tr.append(el("td", {}, r.key ?? "—"), el("td", {}, r.responses), nps, margin,
        el("td", {}, r.promoters), el("td", {}, r.passives), el("td", {}, r.detractors));
      table.append(tr);
    }
    root.append(table);
  }
}

function fillSelect(id, values) {
  const select = document.getElementById(id);
  const chosen = select.value;
  const first = select.options[0];
  select.replaceChildren(first, ...values.map((v) => el("option", { value: v }, v)));
  if (chosen && !values.includes(chosen)) select.append(el("option", { value: chosen }, chosen));
  select.value = chosen;
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
  for (const h of ["score", "comment", "customer", "agent", "profile", "status", "claimed by"]) head.append(el("th", {}, h));
  table.replaceChildren(head, ...f.items.map((d) => {
    const tr = el("tr", { "data-status": d.status });
    tr.append(el("td", {}, d.score), el("td", {}, d.comment || "—"), el("td", {}, d.customer_name || d.user_id),
      el("td", {}, d.agent || "—"), el("td", {}, `${d.profile}/${d.channel}`), el("td", {}, d.status), el("td", {}, d.claimed_by || ""));
    return tr;
  }));
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
  document.getElementById("mix").textContent = `${s.promoters} · ${s.passives} · ${s.detractors}`;
  const c = data.comparison;
  document.getElementById("change").textContent = c.change === null ? "n/a" : fmt(c.change);
  document.getElementById("change-note").textContent = c.significant === null ? "" : c.significant ? "significant change" : "within the margin of error";
  drawFollowUp(data.follow_up);
  drawTrend(data.trend);
  drawDistribution(data.distribution);
  drawBreakdowns(data.breakdowns, data.min_responses);
  drawComments(data.comments);
  document.body.dataset.loaded = "true";
}

for (const id of ["filters", "comment-filters"]) {
  document.getElementById(id).addEventListener("submit", (e) => { e.preventDefault(); load(); });
}
load();
