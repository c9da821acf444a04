/* Channel windows in the console (docs/handoff-service.md, "Channel windows"): a countdown pill
   on each WhatsApp or Messenger conversation, a warning in the reply box before the window
   closes, and, once it is closed, the reason instead of the reply box with the configured
   template (filled in by the service) to send. Loaded after console.js and uses its helpers
   (state, api, $, h, now, duration, applyConversation, showError, …). */
"use strict";

const WINDOW_WARNING_MS = 60 * 60 * 1000; // the warning shows in the last hour
const WINDOW_LABELS = { open: "Reply window", tagged: "Human-agent tag" };

function windowOf(c) {
  const w = c.reply_window; // web chat: always open, no end, nothing to show
  return w && (w.closes_at || w.state === "closed") ? w : null;
}

function windowPill(c) {
  const w = windowOf(c);
  if (!w || !ACTIVE_STATUSES.has(c.status)) return null;
  const el = h("span", { class: "pill reply-window", dataset: { window: w.state } });
  if (w.closes_at) el.dataset.closes = w.closes_at;
  updateWindowPill(el);
  return el;
}

function updateWindowPill(el) {
  const state = el.dataset.window;
  if (state === "closed" || !el.dataset.closes) {
    el.textContent = "Window closed";
    el.title = "Free text cannot be sent until the customer writes again.";
    return;
  }
  const left = Date.parse(el.dataset.closes) - now();
  if (left <= 0 && state !== "expired") {
    el.dataset.window = "expired";
    if (state === "open" || state === "tagged") refreshOpen(); // the service says what now
  }
  el.dataset.warning = String(left < WINDOW_WARNING_MS);
  el.textContent = `${WINDOW_LABELS[state] ?? "Window"}: ${duration(left)} left`;
  el.title = `Until ${new Date(el.dataset.closes).toLocaleString()}`;
}

/* Called by renderComposer: the warning, or the reason and the template. */
function renderReplyWindow(c, can) {
  const w = windowOf(c);
  const panel = $("window-template");
  const warning = $("window-warning");
  const closed = Boolean(w && w.state === "closed" && can.reply);
  panel.hidden = !closed;
  warning.hidden = true;
  if (closed) {
    $("composer-text").disabled = true;
    $("composer-send").disabled = true;
    $("composer-text").placeholder = w.reason;
    $("window-reason").textContent = w.reason;
    $("window-template-send").hidden = !w.template;
    $("window-template-text").hidden = !w.template;
    if (w.template) loadTemplate(c);
    return;
  }
  if (w && w.closes_at && can.reply) {
    const left = Date.parse(w.closes_at) - now();
    if (left < WINDOW_WARNING_MS) {
      warning.hidden = false;
      warning.textContent =
        w.state === "tagged"
          ? `The human-agent tag runs out in ${duration(left)}; after that Messenger takes no reply.`
          : `The reply window closes in ${duration(left)}; after that only the template can be sent.`;
    }
  }
}

async function loadTemplate(c) {
  const text = $("window-template-text");
  if (text.dataset.conversation === c.id) return; // already shown for this conversation
  text.dataset.conversation = c.id;
  text.textContent = "Loading the template…";
  try {
    const preview = await api("GET", `/conversations/${encodeURIComponent(c.id)}/reply-template`);
    text.textContent = preview.text;
  } catch (error) {
    delete text.dataset.conversation;
    text.textContent = "";
    showError("window-error", error.message);
  }
}

async function sendTemplate() {
  const c = state.open;
  const button = $("window-template-send");
  button.disabled = true;
  showError("window-error", null);
  try {
    const line = await api("POST", `/conversations/${encodeURIComponent(c.id)}/reply-template`);
    upsert(c.messages, line);
    renderTranscript(c, true);
  } catch (error) {
    showError("window-error", error.message);
  } finally {
    button.disabled = false;
  }
}

function bindReplyWindow() {
  $("window-template-send").addEventListener("click", sendTemplate);
  setInterval(() => {
    for (const el of document.querySelectorAll("[data-closes]")) updateWindowPill(el);
  }, 1000);
}

bindReplyWindow();
