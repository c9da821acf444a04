// Supervisor dashboard (docs/kpis.md). Every figure comes from the KPI API; the charts are SVG
// images the service draws (no chart script, no CDN). No inline script or style: CSP-clean.
"use strict";

const API = "/api/v1";
const SESSION_KEY = "handoff.console.session"; // shared with the agent console
const LIVE_SECONDS = 30;
const CHARTS = ["volume", "first_response", "handle_time", "sla", "containment", "csat"];
// KPI rows per group: [label, field, drill-down metric or null, unit]
const KPI_ROWS = [
  ["Handoffs", "handoffs", "handoffs", "count"],
  ["Handled", "handled", "handled", "count"],
  ["Time to first response", "first_response_seconds", "handled", "duration"],
  ["… in business hours", "first_response_business_seconds", "handled", "duration"],
  ["Next response", "next_response_seconds", null, "duration"],
  ["First contact resolution", "first_contact_resolution_rate", "fcr", "percent"],
  ["Average handle time", "average_handle_seconds", "handled", "duration"],
  ["Average wait", "average_wait_seconds", "handoffs", "duration"],
  ["Abandonment", "abandonment_rate", "abandoned", "percent"],
  ["Responses per conversation", "responses_per_conversation", "handled", "number"],
  ["Handled per hour", "handled_per_hour", "handled", "number"],
  ["Closed without response", "closed_without_response", "abandoned", "count"],
  ["Transfer rate", "transfer_rate", "transferred", "percent"],
  ["Reopen rate", "reopen_rate", "reopened", "percent"],
  ["SLA first response met", "sla_first_response_attainment", "sla_first_response_breached", "percent"],
  ["SLA resolution met", "sla_resolution_attainment", "sla_resolution_breached", "percent"],
  ["Agent idle time", "agent_idle_seconds", null, "duration"],
  ["… share of online time", "agent_idle_rate", null, "percent"],
];
const AGENT_COLUMNS = [
  ["agent_name", "Agent"],
  ["conversations_assigned", "Assigned"],
  ["responses", "Responses"],
  ["average_first_tar_seconds", "Avg first TAR"],
  ["average_tar_seconds", "TAR"],
  ["average_response_handle_seconds", "Avg response handle"],
  ["average_conversation_handle_seconds", "Avg conversation handle"],
  ["resolved", "Resolved"],
  ["csat_responses", "Surveys"],
  ["csat_average", "CSAT (1-5)"],
  ["csat_satisfied_rate", "Satisfied"],
  ["nps", "NPS"],
  ["online_seconds", "Online"],
  ["idle_seconds", "Idle"],
];
const DRILL_COLUMNS = [
  ["sender_id", "Customer"], ["started_at", "Handed off"], ["team", "Team"], ["mode", "Mode"],
  ["priority", "Priority"], ["first_agent", "Agent"], ["first_response_seconds", "First response"],
  ["agent_replies", "Responses"], ["end_kind", "Ended"], ["sla_first_response", "SLA"],
];

const state = { token: null, drill: null, liveTimer: null, alert: null };
const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, { ...options, headers });
  if (response.status === 401) {
    signOut();
    throw new Error("Your session ended; sign in again.");
  }
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const data = isJson ? await response.json() : await response.text();
  if (!response.ok) throw new Error(isJson ? data.message : `HTTP ${response.status}`);
  return data;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function show(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "duration") return duration(value);
  if (unit === "percent") return `${(value * 100).toFixed(1)} %`;
  if (unit === "number") return Number(value).toFixed(2);
  return String(value);
}

function delta(current, previous, unit) {
  if (typeof current !== "number" || typeof previous !== "number" || previous === 0) return "";
  const change = ((current - previous) / Math.abs(previous)) * 100;
  return `${change >= 0 ? "+" : ""}${change.toFixed(0)} % (was ${show(previous, unit)})`;
}

