// The dashboard: a few pages over the host's read API (docs/api.md), no framework.
// Every value from the API reaches the page as text (el() never parses HTML).
"use strict";

const page = document.getElementById("page");
const COLORS = ["#2f6fec", "#d1403a", "#1a9b5b", "#d99a0b", "#7c3aed", "#0e9aa7",
  "#c2410c", "#db2777", "#4b5563", "#65a30d"];

// ---- helpers ----------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const svg = ["svg", "g", "path", "line", "rect", "text", "circle", "title", "polygon"]
    .includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function time(seconds) {
  return seconds == null ? "—" : new Date(seconds * 1000).toLocaleString();
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

function duration(seconds) {
  if (seconds == null) return "—";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
}

function scoreBadge(score) {
  if (score == null) return el("span", { class: "badge" }, "—");
  const cls = score >= 4 ? "good" : score >= 3 ? "fair" : "bad";
  return el("span", { class: `badge ${cls}` }, score.toFixed(1));
}

function number(value, digits) {
  if (value == null) return "—";
  const abs = Math.abs(value);
  if (abs >= 1e6) return (value / 1e6).toFixed(1) + "M";
  if (abs >= 1e3) return (value / 1e3).toFixed(1) + "k";
  return value.toFixed(digits === undefined ? (Number.isInteger(value) ? 0 : 2) : digits);
}

function show(...nodes) {
  page.replaceChildren(...nodes.flat());
}

function problem(message) {
  return el("div", { class: "error", role: "alert" }, message);
}

// ---- the API ----------------------------------------------------------------------------

class NeedsToken extends Error {}

async function api(path) {
  const headers = {};
  const token = localStorage.getItem("analytics-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { headers });
  if (response.status === 401) throw new NeedsToken();
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

function tokenForm(retry) {
  const input = el("input", { type: "password", name: "token", placeholder: "api.token",
    autocomplete: "off" });
  return el("form", { class: "panel filters", onsubmit: (e) => {
    e.preventDefault();
    localStorage.setItem("analytics-token", input.value);
    retry();
  } },
  el("label", {}, "This host's API needs its token (openvidu.analytics.api.token)", input),
  el("button", { type: "submit" }, "Use token"));
}

async function guarded(render) {
  try {
    await render();
  } catch (error) {
    if (error instanceof NeedsToken) show(tokenForm(route));
    else show(problem(error.message));
  }
}

// ---- charts -----------------------------------------------------------------------------

// A line chart: `lines` = [{label, color, points: [[t, value]]}], time on x.
function lineChart(title, lines, unit) {
  const W = 620, H = 220, L = 66, R = 30, T = 24, B = 28;
  const all = lines.flatMap((l) => l.points);
  const svg = el("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": title });
  svg.append(el("text", { x: L, y: 15, style: "fill:#1d2330;font-weight:600" }, title));
  if (!all.length) {
    svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data"));
    return svg;
  }
  let t0 = Infinity, t1 = -Infinity, v0 = 0, v1 = -Infinity;
  for (const [t, v] of all) {
    t0 = Math.min(t0, t); t1 = Math.max(t1, t); v0 = Math.min(v0, v); v1 = Math.max(v1, v);
  }
  if (v1 === v0) v1 = v0 + 1;
  const x = (t) => L + (t1 === t0 ? (W - L - R) / 2 : ((t - t0) / (t1 - t0)) * (W - L - R));
  const y = (v) => H - B - ((v - v0) / (v1 - v0)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = v0 + ((v1 - v0) * i) / 4;
    svg.append(el("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, number(v) + unit));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    svg.append(el("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, clock(t)));
  }
  svg.append(el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (const line of lines) {
    const d = line.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
      .join("");
    svg.append(el("path", { class: "series", d, stroke: line.color },
      el("title", {}, line.label)));
    if (line.points.length === 1) {
      const [t, v] = line.points[0];
      svg.append(el("circle", { cx: x(t), cy: y(v), r: 3, fill: line.color }));
    }
  }
  return svg;
}

function legend(lines) {
  return el("div", { class: "legend" },
    lines.map((l) => el("span", { style: `--c:${l.color}` }, l.label)));
}

// The session's timeline: one lane per participant, present from join to leave, with a mark
// for each of their events.
function timeline(detail) {
  const people = detail.participants;
  const start = detail.session.started_at;
  const end = Math.max(start + 1, detail.session.ended_at
    || detail.timeline.reduce((m, e) => Math.max(m, e.ts), start));
  const W = 1200, L = 170, R = 36, LANE = 30, T = 10;
  const H = T + Math.max(1, people.length) * LANE + 26;
  const x = (t) => L + ((t - start) / (end - start)) * (W - L - R);
  const svg = el("svg", { class: "timeline", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "session timeline" });
  const marks = { TRACK_PUBLISHED: "#1a9b5b", TRACK_UNPUBLISHED: "#667085",
    TRACK_MUTED: "#d99a0b", TRACK_UNMUTED: "#2f6fec", PARTICIPANT_JOINED: "#2f6fec",
    PARTICIPANT_LEFT: "#d1403a" };
  people.forEach((p, i) => {
    const yTop = T + i * LANE;
    const left = p.left_at == null ? end : p.left_at;
    svg.append(el("text", { class: "lane-label", x: 4, y: yTop + 19 },
      (p.identity || p.sid).slice(0, 22)));
    svg.append(el("rect", { class: "lane", x: x(p.joined_at), y: yTop + 6,
      width: Math.max(2, x(left) - x(p.joined_at)), height: 18, rx: 4 },
    el("title", {}, `${p.identity} ${clock(p.joined_at)} – ${p.left_at ? clock(p.left_at) : "still in"}`)));
    for (const event of detail.timeline.filter((e) => e.participant_sid === p.sid)) {
      const color = marks[event.type] || "#4b5563";
      svg.append(el("rect", { class: "mark", x: x(event.ts) - 2, y: yTop + 4, width: 4,
        height: 22, fill: color }, el("title", {}, `${clock(event.ts)} ${event.type}`)));
    }
  });
  for (let i = 0; i <= 6; i++) {
    const t = start + ((end - start) * i) / 6;
    svg.append(el("text", { x: x(t), y: H - 6, "text-anchor": "middle" }, clock(t)));
  }
  return el("div", {}, svg, el("div", { class: "legend" }, Object.entries(marks)
    .map(([type, color]) => el("span", { style: `--c:${color}` }, type.toLowerCase()))));
}

// ---- pages ------------------------------------------------------------------------------

function localInput(seconds) {
  const d = new Date(seconds * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

async function sessionsPage(params) {
  const now = Date.now() / 1000;
  const from = params.get("from") || localInput(now - 86400);
  const to = params.get("to") || localInput(now + 60);
  const name = params.get("name") || "";
  const form = el("form", { class: "panel filters", onsubmit: (e) => {
    e.preventDefault();
    const data = new URLSearchParams(new FormData(e.target));
    for (const [k, v] of [...data]) if (!v) data.delete(k);
    location.hash = `#/?${data}`;
  } },
  el("label", {}, "From", el("input", { type: "datetime-local", name: "from", value: from })),
  el("label", {}, "To", el("input", { type: "datetime-local", name: "to", value: to })),
  el("label", {}, "Room name", el("input", { name: "name", value: name, placeholder: "any" })),
  el("button", { type: "submit" }, "Show"));
  const body = el("tbody");
  const table = el("table", { id: "sessions" }, el("thead", {}, el("tr", {},
    ["Room", "Started", "Duration", "People", "Tracks", "Worst", "Mean", "State"]
      .map((h, i) => el("th", { class: i >= 3 && i <= 4 ? "num" : null }, h)))), body);
  const more = el("div", { class: "more" });
  show(el("h1", {}, "Sessions"), form, table, more);
  const query = new URLSearchParams({ limit: "50" });
  query.set("from", String(new Date(from).getTime() / 1000));
  query.set("to", String(new Date(to).getTime() / 1000));
  if (name) query.set("name", name);
  const load = async (cursor) => {
    if (cursor) query.set("cursor", cursor);
    const answer = await api(`/api/rooms?${query}`);
    for (const room of answer.rooms) {
      body.append(el("tr", { class: "link", "data-sid": room.sid,
        onclick: () => { location.hash = `#/room/${encodeURIComponent(room.sid)}`; } },
      el("td", {}, el("div", {}, room.name || "(no name)"),
        el("div", { class: "muted mono" }, room.sid)),
      el("td", {}, time(room.started_at)), el("td", {}, duration(room.duration_seconds)),
      el("td", { class: "num" }, room.participants), el("td", { class: "num" }, room.tracks),
      el("td", {}, scoreBadge(room.worst_score)), el("td", {}, scoreBadge(room.mean_score)),
      el("td", {}, room.open ? el("span", { class: "badge open" }, "open") : "ended")));
    }
    if (!body.children.length) {
      body.append(el("tr", {}, el("td", { colspan: 8, class: "empty" },
        "No sessions in this range.")));
    }
    more.replaceChildren(answer.next_cursor ? el("button", { class: "secondary",
      onclick: () => guarded(() => load(answer.next_cursor)) }, "More") : "");
  };
  await load();
}

const METRICS = [
  ["score", "Score (mean; worst dashed)", ""],
  ["packet_loss", "Packet loss", "%"],
  ["jitter", "Jitter", ""],
  ["bitrate", "Bitrate", "bps"],
];

// Lines drawn per chart at most: a large room shows its worst series.
const MAX_SERIES = 16;

async function roomPage(sid) {
  const detail = await api(`/api/rooms/${encodeURIComponent(sid)}`);
  const s = detail.session;
  // About 240 points across the session, in whole 10 s steps.
  const bucket = Math.max(10, Math.ceil(s.duration_seconds / 240 / 10) * 10);
  const quality = await api(`/api/rooms/${encodeURIComponent(sid)}/quality?bucket=${bucket}`);
  const cards = el("div", { class: "cards" }, [
    ["Started", time(s.started_at)], ["Duration", duration(s.duration_seconds)],
    ["People", s.participants], ["Tracks", s.tracks], ["Events", s.events],
    ["Worst score", s.worst_score == null ? "—" : s.worst_score.toFixed(1)],
    ["Mean score", s.mean_score == null ? "—" : s.mean_score.toFixed(2)],
    ["State", s.open ? "open" : "ended"],
    ...(detail.end_reason ? [["Ended because", detail.end_reason.replace(/^ROOM_END_/, "")
      .toLowerCase().replace(/_/g, " ")]] : []),
    ...(detail.aborted_participants ? [["Aborted joins", detail.aborted_participants]] : []),
    ...(detail.webhooks.length ? [["Webhooks failed",
      `${detail.failed_webhooks} of ${detail.webhooks.length}`]] : []),
  ].map(([label, value]) => el("div", { class: "card" }, el("div", { class: "label" }, label),
    el("div", { class: "value" }, value))));
  const people = el("table", { id: "participants" }, el("thead", {}, el("tr", {},
    ["Identity", "Joined", "Left", "Time in room", "Publisher", "Why they left"]
      .map((h) => el("th", {}, h)))),
  el("tbody", {}, detail.participants.map((p) => el("tr", {},
    el("td", {}, el("div", {}, p.identity), el("div", { class: "muted mono" }, p.sid)),
    el("td", {}, time(p.joined_at)), el("td", {}, p.left_at ? time(p.left_at) : "still in"),
    el("td", {}, duration(p.duration_seconds)), el("td", {}, p.publisher ? "yes" : "no"),
    el("td", {}, p.aborted ? "connection aborted" : p.disconnect_reason || "—")))));
  const table = (id, heads, rows) => el("table", { id }, el("thead", {}, el("tr", {},
    heads.map((h) => el("th", {}, h)))), el("tbody", {}, rows));
  const ms = (v) => `${number(v, 1)} ms`;
  const webhooks = table("webhooks",
    ["Time", "Webhook", "URL", "HTTP", "Result", "Queued", "Sending", "Participant"],
    detail.webhooks.map((w) => el("tr", { class: w.failed ? "failed" : "" },
      el("td", {}, clock(w.at)), el("td", {}, w.event), el("td", { class: "mono" }, w.url),
      el("td", { class: "num" }, w.http_status || "—"),
      el("td", {}, w.dropped ? "dropped" : w.failed ? (w.error || "failed") : "ok"),
      el("td", { class: "num" }, ms(w.queue_ms)), el("td", { class: "num" }, ms(w.send_ms)),
      el("td", {}, w.participant || "—"))));
  const calls = table("api-calls",
    ["Time", "Service", "Method", "Status", "Result", "Took", "Participant"],
    detail.api_calls.map((c) => el("tr", { class: c.failed ? "failed" : "" },
      el("td", {}, clock(c.at)), el("td", {}, c.service), el("td", {}, c.method),
      el("td", { class: "num" }, c.status), el("td", {}, c.failed ? (c.error || "failed") : "ok"),
      el("td", { class: "num" }, ms(c.duration_ms)), el("td", {}, c.participant || "—"))));
  const tracks = el("table", { id: "tracks" }, el("thead", {}, el("tr", {},
    ["Track", "Owner", "Kind", "Source", "MIME", "Published", "Unpublished"]
      .map((h) => el("th", {}, h)))),
  el("tbody", {}, detail.tracks.map((t) => el("tr", {},
    el("td", { class: "mono" }, t.sid),
    el("td", {}, (detail.participants.find((p) => p.sid === t.participant_sid) || {}).identity
      || t.participant_sid),
    el("td", {}, t.kind), el("td", {}, t.source), el("td", { class: "mono" }, t.mime),
    el("td", {}, time(t.published_at)), el("td", {}, time(t.unpublished_at))))));
  const worstOf = (q) => q.score.worst.reduce((m, w) => (w == null ? m : Math.min(m, w)), 5);
  const shown = quality.series.length <= MAX_SERIES ? quality.series
    : [...quality.series].sort((a, b) => worstOf(a) - worstOf(b)).slice(0, MAX_SERIES);
  const series = shown.map((q, i) => ({ ...q, color: COLORS[i % COLORS.length],
    label: `${q.identity || q.participant_sid} · ${q.mime || q.track_sid} · ${q.kind.toLowerCase()}` }));
  const charts = el("div", { class: "charts", id: "quality" });
  for (const [key, title, unit] of METRICS) {
    // A series' column as [t, value] pairs, where it has a value.
    const pairs = (q, values) => q.t.map((t, i) => [t, values[i]]).filter((p) => p[1] != null);
    const lines = series.map((q) => ({ label: q.label, color: q.color,
      points: pairs(q, q[key].mean) })).filter((l) => l.points.length);
    if (key === "score") {
      for (const q of series) {
        const worst = pairs(q, q.score.worst);
        if (worst.length) lines.push({ label: `${q.label} (worst)`, color: q.color, points: worst });
      }
    }
    const chart = lineChart(title, lines, unit);
    chart.querySelectorAll("path.series").forEach((path) => {
      if (path.textContent.endsWith("(worst)")) path.setAttribute("stroke-dasharray", "4 3");
    });
    charts.append(el("div", { class: "panel" }, chart));
  }
  show(el("h1", {}, s.name || "(no name)", " ", el("span", { class: "muted mono" }, s.sid)),
    cards, el("h2", {}, "Timeline"), el("div", { class: "panel" }, timeline(detail)),
    el("h2", {}, `Quality (${quality.stats} stats, ${quality.bucket_seconds}s buckets` +
      (shown.length < quality.series.length
        ? `; the ${shown.length} worst of ${quality.series.length} tracks)` : ")")),
    quality.series.length ? [legend(series), charts]
      : el("div", { class: "panel empty" }, "No stats stored for this room."),
    el("h2", {}, "Participants"), people, el("h2", {}, "Tracks"), tracks,
    detail.webhooks.length ? [el("h2", {}, "Webhook deliveries"), webhooks] : [],
    detail.api_calls.length ? [el("h2", {}, "API calls"), calls] : []);
}

async function peoplePage(params) {
  const identity = params.get("identity") || "";
  const form = el("form", { class: "panel filters", onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/people?identity=${encodeURIComponent(e.target.identity.value)}`;
  } }, el("label", {}, "Identity", el("input", { name: "identity", value: identity })),
  el("button", { type: "submit" }, "Find"));
  if (!identity) return show(el("h1", {}, "People"), form);
  const answer = await api(`/api/participants?identity=${encodeURIComponent(identity)}`);
  show(el("h1", {}, "People"), form, el("table", { id: "person" }, el("thead", {}, el("tr", {},
    ["Room", "Started", "Joined", "Time in room", "Why they left"].map((h) => el("th", {}, h)))),
  el("tbody", {}, answer.rooms.flatMap((r) => r.participants.map((p) => el("tr", { class: "link",
    onclick: () => { location.hash = `#/room/${encodeURIComponent(r.room.sid)}`; } },
  el("td", {}, r.room.name), el("td", {}, time(r.room.started_at)),
  el("td", {}, time(p.joined_at)), el("td", {}, duration(p.duration_seconds)),
  el("td", {}, p.disconnect_reason || "—")))))));
}

let healthTimer = null;

async function healthPage() {
  const health = await api("/api/health");
  const cards = el("div", { class: "cards" }, [
    ["Ready", health.ready ? "yes" : "no"], ["Accepting", health.accepting ? "yes" : "no"],
    ["Sinks", health.sinks.length],
  ].map(([label, value]) => el("div", { class: "card" }, el("div", { class: "label" }, label),
    el("div", { class: "value" }, value))));
  const table = el("table", { id: "sinks" }, el("thead", {}, el("tr", {},
    ["Sink", "State", "Queued", "Stored", "Retried", "Dropped", "Failed batches", "Last error"]
      .map((h, i) => el("th", { class: i >= 2 && i <= 6 ? "num" : null }, h)))),
  el("tbody", {}, health.sinks.map((s) => el("tr", {},
    el("td", {}, s.name),
    el("td", {}, s.gave_up ? el("span", { class: "badge bad" }, "gave up")
      : s.failing ? el("span", { class: "badge fair" }, "failing")
        : s.initialized ? el("span", { class: "badge good" }, "ok")
          : el("span", { class: "badge" }, "starting")),
    el("td", { class: "num" }, s.queued), el("td", { class: "num" }, s.stored),
    el("td", { class: "num" }, s.retried), el("td", { class: "num" }, s.overflowed + s.rejected),
    el("td", { class: "num" }, s.failed_batches),
    el("td", {}, s.gave_up || (s.last_error ? `${clock(s.last_error.at)} ${s.last_error.error}` : "—"))))));
  // What a sink works without (e.g. indexes its MongoDB server refused).
  const notes = health.sinks.flatMap((s) => (s.notes || []).map((n) => `${s.name}: ${n}`));
  const noted = el("ul", { id: "sink-notes" }, notes.map((n) => el("li", {}, n)));
  const lines = health.sinks.map((s, i) => ({ label: s.name, color: COLORS[i % COLORS.length],
    points: s.recent.map((r) => [r.t, r.stored_per_second]) }));
  const queued = health.sinks.map((s, i) => ({ label: s.name, color: COLORS[i % COLORS.length],
    points: s.recent.map((r) => [r.t, r.queued]) }));
  show(el("h1", {}, "Health"), cards, table, noted, el("h2", {}, "The last ten minutes"),
    legend(lines), el("div", { class: "charts", id: "throughput" },
      el("div", { class: "panel" }, lineChart("Stored per second", lines, "/s")),
      el("div", { class: "panel" }, lineChart("Queued", queued, ""))));
  healthTimer = setTimeout(() => guarded(healthPage), 5000);
}

// ---- routing ----------------------------------------------------------------------------

function route() {
  clearTimeout(healthTimer);
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const name = path.startsWith("/room/") ? "sessions" : path.slice(1) || "sessions";
  document.querySelectorAll("header nav a").forEach((a) =>
    a.classList.toggle("current", a.dataset.page === name));
  if (path.startsWith("/room/")) return guarded(() => roomPage(decodeURIComponent(path.slice(6))));
  if (path === "/people") return guarded(() => peoplePage(params));
  if (path === "/health") return guarded(healthPage);
  return guarded(() => sessionsPage(params));
}

window.addEventListener("hashchange", route);
route();
