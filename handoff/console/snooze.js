/* Snooze in the console: the "Snooze" action opens a dialog (until the customer replies, a
   preset time or a chosen one, with a reminder note); a snoozed conversation shows a pill with
   its wake-up time in its row and header, and "Wake now". Loaded after console.js and uses its
   helpers (state, api, act, $, h, …). */
"use strict";

const SNOOZE_PRESETS = {
  reply: () => null,
  tomorrow: () => {
    const at = new Date(now());
    at.setDate(at.getDate() + 1);
    at.setHours(9, 0, 0, 0);
    return at;
  },
  twodays: () => new Date(now() + 2 * 86400000),
  week: () => new Date(now() + 7 * 86400000),
};

function snoozePill(c) {
  if (!c.snooze) return null;
  const until = c.snooze.until ? new Date(c.snooze.until) : null;
  const label = until
    ? `Snoozed until ${until.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" })}`
    : "Snoozed until the customer replies";
  return h("span", { class: "pill snoozed", title: c.snooze.note ?? "" }, label);
}

function renderSnoozeAction(c, can) {
  $("act-snooze").hidden = !can.snooze || Boolean(c.snooze);
  $("act-unsnooze").hidden = !can.snooze || !c.snooze;
}

function openSnooze() {
  $("snooze-choice").value = "reply";
  $("snooze-at").value = "";
  $("snooze-at").hidden = true;
  $("snooze-note").value = "";
  showError("snooze-error", null);
  $("snooze-dialog").showModal();
}

async function submitSnooze(event) {
  event.preventDefault();
  const choice = $("snooze-choice").value;
  let until = null;
  if (choice === "at") {
    if (!$("snooze-at").value) return showError("snooze-error", "Choose when it should come back.");
    until = new Date($("snooze-at").value);
  } else {
    until = SNOOZE_PRESETS[choice]();
  }
  const note = $("snooze-note").value.trim() || null;
  const c = state.open;
  try {
    const updated = await api("POST", `/conversations/${encodeURIComponent(c.id)}/snooze`, {
      until: until ? until.toISOString() : null,
      note,
    });
    applyConversation(updated);
    $("snooze-dialog").close();
  } catch (error) {
    showError("snooze-error", error.message);
  }
}

function bindSnooze() {
  $("act-snooze").addEventListener("click", openSnooze);
  $("act-unsnooze").addEventListener("click", () => act("unsnooze"));
  $("snooze-form").addEventListener("submit", submitSnooze);
  $("snooze-cancel").addEventListener("click", () => $("snooze-dialog").close());
  $("snooze-choice").addEventListener("change", () => {
    $("snooze-at").hidden = $("snooze-choice").value !== "at";
  });
}

bindSnooze();
