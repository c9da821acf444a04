/* Outbound webhooks for admins, in a dialog of the console (docs/webhooks.md): register an
 * endpoint and pick its events, see its health and delivery log, redeliver, pause, rotate the
 * secret, remove it. Loaded after console.js and built on its helpers (h, fill, api, state). */
"use strict";

const WEBHOOK_STATUSES = { pending: "Pending", delivered: "Delivered", failed: "Given up" };

const webhookAdmin = { events: [], endpoints: [], openEndpoint: null, status: "" };

function webhookDialog() {
  let dialog = document.getElementById("webhooks-dialog");
  if (dialog) return dialog;
  dialog = h(
    "dialog",
    { id: "webhooks-dialog", class: "dialog webhooks-dialog", "aria-labelledby": "webhooks-title" },
    h(
      "div",
      { class: "webhooks-head" },
      h("h2", { id: "webhooks-title" }, "Outbound webhooks"),
      h("button", { type: "button", class: "btn btn-quiet", id: "webhooks-close" }, "Close"),
    ),
    h("p", { id: "webhooks-error", class: "inline-error", role: "alert", hidden: true }),
    h("ul", { id: "webhooks-list", class: "webhooks-list" }),
    h("section", { id: "webhook-log", class: "webhook-log", hidden: true }),
    h(
      "form",
      { id: "webhook-form", class: "webhook-form" },
      h("h3", {}, "Register an endpoint"),
      h("label", { for: "webhook-url" }, "URL"),
      h("input", {
        id: "webhook-url",
        type: "url",
        required: true,
        maxlength: "2000",
        placeholder: "https://crm.example/hooks/lumen",
      }),
      h("label", { for: "webhook-description" }, "Description (optional)"),
      h("input", { id: "webhook-description", maxlength: "200" }),
      h("fieldset", { id: "webhook-events", class: "webhook-events" }, h("legend", {}, "Events")),
      h("button", { type: "submit", class: "btn btn-primary" }, "Register"),
    ),
    h("p", { id: "webhook-secret", class: "webhook-secret", role: "status", hidden: true }),
  );
  document.body.append(dialog);
  document.getElementById("webhooks-close").addEventListener("click", () => dialog.close());
  document.getElementById("webhook-form").addEventListener("submit", registerWebhook);
  dialog.addEventListener("click", onWebhookAction);
  return dialog;
}

async function openWebhooks() {
  const dialog = webhookDialog();
  if (!dialog.open) dialog.showModal();
  await loadWebhooks();
}

async function loadWebhooks() {
  try {
    const data = await api("GET", "/webhooks");
    webhookAdmin.events = data.events;
    webhookAdmin.endpoints = data.webhooks;
    showError("webhooks-error", null);
  } catch (error) {
    showError("webhooks-error", error.message);
  }
  renderWebhooks();
}

function endpointHealth(endpoint) {
  if (!endpoint.active) return h("span", { class: "pill" }, "Paused by an admin");
  if (endpoint.paused_until)
    return h(
      "span",
      { class: "pill webhook-down" },
      `Not answering (${endpoint.failures} in a row), next try `,
      timeEl(endpoint.paused_until),
    );
  return h("span", { class: "pill webhook-ok" }, "Healthy");
}

function renderWebhooks() {
  const picked = new Set(
    [...document.querySelectorAll("#webhook-events input:checked")].map((box) => box.value),
  );
  fill(
    document.getElementById("webhook-events"),
    h("legend", {}, "Events"),
    webhookAdmin.events.map((name) =>
      h(
        "label",
        {},
        h("input", { type: "checkbox", value: name, checked: picked.has(name) }),
        ` ${name}`,
      ),
    ),
  );
  const list = document.getElementById("webhooks-list");
  if (!webhookAdmin.endpoints.length) {
    fill(list, h("li", { class: "hint" }, "No endpoints yet."));
    return;
  }
  fill(
    list,
    webhookAdmin.endpoints.map((endpoint) =>
      h(
        "li",
        { class: "webhook", dataset: { endpoint: endpoint.id } },
        h("div", { class: "webhook-url" }, endpoint.url),
        endpoint.description ? h("div", { class: "hint" }, endpoint.description) : null,
        h(
          "div",
          { class: "chips" },
          endpointHealth(endpoint),
          h("span", { class: "pill" }, `${endpoint.pending} pending`),
          endpoint.events.map((name) => h("span", { class: "pill signal" }, name)),
        ),
        h(
          "div",
          { class: "webhook-actions" },
          h("button", { type: "button", class: "btn", dataset: { act: "log" } }, "Deliveries"),
          h(
            "button",
            { type: "button", class: "btn", dataset: { act: "toggle" } },
            endpoint.active ? "Pause" : "Resume",
          ),
          h("button", { type: "button", class: "btn", dataset: { act: "rotate" } }, "New secret"),
          h("button", { type: "button", class: "btn", dataset: { act: "delete" } }, "Remove"),
        ),
      ),
    ),
  );
}

