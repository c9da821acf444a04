/* The customer's history in the side panel: their other conversations on every channel (status,
   tags, handoffs, satisfaction), each opening that conversation, and a form to merge another
   record by an identity it owns. Loaded after console.js and uses its helpers (state, api, $, h,
   fill, timeEl, showError, openConversation, …). */
"use strict";

async function loadHistory(id) {
  fill($("history-list"));
  showError("history-error", null);
  try {
    const customer = await api("GET", `/conversations/${encodeURIComponent(id)}/customer`);
    if (state.open?.id === id) renderHistory(customer);
  } catch (error) {
    if (state.open?.id === id) showError("history-error", error.message);
  }
}

function renderHistory(customer) {
  fill(
    $("history-identities"),
    customer.identities.map((i) => h("span", { class: "pill", title: i.kind }, i.value)),
  );
  const earlier = customer.conversations.filter((c) => !c.current);
  fill(
    $("history-list"),
    earlier.length
      ? earlier.map(historyItem)
      : h("li", { class: "hint" }, "No other conversation with this customer."),
  );
}

function historyItem(c) {
  const survey = c.satisfaction;
  return h(
    "li",
    { class: "history-item", dataset: { id: c.id } },
    h(
      "button",
      { type: "button", class: "history-open" },
      h("span", { class: "canned-title" }, capitalise(c.topic) || "Conversation"),
      h("span", { class: "pill" }, STATUS_LABELS[c.status] ?? c.status),
      h("span", { class: "hint" }, CHANNEL_LABELS[c.channel] ?? c.channel ?? ""),
      timeEl(c.created_at),
      c.reference ? h("span", { class: "hint" }, c.reference) : null,
      h("span", { class: "hint" }, c.handoffs === 1 ? "1 handoff" : `${c.handoffs} handoffs`),
      survey?.score != null
        ? h("span", { class: "pill", title: survey.comment ?? "" }, `Satisfaction ${survey.score}`)
        : null,
      c.tags.map((tag) => h("span", { class: "pill" }, tag)),
    ),
  );
}

async function mergeCustomer(event) {
  event.preventDefault();
  const id = state.open?.id;
  const identity = $("history-merge-identity").value.trim();
  if (!id || !identity) return;
  try {
    const path = `/conversations/${encodeURIComponent(id)}/customer/merge`;
    const customer = await api("POST", path, { identity });
    $("history-merge-identity").value = "";
    showError("history-error", null);
    if (state.open?.id === id) renderHistory(customer);
  } catch (error) {
    showError("history-error", error.message);
  }
}

function bindHistory() {
  $("history-merge").addEventListener("submit", mergeCustomer);
  $("history-list").addEventListener("click", (event) => {
    const item = event.target.closest("[data-id]");
    if (item) openConversation(item.dataset.id);
  });
}

bindHistory();
