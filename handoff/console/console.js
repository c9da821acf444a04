/* Agent console: queue, conversation, actions and live events over the handoff service API
 * (docs/handoff-service.md). No framework: the state lives in `state`, every change re-renders
 * the part of the page it touches. Text from customers is only ever set as text, never as HTML. */
"use strict";

const API = "/api/v1";
const SESSION_KEY = "handoff.console.session";
const PRIORITY_LABELS = { 1: "Urgent", 2: "High", 3: "Normal", 4: "Low" };
const PRIORITY_COLOURS = {
  1: "var(--urgent)",
  2: "var(--high)",
  3: "var(--normal)",
  4: "var(--low)",
};
const MODE_LABELS = { sync: "Live chat", async: "Answer later" };
const STATUS_LABELS = {
  bot: "With the bot",
  queued: "Queued",
  assigned: "Assigned",
  resolved: "Resolved",
};
const CHANNEL_LABELS = { whatsapp: "WhatsApp", messenger: "Messenger", webchat: "Web chat" };
const ESCALATION_LABELS = {
  human_request: "Customer asked for a person",
  frustration: "Frustration",
  fallbacks: "The bot did not understand",
  triage_complete: "Triage complete",
};
const DELIVERY_LABELS = { pending: "Sending…", sent: "Sent", delivered: "Delivered", read: "Read" };
const ACTIVE_STATUSES = new Set(["queued", "assigned"]);
const FRUSTRATED = 0.7;
const TENSE = 0.4;
// Amber this long before the first-response deadline: the service's default SLA_WARNING_MINUTES.
// With another setting its `sla.warning` event turns the countdown amber at the right moment.
const SLA_WARNING_SECONDS = 2 * 60;
const RECONNECT_MAX_MS = 10000;
const UNAUTHORIZED_CLOSE = 4401; // the service's websocket close code for a bad token
const SESSION_ENDED = "Your session has ended. Please sign in again.";
const SECURE_KINDS = { card: "Card details", national_id: "ID number", text: "Free text" };
const SECURE_STATUSES = {
  pending: "waiting for the customer",
  submitted: "submitted",
  expired: "expired",
};

const state = {
  token: null,
  me: null,
  view: "queue",
  team: "",
  mode: "",
  conversations: new Map(), // id -> conversation summary, queued and assigned
  queueNext: { queued: null, assigned: null }, // cursors of the queue's next pages
  selectedId: null, // the highlighted queue row
  open: null, // the open conversation, with messages and notes
  composeMode: "reply",
  drafts: new Map(), // "<id>:<mode>" -> unsent text
  unseen: new Set(), // arrived live, not opened yet
  arrived: new Set(), // arrived live, highlight not shown yet
  slaWarned: new Set(),
  teams: [],
  teamsLoaded: Promise.resolve(), // the sign-in's first load of the teams
  agents: [],
  clockOffset: 0,
  ws: null,
  wsRetries: 0,
  liveDuringLoad: null, // conversation id -> view from a live event while the queue loads
  reconnectTimer: null,
  busy: false,
  followTranscript: true, // the transcript is scrolled to its end: keep it there as lines arrive
  secureForms: [], // the open conversation's secure form links (state only, never answers)
  revealed: new Map(), // form id -> answers the owner chose to see; dropped on leaving
};
const rowEls = new Map();
const $ = (id) => document.getElementById(id);

/* ---------- small helpers ---------- */

function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM: a style attribute would be inline style, which the CSP refuses.
    else if (key === "style") Object.assign(el.style, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  return fill(el, ...children);
}

/** Replace `el`'s content; nested arrays are flattened, null and false skipped. */
function fill(el, ...children) {
  const nodes = children.flat(Infinity).filter((child) => child != null && child !== false);
  el.replaceChildren(...nodes);
  return el;
}

function robotIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "robot");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("fill-rule", "evenodd");
  path.setAttribute(
    "d",
    "M11 1h2v4h4a3 3 0 0 1 3 3v9a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3V8a3 3 0 0 1 3-3h4z" + // head
      "M9 10a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z" + // left eye
      "m6 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z" + // right eye
      "m-6 5.5V17h6v-1.5zM1 10h2v5H1zm20 0h2v5h-2z", // mouth, ears
  );
  svg.append(path);
  return svg;
}

const now = () => Date.now() + state.clockOffset;
const capitalise = (text) => (text ? text[0].toUpperCase() + text.slice(1) : text);
const humanise = (code) => capitalise(String(code).replaceAll("_", " "));
const pad = (n) => String(n).padStart(2, "0");

function clock(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

function duration(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60000);
  if (minutes < 1) return "<1 min";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${pad(minutes % 60)} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function timeEl(iso) {
  if (!iso) return null;
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date(now()).toDateString();
  const short = sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], {
        month: "short",
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
      });
  return h("time", { datetime: iso, title: date.toLocaleString() }, short);
}

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "The service cannot be reached. Please try again.");
  }
  noteServerClock(response);
  if (response.status === 401 && state.token) signOut(SESSION_ENDED);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = data?.message ?? `The service answered ${response.status}.`;
    throw new ApiError(response.status, message);
  }
  return data;
}

/** SLA countdowns use the service's clock: a laptop a few minutes off must not hide a breach. */
function noteServerClock(response) {
  const serverTime = Date.parse(response.headers.get("Date") ?? "");
  if (Number.isNaN(serverTime)) return;
  const offset = serverTime - Date.now();
  state.clockOffset = Math.abs(offset) > 2000 ? offset : 0; // the header has 1 s resolution
}

