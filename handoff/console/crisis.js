/* Crisis tools for supervisors (docs/handoff-service.md, "Crisis tools"): a filter (text, tag,
   channel, time range) selects open conversations, "Preview" counts them, and one action tags
   them, moves them to a team, sends them one reply or resolves them; a tag or move can be undone
   at once. Resolving cannot be undone, so it asks first, with the count.
   Loaded after console.js and uses its helpers (state, api, $, h, fill, showError, …). */
"use strict";

const crisis = { last: null };
const CRISIS_VALUE_LABELS = { tag: "Tag", move: "Team", reply: "Reply" };

function crisisFilter() {
  const filter = {};
  const text = $("crisis-text").value.trim();
  const tag = $("crisis-tag-filter").value.trim();
  if (text) filter.text = text;
  if (tag) filter.tag = tag;
  if ($("crisis-channel").value) filter.channel = $("crisis-channel").value;
  if ($("crisis-since").value) filter.since = new Date($("crisis-since").value).toISOString();
  if ($("crisis-until").value) filter.until = new Date($("crisis-until").value).toISOString();
  return filter;
}

async function openCrisis() {
  fill($("crisis-team"), await teamOptions());
  crisis.last = null;
  $("crisis-undo").hidden = true;
  $("crisis-confirm").hidden = true;
  $("crisis-result").textContent = "";
  $("crisis-count").textContent = "";
  showError("crisis-error", null);
  syncCrisisAction();
  $("crisis-dialog").showModal();
  $("crisis-text").focus();
}

function syncCrisisAction() {
  const action = $("crisis-action").value;
  $("crisis-value").hidden = action !== "tag";
  $("crisis-team").hidden = action !== "move";
  $("crisis-reply").hidden = action !== "reply";
  $("crisis-survey-field").hidden = action !== "resolve";
  const label = $("crisis-value-label");
  label.hidden = action === "resolve";
  label.htmlFor = { tag: "crisis-value", move: "crisis-team", reply: "crisis-reply" }[action] ?? "";
  label.textContent = CRISIS_VALUE_LABELS[action] ?? "";
}

function plural(count) {
  return `${count} open conversation${count === 1 ? "" : "s"}`;
}

async function previewCrisis() {
  showError("crisis-error", null);
  try {
    const found = await api("POST", "/bulk-actions/preview", { filter: crisisFilter() });
    const more = found.more ? " (more than the limit: narrow the filter)" : "";
    $("crisis-count").textContent = `${plural(found.count)} match${more}.`;
  } catch (error) {
    showError("crisis-error", error.message);
  }
}

function applyCrisis(event) {
  event.preventDefault();
  if ($("crisis-action").value === "resolve") return confirmResolve();
  return sendCrisis();
}

async function confirmResolve() {
  showError("crisis-error", null);
  try {
    const found = await api("POST", "/bulk-actions/preview", { filter: crisisFilter() });
    if (!found.count) {
      showError("crisis-error", "No open conversation matches the filter.");
      return;
    }
    $("crisis-confirm-text").textContent =
      `Resolve ${plural(found.count)}? Each customer is told theirs is closed; this cannot be undone. `;
    $("crisis-confirm").hidden = false;
    $("crisis-confirm-no").focus();
  } catch (error) {
    showError("crisis-error", error.message);
  }
}

async function sendCrisis() {
  const action = $("crisis-action").value;
  const body = { filter: crisisFilter(), action };
  if (action === "tag") body.tag = $("crisis-value").value;
  if (action === "move") body.team = $("crisis-team").value;
  if (action === "reply") body.text = $("crisis-reply").value;
  if (action === "resolve") body.survey = $("crisis-survey").checked;
  $("crisis-confirm").hidden = true;
  showError("crisis-error", null);
  try {
    const done = await api("POST", "/bulk-actions", body);
    crisis.last = done;
    const skipped = Object.keys(done.skipped ?? {}).length;
    $("crisis-result").textContent =
      `Done for ${done.count} conversation${done.count === 1 ? "" : "s"}` +
      (skipped ? `; ${skipped} left alone (${Object.values(done.skipped)[0]})` : "") + ".";
    $("crisis-undo").hidden = !done.undoable || done.count === 0;
    await loadQueue();
  } catch (error) {
    showError("crisis-error", error.message);
  }
}

async function undoCrisis() {
  if (!crisis.last) return;
  try {
    const undone = await api("POST", `/bulk-actions/${encodeURIComponent(crisis.last.id)}/undo`);
    $("crisis-result").textContent = `Undone for ${undone.restored.length} conversation${undone.restored.length === 1 ? "" : "s"}.`;
    $("crisis-undo").hidden = true;
    crisis.last = null;
    await loadQueue();
  } catch (error) {
    showError("crisis-error", error.message);
  }
}

function bindCrisis() {
  $("crisis-button").addEventListener("click", openCrisis);
  $("crisis-close").addEventListener("click", () => $("crisis-dialog").close());
  $("crisis-preview").addEventListener("click", previewCrisis);
  $("crisis-undo").addEventListener("click", undoCrisis);
  $("crisis-action").addEventListener("change", syncCrisisAction);
  $("crisis-form").addEventListener("submit", applyCrisis);
  $("crisis-confirm-yes").addEventListener("click", sendCrisis);
  const dropConfirm = () => ($("crisis-confirm").hidden = true);
  $("crisis-confirm-no").addEventListener("click", dropConfirm);
  $("crisis-form").addEventListener("input", dropConfirm); // it counted the filter as it was
  const showButton = () => {
    $("crisis-button").hidden = state.me?.viewer !== "supervisor";
  };
  new MutationObserver(showButton).observe($("app"), { attributes: true });
  showButton();
}

bindCrisis();
