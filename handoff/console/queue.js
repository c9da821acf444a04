/* The agents' queue in the console (docs/agent-queue.md): presence, notifications with unread
 * counts, shift handover, handover notes and pending replies in the transcript, the approval
 * list and the supervisor's live view. Loaded after console.js and built on its helpers (`h`,
 * `fill`, `api`, `state`, `$`); console.js re-dispatches every live event as `console:event`. */
"use strict";

const PRESENCE_LABELS = { online: "Online", away: "Away", offline: "Offline" };
const UNREAD_KEY = "handoff.console.unread"; // + ":<agent id>", in localStorage: survives reload
const MUTE_KEY = "handoff.console.muted";
const UNREAD_TITLE = /^\d+ unread · /; // before console.js's "(waiting) Agent console · …"
const REPLY_LABELS = { pending: "Waiting for approval", returned: "Returned" };

const queueState = {
  presence: null,
  unread: {}, // conversation id -> count
  handoverNotes: new Map(), // conversation id -> notes (newest first)
  pendingReplies: new Map(), // conversation id -> replies not sent
  approvals: [],
  liveOpen: false,
};

/* ---------- presence ---------- */

function presenceControl() {
  const select = h(
    "select",
    { id: "presence", class: "presence", "aria-label": "Your presence", title: "Presence (p)" },
    Object.entries(PRESENCE_LABELS).map(([value, label]) => h("option", { value }, label)),
  );
  select.addEventListener("change", () => setPresence(select.value));
  return select;
}

async function loadPresence() {
  try {
    showPresence(await api("GET", "/me/presence"));
  } catch (error) {
    console.error("presence", error);
  }
}

async function setPresence(presence) {
  try {
    showPresence(await api("POST", "/me/presence", { presence }));
  } catch (error) {
    showError("conv-error", error.message);
  }
}

function showPresence(me) {
  queueState.presence = me;
  const select = $("presence");
  select.value = me.presence;
  select.dataset.presence = me.presence;
  const load = me.load ?? { sync: 0, async: 0 };
  select.title = `Presence (p) · ${load.sync}/${me.max_sync} live, ${load.async}/${me.max_async} later`;
}

function cyclePresence() {
  const order = Object.keys(PRESENCE_LABELS);
  const next = order[(order.indexOf(queueState.presence?.presence ?? "offline") + 1) % 2];
  setPresence(next); // p toggles online/away; offline is chosen in the menu or at shift end
}

/* ---------- unread counts and notifications ---------- */

function unreadKey() {
  return `${UNREAD_KEY}:${state.me?.id}`;
}

function loadUnread() {
  try {
    queueState.unread = JSON.parse(localStorage.getItem(unreadKey())) ?? {};
  } catch {
    queueState.unread = {};
  }
  showUnread();
}

function saveUnread() {
  localStorage.setItem(unreadKey(), JSON.stringify(queueState.unread));
  showUnread();
}

function looking(conversationId) {
  return state.open?.id === conversationId && document.visibilityState === "visible";
}

function markRead(conversationId) {
  if (queueState.unread[conversationId]) {
    delete queueState.unread[conversationId];
    saveUnread();
  }
}

function showTitle() {
  const total = Object.values(queueState.unread).reduce((sum, n) => sum + n, 0);
  const base = document.title.replace(UNREAD_TITLE, "");
  const title = total ? `${total} unread · ${base}` : base;
  if (document.title !== title) document.title = title;
}

function showUnread() {
  showTitle();
  for (const row of document.querySelectorAll("#queue-list .row[data-id]")) badgeRow(row);
}

function badgeRow(row) {
  const count = queueState.unread[row.dataset.id] ?? 0;
  let badge = row.querySelector(".unread");
  if (!count) return badge?.remove();
  if (!badge) {
    badge = h("span", { class: "unread", "aria-label": "unread" });
    row.prepend(badge);
  }
  if (badge.textContent !== String(count)) badge.textContent = String(count);
}