/* ---------- session ---------- */

function showLogin(message = "") {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-email").focus();
}

async function submitLogin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.email.value.trim();
  const password = form.password.value;
  if (!email || !password) {
    $("login-error").textContent = "Enter your email and password.";
    return;
  }
  form.querySelector("button").disabled = true;
  try {
    const data = await api("POST", "/auth/login", { email, password });
    state.token = data.token;
    state.me = data.agent;
    sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token: data.token, agent: data.agent }));
    form.reset();
    startWorkspace();
  } catch (error) {
    $("login-error").textContent = error.message;
  } finally {
    form.querySelector("button").disabled = false;
  }
}

function signOut(message) {
  const ws = state.ws;
  state.ws = null;
  ws?.close();
  clearTimeout(state.reconnectTimer);
  sessionStorage.removeItem(SESSION_KEY);
  Object.assign(state, { token: null, me: null, open: null, selectedId: null, wsRetries: 0 });
  for (const kept of ["conversations", "drafts", "unseen", "arrived", "slaWarned"]) {
    state[kept].clear();
  }
  rowEls.clear();
  $("queue-list").replaceChildren();
  showConversationPane(false);
  showLogin(message);
}

async function logout() {
  await api("POST", "/auth/logout").catch(() => null); // the session ends here either way
  signOut("");
}

async function startWorkspace() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = `${state.me.name} · ${state.me.role}`;
  connect();
  state.teamsLoaded = loadTeams();
  await Promise.all([loadQueue(), state.teamsLoaded]);
  if (!openLinkedConversation()) focusSelectedRow();
}

// A link to one conversation, `/#conversation=<id>` (the dashboard's alert panel), opens it
// once signed in; the hash is then dropped so a reload shows the queue.
function openLinkedConversation() {
  const match = /^#conversation=([^&]+)$/.exec(location.hash);
  if (!match || !state.token) return false;
  history.replaceState(null, "", location.pathname + location.search);
  openConversation(decodeURIComponent(match[1]));
  return true;
}

/* ---------- queue ---------- */

/* The queue comes in pages (GET /queue's `next` cursor), per status; "Load more" asks for the
   next page of each status that has one. */
async function loadQueue({ more = false } = {}) {
  const filters = new URLSearchParams();
  if (state.team) filters.set("team", state.team);
  if (state.mode) filters.set("mode", state.mode);
  const statuses = more
    ? Object.keys(state.queueNext).filter((status) => state.queueNext[status])
    : ["queued", "assigned"];
  // Live updates that arrive while the pages load are newer than the pages: kept over them.
  const arrivedMeanwhile = more ? null : (state.liveDuringLoad = new Map());
  try {
    const pages = await Promise.all(
      statuses.map((status) => {
        const query = new URLSearchParams(filters);
        query.set("status", status);
        if (more) query.set("cursor", state.queueNext[status]);
        return api("GET", `/queue?${query}`);
      }),
    );
    if (!more) state.conversations = new Map();
    statuses.forEach((status, index) => {
      state.queueNext[status] = pages[index].next;
      for (const c of pages[index].conversations) state.conversations.set(c.id, c);
    });
    for (const c of arrivedMeanwhile?.values() ?? []) storeSummary(c);
    showError("queue-error", null);
  } catch (error) {
    showError("queue-error", error.message);
  } finally {
    if (state.liveDuringLoad === arrivedMeanwhile) state.liveDuringLoad = null;
  }
  $("queue-more").hidden = !Object.values(state.queueNext).some(Boolean);
  renderQueue();
}

const teamOptionsNow = () =>
  state.teams.map((team) => h("option", { value: team.id }, capitalise(team.name)));

// The dialogs that list teams wait for the sign-in's load: a click can come before it answers.
async function teamOptions() {
  await state.teamsLoaded;
  return teamOptionsNow();
}

async function loadTeams() {
  try {
    state.teams = (await api("GET", "/teams")).teams;
  } catch (error) {
    showError("queue-error", error.message);
  }
  const select = $("filter-team");
  fill(select, h("option", { value: "" }, "All teams"), teamOptionsNow());
  select.value = state.team;
  renderQueue(); // rows show the teams' names
}

function inView(c, view) {
  if (state.team && c.team !== state.team) return false;
  if (state.mode && c.mode !== state.mode) return false;
  if (view === "queue") return c.status === "queued";
  return c.status === "assigned" && c.assigned_agent?.id === state.me?.id;
}

const timeOr = (iso, fallback) => (iso ? Date.parse(iso) : fallback);

/** The API's order: priority, then SLA due time, then waiting time (live arrivals slot in). */
function queueOrder(a, b) {
  return (
    (a.priority?.level ?? 9) - (b.priority?.level ?? 9) ||
    timeOr(a.sla_due_at, Infinity) - timeOr(b.sla_due_at, Infinity) ||
    timeOr(a.queued_at, Infinity) - timeOr(b.queued_at, Infinity)
  );
}

