/* Canned replies in the console: a searchable picker beside the reply box ("/" at the start of
   an empty reply, or the button), which puts the reply, filled for this conversation, into the
   box for the agent to edit and send; and, for supervisors, a dialog to edit the library.
   Loaded after console.js and uses its helpers (state, api, $, h, fill, showError). */
"use strict";

const canned = { results: [], selected: 0, searchTimer: null, editing: null, proposal: null, proposals: [] };

function cannedPickerOpen() {
  return !$("canned-picker").hidden;
}

function openCannedPicker(query = "") {
  if (!state.open || state.composeMode !== "reply" || $("composer-text").disabled) return;
  $("canned-picker").hidden = false;
  $("canned-manage").hidden = state.me?.viewer !== "supervisor";
  $("canned-search").value = query;
  $("canned-search").focus();
  searchCanned();
}

function closeCannedPicker({ focusComposer = true } = {}) {
  $("canned-picker").hidden = true;
  showError("canned-error", null);
  if (focusComposer) $("composer-text").focus();
}

async function searchCanned() {
  const q = $("canned-search").value.replace(/^\//, "").trim();
  try {
    const params = new URLSearchParams(q ? { q } : {});
    canned.results = (await api("GET", `/canned-replies?${params}`)).replies;
    showError("canned-error", null);
  } catch (error) {
    canned.results = [];
    showError("canned-error", error.message);
  }
  const language = state.open?.customer?.language;
  // the customer's language first, the library's order otherwise
  canned.results.sort((a, b) => (b.language === language) - (a.language === language));
  canned.selected = 0;
  renderCannedList();
}

function renderCannedList() {
  const items = canned.results.map((reply, index) =>
    h(
      "li",
      {
        class: "canned-item",
        role: "option",
        id: `canned-${reply.id}`,
        "aria-selected": String(index === canned.selected),
        dataset: { index: String(index) },
      },
      h("span", { class: "canned-title" }, reply.title),
      reply.shortcut ? h("kbd", {}, `/${reply.shortcut}`) : null,
      reply.language !== "en" ? h("span", { class: "pill" }, reply.language.toUpperCase()) : null,
      h("span", { class: "canned-text" }, reply.text),
    ),
  );
  fill($("canned-list"), items.length ? items : h("li", { class: "hint" }, "No canned reply matches."));
  const current = canned.results[canned.selected];
  $("canned-search").setAttribute("aria-activedescendant", current ? `canned-${current.id}` : "");
  $(current ? `canned-${current.id}` : "canned-list").scrollIntoView?.({ block: "nearest" });
}

async function insertCanned(index = canned.selected) {
  const reply = canned.results[index];
  const c = state.open;
  if (!reply || !c) return;
  try {
    const path = `/conversations/${encodeURIComponent(c.id)}/canned-replies/${encodeURIComponent(reply.id)}`;
    const filled = await api("GET", path);
    if (state.open?.id !== c.id) return;
    const box = $("composer-text");
    box.value = filled.text;
    closeCannedPicker();
    const marker = box.value.indexOf("[");
    if (filled.missing.length && marker >= 0) box.setSelectionRange(marker, box.value.indexOf("]", marker) + 1);
    $("composer-hint").textContent = filled.missing.length
      ? `Complete before sending: ${filled.missing.map((name) => name.replaceAll("_", " ")).join(", ")}.`
      : "Edit if needed; Enter sends.";
  } catch (error) {
    showError("canned-error", error.message);
  }
}

function onCannedSearchKey(event) {
  const last = canned.results.length - 1;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    canned.selected = Math.min(last, Math.max(0, canned.selected + (event.key === "ArrowDown" ? 1 : -1)));
    renderCannedList();
  } else if (event.key === "Enter") {
    insertCanned();
  } else if (event.key === "Escape") {
    closeCannedPicker();
    event.stopPropagation(); // the console's Esc would leave the conversation
  } else {
    return;
  }
  event.preventDefault();
}

/* ---------- the library, for supervisors ---------- */

async function openCannedLibrary() {
  closeCannedPicker({ focusComposer: false });
  fill($("canned-form-team"), h("option", { value: "" }, "Every team"), await teamOptions());
  editCanned(null);
  await Promise.all([loadCannedLibrary(), loadProposals()]);
  $("canned-dialog").showModal();
}

async function loadCannedLibrary() {
  try {
    const replies = (await api("GET", "/canned-replies")).replies;
    fill(
      $("canned-library"),
      replies.map((reply) =>
        h(
          "li",
          { class: "canned-item" },
          h("span", { class: "canned-title" }, reply.title),
          h("span", { class: "hint" }, reply.team ? teamName(reply.team) : "Every team"),
          h("button", { type: "button", class: "btn", dataset: { edit: reply.id } }, "Edit"),
          h("button", { type: "button", class: "btn", dataset: { remove: reply.id } }, "Delete"),
        ),
      ),
    );
    canned.library = replies;
  } catch (error) {
    showError("canned-form-error", error.message);
  }
}