function muted() {
  return localStorage.getItem(MUTE_KEY) === "1";
}

function muteButton() {
  const button = h("button", { id: "mute", class: "btn btn-quiet", type: "button" });
  const show = () => {
    button.textContent = muted() ? "Sound off" : "Sound on";
    button.setAttribute("aria-pressed", String(muted()));
  };
  button.addEventListener("click", () => {
    localStorage.setItem(MUTE_KEY, muted() ? "0" : "1");
    show();
  });
  show();
  return button;
}

function notificationsButton() {
  const button = h(
    "button",
    { id: "notify-permission", class: "btn btn-quiet", type: "button" },
    "Enable notifications",
  );
  button.hidden = !("Notification" in window) || Notification.permission !== "default";
  button.addEventListener("click", async () => {
    await Notification.requestPermission();
    button.hidden = Notification.permission !== "default";
  });
  return button;
}

let audio = null;
function beep() {
  if (muted()) return;
  try {
    audio ??= new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.3);
  } catch (error) {
    console.error("sound", error);
  }
}

function notify(conversation, title, body) {
  if (looking(conversation.id)) return; // I am looking at it: nothing to tell me
  queueState.unread[conversation.id] = (queueState.unread[conversation.id] ?? 0) + 1;
  saveUnread();
  beep();
  toast(title, body, conversation.id);
  if ("Notification" in window && Notification.permission === "granted") {
    const shown = new Notification(title, { body, tag: conversation.id });
    shown.addEventListener("click", () => {
      window.focus();
      openConversation(conversation.id);
    });
  }
}

function toast(title, body, conversationId) {
  const item = h(
    "li",
    { class: "toast", dataset: { id: conversationId } },
    h("strong", {}, title),
    " ",
    body,
  );
  item.addEventListener("click", () => openConversation(conversationId));
  $("toasts").append(item);
  setTimeout(() => item.remove(), 8000);
}

function customerName(c) {
  return c.customer?.name ?? `Customer ${c.customer?.id ?? ""}`;
}

function mine(c) {
  return c?.status === "assigned" && c.assigned_agent?.id === state.me?.id;
}

function onLiveEvent(event) {
  const c = event.conversation;
  switch (event.type) {
    case "conversation.assigned":
      if (event.agent_id === state.me.id) {
        queueState.handoverNotes.delete(c.id);
        notify(c, "Assigned to you", `${customerName(c)} · ${c.triage?.topic ?? "conversation"}`);
        loadPresence();
      }
      break;
    case "message.created":
      if (mine(c) && event.message?.author_type === "customer") {
        notify(c, `${customerName(c)} wrote`, event.message.text);
      }
      break;
    case "sla.warning":
      if (mine(c)) notify(c, "First response due soon", customerName(c));
      break;
    case "agent.presence":
      if (event.agent?.id === state.me.id) showPresence(event.agent);
      break;
    case "reply.pending":
    case "reply.approved":
    case "reply.returned":
      queueState.pendingReplies.delete(event.reply.conversation_id);
      if (state.open?.id === event.reply.conversation_id) decorateTranscript();
      if (state.me.viewer === "supervisor") loadApprovals();
      break;
    default:
      break;
  }
  if (c && !mine(c) && queueState.unread[c.id]) markRead(c.id); // no longer mine
  // the customers' presence (customer-activity.js) is not in the supervisor's live view
  if (queueState.liveOpen && event.type !== "customer.activity") scheduleLiveView();
}

/* ---------- the transcript: handover notes on top, pending replies marked ---------- */