function renderQueue() {
  const list = $("queue-list");
  const all = [...state.conversations.values()];
  const visible = all.filter((c) => inView(c, state.view)).sort(queueOrder);
  for (const view of ["queue", "mine"]) {
    const count = all.filter((c) => inView(c, view)).length;
    document.querySelector(`[data-count="${view}"]`).textContent = count || "";
  }
  const shown = new Set(visible.map((c) => c.id));
  const selectedIndex = [...list.children].findIndex((el) => el.dataset.id === state.selectedId);
  for (const [id, el] of rowEls) {
    if (!shown.has(id)) {
      el.remove();
      rowEls.delete(id);
    }
  }
  visible.forEach((c, index) => {
    let el = rowEls.get(c.id);
    if (!el) {
      el = h("li", { class: "row", role: "option", tabindex: "-1", dataset: { id: c.id } });
      el.addEventListener("animationend", () => el.classList.remove("is-new"));
      rowEls.set(c.id, el);
    }
    fillRow(el, c);
    if (list.children[index] !== el) list.insertBefore(el, list.children[index] ?? null);
    if (state.arrived.delete(c.id)) el.classList.add("is-new");
  });
  if (!shown.has(state.selectedId)) {
    // the selected row left this list (claimed, resolved, filtered): select its neighbour
    const neighbour = Math.min(Math.max(selectedIndex, 0), visible.length - 1);
    state.selectedId = visible[neighbour]?.id ?? null;
  }
  updateSelection();
  $("queue-empty").hidden = visible.length > 0;
  $("queue-empty").textContent =
    state.view === "queue"
      ? "Nobody is waiting. New handoffs appear here."
      : "You own no conversations.";
  const waiting = all.filter((c) => inView(c, "queue")).length;
  document.title = `${waiting ? `(${waiting}) ` : ""}Agent console · Lumen Home`;
}

function fillRow(el, c) {
  const owner = c.assigned_agent;
  el.style.setProperty("--prio", PRIORITY_COLOURS[c.priority?.level] ?? "var(--normal)");
  const isNew = state.unseen.has(c.id);
  fill(
    el,
    h(
      "div",
      { class: "row-top" },
      priorityPill(c),
      isNew ? h("span", { class: "pill new", title: "Arrived while you watched" }, "New") : null,
      h(
        "span",
        { class: "row-topic" },
        capitalise(c.triage?.topic) ?? "Other",
        h("span", { class: "row-team" }, ` · ${teamName(c.team)}`),
      ),
      slaPill(c),
    ),
    h("p", { class: "row-text" }, rowText(c)),
    h(
      "div",
      { class: "row-foot" },
      modePill(c),
      snoozePill(c), // snooze.js
      waitingEl(c),
      owner && state.view === "queue" ? h("span", {}, owner.name) : null,
      frustrationBadge(c.frustration),
    ),
  );
}

function teamName(id) {
  if (!id) return "No team";
  const name = state.teams.find((team) => team.id === id)?.name ?? id;
  return /team$/i.test(name) ? capitalise(name) : `${capitalise(name)} team`;
}

/** The customer's last line; when the bot or an agent spoke last, what the customer asked for. */
function rowText(c) {
  const line = c.last_message;
  if (line?.author_type === "customer") return line.text;
  if (c.triage?.description) return [h("span", { class: "who" }, "Asked: "), c.triage.description];
  if (!line) return h("span", { class: "who" }, "No messages yet");
  return [h("span", { class: "who" }, `${authorName(line)}: `), line.text];
}

function authorName(line) {
  if (line.author_type === "bot") return "Bot";
  if (line.author_type === "system") return "System";
  if (line.author_type === "agent") return line.author_name ?? "Agent";
  return "Customer";
}

function priorityPill(c) {
  const level = c.priority?.level;
  const label = PRIORITY_LABELS[level] ?? capitalise(c.priority?.name) ?? "Normal";
  return h("span", { class: `pill prio prio-${level}`, title: "Priority" }, label);
}

function modePill(c) {
  return h("span", { class: `pill mode-${c.mode}` }, MODE_LABELS[c.mode] ?? c.mode);
}

/** Waiting time, as the service counts it: from queueing to the first response. */
function waitingEl(c) {
  if (!c.queued_at) return null;
  if (c.first_response_at) {
    const waited = Date.parse(c.first_response_at) - Date.parse(c.queued_at);
    return h("span", {}, `Waited ${duration(waited)}`);
  }
  const el = h("span", { dataset: { since: c.queued_at } });
  updateWaiting(el);
  return el;
}

function updateWaiting(el) {
  el.textContent = `Waiting ${duration(now() - Date.parse(el.dataset.since))}`;
}

function slaPill(c) {
  if (c.first_response_at) {
    const attrs = { class: "pill sla", dataset: { state: "met" }, title: "First response sent" };
    return h("span", attrs, "Answered");
  }
  if (!c.sla_due_at || !ACTIVE_STATUSES.has(c.status)) return null;
  const el = h("span", { class: "pill sla", dataset: { due: c.sla_due_at, id: c.id } });
  el.title = `First response due ${new Date(c.sla_due_at).toLocaleString()}`;
  updateSla(el);
  return el;
}

function updateSla(el) {
  const left = Math.round((Date.parse(el.dataset.due) - now()) / 1000);
  const warned = left <= SLA_WARNING_SECONDS || state.slaWarned.has(el.dataset.id);
  el.dataset.state = left < 0 ? "breached" : warned ? "warning" : "ok";
  el.textContent = left < 0 ? `SLA overdue ${clock(-left)}` : `SLA ${clock(left)}`;
}

function frustrationBadge(frustration) {
  const score = frustration?.score ?? 0;
  if (score < TENSE) return null;
  const label = score >= FRUSTRATED ? "Frustrated" : "Tense";
  return h(
    "span",
    {
      class: `pill frustration${score >= FRUSTRATED ? "" : " mild"}`,
      title: (frustration.signals ?? []).map(humanise).join(", ") || null,
    },
    `${label} ${Math.round(score * 100)}%`,
  );
}

