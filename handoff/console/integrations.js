/* Console integrations for the open conversation: the CRM record, the CSAT survey and
 * transcript exports, in a section of the side panel (docs/integrations.md). Loaded after
 * console.js and built on its helpers (h, fill, api, state); console.js re-renders the side
 * panel often, so the section is kept here and put back each time. Text from the CRM and the
 * customer is only ever set as text. */
"use strict";

const EXPORT_FORMATS = [
  ["json", "JSON"],
  ["csv", "CSV"],
  ["html", "Printable page"],
];
const CRM_MESSAGES = {
  not_found: "No CRM record for this customer.",
  not_configured: "No CRM is connected.",
};

const integrations = {
  conversationId: null,
  status: null, // the open conversation's status when its survey was last loaded
  section: null,
  lookup: 0, // the latest lookup's number: an older answer arriving late is dropped
};

function integrationsSection() {
  const formats = EXPORT_FORMATS.map(([format, label]) =>
    h("button", { type: "button", class: "btn btn-quiet", dataset: { export: format } }, label),
  );
  const section = h(
    "section",
    { id: "integrations", class: "integrations", "aria-label": "Customer record and export" },
    h("h3", {}, "CRM"),
    h("div", { id: "crm-body", class: "crm-body", "aria-live": "polite" }),
    h("h3", {}, "Satisfaction survey"),
    h("div", { id: "csat-body", class: "csat-body" }),
    h("h3", {}, "Export transcript"),
    h(
      "label",
      { class: "export-notes" },
      h("input", { type: "checkbox", id: "export-notes" }),
      " with internal notes",
    ),
    h("div", { class: "export-buttons" }, formats),
    h("p", { id: "export-error", class: "inline-error", role: "alert", hidden: true }),
  );
  section.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-export]");
    if (button) downloadTranscript(button.dataset.export);
    if (event.target.closest("button[data-crm-retry]")) loadCrm();
  });
  return section;
}

function renderCrm(result) {
  const body = document.getElementById("crm-body");
  if (!body) return;
  if (result === null) {
    fill(body, h("p", { class: "hint" }, "Looking up the customer…"));
    return;
  }
  if (result.status === "ok") {
    fill(
      body,
      h(
        "dl",
        { class: "facts crm-facts" },
        result.fields.map((field) => [h("dt", {}, field.label), h("dd", {}, field.value)]),
      ),
      h("p", { class: "hint" }, result.cached ? "From the CRM (cached)" : "From the CRM"),
    );
    return;
  }
  const unavailable = result.status === "unavailable";
  fill(
    body,
    h(
      "p",
      { class: unavailable ? "crm-unavailable" : "hint", dataset: { crmStatus: result.status } },
      unavailable ? "CRM unavailable" : (CRM_MESSAGES[result.status] ?? result.message),
    ),
    unavailable && result.message ? h("p", { class: "hint" }, result.message) : null,
    unavailable
      ? h("button", { type: "button", class: "btn btn-quiet", dataset: { crmRetry: "" } }, "Retry")
      : null,
  );
}

async function loadCrm() {
  const id = integrations.conversationId;
  const number = ++integrations.lookup;
  renderCrm(null);
  let result;
  try {
    result = await api("GET", `/conversations/${encodeURIComponent(id)}/crm`);
  } catch (error) {
    result = { status: "unavailable", message: error.message };
  }
  if (number === integrations.lookup && integrations.conversationId === id) renderCrm(result);
}

const SCALE_TOP = { csat_5: 5, nps_10: 10 };

function surveyLine(survey) {
  if (survey.status === "answered") {
    const score = `${survey.score}/${SCALE_TOP[survey.scale] ?? "?"}`;
    return [h("strong", {}, `Answered ${score}`), survey.comment ? ` — “${survey.comment}”` : ""];
  }
  if (survey.status === "sent") return "Survey sent, no answer yet";
  if (survey.status === "eligible") {
    const at = survey.due_at && new Date(survey.due_at).toLocaleTimeString([], { timeStyle: "short" });
    return `Survey due${at ? ` at ${at}` : ""}, not sent yet`;
  }
  return `Not sent: ${survey.reason}`;
}

async function loadCsat() {
  const id = integrations.conversationId;
  let surveys = [];
  try {
    surveys = (await api("GET", `/conversations/${encodeURIComponent(id)}/csat`)).surveys;
  } catch {
    surveys = null;
  }
  const body = document.getElementById("csat-body");
  if (!body || integrations.conversationId !== id) return;
  if (surveys === null) fill(body, h("p", { class: "hint" }, "Survey unavailable"));
  else if (!surveys.length) fill(body, h("p", { class: "hint" }, "Not resolved by a person yet"));
  else {
    const lines = surveys.map((survey) =>
      h("p", { dataset: { csat: survey.status } }, surveyLine(survey)),
    );
    fill(body, lines);
  }
}

async function downloadTranscript(format) {
  const id = integrations.conversationId;
  const notes = document.getElementById("export-notes").checked;
  const query = new URLSearchParams({ format, notes: String(notes) });
  showError("export-error", null);
  try {
    const response = await fetch(`${API}/conversations/${encodeURIComponent(id)}/export?${query}`, {
      headers: { Authorization: `Bearer ${state.token}` },
    });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new Error(data?.message ?? `The service answered ${response.status}.`);
    }
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: `conversation-${id}.${format}`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (error) {
    showError("export-error", error.message || "The export failed. Please try again.");
  }
}

/** Put the section back into the side panel after console.js re-rendered it, and look the
 * customer up again when another conversation is open. */
function keepIntegrationsSection() {
  const triage = document.getElementById("triage");
  if (!triage || !state.open) return;
  if (!integrations.section) integrations.section = integrationsSection();
  if (!triage.contains(integrations.section)) triage.append(integrations.section);
  if (state.open.id !== integrations.conversationId) {
    integrations.conversationId = state.open.id;
    integrations.status = state.open.status;
    document.getElementById("export-notes").checked = false;
    showError("export-error", null);
    loadCrm();
    loadCsat();
  } else if (state.open.status !== integrations.status) {
    integrations.status = state.open.status; // resolved (or reopened) meanwhile
    loadCsat();
  }
}

new MutationObserver(keepIntegrationsSection).observe(document.getElementById("triage"), {
  childList: true,
});
