/* Conversation search in the console: a dialog (the "Search" button or "s") with the service's
   filters, results newest first, "Load more" for the next page; a result opens the
   conversation. Loaded after console.js and uses its helpers (state, api, $, h, fill, …). */
"use strict";

const search = { next: null, params: null };

async function openSearch() {
  fill($("search-team"), h("option", { value: "" }, "Any team"), await teamOptions());
  $("search-dialog").showModal();
  $("search-text").focus();
}

function searchParams() {
  const params = new URLSearchParams();
  for (const name of ["text", "customer", "reference", "tag", "team", "status"]) {
    const value = $(`search-${name}`).value.trim();
    if (value) params.set(name, value);
  }
  // the date inputs give local days: from the start of one to the end of the other
  const day = (value, offset = 0) => {
    const start = new Date(`${value}T00:00:00`);
    start.setDate(start.getDate() + offset);
    return start.toISOString();
  };
  if ($("search-since").value) params.set("since", day($("search-since").value));
  if ($("search-until").value) params.set("until", day($("search-until").value, 1));
  if ($("search-mine").checked && state.me) params.set("agent_id", state.me.id);
  return params;
}

async function runSearch(event) {
  event?.preventDefault();
  search.params = searchParams();
  search.next = null;
  fill($("search-results"));
  await loadSearchPage();
}

async function loadSearchPage() {
  const params = new URLSearchParams(search.params);
  if (search.next) params.set("cursor", search.next);
  try {
    const page = await api("GET", `/conversations/search?${params}`);
    $("search-results").append(...page.conversations.map(searchResult));
    search.next = page.next;
    showError("search-error", null);
    if (!$("search-results").children.length) {
      fill($("search-results"), h("li", { class: "hint" }, "No conversation matches."));
    }
  } catch (error) {
    showError("search-error", error.message);
  }
  $("search-more").hidden = !search.next;
}

function searchResult(c) {
  return h(
    "li",
    { class: "search-result", dataset: { id: c.id } },
    h(
      "button",
      { type: "button", class: "search-open" },
      h("span", { class: "canned-title" }, c.customer?.name || c.customer?.id || c.id),
      h("span", { class: "pill" }, STATUS_LABELS[c.status] ?? c.status),
      c.team ? h("span", { class: "hint" }, teamName(c.team)) : null,
      c.triage?.reference ? h("span", { class: "hint" }, c.triage.reference) : null,
      timeEl(c.created_at),
      h("span", { class: "canned-text" }, c.triage?.description ?? ""),
    ),
  );
}

function bindSearch() {
  $("search-button").addEventListener("click", openSearch);
  $("search-form").addEventListener("submit", runSearch);
  $("search-more").addEventListener("click", loadSearchPage);
  $("search-close").addEventListener("click", () => $("search-dialog").close());
  $("search-results").addEventListener("click", (event) => {
    const result = event.target.closest("[data-id]");
    if (!result) return;
    $("search-dialog").close();
    openConversation(result.dataset.id);
  });
}

bindSearch();