function updateSelection() {
  for (const [id, el] of rowEls) {
    const selected = id === state.selectedId;
    el.setAttribute("aria-selected", String(selected));
    el.tabIndex = selected ? 0 : -1;
    el.classList.toggle("is-open", id === state.open?.id);
  }
}

function focusSelectedRow() {
  rowEls.get(state.selectedId)?.focus();
}

function moveSelection(step) {
  const ids = [...$("queue-list").children].map((el) => el.dataset.id);
  if (!ids.length) return;
  const index = ids.indexOf(state.selectedId);
  const next = index < 0 ? 0 : Math.max(0, Math.min(ids.length - 1, index + step));
  state.selectedId = ids[next];
  updateSelection();
  focusSelectedRow();
}

function setView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll(".tab")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  renderQueue();
}

/* ---------- conversation ---------- */

function showConversationPane(visible) {
  $("conversation").hidden = !visible;
  $("conversation-empty").hidden = visible;
}

async function openConversation(id) {
  saveDraft();
  const summary = state.conversations.get(id);
  state.selectedId = id;
  state.unseen.delete(id);
  state.open = summary ? { ...summary, messages: undefined } : { id, messages: undefined };
  state.secureForms = [];
  state.revealed.clear();
  showError("conv-error", null);
  renderQueue();
  if (summary) renderConversation({ scrollToEnd: true });
  restoreDraft();
  await Promise.all([refreshOpen({ scrollToEnd: true }), loadSecureForms(), loadHistory(id)]); // history.js
}

async function refreshOpen({ scrollToEnd = false } = {}) {
  const id = state.open?.id;
  if (!id) return;
  try {
    const conversation = await api("GET", `/conversations/${encodeURIComponent(id)}`);
    if (state.open?.id !== id) return;
    state.open = conversation;
    storeSummary(conversation);
    renderConversation({ scrollToEnd });
  } catch (error) {
    if (state.open?.id === id) showError("conv-error", error.message);
  }
}

function closeConversation() {
  saveDraft();
  state.open = null;
  state.revealed.clear();
  showConversationPane(false);
  updateSelection();
  focusSelectedRow();
}

// The service says what each viewer may do (allowed_actions); the console only knows who it is.
function permissions(c) {
  const mine = c.status === "assigned" && c.assigned_agent?.id === state.me.id;
  const can = new Set(c.allowed_actions?.[mine ? "owner" : state.me.viewer] ?? []);
  return {
    claim: can.has("claim"),
    reply: can.has("reply"),
    transfer: can.has("transfer"),
    release: can.has("release"),
    resolve: can.has("resolve"),
    returnToBot: can.has("return_to_bot"),
    switchMode: can.has("switch_mode"),
    snooze: can.has("snooze"),
    lockedBy: c.status === "assigned" && !mine ? c.assigned_agent : null,
  };
}

function renderConversation({ scrollToEnd = false } = {}) {
  const c = state.open;
  showConversationPane(true);
  const customer = c.customer?.name ?? `Customer ${c.customer?.id ?? c.conversation_id ?? ""}`;
  $("conv-customer").textContent = customer;
  const owner = c.assigned_agent;
  fill(
    $("conv-meta"),
    customerActivityPill(c), // customer-activity.js
    h("span", { class: `pill status-${c.status}` }, STATUS_LABELS[c.status] ?? c.status),
    h("span", {}, owner ? `Owner: ${owner.id === state.me.id ? "you" : owner.name}` : "Unassigned"),
    c.priority ? priorityPill(c) : null,
    c.mode ? modePill(c) : null,
    snoozePill(c),
    slaPill(c),
    windowPill(c), // window.js
    c.reopen_count && ACTIVE_STATUSES.has(c.status)
      ? h("span", { class: "pill", title: "The customer wrote again after it was resolved" }, "Reopened")
      : null,
    c.status === "resolved" && c.resolution === "automatic"
      ? h("span", { class: "pill", title: "The customer did not answer" }, "Closed automatically")
      : null,
    c.team ? h("span", { class: "pill" }, teamName(c.team)) : null,
  );
  renderActions(c);
  renderTriage(c);
  renderTranscript(c, scrollToEnd);
  renderSecureForms(c);
}

function renderActions(c) {
  const can = permissions(c);
  $("act-claim").hidden = !can.claim;
  $("act-transfer").hidden = !can.transfer;
  $("act-release").hidden = !can.release;
  $("act-resolve").hidden = !can.resolve;
  $("act-resolve-no-survey").hidden = !can.resolve;
  $("act-return").hidden = !can.returnToBot;
  $("act-mode").hidden = !can.switchMode;
  renderSnoozeAction(c, can); // snooze.js
  $("act-mode").textContent = c.mode === "async" ? "Switch to live chat" : "Switch to answer later";
  $("conv-lock").hidden = !can.lockedBy;
  $("conv-lock").textContent = can.lockedBy
    ? `Claimed by ${can.lockedBy.name}: only they can reply.` +
      " You can read along and add internal notes."
    : "";
  renderComposer(c);
}