/* Mined replies agents keep sending unchanged (suggestions): adding one keeps its text. */
async function loadProposals() {
  try {
    canned.proposals = (await api("GET", "/suggestions/proposals")).proposals;
  } catch (error) {
    canned.proposals = [];
    showError("canned-form-error", error.message);
  }
  fill(
    $("canned-proposals"),
    canned.proposals.map((item) =>
      h(
        "li",
        { class: "canned-item" },
        h("span", { class: "canned-text" }, item.text),
        h("span", { class: "hint" }, `sent unchanged ${item.used_unchanged} times`),
        h("button", { type: "button", class: "btn", dataset: { propose: item.id } }, "Add to library"),
      ),
    ),
  );
  $("canned-proposals-box").hidden = !canned.proposals.length;
}

function editProposal(item) {
  editCanned({ team: item.team, language: item.language, topics: item.topic ? [item.topic] : [], text: item.text });
  canned.proposal = item.id;
  $("canned-form-text").readOnly = true; // the text agents sent is what gets approved
  $("canned-form-save").textContent = "Add to library";
  $("canned-form-title").focus();
}

function editCanned(reply) {
  canned.proposal = null;
  $("canned-form-text").readOnly = false;
  canned.editing = reply?.id ?? null;
  $("canned-form-title").value = reply?.title ?? "";
  $("canned-form-team").value = reply?.team ?? "";
  $("canned-form-shortcut").value = reply?.shortcut ?? "";
  $("canned-form-language").value = reply?.language ?? "en";
  $("canned-form-topics").value = (reply?.topics ?? []).join(", ");
  $("canned-form-text").value = reply?.text ?? "";
  $("canned-form-save").textContent = reply?.id ? "Save changes" : "Add reply";
  showError("canned-form-error", null);
}

async function saveCanned(event) {
  event.preventDefault();
  const body = {
    title: $("canned-form-title").value,
    team: $("canned-form-team").value || null,
    shortcut: $("canned-form-shortcut").value.trim() || null,
    language: $("canned-form-language").value.trim() || "en",
    topics: $("canned-form-topics").value.split(",").map((topic) => topic.trim()).filter(Boolean),
    text: $("canned-form-text").value,
  };
  try {
    if (canned.proposal) {
      const path = `/suggestions/proposals/${encodeURIComponent(canned.proposal.replace(/^mined:/, ""))}/approve`;
      await api("POST", path, { title: body.title, team: body.team });
    } else if (canned.editing) await api("PUT", `/canned-replies/${encodeURIComponent(canned.editing)}`, body);
    else await api("POST", "/canned-replies", body);
    editCanned(null);
    await Promise.all([loadCannedLibrary(), loadProposals()]);
  } catch (error) {
    showError("canned-form-error", error.message);
  }
}

async function onLibraryClick(event) {
  const edit = event.target.closest("[data-edit]");
  const remove = event.target.closest("[data-remove]");
  if (edit) editCanned(canned.library.find((reply) => reply.id === edit.dataset.edit));
  if (remove) {
    try {
      await api("DELETE", `/canned-replies/${encodeURIComponent(remove.dataset.remove)}`);
      if (canned.editing === remove.dataset.remove) editCanned(null);
      await loadCannedLibrary();
    } catch (error) {
      showError("canned-form-error", error.message);
    }
  }
}

function bindCanned() {
  $("canned-open").addEventListener("click", () => openCannedPicker());
  $("composer-text").addEventListener("keydown", (event) => {
    // "/" at the start of an empty reply opens the picker, like chat apps' slash commands
    if (event.key === "/" && !event.target.value && state.composeMode === "reply") {
      event.preventDefault();
      openCannedPicker("/");
    }
  });
  $("canned-search").addEventListener("input", () => {
    clearTimeout(canned.searchTimer);
    canned.searchTimer = setTimeout(searchCanned, 150);
  });
  $("canned-search").addEventListener("keydown", onCannedSearchKey);
  $("canned-list").addEventListener("click", (event) => {
    const item = event.target.closest("[data-index]");
    if (item) insertCanned(Number(item.dataset.index));
  });
  $("canned-close").addEventListener("click", () => closeCannedPicker());
  $("canned-manage").addEventListener("click", openCannedLibrary);
  $("canned-form").addEventListener("submit", saveCanned);
  $("canned-form-new").addEventListener("click", () => editCanned(null));
  $("canned-library").addEventListener("click", onLibraryClick);
  $("canned-proposals").addEventListener("click", (event) => {
    const button = event.target.closest("[data-propose]");
    if (button) editProposal(canned.proposals.find((item) => item.id === button.dataset.propose));
  });
  $("canned-dialog-close").addEventListener("click", () => $("canned-dialog").close());
}

bindCanned();