async function decorateTranscript() {
  const id = state.open?.id;
  if (!id || state.open.messages === undefined) return;
  markRead(id);
  const path = `/conversations/${encodeURIComponent(id)}`;
  try {
    if (!queueState.handoverNotes.has(id)) {
      queueState.handoverNotes.set(id, (await api("GET", `${path}/handover-notes`)).notes);
    }
    if (!queueState.pendingReplies.has(id)) {
      queueState.pendingReplies.set(id, (await api("GET", `${path}/pending-replies`)).replies);
    }
  } catch (error) {
    console.error("transcript extras", error);
    return;
  }
  if (state.open?.id !== id) return;
  const list = $("transcript");
  for (const el of list.querySelectorAll(".line-handover, .line-pending")) el.remove();
  const [latest] = queueState.handoverNotes.get(id);
  if (latest) {
    const from = latest.from_agent?.name ?? "A colleague";
    list.prepend(
      h(
        "li",
        { class: "line line-handover", dataset: { id: latest.id } },
        h("div", { class: "line-head" }, h("span", { class: "author" }, `Handover from ${from}`)),
        h("div", { class: "bubble" }, latest.text),
        h("div", { class: "line-foot" }, timeEl(latest.created_at)),
      ),
    );
  }
  for (const reply of queueState.pendingReplies.get(id)) {
    const label = REPLY_LABELS[reply.status] ?? reply.status;
    list.append(
      h(
        "li",
        { class: `line line-agent line-pending status-${reply.status}`, dataset: { id: reply.id } },
        h(
          "div",
          { class: "line-head" },
          h("span", { class: "author" }, reply.agent?.name ?? "Agent"),
          h("span", { class: "pill pending" }, label),
        ),
        h("div", { class: "bubble" }, reply.text),
        reply.comment ? h("p", { class: "pending-comment" }, `Supervisor: ${reply.comment}`) : null,
        h("div", { class: "line-foot" }, timeEl(reply.created_at), " · not sent to the customer"),
      ),
    );
  }
}

/* ---------- shift handover ---------- */

function handoverDialog() {
  const dialog = h(
    "dialog",
    { id: "handover-dialog", class: "dialog", "aria-labelledby": "handover-title" },
    h(
      "form",
      { id: "handover-form", method: "dialog" },
      h("h2", { id: "handover-title" }, "End shift: hand over my conversations"),
      h("label", { for: "handover-to" }, "To"),
      h("select", { id: "handover-to" }),
      h("label", { for: "handover-note" }, "Handover note (the next owner sees it first)"),
      h("textarea", { id: "handover-note", rows: "4", maxlength: "4000", required: true }),
      h(
        "label",
        { class: "check" },
        h("input", { id: "handover-tell", type: "checkbox" }),
        " Tell the customers",
      ),
      h(
        "label",
        { class: "check" },
        h("input", { id: "handover-offline", type: "checkbox", checked: true }),
        " Go offline afterwards",
      ),
      h("p", { id: "handover-error", class: "form-error", role: "alert" }),
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { id: "handover-cancel", class: "btn", type: "button" }, "Cancel"),
        h("button", { id: "handover-submit", class: "btn btn-primary", type: "submit" }, "Hand over"),
      ),
    ),
  );
  dialog.querySelector("#handover-cancel").addEventListener("click", () => dialog.close());
  dialog.querySelector("form").addEventListener("submit", submitHandover);
  return dialog;
}

async function openHandover() {
  const agents = (await api("GET", "/agents")).agents.filter((a) => a.id !== state.me.id);
  fill(
    $("handover-to"),
    h("option", { value: "" }, "Back to the queue"),
    agents.map((agent) => h("option", { value: agent.id }, agent.name)),
  );
  $("handover-error").textContent = "";
  $("handover-dialog").showModal();
  $("handover-note").focus();
}

async function submitHandover(event) {
  event.preventDefault();
  const note = $("handover-note").value.trim();
  if (!note) {
    $("handover-error").textContent = "Write a note for the next owner.";
    return;
  }
  try {
    await api("POST", "/me/handover", {
      to_agent_id: $("handover-to").value || null,
      note,
      tell_customer: $("handover-tell").checked,
    });
    if ($("handover-offline").checked) await setPresence("offline");
    $("handover-note").value = "";
    $("handover-dialog").close();
    await loadQueue();
  } catch (error) {
    $("handover-error").textContent = error.message;
  }
}