function renderComposer(c) {
  const note = state.composeMode === "note";
  const can = permissions(c);
  const text = $("composer-text");
  $("composer").dataset.mode = state.composeMode;
  $("mode-reply").setAttribute("aria-selected", String(!note));
  $("mode-note").setAttribute("aria-selected", String(note));
  text.disabled = !note && !can.reply;
  $("composer-send").disabled = text.disabled || state.busy;
  $("composer-send").textContent = note ? "Add note" : "Send";
  text.placeholder = note
    ? "Internal note for your colleagues"
    : can.reply
      ? `Reply to the customer on ${CHANNEL_LABELS[c.channel] ?? "their channel"}`
      : replyBlockedReason(c, can);
  $("composer-hint").textContent = note
    ? "Internal note — not sent to the customer. Enter saves."
    : "Enter sends, Shift+Enter adds a line.";
  syncSuggestions(c); // suggestions.js
  renderReplyWindow(c, note ? {} : can); // window.js
}

function replyBlockedReason(c, can) {
  if (can.lockedBy) return `Claimed by ${can.lockedBy.name}: only they can reply.`;
  if (c.status === "queued") return "Claim the conversation (c) to reply.";
  if (c.status === "resolved") return "This conversation is resolved.";
  return "The bot is handling this conversation.";
}

function renderTriage(c) {
  const triage = c.triage ?? {};
  const facts = [
    ["Topic", capitalise(triage.topic)],
    ["Description", triage.description],
    ["Reference", triage.reference],
    ["Device", triage.device_name],
    ["Escalation", ESCALATION_LABELS[c.escalation_reason] ?? c.escalation_reason],
    ["Channel", CHANNEL_LABELS[c.channel] ?? c.channel],
    ["Prefers", MODE_LABELS[triage.mode_preference]],
    ["Language", c.customer?.language],
  ];
  const frustration = c.frustration ?? { score: 0, signals: [] };
  const percent = `${Math.round(frustration.score * 100)}%`;
  const reasons = c.reasons ?? [];
  const tags = c.tags ?? [];
  fill(
    $("triage"),
    h("h3", {}, "Triage"),
    h(
      "dl",
      { class: "facts" },
      facts.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value || "—")]),
    ),
    reasons.length ? h("h3", {}, "Why this priority and mode") : null,
    reasons.length ? h("ul", { class: "reasons" }, reasons.map((r) => h("li", {}, r))) : null,
    tags.length ? h("h3", {}, "Tags") : null,
    tags.length
      ? h("div", { class: "chips" }, tags.map((tag) => h("span", { class: "pill" }, tag)))
      : null,
    h("h3", {}, "Frustration"),
    h(
      "div",
      { class: "meter", role: "img", "aria-label": `Frustration ${percent}` },
      h("span", { style: { width: percent } }),
    ),
    h("div", { class: "chips" }, h("span", {}, percent), signalPills(frustration.signals)),
  );
}

function signalPills(signals) {
  return (signals ?? []).map((signal) => h("span", { class: "pill signal" }, humanise(signal)));
}