function sliceQuery(extra = {}) {
  const params = new URLSearchParams();
  const from = $("f-from").value;
  const to = $("f-to").value;
  params.set("from", `${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  end.setUTCDate(end.getUTCDate() + 1); // the "to" day is included
  params.set("to", end.toISOString());
  for (const [name, id] of [["team", "f-team"], ["mode", "f-mode"], ["channel", "f-channel"]]) {
    if ($(id).value) params.set(name, $(id).value);
  }
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params.toString();
}

async function loadLive() {
  const live = await api("/kpis/live");
  $("live-at").textContent = `at ${new Date(live.at).toLocaleTimeString()}`;
  const tiles = $("live-tiles");
  tiles.replaceChildren();
  for (const [label, value] of [
    ["waiting", live.waiting],
    ["oldest wait", duration(live.oldest_wait_seconds)],
    ["SLA approaching", live.approaching],
    ["SLA breached", live.breached],
    ["agents online", live.agents_online],
    ["agents away", live.agents_away],
    ["handled today", live.handled_today],
    ["resolved today", live.resolved_today],
  ]) {
    const tile = el("div", null, "tile");
    tile.dataset.tile = label;
    tile.append(el("b", value ?? "–"), el("span", label));
    tiles.append(tile);
  }
  const body = $("live-teams").tBodies[0];
  body.replaceChildren();
  for (const team of live.teams) {
    const row = el("tr");
    for (const value of [team.team, team.waiting, duration(team.oldest_wait_seconds),
      team.assigned, team.approaching, team.breached, team.agents_online, team.agents_away]) {
      row.append(el("td", value));
    }
    body.append(row);
  }
}

async function loadAlerts() {
  const { alerts } = await api("/alerts?status=open");
  const list = $("alerts");
  list.replaceChildren();
  if (!alerts.length) list.append(el("li", "No open alerts."));
  for (const alert of alerts) {
    const item = el("li", null, alert.kind);
    item.dataset.alert = alert.kind;
    item.append(el("b", `${alert.team}: `), el("span", alert.summary));
    if (alert.conversations.length) {
      const button = el("button", `${alert.conversations.length} conversation(s)`);
      button.type = "button";
      button.addEventListener("click", () => showAlertConversations(alert));
      item.append(" ", button);
    }
    list.append(item);
  }
}

// Act from an alert: its conversations still with people (the bulk actions' selection
// `{alert: id}`), each a link into the agent console, and one move of all of them to a team
// (undoable) or one resolution of all of them (not undoable), both in the bulk actions' log.
const ALERT_COLUMNS = [
  ["conversation_id", "Customer"], ["channel", "Channel"], ["team", "Team"], ["status", "Status"],
  ["priority", "Priority"], ["agent", "Agent"],
];

async function showAlertConversations(alert) {
  state.alert = alert;
  const filter = { alert: String(alert.id) };
  const preview = await api("/bulk-actions/preview", { method: "POST", body: JSON.stringify({ filter }) });
  const rows = preview.conversations.map((c) => ({
    ...c,
    priority: c.priority.name,
    agent: c.assigned_agent ? c.assigned_agent.name : "–",
  }));
  const shown = rows.length < preview.count ? ` (first ${rows.length} shown)` : "";
  $("alert-title").textContent = `${alert.summary} (${alert.team}): ${preview.count} still open${shown}`;
  fillTable($("alert-conversations"), ALERT_COLUMNS, rows, (field, value, row) =>
    field === "conversation_id" ? consoleLink(row.id, value) : value ?? "–");
  $("alert-status").textContent = "";
  $("alert-close-confirm").hidden = true;
  $("alert-actions").hidden = preview.count === 0;
  $("alert-panel").hidden = false;
  $("alert-panel").scrollIntoView();
}

// The agent console opens the conversation of `/#conversation=<id>` (same tab: same session).
function consoleLink(id, text) {
  const link = el("a", text);
  link.href = `/#conversation=${encodeURIComponent(id)}`;
  link.title = "Open in the agent console";
  return link;
}

// One bulk action on the alert's conversations; `done` words the result from its count.
async function actOnAlert(action, values, done) {
  const alert = state.alert;
  const body = { filter: { alert: String(alert.id) }, action, ...values };
  try {
    const result = await api("/bulk-actions", { method: "POST", body: JSON.stringify(body) });
    const skipped = Object.keys(result.skipped).length;
    await showAlertConversations(alert);
    $("alert-status").textContent =
      done(result.count) + (skipped ? `; ${skipped} changed meanwhile, left alone.` : ".");
    loadLive().catch(() => {});
  } catch (error) {
    $("alert-status").textContent = error.message;
  }
}

function moveAlertConversations(event) {
  event.preventDefault();
  const teamName = $("alert-team").selectedOptions[0].text;
  return actOnAlert("move", { team: $("alert-team").value }, (count) =>
    `Moved ${count} conversation(s) to ${teamName}`);
}

function closeAlertConversations() {
  $("alert-close-confirm").hidden = true;
  return actOnAlert("resolve", {}, (count) => `Closed ${count} conversation(s)`);
}

async function loadKpis() {
  const answer = await api(`/kpis?${sliceQuery()}`);
  const groups = $("kpi-groups");
  groups.replaceChildren();
  for (const group of ["sync", "async", "all"]) {
    const box = el("div", null, "group");
    box.dataset.group = group;
    box.append(el("h3", group === "all" ? "all handoffs" : group));
    const current = answer.current[group];
    const previous = answer.previous[group];
    for (const [label, field, metric, unit] of KPI_ROWS) {
      if (!(field in current)) continue;
      const row = el("div", null, "kpi");
      row.dataset.kpi = field;
      row.append(el("span", label));
      const value = show(current[field], unit);
      if (metric && current[field] !== null) {
        const button = el("button", value);
        button.type = "button";
        button.title = "Show the conversations behind this figure";
        button.addEventListener("click", () =>
          drill(metric, group === "all" ? null : group, `${label} (${group})`));
        row.append(button);
      } else {
        row.append(el("span", value));
      }
      row.append(el("span", delta(current[field], previous[field], unit), "delta"));
      box.append(row);
    }
    groups.append(box);
  }
  const bot = answer.current.bot;
  const box = el("div", null, "group");
  box.dataset.group = "bot";
  box.append(el("h3", "bot"));
  for (const [label, value] of [
    ["Bot contacts", show(bot.contacts, "count")],
    ["Containment", show(bot.containment_rate, "percent")],
    ["Handoff rate", show(bot.handoff_rate, "percent")],
    ["Sentiment conversion", show(answer.current.all.sentiment.conversion_rate, "percent")],
  ]) {
    const row = el("div", null, "kpi");
    row.append(el("span", label), el("span", value));
    box.append(row);
  }
  groups.append(box);
}

async function loadCharts() {
  const holder = $("charts");
  holder.replaceChildren();
  const query = sliceQuery({ bucket: $("f-bucket").value });
  await Promise.all(CHARTS.map(async (name) => {
    const image = el("img");
    image.alt = name;
    image.dataset.chart = name;
    holder.append(image);
    const svg = await api(`/kpis/charts/${name}?${query}`);
    // data: (img-src allows it); a blob: URL would need another CSP source
    image.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`;
  }));
}

function fillTable(table, columns, rows, format) {
  const head = el("tr");
  for (const [, label] of columns) head.append(el("th", label));
  table.tHead.replaceChildren(head);
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const line = el("tr");
    for (const [field] of columns) {
      const value = format(field, row[field], row);
      const cell = el("td", value instanceof Node ? null : value);
      if (value instanceof Node) cell.append(value);
      line.append(cell);
    }
    body.append(line);
  }
}

function agentCell(field, value) {
  if (field.endsWith("_seconds")) return duration(value);
  if (field.endsWith("_rate")) return show(value, "percent");
  return value ?? "–";
}

async function loadAgents() {
  const { agents } = await api(`/kpis/agents?${sliceQuery()}`);
  fillTable($("agents"), AGENT_COLUMNS, agents, agentCell);
}

async function drill(metric, mode, title) {
  const extra = { metric };
  if (mode) extra.mode = mode;
  const query = sliceQuery(extra);
  const { conversations } = await api(`/kpis/conversations?${query}`);
  renderDrill(title, conversations, `kpis/conversations?${query}`);
}

function renderDrill(title, rows, csvPath) {
  $("drill-panel").hidden = false;
  $("drill-title").textContent = `${title}: ${rows.length} conversation(s)`;
  state.drill = csvPath;
  $("drill-csv").hidden = !csvPath;
  fillTable($("drill"), DRILL_COLUMNS, rows, (field, value) =>
    field.endsWith("_seconds") ? duration(value) : value ?? "–");
  $("drill-panel").scrollIntoView();
}

async function downloadCsv(path) {
  const [base, query] = path.split("?");
  const params = new URLSearchParams(query || sliceQuery());
  params.set("format", "csv");
  const text = await api(`/${base}?${params}`);
  const link = el("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  link.download = `${base.replace("/", "-")}.csv`;
  link.click();
  URL.revokeObjectURL(link.href);
}

async function loadTargets() {
  const { targets } = await api("/sla-targets");
  const body = $("targets").tBodies[0];
  body.replaceChildren();
  for (const target of targets) {
    const row = el("tr");
    row.dataset.priority = target.priority;
    row.dataset.mode = target.mode;
    row.append(el("td", target.priority), el("td", target.mode));
    for (const goal of ["first_response_seconds", "next_response_seconds", "resolution_seconds"]) {
      const input = el("input");
      input.type = "number";
      input.min = "1";
      input.dataset.goal = goal;
      input.value = target[goal] ? String(Math.round(target[goal] / 60)) : "";
      const cell = el("td");
      cell.append(input);
      row.append(cell);
    }
    const box = el("input");
    box.type = "checkbox";
    box.checked = target.business_hours;
    const cell = el("td");
    cell.append(box);
    row.append(cell);
    body.append(row);
  }
}

async function saveTargets(event) {
  event.preventDefault();
  const targets = [...$("targets").tBodies[0].rows].map((row) => {
    const target = { priority: Number(row.dataset.priority), mode: row.dataset.mode };
    for (const input of row.querySelectorAll("input[type=number]")) {
      target[input.dataset.goal] = input.value ? Math.round(Number(input.value) * 60) : null;
    }
    target.business_hours = row.querySelector("input[type=checkbox]").checked;
    return target;
  });
  try {
    await api("/sla-targets", { method: "PUT", body: JSON.stringify({ targets }) });
    $("targets-status").textContent = "Saved; the figures follow within a minute.";
  } catch (error) {
    $("targets-status").textContent = error.message;
  }
}

async function loadTeams() {
  const { teams } = await api("/teams");
  for (const team of teams) {
    for (const select of [$("f-team"), $("alert-team")]) {
      const option = el("option", team.name);
      option.value = team.id;
      select.append(option);
    }
  }
}

async function refresh(event) {
  if (event) event.preventDefault();
  $("filters-error").textContent = "";
  try {
    await Promise.all([loadKpis(), loadCharts(), loadAgents()]);
  } catch (error) {
    $("filters-error").textContent = error.message;
  }
}

async function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  $("f-to").value = today.toISOString().slice(0, 10);
  $("f-from").value = weekAgo.toISOString().slice(0, 10);
  await loadTeams();
  await Promise.all([loadLive(), loadAlerts(), loadTargets(), refresh()]);
  state.liveTimer = setInterval(() => {
    loadLive().catch(() => {});
    loadAlerts().catch(() => {});
  }, LIVE_SECONDS * 1000);
  document.body.dataset.ready = "true";
}

function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  state.token = null;
  clearInterval(state.liveTimer);
  $("app").hidden = true;
  $("login").hidden = false;
}

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const response = await fetch(`${API}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: $("login-email").value, password: $("login-password").value }),
  });
  const data = await response.json();
  if (!response.ok) {
    $("login-error").textContent = data.message;
    return;
  }
  if (!["supervisor", "admin"].includes(data.agent.role)) {
    $("login-error").textContent = "The dashboard is for supervisors.";
    return;
  }
  state.token = data.token;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token: data.token, agent: data.agent }));
  await start();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", signIn);
  $("filters").addEventListener("submit", refresh);
  $("targets-form").addEventListener("submit", saveTargets);
  $("alert-move").addEventListener("submit", moveAlertConversations);
  $("alert-close").addEventListener("click", () => ($("alert-close-confirm").hidden = false));
  $("alert-close-no").addEventListener("click", () => ($("alert-close-confirm").hidden = true));
  $("alert-close-yes").addEventListener("click", closeAlertConversations);
  for (const button of document.querySelectorAll("button[data-csv]")) {
    button.addEventListener("click", () => downloadCsv(button.dataset.csv));
  }
  $("drill-csv").addEventListener("click", () => state.drill && downloadCsv(state.drill));
  let session = null;
  try {
    session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    session = null;
  }
  if (session && session.token) {
    state.token = session.token;
    start().catch(() => signOut());
  } else {
    $("login").hidden = false;
  }
});