/* ---------- approvals (supervisors) ---------- */

function approvalsDialog() {
  const dialog = h(
    "dialog",
    { id: "approvals-dialog", class: "dialog dialog-wide", "aria-labelledby": "approvals-title" },
    h("h2", { id: "approvals-title" }, "Replies waiting for approval"),
    h("ol", { id: "approvals-list", class: "approvals" }),
    h(
      "div",
      { class: "dialog-actions" },
      h("button", { id: "approvals-close", class: "btn", type: "button" }, "Close"),
    ),
  );
  dialog.querySelector("#approvals-close").addEventListener("click", () => dialog.close());
  return dialog;
}

async function loadApprovals() {
  try {
    queueState.approvals = (await api("GET", "/approvals")).replies;
  } catch (error) {
    console.error("approvals", error);
    return;
  }
  $("approvals-button").textContent = `Approvals (${queueState.approvals.length})`;
  fill(
    $("approvals-list"),
    queueState.approvals.length
      ? queueState.approvals.map(approvalItem)
      : h("li", { class: "empty" }, "Nothing waits for approval."),
  );
}

function approvalItem(reply) {
  const text = h("textarea", { class: "approval-text", rows: "3", maxlength: "4000" });
  text.value = reply.text;
  const comment = h("input", {
    class: "approval-comment",
    type: "text",
    placeholder: "Comment for the agent (to return it)",
  });
  const error = h("p", { class: "form-error", role: "alert" });
  const approve = h("button", { class: "btn btn-primary approve", type: "button" }, "Approve");
  const send = h("button", { class: "btn return", type: "button" }, "Return");
  const path = `/approvals/${encodeURIComponent(reply.id)}`;
  approve.addEventListener("click", () =>
    decide(error, () =>
      api("POST", `${path}/approve`, text.value.trim() !== reply.text ? { text: text.value } : {}),
    ),
  );
  send.addEventListener("click", () =>
    decide(error, () => api("POST", `${path}/return`, { comment: comment.value })),
  );
  const c = reply.conversation;
  return h(
    "li",
    { class: "approval", dataset: { id: reply.id } },
    h(
      "div",
      { class: "approval-head" },
      h("strong", {}, reply.agent?.name ?? "Agent"),
      ` to ${c ? customerName(c) : "a customer"} · `,
      timeEl(reply.created_at),
    ),
    text,
    comment,
    error,
    h("div", { class: "dialog-actions" }, send, approve),
  );
}

async function decide(errorEl, call) {
  try {
    await call();
    await loadApprovals();
  } catch (err) {
    errorEl.textContent = err.message;
  }
}

/* ---------- supervisor live view ---------- */