function renderTranscript(c, scrollToEnd) {
  const list = $("transcript");
  if (c.messages === undefined) {
    list.replaceChildren(h("li", { class: "line line-system" }, "Loading the transcript…"));
    return;
  }
  const reactions = reactionsByTarget(c.messages);
  const items = [
    ...shownLines(c.messages).map((message) => ({
      at: message.created_at,
      el: () => messageLine(message, c, reactions),
    })),
    ...(c.notes ?? []).map((note) => ({ at: note.created_at, el: () => noteLine(note) })),
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  fill(list, items.map((item) => item.el()));
  if (scrollToEnd || state.followTranscript) list.scrollTop = list.scrollHeight;
}

function messageLine(m, c, reactions) {
  const type = m.author_type;
  const attrs = { class: `line line-${type}`, dataset: { author: type, id: m.id } };
  if (type === "system") {
    return h("li", attrs, h("div", { class: "bubble" }, m.text, " · ", timeEl(m.created_at)));
  }
  const author =
    type === "customer" ? (c.customer?.name ?? "Customer") : type === "bot" ? "Bot" : authorName(m);
  return h(
    "li",
    attrs,
    h(
      "div",
      { class: "line-head" },
      type === "bot" ? robotIcon() : null,
      h("span", { class: "author" }, author),
    ),
    h(
      "div",
      { class: "bubble" },
      m.reaction ? null : m.text,
      attachmentParts(m.attachments, c, Boolean(m.text)),
    ),
    h("div", { class: "line-foot" }, timeEl(m.created_at), reactionNote(m, reactions), lineDetails(m)),
  );
}

function lineDetails(m) {
  if (m.author_type === "customer") return signalPills(m.frustration?.signals);
  if (m.author_type !== "agent" || !m.delivery_status) return null;
  if (m.delivery_status === "failed") {
    return h("span", { class: "delivery-failed", role: "status" },
      `· Not delivered: ${m.delivery_error ?? "the channel refused the message"}`);
  }
  const status = DELIVERY_LABELS[m.delivery_status] ?? m.delivery_status;
  return h("span", { class: "delivery" }, `· ${status}`);
}

function noteLine(note) {
  const author = note.author?.name ?? "Agent";
  return h(
    "li",
    { class: "line line-note", dataset: { author: "note", id: note.id } },
    h(
      "div",
      { class: "line-head" },
      h("span", { class: "author" }, "Internal note — not sent"),
      `· ${author}`,
    ),
    h("div", { class: "bubble" }, note.text),
    h("div", { class: "line-foot" }, timeEl(note.created_at)),
  );
}

function showError(id, message) {
  $(id).hidden = !message;
  $(id).textContent = message ?? "";
}

/* ---------- composing and actions ---------- */

function draftKey(mode = state.composeMode) {
  return `${state.open?.id}:${mode}`;
}

function saveDraft() {
  if (!state.open) return;
  const text = $("composer-text").value;
  if (text) state.drafts.set(draftKey(), text);
  else state.drafts.delete(draftKey());
}

function restoreDraft() {
  $("composer-text").value = state.drafts.get(draftKey()) ?? "";
}

function setComposeMode(mode) {
  if (!state.open) return;
  saveDraft();
  state.composeMode = mode;
  restoreDraft();
  renderComposer(state.open);
}

function focusComposer(mode) {
  if (!state.open) return;
  setComposeMode(mode);
  $("composer-text").focus();
}

function upsert(list, item) {
  const index = list.findIndex((existing) => existing.id === item.id);
  if (index < 0) list.push(item);
  else if (!(item.delivery_status === "pending" && list[index].delivery_status !== "pending")) {
    list[index] = item; // a late "pending" event must not hide the delivery result
  }
}

async function submitComposer(event) {
  event.preventDefault();
  const c = state.open;
  const text = $("composer-text").value.trim();
  if (!c || !text || state.busy || $("composer-text").disabled) return;
  const note = state.composeMode === "note";
  state.busy = true;
  renderComposer(c);
  try {
    const path = `/conversations/${encodeURIComponent(c.id)}/${note ? "notes" : "messages"}`;
    const created = await api("POST", path, { text });
    if (state.open?.id === c.id) {
      // a trainee's reply waits for approval: queue.js shows it, marked, from its live event
      if (!created.pending_reply) {
        upsert(note ? (state.open.notes ??= []) : (state.open.messages ??= []), created);
      }
      $("composer-text").value = "";
      state.drafts.delete(draftKey());
      if (!note) suggestionsAfterSend(c.id, text); // suggestions.js
      showError("conv-error", null);
      renderTranscript(state.open, true);
    }
  } catch (error) {
    showError("conv-error", error.message);
  } finally {
    state.busy = false;
    if (state.open) renderComposer(state.open);
  }
}

/* ---------- secure forms ---------- */

async function loadSecureForms() {
  const id = state.open?.id;
  if (!id) return;
  try {
    const path = `/conversations/${encodeURIComponent(id)}/secure-forms`;
    const { forms } = await api("GET", path);
    if (state.open?.id !== id) return;
    state.secureForms = forms;
    renderSecureForms(state.open);
  } catch (error) {
    if (state.open?.id === id) showError("conv-error", error.message);
  }
}

function renderSecureForms(c) {
  const mine = permissions(c).reply;
  $("secure-send").hidden = !mine;
  $("secure-label").hidden = $("secure-kind").value !== "text";
  $("secure-forms").hidden = !mine && !state.secureForms.length;
  fill($("secure-list"), state.secureForms.map((form) => secureFormItem(form, mine)));
}

function secureFormItem(form, mine) {
  const answers = state.revealed.get(form.id);
  const title = form.label ?? SECURE_KINDS[form.kind] ?? form.kind;
  const canReveal = mine && form.status === "submitted";
  return h(
    "li",
    { class: `secure-form secure-${form.status}`, dataset: { id: form.id } },
    h("span", { class: "secure-title" }, `Secure form: ${title}`),
    h("span", { class: "hint" }, ` · ${SECURE_STATUSES[form.status] ?? form.status}`),
    canReveal
      ? h("button", { class: "btn btn-quiet", type: "button", dataset: { reveal: form.id } },
        answers ? "Hide" : "Reveal")
      : null,
    answers
      ? h("dl", { class: "secure-answers" },
        answers.map((a) => [h("dt", {}, a.label), h("dd", {}, a.value)]))
      : null,
  );
}

async function sendSecureForm(event) {
  event.preventDefault();
  const c = state.open;
  if (!c || state.busy) return;
  const kind = $("secure-kind").value;
  const label = $("secure-label").value.trim();
  state.busy = true;
  try {
    const path = `/conversations/${encodeURIComponent(c.id)}/secure-forms`;
    const created = await api("POST", path, kind === "text" && label ? { kind, label } : { kind });
    if (state.open?.id === c.id) {
      upsert((state.open.messages ??= []), created.message);
      $("secure-label").value = "";
      showError("conv-error", null);
      renderTranscript(state.open, true);
      await loadSecureForms();
    }
  } catch (error) {
    showError("conv-error", error.message);
  } finally {
    state.busy = false;
  }
}

/** Only the assigned agent gets the answers; they stay on screen until hidden or left. */
async function toggleReveal(formId) {
  if (state.revealed.delete(formId)) return renderSecureForms(state.open);
  try {
    const form = await api("POST", `/secure-forms/${encodeURIComponent(formId)}/reveal`);
    state.revealed.set(formId, form.values);
    if (state.open) renderSecureForms(state.open);
  } catch (error) {
    showError("conv-error", error.message);
  }
}

async function act(action, body) {
  const c = state.open;
  if (!c) return false;
  try {
    const updated = await api("POST", `/conversations/${encodeURIComponent(c.id)}/${action}`, body);
    showError("conv-error", null);
    applyConversation(updated);
    return true;
  } catch (error) {
    showError("conv-error", error.message);
    if (error.status === 409) await refreshOpen();
    return false;
  }
}

async function claim() {
  if (state.open && permissions(state.open).claim && (await act("claim"))) focusComposer("reply");
}

async function openTransfer() {
  const c = state.open;
  showError("transfer-error", null);
  $("transfer-note").value = "";
  try {
    state.agents = (await api("GET", "/agents")).agents;
  } catch (error) {
    showError("transfer-error", error.message);
  }
  const others = state.agents.filter((a) => a.id !== state.me.id && a.id !== c.assigned_agent?.id);
  fill(
    $("transfer-agent"),
    others.map((a) => {
      const teams = (a.teams ?? []).map((id) => state.teams.find((t) => t.id === id)?.name ?? id);
      const label = teams.length ? `${a.name} (${teams.join(", ")})` : a.name;
      return h("option", { value: a.id }, label);
    }),
  );
  fill($("transfer-team"), await teamOptions());
  $("transfer-team").value = c.team ?? "";
  syncTransferTarget();
  $("transfer-dialog").showModal();
}

function syncTransferTarget() {
  const toAgent = $("transfer-form").destination.value === "agent";
  $("transfer-agent").disabled = !toAgent;
  $("transfer-team").disabled = toAgent;
}

async function submitTransfer(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const toAgent = form.destination.value === "agent";
  const body = toAgent ? { agent_id: form.agent.value } : { team: form.team.value };
  if (!(toAgent ? form.agent.value : form.team.value)) {
    showError("transfer-error", toAgent ? "Choose an agent." : "Choose a team.");
    return;
  }
  const note = form.note.value.trim();
  if (note) body.note = note;
  try {
    const path = `/conversations/${encodeURIComponent(state.open.id)}/transfer`;
    const updated = await api("POST", path, body);
    $("transfer-dialog").close();
    applyConversation(updated);
    await refreshOpen(); // the transfer note joins the notes
  } catch (error) {
    showError("transfer-error", error.message);
  }
}

/* ---------- live events ---------- */

function storeSummary(conversation) {
  const { messages: _messages, notes: _notes, ...summary } = conversation;
  state.conversations.set(summary.id, { ...state.conversations.get(summary.id), ...summary });
}

function applyConversation(conversation) {
  if (!conversation?.id) return;
  storeSummary(conversation);
  if (state.open?.id === conversation.id) {
    state.open = { ...state.open, ...conversation };
    renderConversation();
  }
  renderQueue();
}

function handleEvent(event) {
  // The service says hello once it has subscribed this socket: live from here on. What happened
  // before (since the queue was loaded, or while we were away) is not replayed, so load it.
  if (event.type === "hello") return void (setConnection("live"), resync());
  if (event.type === "resync") return void resync(); // the service lost events for a while
  const c = event.conversation;
  if (!c?.id) return;
  state.liveDuringLoad?.set(c.id, c); // loadQueue
  const newlyQueued =
    (event.type === "handoff.created" || event.type === "handoff.updated") &&
    c.status === "queued" &&
    state.conversations.get(c.id)?.status !== "queued";
  if (newlyQueued) {
    state.unseen.add(c.id);
    state.arrived.add(c.id);
  }
  if (event.type === "sla.warning") state.slaWarned.add(c.id);
  if (event.type === "conversation.woken" || event.type === "conversation.reopened") {
    state.unseen.add(c.id); // back from a snooze, or the customer wrote again: like an arrival
    if (state.open?.id === c.id) refreshOpen(); // the note, or the customer's new lines
  }
  if (event.type === "message.created" && event.message && state.open?.id === c.id) {
    upsert((state.open.messages ??= []), event.message);
    if (event.message.author_type === "system") loadSecureForms(); // e.g. a form was submitted
  }
  if (event.type === "message.updated" && event.message && state.open?.id === c.id) {
    const messages = state.open.messages ?? [];
    const index = messages.findIndex((m) => m.id === event.message.id);
    if (index >= 0) messages[index] = event.message; // e.g. delivered, read, "Not delivered: …"
  }
  applyConversation(c);
}

function setConnection(status) {
  const el = $("connection");
  el.dataset.state = status;
  el.textContent = status === "live" ? "Live" : "Reconnecting…";
  el.title = status === "live" ? "Live updates are on" : "Live updates are paused; reconnecting";
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = encodeURIComponent(state.token);
  const ws = new WebSocket(`${scheme}://${location.host}${API}/ws?token=${token}`);
  state.ws = ws;
  ws.addEventListener("open", () => {
    state.wsRetries = 0;
  });
  ws.addEventListener("message", (message) => {
    try {
      const event = JSON.parse(message.data);
      handleEvent(event);
      document.dispatchEvent(new CustomEvent("console:event", { detail: event })); // queue.js
    } catch (error) {
      console.error("Ignoring a live event", error);
    }
  });
  ws.addEventListener("close", (closed) => {
    if (state.ws !== ws) return;
    if (closed.code === UNAUTHORIZED_CLOSE) signOut(SESSION_ENDED);
    else scheduleReconnect();
  });
}

function scheduleReconnect() {
  state.ws = null;
  setConnection("reconnecting");
  const backoff = Math.min(RECONNECT_MAX_MS, 1000 * 2 ** state.wsRetries);
  state.wsRetries += 1;
  state.reconnectTimer = setTimeout(async () => {
    try {
      await api("GET", "/me"); // a 401 signs out instead of retrying forever
    } catch {
      if (state.token) scheduleReconnect();
      return;
    }
    connect();
  }, backoff * (0.8 + Math.random() * 0.4));
}

async function resync() {
  await loadQueue();
  await catchUpOpen();
}

// The open transcript's missed lines, by its highest seq (GET …/messages?after_seq=).
async function catchUpOpen() {
  const open = state.open;
  if (!open?.id) return;
  const path = `/conversations/${encodeURIComponent(open.id)}/messages`;
  let cursor = Math.max(0, ...(open.messages ?? []).map((m) => m.seq ?? 0));
  try {
    for (let more = true; more && state.open === open; ) {
      const page = await api("GET", `${path}?after_seq=${cursor}`);
      for (const message of page.messages) upsert((open.messages ??= []), message);
      cursor = page.messages.at(-1)?.seq ?? cursor;
      more = page.more;
    }
  } catch (error) {
    if (state.open === open) showError("conv-error", error.message);
    return;
  }
  if (state.open === open) renderConversation();
}

/* ---------- keyboard ---------- */

function toggleShortcuts(show = $("shortcuts").hidden) {
  $("shortcuts").hidden = !show;
  if (show) $("shortcuts-close").focus();
  else focusSelectedRow();
}

function onEscape(event) {
  if (!$("shortcuts").hidden) toggleShortcuts(false);
  else if ($("transfer-dialog").open) return; // the dialog closes itself
  else if (event.target.matches("input, textarea, select")) {
    event.target.blur();
    focusSelectedRow();
  } else if (state.open) closeConversation();
}

function onKeydown(event) {
  if ($("app").hidden) return;
  if (event.key === "Escape") return onEscape(event);
  const typing = event.target.closest("input, textarea, select, dialog");
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (!$("shortcuts").hidden && event.key !== "?") return;
  const inQueue = event.target === document.body || event.target.closest("#queue-list");
  switch (event.key) {
    case "j":
      moveSelection(1);
      break;
    case "k":
      moveSelection(-1);
      break;
    case "ArrowDown":
    case "ArrowUp":
      if (!inQueue) return;
      moveSelection(event.key === "ArrowDown" ? 1 : -1);
      break;
    case "Enter":
      if (!inQueue || !state.selectedId) return;
      openConversation(state.selectedId);
      break;
    case "c":
      claim();
      break;
    case "r":
      focusComposer("reply");
      break;
    case "n":
      focusComposer("note");
      break;
    case "s":
      openSearch(); // search.js
      break;
    case "?":
      toggleShortcuts();
      break;
    default:
      return;
  }
  event.preventDefault();
}

/* ---------- wiring ---------- */

function bindEvents() {
  $("queue-more").addEventListener("click", () => loadQueue({ more: true }));
  $("login-form").addEventListener("submit", submitLogin);
  $("logout").addEventListener("click", logout);
  $("help-button").addEventListener("click", () => toggleShortcuts(true));
  $("shortcuts-close").addEventListener("click", () => toggleShortcuts(false));
  $("shortcuts").addEventListener("click", (event) => {
    if (event.target === $("shortcuts")) toggleShortcuts(false);
  });
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => setView(tab.dataset.view));
  }
  $("filter-team").addEventListener("change", (event) => {
    state.team = event.target.value;
    loadQueue();
  });
  $("filter-mode").addEventListener("change", (event) => {
    state.mode = event.target.value;
    loadQueue();
  });
  $("queue-list").addEventListener("click", (event) => {
    const row = event.target.closest(".row");
    if (row) openConversation(row.dataset.id);
  });
  $("act-claim").addEventListener("click", claim);
  $("act-transfer").addEventListener("click", openTransfer);
  $("act-release").addEventListener("click", () => act("release"));
  $("act-resolve").addEventListener("click", () => act("resolve"));
  $("act-resolve-no-survey").addEventListener("click", () => act("resolve", { survey: false }));
  $("act-return").addEventListener("click", () => act("return-to-bot"));
  $("act-mode").addEventListener("click", () =>
    act("mode", { mode: state.open?.mode === "async" ? "sync" : "async" }),
  );
  for (const tab of document.querySelectorAll(".composer-tab")) {
    tab.addEventListener("click", () => focusComposer(tab.dataset.mode));
  }
  $("composer").addEventListener("submit", submitComposer);
  $("secure-send").addEventListener("submit", sendSecureForm);
  $("secure-kind").addEventListener("change", () => state.open && renderSecureForms(state.open));
  $("secure-list").addEventListener("click", (event) => {
    const button = event.target.closest("[data-reveal]");
    if (button) toggleReveal(button.dataset.reveal);
  });
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("transfer-form").addEventListener("submit", submitTransfer);
  $("transfer-form").addEventListener("change", syncTransferTarget);
  $("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
  const transcript = $("transcript");
  transcript.addEventListener("scroll", () => {
    state.followTranscript =
      transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
  });
  // an error banner or a taller text box shrinks the transcript: keep its end in view
  new ResizeObserver(() => {
    if (state.followTranscript) transcript.scrollTop = transcript.scrollHeight;
  }).observe(transcript);
  document.addEventListener("keydown", onKeydown);
  window.addEventListener("hashchange", openLinkedConversation);
  setInterval(() => {
    for (const el of document.querySelectorAll("[data-due]")) updateSla(el);
    for (const el of document.querySelectorAll("[data-since]")) updateWaiting(el);
  }, 1000);
}

async function init() {
  bindEvents();
  let session = null;
  try {
    session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    sessionStorage.removeItem(SESSION_KEY);
  }
  if (!session?.token) return showLogin();
  state.token = session.token;
  state.me = session.agent;
  try {
    state.me = await api("GET", "/me");
  } catch (error) {
    if (error.status === 401) return; // signed out already, with a message
  }
  startWorkspace();
}

init();
