/*
 * Lumen Home chat widget. Plain JS, no build step, no third-party code.
 *
 *   <script src="https://bot.example.com/webhooks/webchat/widget.js"
 *           data-server="https://bot.example.com" defer></script>
 *
 * data-server  the Rasa server (the widget talks to <server>/webhooks/webchat/); default: where
 *              this script was loaded from
 * data-brand   the company name next to an agent's name (default "Lumen Home")
 * data-title   the panel's heading (default "<brand> support")
 * data-open    "true" opens the panel when the page loads
 *
 * The conversation id is a random UUID kept in localStorage: coming back later shows the same
 * conversation with its history. Messages typed while offline wait in a localStorage outbox and
 * are sent once on reconnect (each carries its own client_id; the server ignores repeats).
 * While the customer types, a "typing" frame goes out at most every TYPING_EVERY_MS, and a
 * "stopped typing" one after TYPING_IDLE_MS without a key or when the message is sent: the
 * agent sees it (the server passes it on to the handoff service).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__lumenChat) return;
  window.__lumenChat = true;

  var data = script.dataset;
  var BASE = data.server
    ? data.server.replace(/\/+$/, "") + "/webhooks/webchat/"
    : new URL(".", script.src).href;
  var BRAND = data.brand || "Lumen Home";
  var TITLE = data.title || BRAND + " support";
  var BOT_NAME = "Lumen assistant";
  var HUMAN_REQUEST = { payload: "/request_human", title: "I'd like to talk to a person" };
  var SESSION_KEY = "lumenChat.session";
  var OUTBOX_KEY = "lumenChat.outbox";
  var MAX_CHARS = 4000;
  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 30000;
  var FATAL_CLOSE_CODES = { 4400: true, 4403: true };
  var TYPING_EVERY_MS = 3000;
  var TYPING_IDLE_MS = 5000;

  // ---- storage (localStorage may be unavailable, e.g. blocked cookies: fall back to memory)
  var memory = {};
  var store = {
    get: function (key) {
      try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, value); } catch (e) { memory[key] = value; }
    },
  };

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs https; this does not
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function readOutbox() {
    try { return JSON.parse(store.get(OUTBOX_KEY) || "[]"); } catch (e) { return []; }
  }

  // ---- state
  var state = {
    session: store.get(SESSION_KEY),
    messages: [], // frames shown, oldest first
    outbox: readOutbox(), // frames not yet acknowledged by the server
    ws: null,
    ready: false, // history received on the current connection
    sentHere: {}, // client_ids sent on the current connection
    early: [], // message frames that arrived before the history frame
    attempt: 0,
    retryTimer: null,
    open: false,
    unread: 0,
    fatal: false,
    typingSentAt: 0, // when the last "typing" frame went out (0: the customer is not typing)
    typingTimer: null,
  };

  // ---- DOM
  var ICONS = {
    chat: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z" fill="currentColor"/></svg>',
    close: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/></svg>',
    send: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3 20l18-8L3 4v6l12 2-12 2z" fill="currentColor"/></svg>',
    robot: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="4" y="8" width="16" height="11" rx="3" fill="currentColor"/><circle cx="9.5" cy="13.5" r="1.6" fill="#fff"/><circle cx="14.5" cy="13.5" r="1.6" fill="#fff"/><path d="M12 4v4M9 4h6" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>',
    person: '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="8" r="4" fill="currentColor"/><path d="M4 21c0-4.4 3.6-7 8-7s8 2.6 8 7z" fill="currentColor"/></svg>',
  };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function icon(name, className) {
    var span = el("span", className || "lc-icon");
    span.setAttribute("aria-hidden", "true");
    span.innerHTML = ICONS[name]; // our own constant markup, never message text
    return span;
  }

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = BASE + "widget.css";
  document.head.appendChild(css);

  var root = el("div", "lumen-chat");
  root.innerHTML =
    '<button type="button" class="lc-launcher" aria-expanded="false" aria-controls="lc-panel">' +
    '<span class="lc-launcher-label">Chat with us</span><span class="lc-badge" hidden></span>' +
    "</button>" +
    '<section class="lc-panel" id="lc-panel" role="dialog" aria-labelledby="lc-title" hidden>' +
    '<header class="lc-header"><div><h2 class="lc-title" id="lc-title"></h2>' +
    '<p class="lc-subtitle">Virtual assistant first, a person whenever you ask</p></div>' +
    '<button type="button" class="lc-close" aria-label="Close chat"></button></header>' +
    '<div class="lc-status" role="status" hidden><span class="lc-status-text"></span>' +
    '<button type="button" class="lc-retry">Retry now</button></div>' +
    '<ol class="lc-log" role="log" aria-live="polite" aria-label="Conversation" tabindex="0"></ol>' +
    '<div class="lc-typing" role="status" hidden><span class="lc-dots" aria-hidden="true">' +
    "<i></i><i></i><i></i></span><span class=\"lc-typing-text\"></span></div>" +
    '<div class="lc-actions"><button type="button" class="lc-human"></button></div>' +
    '<form class="lc-composer"><label class="lc-sr" for="lc-input">Your message</label>' +
    '<textarea id="lc-input" rows="1" placeholder="Write a message…"></textarea>' +
    '<button type="submit" class="lc-send" aria-label="Send"></button></form>' +
    "</section>";

  var $ = function (selector) { return root.querySelector(selector); };
  var launcher = $(".lc-launcher");
  var panel = $(".lc-panel");
  var log = $(".lc-log");
  var statusBar = $(".lc-status");
  var typing = $(".lc-typing");
  var input = $("#lc-input");
  var badge = $(".lc-badge");
  launcher.insertBefore(icon("chat"), launcher.firstChild);
  $(".lc-title").textContent = TITLE;
  $(".lc-close").innerHTML = ICONS.close;
  $(".lc-send").innerHTML = ICONS.send;
  $(".lc-human").appendChild(icon("person"));
  $(".lc-human").appendChild(document.createTextNode("Talk to a person"));
  $(".lc-typing-text").textContent = BOT_NAME + " is typing…";
  input.maxLength = MAX_CHARS;

  // ---- rendering (incremental: the log is an aria-live region, so lines already shown are
  // never re-inserted, or a screen reader would read them again)
  function timeLabel(iso) {
    var at = new Date(iso);
    if (!iso || isNaN(at)) return "";
    var time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (at.toDateString() === new Date().toDateString()) return time;
    return at.toLocaleDateString([], { day: "numeric", month: "short" }) + ", " + time;
  }

  function authorLabel(message) {
    switch (message.author_type) {
      case "bot": return (message.author_name || BOT_NAME) + " · bot";
      case "agent": return (message.author_name || "Agent") + " · " + BRAND;
      default: return "You";
    }
  }

  function renderMessage(message) {
    var kind = message.author_type;
    var item = el("li", "lc-msg lc-msg--" + kind);
    item.dataset.id = message.id;
    if (kind === "system") {
      item.appendChild(el("p", "lc-notice", message.text));
      return item;
    }
    var meta = el("div", "lc-meta");
    if (kind === "bot") meta.appendChild(icon("robot", "lc-avatar lc-avatar--bot"));
    if (kind === "agent") {
      var initial = (message.author_name || "A").charAt(0).toUpperCase();
      meta.appendChild(el("span", "lc-avatar lc-avatar--agent", initial)).setAttribute("aria-hidden", "true");
    }
    meta.appendChild(el("span", "lc-author", authorLabel(message)));
    var when = el("time", "lc-time", timeLabel(message.at));
    if (message.at) when.dateTime = message.at;
    meta.appendChild(when);
    item.appendChild(meta);
    item.appendChild(el("p", "lc-bubble", message.text));
    if (message.pending) {
      item.classList.add("lc-msg--pending");
      item.appendChild(el("span", "lc-delivery", pendingText()));
    }
    return item;
  }

  function pendingText() {
    return state.ready ? "Sending…" : "Not sent yet: it will go out when the chat reconnects";
  }

  function renderButtons(message) {
    var group = el("div", "lc-buttons");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Suggested replies");
    message.buttons.forEach(function (button) {
      var node;
      if (button.url) {
        node = el("a", "lc-button lc-button--link", button.title);
        node.href = button.url;
        node.target = "_blank";
        node.rel = "noopener noreferrer";
      } else {
        node = el("button", "lc-button", button.title);
        node.type = "button";
        node.addEventListener("click", function () {
          send({ type: "payload", payload: button.payload, title: button.title });
        });
      }
      group.appendChild(node);
    });
    return group;
  }

  function pendingFrame(item) {
    return { id: item.client_id, author_type: "customer", text: item.title || item.text,
      at: item.at, buttons: [], pending: true };
  }

  function known(id) {
    return state.messages.some(function (m) { return m.id === id; });
  }

  function shownItem(id) {
    return Array.prototype.find.call(log.children, function (li) { return li.dataset.id === id; });
  }

  /** Quick replies belong to the latest line only; older ones would answer a stale question. */
  function refreshButtons() {
    Array.prototype.forEach.call(log.querySelectorAll(".lc-buttons"), function (group) {
      group.remove();
    });
    var last = state.messages[state.messages.length - 1];
    var lastItem = log.lastElementChild;
    if (last && last.buttons && last.buttons.length && lastItem && lastItem.dataset.id === last.id) {
      lastItem.appendChild(renderButtons(last));
    }
  }

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  function renderAll() {
    log.setAttribute("aria-busy", "true");
    log.textContent = "";
    var shown = state.messages.concat(state.outbox.filter(function (item) {
      return !known(item.client_id);
    }).map(pendingFrame));
    if (!shown.length) {
      var intro = el("li", "lc-msg lc-msg--system lc-intro");
      intro.appendChild(el("p", "lc-notice",
        "Ask us anything. Our virtual assistant answers first, and a person from our team " +
        "is one tap away."));
      log.appendChild(intro);
    }
    shown.forEach(function (message) { log.appendChild(renderMessage(message)); });
    refreshButtons();
    log.removeAttribute("aria-busy");
    scrollToEnd();
  }

  function append(message) {
    var intro = log.querySelector(".lc-intro");
    if (intro) intro.remove();
    log.appendChild(renderMessage(message));
    refreshButtons();
    scrollToEnd();
  }

  /** A line the server has: a pending copy becomes a sent line in place, others are appended. */
  function show(frame) {
    if (known(frame.id)) return false;
    state.messages.push(frame);
    var pending = shownItem(frame.id);
    if (pending) {
      pending.classList.remove("lc-msg--pending");
      var note = pending.querySelector(".lc-delivery");
      if (note) note.remove();
      refreshButtons();
    } else {
      append(frame);
    }
    return true;
  }

  function refreshPending() {
    Array.prototype.forEach.call(log.querySelectorAll(".lc-delivery"), function (note) {
      note.textContent = pendingText();
    });
  }

  // ---- outbox
  function saveOutbox() { store.set(OUTBOX_KEY, JSON.stringify(state.outbox)); }

  function acknowledge(clientId) {
    var before = state.outbox.length;
    state.outbox = state.outbox.filter(function (item) { return item.client_id !== clientId; });
    if (state.outbox.length !== before) saveOutbox();
  }

  function flush() {
    if (!state.ready) return;
    state.outbox.forEach(function (item) {
      if (state.sentHere[item.client_id]) return;
      state.sentHere[item.client_id] = true;
      var frame = { type: item.type, client_id: item.client_id };
      if (item.type === "payload") { frame.payload = item.payload; frame.title = item.title; }
      else frame.text = item.text;
      state.ws.send(JSON.stringify(frame));
    });
  }

  function send(item) {
    item.client_id = uuid4();
    item.at = new Date().toISOString();
    state.outbox.push(item);
    saveOutbox();
    ensureSession();
    append(pendingFrame(item));
    if (state.ws) flush(); else connect();
  }

  // ---- connection
  function ensureSession() {
    if (!state.session) {
      state.session = uuid4();
      store.set(SESSION_KEY, state.session);
    }
  }

  function socketUrl() {
    var url = new URL("ws", BASE);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("session", state.session);
    url.searchParams.set("lang", navigator.language || "en");
    return url.href;
  }

  function showStatus(text, canRetry) {
    statusBar.hidden = !text;
    root.classList.toggle("lc-offline", !!text);
    $(".lc-status-text").textContent = text || "";
    $(".lc-retry").hidden = !canRetry;
  }

  // ---- the customer's typing, for the agent
  function sendTyping(on) {
    if (state.ready) state.ws.send(JSON.stringify({ type: "typing", on: on }));
  }

  function noteTyping() {
    if (!input.value.trim()) return stopTyping();
    var at = Date.now();
    if (at - state.typingSentAt >= TYPING_EVERY_MS) {
      state.typingSentAt = at;
      sendTyping(true);
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    state.typingTimer = null;
    if (!state.typingSentAt) return;
    state.typingSentAt = 0;
    sendTyping(false);
  }

  function connect() {
    if (state.fatal || state.ws) return;
    ensureSession();
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    var ws = new WebSocket(socketUrl());
    state.ws = ws;
    state.ready = false;
    state.sentHere = {};
    state.early = [];
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      receive(frame);
    };
    ws.onopen = function () { state.attempt = 0; };
    ws.onclose = function (event) {
      if (state.ws !== ws) return;
      state.ws = null;
      state.ready = false;
      state.typingSentAt = 0; // the server counts a closed connection as gone
      setTyping(false);
      if (FATAL_CLOSE_CODES[event.code]) {
        state.fatal = true;
        showStatus("The chat is not available on this page.", false);
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    var delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * Math.pow(2, state.attempt));
    delay = delay / 2 + Math.random() * delay / 2; // jitter: tabs do not reconnect in lockstep
    state.attempt += 1;
    showStatus("Reconnecting…", true);
    refreshPending();
    state.retryTimer = setTimeout(connect, delay);
  }

  function receive(frame) {
    if (frame.type === "history") {
      state.messages = [];
      frame.messages.concat(state.early).forEach(function (message) {
        if (!known(message.id)) state.messages.push(message);
        if (message.author_type === "customer") acknowledge(message.id);
      });
      state.ready = true;
      showStatus("");
      renderAll();
      flush();
    } else if (frame.type === "message") {
      if (!state.ready) { state.early.push(frame); return; }
      if (frame.author_type === "customer") acknowledge(frame.id);
      if (show(frame) && frame.author_type !== "customer" && !state.open) {
        state.unread += 1;
        showUnread();
      }
    } else if (frame.type === "typing") {
      setTyping(frame.on);
    } else if (frame.type === "error") {
      append({ id: "error-" + uuid4(), author_type: "system", text: frame.message });
    }
  }

  function setTyping(on) {
    typing.hidden = !on;
  }

  function showUnread() {
    badge.hidden = state.unread === 0;
    badge.textContent = String(state.unread);
    launcher.setAttribute("aria-label", state.unread
      ? "Open chat, " + state.unread + " new message" + (state.unread > 1 ? "s" : "")
      : "Open chat");
  }

  // ---- panel
  function setOpen(open) {
    state.open = open;
    panel.hidden = !open;
    root.classList.toggle("lc-is-open", open);
    document.documentElement.classList.toggle("lc-scroll-locked", open); // phones: see widget.css
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      state.unread = 0;
      showUnread();
      connect();
      scrollToEnd();
      input.focus();
    } else {
      launcher.focus();
    }
  }

  launcher.addEventListener("click", function () { setOpen(!state.open); });
  $(".lc-close").addEventListener("click", function () { setOpen(false); });
  $(".lc-retry").addEventListener("click", function () { state.attempt = 0; connect(); });
  $(".lc-human").addEventListener("click", function () {
    send({ type: "payload", payload: HUMAN_REQUEST.payload, title: HUMAN_REQUEST.title });
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") setOpen(false);
  });
  $(".lc-composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    autosize();
    stopTyping();
    send({ type: "message", text: text });
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $(".lc-composer").requestSubmit();
    }
  });
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }
  input.addEventListener("input", function () {
    autosize();
    noteTyping();
  });
  window.addEventListener("online", function () { if (!state.ws) connect(); });

  function start() {
    document.body.appendChild(root);
    showUnread();
    renderAll();
    // A returning customer is connected at once, so agent replies arrive with the panel closed.
    if (state.session) connect();
    if (data.open === "true") setOpen(true);
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
