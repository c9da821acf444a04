/* Suggested replies beside the reply box: up to three, for the conversation's latest customer
   messages, each with why it matches. "Use & edit" (Alt+1..3) puts one, filled for this
   conversation, into the box; the agent sends it as is or edited, or dismisses them all
   (Alt+0). What the agent did is reported, so the ranking learns (docs/suggestions.md).
   Loaded after console.js and uses its helpers (state, api, $, h, fill, showError). */
"use strict";

const suggested = { key: null, items: [], used: null, loading: false };

function lastCustomerLine(c) {
  const lines = (c.messages ?? []).filter((m) => m.author_type === "customer");
  return lines.length ? lines[lines.length - 1].id : "";
}

/* Called by renderComposer: fetch when the conversation or its latest customer line changed. */
function syncSuggestions(c) {
  const replying = state.composeMode === "reply" && !$("composer-text").disabled;
  $("suggestions").hidden = !replying || !suggested.items.length;
  if (!replying) return;
  const key = `${c.id}:${lastCustomerLine(c)}`;
  if (key === suggested.key || suggested.loading) return;
  suggested.key = key;
  loadSuggestions(c.id);
}

async function loadSuggestions(id) {
  suggested.loading = true;
  try {
    const found = await api("GET", `/conversations/${encodeURIComponent(id)}/suggestions`);
    if (state.open?.id !== id) return;
    suggested.items = found.suggestions;
    suggested.used = null;
    showError("suggestions-error", null);
  } catch (error) {
    suggested.items = [];
    showError("suggestions-error", error.message);
  } finally {
    suggested.loading = false;
  }
  renderSuggestions();
}

function renderSuggestions() {
  const items = suggested.items.map((item, index) =>
    h(
      "li",
      { class: "suggestion", dataset: { source: item.source } },
      h(
        "div",
        { class: "suggestion-head" },
        h("span", { class: "pill" }, item.source === "approved" ? "Approved" : "From the team"),
        item.title ? h("span", { class: "canned-title" }, item.title) : null,
        h(
          "button",
          { type: "button", class: "btn", dataset: { use: String(index) } },
          "Use & edit ",
          h("kbd", {}, `Alt+${index + 1}`),
        ),
      ),
      h("p", { class: "suggestion-text" }, item.text),
      h("p", { class: "hint suggestion-why" }, `Why: ${item.why.join("; ")}`),
    ),
  );
  fill($("suggestion-list"), items);
  $("suggestions").hidden = !items.length || state.composeMode !== "reply";
}

function useSuggestion(index) {
  const item = suggested.items[index];
  if (!item || !state.open || $("composer-text").disabled) return;
  const box = $("composer-text");
  box.value = item.text;
  suggested.used = item;
  box.focus();
  const marker = box.value.indexOf("[");
  if (item.missing.length && marker >= 0) box.setSelectionRange(marker, box.value.indexOf("]", marker) + 1);
  $("composer-hint").textContent = item.missing.length
    ? `Complete before sending: ${item.missing.map((name) => name.replaceAll("_", " ")).join(", ")}.`
    : "Edit if needed; Enter sends.";
}

async function report(id, body) {
  try {
    await api("POST", `/conversations/${encodeURIComponent(id)}/suggestions/feedback`, body);
  } catch (error) {
    showError("suggestions-error", error.message);
  }
}

/* Dismissed, or the agent wrote their own: every suggestion shown counts as rejected. */
async function dismissSuggestions() {
  const id = state.open?.id;
  const shown = suggested.items;
  suggested.items = [];
  suggested.used = null;
  renderSuggestions();
  for (const item of shown) await report(id, { suggestion: item.id, outcome: "dismissed" });
}

/* Called by submitComposer once a reply went out. */
async function suggestionsAfterSend(conversationId, text) {
  if (!suggested.items.length) return;
  const used = suggested.used;
  if (!used) return dismissSuggestions();
  suggested.items = [];
  suggested.used = null;
  renderSuggestions();
  await report(conversationId, { suggestion: used.id, outcome: "sent", text });
}

function bindSuggestions() {
  $("suggestion-list").addEventListener("click", (event) => {
    const button = event.target.closest("[data-use]");
    if (button) useSuggestion(Number(button.dataset.use));
  });
  $("suggestions-dismiss").addEventListener("click", dismissSuggestions);
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || $("suggestions").hidden) return;
    const digit = /^Digit([0-3])$/.exec(event.code);
    if (!digit) return;
    event.preventDefault();
    if (digit[1] === "0") dismissSuggestions();
    else useSuggestion(Number(digit[1]) - 1);
  });
}

bindSuggestions();