function showSecret(endpoint) {
  const box = document.getElementById("webhook-secret");
  box.hidden = false;
  fill(
    box,
    `Signing secret for ${endpoint.url} (shown only now; verify each delivery with it): `,
    h("code", {}, endpoint.secret),
  );
}

async function registerWebhook(event) {
  event.preventDefault();
  const events = [...document.querySelectorAll("#webhook-events input:checked")].map(
    (box) => box.value,
  );
  const body = {
    url: document.getElementById("webhook-url").value.trim(),
    description: document.getElementById("webhook-description").value.trim() || null,
    events,
  };
  try {
    const endpoint = await api("POST", "/webhooks", body);
    document.getElementById("webhook-form").reset();
    showSecret(endpoint);
    await loadWebhooks();
  } catch (error) {
    showError("webhooks-error", error.message);
  }
}

async function onWebhookAction(event) {
  const button = event.target.closest("button[data-act], button[data-redeliver]");
  if (!button) return;
  const id = button.closest("[data-endpoint]")?.dataset.endpoint;
  const endpoint = webhookAdmin.endpoints.find((e) => e.id === id);
  const path = `/webhooks/${encodeURIComponent(id ?? "")}`;
  try {
    if (button.dataset.redeliver) {
      await api("POST", `/webhook-deliveries/${button.dataset.redeliver}/redeliver`);
      await showLog(webhookAdmin.openEndpoint);
    } else if (button.dataset.act === "log") {
      await showLog(id);
    } else if (button.dataset.act === "toggle") {
      await api("PATCH", path, { active: !endpoint.active });
    } else if (button.dataset.act === "rotate") {
      showSecret(await api("POST", `${path}/rotate-secret`));
    } else if (button.dataset.act === "delete" && confirm(`Remove ${endpoint.url}?`)) {
      await api("DELETE", path);
      if (webhookAdmin.openEndpoint === id) document.getElementById("webhook-log").hidden = true;
    }
    showError("webhooks-error", null);
  } catch (error) {
    showError("webhooks-error", error.message);
  }
  await loadWebhooks();
}

function attemptText(delivery) {
  if (delivery.status === "delivered") return `HTTP ${delivery.last_status_code}`;
  return delivery.last_error ?? "not tried yet";
}

async function showLog(endpointId) {
  webhookAdmin.openEndpoint = endpointId;
  const section = document.getElementById("webhook-log");
  const query = webhookAdmin.status ? `?status=${webhookAdmin.status}` : "";
  const data = await api("GET", `/webhooks/${encodeURIComponent(endpointId)}/deliveries${query}`);
  const endpoint = webhookAdmin.endpoints.find((e) => e.id === endpointId);
  const filter = h(
    "select",
    { id: "webhook-log-status", "aria-label": "Show" },
    h("option", { value: "" }, "All"),
    Object.entries(WEBHOOK_STATUSES).map(([value, label]) =>
      h("option", { value, selected: value === webhookAdmin.status }, label),
    ),
  );
  filter.addEventListener("change", () => {
    webhookAdmin.status = filter.value;
    showLog(endpointId);
  });
  section.hidden = false;
  fill(
    section,
    h("h3", {}, `Deliveries to ${endpoint?.url ?? endpointId} (${data.count})`),
    filter,
    h(
      "table",
      { class: "webhook-table", dataset: { endpoint: endpointId } },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Event", "Status", "Attempts", "Last result", "Written", ""].map((t) => h("th", {}, t)),
        ),
      ),
      h(
        "tbody",
        {},
        data.deliveries.map((delivery) =>
          h(
            "tr",
            { dataset: { delivery: String(delivery.id), status: delivery.status } },
            h("td", {}, delivery.event_type),
            h("td", {}, WEBHOOK_STATUSES[delivery.status] ?? delivery.status),
            h("td", {}, String(delivery.attempts)),
            h("td", {}, attemptText(delivery)),
            h("td", {}, timeEl(delivery.created_at)),
            h(
              "td",
              {},
              h(
                "button",
                {
                  type: "button",
                  class: "btn btn-quiet",
                  dataset: { redeliver: String(delivery.id) },
                },
                "Redeliver",
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Admins get a "Webhooks" button in the top bar once they are signed in. */
function offerWebhooks() {
  const existing = document.getElementById("webhooks-button");
  const admin = state.me?.role === "admin";
  if (existing) existing.hidden = !admin;
  if (existing || !admin) return;
  const button = h(
    "button",
    { id: "webhooks-button", class: "btn btn-quiet", type: "button" },
    "Webhooks",
  );
  button.addEventListener("click", openWebhooks);
  document.getElementById("logout").before(button);
}

new MutationObserver(offerWebhooks).observe(document.getElementById("me-name"), {
  childList: true,
  characterData: true,
  subtree: true,
});
