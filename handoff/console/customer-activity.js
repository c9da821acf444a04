/* Whether the web chat customer is still there, in the conversation header: "Customer online",
   "Customer typing…", "Left the page 3 min ago" (docs/handoff-service.md, "Customer activity").
   The conversation detail brings the last report (`customer_activity`), live
   `customer.activity` events the newer ones; the newest `at` wins. Loaded after console.js and
   uses its helpers (state, $, h, now, duration). */
"use strict";

// A "typing" report is repeated every few seconds while the customer types; one this old
// without a follow-up (a lost "stopped typing") reads as online.
const TYPING_SHOWN_MS = 10000;
// conversation id -> {state, at} from live events, for conversations opened (the detail of
// any other one brings what the service knows when it is opened)
const liveActivity = new Map();

function newestActivity(c) {
  const loaded = c.customer_activity ?? null;
  const live = liveActivity.get(c.id) ?? null;
  if (!loaded || !live) return loaded ?? live;
  return Date.parse(live.at) > Date.parse(loaded.at) ? live : loaded;
}

/* Called by renderConversation for the header. */
function customerActivityPill(c) {
  const activity = newestActivity(c);
  if (!activity) return null;
  const el = h("span", {
    class: "pill customer-activity",
    dataset: { activity: activity.state, activityAt: activity.at },
    title: `Reported ${new Date(activity.at).toLocaleString()}`,
  });
  updateActivityPill(el);
  return el;
}

function updateActivityPill(el) {
  const since = now() - Date.parse(el.dataset.activityAt);
  let shown = el.dataset.activity;
  if (shown === "typing" && since > TYPING_SHOWN_MS) shown = "online";
  el.dataset.shown = shown;
  if (shown === "typing") el.textContent = "Customer typing…";
  else if (shown === "online") el.textContent = "Customer online";
  else el.textContent = `Left the page ${since < 60000 ? "just now" : `${duration(since)} ago`}`;
}

function onCustomerActivity(event) {
  const id = event.conversation_id;
  if (event.type !== "customer.activity" || state.open?.id !== id) return;
  const known = liveActivity.get(id);
  const activity = event.customer_activity;
  if (known && Date.parse(known.at) > Date.parse(activity.at)) return;
  liveActivity.set(id, activity);
  const pill = customerActivityPill(state.open);
  const shown = $("conv-meta").querySelector(".customer-activity");
  if (shown) shown.replaceWith(pill);
  else $("conv-meta").prepend(pill);
}

document.addEventListener("console:event", (event) => onCustomerActivity(event.detail));
setInterval(() => {
  for (const el of document.querySelectorAll("[data-activity-at]")) updateActivityPill(el);
}, 1000);