function liveDialog() {
  const dialog = h(
    "dialog",
    { id: "live-dialog", class: "dialog dialog-wide", "aria-labelledby": "live-title" },
    h("h2", { id: "live-title" }, "Live view"),
    h("div", { id: "live-body" }),
    h(
      "div",
      { class: "dialog-actions" },
      h("button", { id: "live-close", class: "btn", type: "button" }, "Close"),
    ),
  );
  dialog.querySelector("#live-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => (queueState.liveOpen = false));
  return dialog;
}

// The waiting list: time left ticks down every second between loads; a load every
// LIVE_RELOAD_SECONDS (and on every queue event) brings the server's figures back, which know
// business hours and pauses.
const LIVE_RELOAD_SECONDS = 30;
const WAITING_SORTS = {
  left: (a, b) => (a.sla_seconds_left ?? Infinity) - (b.sla_seconds_left ?? Infinity),
  waited: (a, b) => (a.queued_at ?? "").localeCompare(b.queued_at ?? ""), // longest first
  priority: (a, b) => a.priority - b.priority,
  team: (a, b) => (a.team ?? "").localeCompare(b.team ?? ""),
};
const waitingState = { rows: [], loadedAt: 0, sort: "left", ticker: null };

function timeLeft(item, elapsed) {
  if (item.sla_seconds_left == null) return { text: "no target", overdue: false };
  const left = item.sla_seconds_left - elapsed;
  return left < 0 ? { text: `overdue ${clock(-left)}`, overdue: true } : { text: clock(left), overdue: false };
}

function renderWaiting() {
  const table = $("live-waiting");
  if (!table) return;
  const elapsed = Math.round((Date.now() - waitingState.loadedAt) / 1000);
  const rows = [...waitingState.rows].sort(WAITING_SORTS[waitingState.sort]);
  const head = h(
    "tr",
    {},
    [["Customer"], ["Team", "team"], ["Priority", "priority"], ["Waited", "waited"], ["SLA left", "left"]].map(
      ([label, key]) => {
        if (!key) return h("th", {}, label);
        const button = h("button", { class: "btn btn-quiet waiting-sort", type: "button", dataset: { sort: key } }, label);
        button.addEventListener("click", () => {
          waitingState.sort = key;
          renderWaiting();
        });
        return h("th", { "aria-sort": waitingState.sort === key ? "ascending" : "none" }, button);
      },
    ),
  );
  const lines = rows.map((item) => {
    const left = timeLeft(item, elapsed);
    const open = h("button", { class: "btn btn-quiet live-conv", type: "button" }, item.customer ?? item.id);
    open.addEventListener("click", () => {
      $("live-dialog").close();
      openConversation(item.id);
    });
    return h(
      "tr",
      { dataset: { id: item.id, state: left.overdue ? "breached" : item.sla_state ?? "none" } },
      h("td", {}, open),
      h("td", {}, item.team ?? "–"),
      h("td", {}, String(item.priority)),
      h("td", {}, item.waited_seconds == null ? "–" : clock(item.waited_seconds + elapsed)),
      h("td", { class: left.overdue ? "sla-left overdue" : "sla-left" }, left.text),
    );
  });
  fill(table, head, lines.length ? lines : h("tr", {}, h("td", { colspan: "5" }, "Nobody is waiting.")));
}

function tickWaiting() {
  clearInterval(waitingState.ticker);
  waitingState.ticker = setInterval(() => {
    if (!queueState.liveOpen) return clearInterval(waitingState.ticker);
    const elapsed = Math.round((Date.now() - waitingState.loadedAt) / 1000);
    if (elapsed >= LIVE_RELOAD_SECONDS) {
      clearInterval(waitingState.ticker); // loadLiveView starts it again
      return loadLiveView();
    }
    renderWaiting();
  }, 1000);
}

let liveTimer = null;
function scheduleLiveView() {
  clearTimeout(liveTimer);
  liveTimer = setTimeout(loadLiveView, 300);
}

async function loadLiveView() {
  let live;
  try {
    live = await api("GET", "/supervisor/live");
  } catch (error) {
    fill($("live-body"), h("p", { class: "form-error" }, error.message));
    return;
  }
  const teams = h(
    "table",
    { class: "live-table", id: "live-teams" },
    h("tr", {}, ["Team", "Mode", "Queued", "Oldest waiting", "At SLA risk"].map((t) => h("th", {}, t))),
    live.teams.map((team) =>
      h(
        "tr",
        { dataset: { team: team.id } },
        h("td", {}, team.name),
        h("td", {}, teamModeControl(team)),
        h("td", {}, String(team.queued)),
        h("td", {}, team.oldest_waiting_seconds == null ? "–" : clock(team.oldest_waiting_seconds)),
        h("td", {}, String(team.at_risk.length)),
      ),
    ),
  );
  const agents = h(
    "table",
    { class: "live-table", id: "live-agents" },
    h("tr", {}, ["Agent", "Presence", "Live", "Later", "Conversations"].map((t) => h("th", {}, t))),
    live.agents.map((agent) =>
      h(
        "tr",
        { dataset: { agent: agent.id, presence: agent.presence } },
        h("td", {}, agent.name, agent.in_training ? " (in training)" : ""),
        h("td", {}, PRESENCE_LABELS[agent.presence]),
        h("td", {}, `${agent.load.sync}/${agent.max_sync}`),
        h("td", {}, `${agent.load.async}/${agent.max_async}`),
        h(
          "td",
          {},
          agent.conversations.map((c) => {
            const link = h("button", { class: "btn btn-quiet live-conv", type: "button" }, c.customer ?? c.id);
            if (c.at_risk) link.classList.add("at-risk");
            link.addEventListener("click", () => {
              $("live-dialog").close();
              openConversation(c.id); // reassign from there with Transfer
            });
            return link;
          }),
        ),
      ),
    ),
  );
  waitingState.rows = live.waiting;
  waitingState.loadedAt = Date.now();
  const waiting = h("table", { class: "live-table", id: "live-waiting" });
  fill($("live-body"), h("h3", {}, "Teams"), teams, h("h3", {}, "Waiting"), waiting, h("h3", {}, "Agents"), agents);
  renderWaiting();
  tickWaiting();
}

function teamModeControl(team) {
  const select = h(
    "select",
    { class: "team-mode", "aria-label": `${team.name} queue mode` },
    h("option", { value: "pull" }, "Pull"),
    h("option", { value: "auto" }, "Auto-assign"),
  );
  select.value = team.mode;
  select.addEventListener("change", async () => {
    await api("POST", `/teams/${encodeURIComponent(team.id)}/queue-mode`, { mode: select.value });
    scheduleLiveView();
  });
  return select;
}

async function openLiveView() {
  queueState.liveOpen = true;
  $("live-dialog").showModal();
  await loadLiveView();
}

/* ---------- wiring ---------- */

function buildQueueUi() {
  const bar = document.querySelector(".topbar .me");
  const endShift = h("button", { id: "end-shift", class: "btn btn-quiet", type: "button" }, "End shift");
  endShift.addEventListener("click", openHandover);
  bar.prepend(presenceControl(), notificationsButton(), muteButton(), endShift);
  document.body.append(
    handoverDialog(),
    approvalsDialog(),
    liveDialog(),
    h("ol", { id: "toasts", class: "toasts", "aria-live": "polite" }),
  );
  if (state.me.viewer === "supervisor") {
    const approvals = h("button", { id: "approvals-button", class: "btn btn-quiet", type: "button" }, "Approvals");
    approvals.addEventListener("click", () => $("approvals-dialog").showModal());
    const live = h("button", { id: "live-button", class: "btn btn-quiet", type: "button" }, "Live view");
    live.addEventListener("click", openLiveView);
    endShift.after(approvals, live);
    loadApprovals();
  }
  loadPresence();
  loadUnread();
}

function startQueueUi() {
  if (!state.me || $("presence")) return;
  buildQueueUi();
}

document.addEventListener("console:event", (event) => onLiveEvent(event.detail));
document.addEventListener("visibilitychange", () => {
  if (state.open && document.visibilityState === "visible") markRead(state.open.id);
});
document.addEventListener("keydown", (event) => {
  if ($("app").hidden || event.key !== "p") return;
  if (event.target.closest("input, textarea, select, dialog") || event.ctrlKey || event.metaKey) return;
  event.preventDefault();
  cyclePresence();
});
new MutationObserver(() => startQueueUi()).observe($("app"), { attributes: true });
new MutationObserver(showTitle).observe(document.querySelector("title"), { childList: true });
new MutationObserver((records) => {
  if (records.some((r) => [...r.addedNodes].some((n) => n.matches?.(".line-handover, .line-pending")))) return;
  decorateTranscript();
}).observe($("transcript"), { childList: true });
new MutationObserver(() => {
  for (const row of document.querySelectorAll("#queue-list .row[data-id]")) badgeRow(row);
}).observe($("queue-list"), { childList: true, subtree: true });
startQueueUi();
