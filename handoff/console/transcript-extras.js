/* Attachments and reactions in the transcript (the shapes of contracts/transcript.py).
 * Loaded before console.js and called from its transcript rendering (it uses h, state, API). */
"use strict";

const ATTACHMENT_LABELS = {
  image: "Photo",
  video: "Video",
  audio: "Audio",
  voice: "Voice message",
  file: "File",
  sticker: "Sticker",
  location: "Location",
  contact: "Contact",
  link: "Link",
};
// Opened in a tab; anything else is downloaded (a customer's file never runs as a page here).
const SHOWN_INLINE = /^(image|video|audio)\/|^application\/pdf$/;

/** The customer's current reaction per reacted-to channel message id (the latest; "" removed). */
function reactionsByTarget(messages) {
  const byTime = [...messages].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  const reactions = new Map();
  for (const m of byTime) if (m.reaction) reactions.set(m.reaction.message_id, m.reaction.emoji);
  return reactions;
}

/** Lines to show: a reaction to a line in this transcript is shown on that line instead. */
function shownLines(messages) {
  const ids = new Set(messages.map((m) => m.channel_message_id).filter(Boolean));
  return messages.filter((m) => !m.reaction || !ids.has(m.reaction.message_id));
}

/** The pill on a line the customer reacted to, or what a reaction to an unseen line says. */
function reactionNote(m, reactions) {
  const emoji = m.channel_message_id ? reactions.get(m.channel_message_id) : "";
  if (emoji) return h("span", { class: "pill reaction", title: "The customer reacted" }, emoji);
  if (!m.reaction) return null;
  const said = m.reaction.emoji ? `Reacted ${m.reaction.emoji} to a message` : "Removed a reaction";
  return h("span", { class: "reaction" }, said);
}

/** Each attachment on its own line (after the text, when there is one). */
function attachmentParts(attachments, c, afterText) {
  return (attachments ?? []).map((raw, index) => {
    const a = typeof raw === "string" ? { kind: "link", url: raw } : raw;
    const kind = a.kind ?? a.type;
    const label = ATTACHMENT_LABELS[kind] ?? "Attachment";
    return [
      index > 0 || afterText ? h("br") : null,
      h(
        "span",
        { class: "attachment", dataset: { kind: kind ?? "file" } },
        `${label}`,
        a.filename ? ` (${a.filename})` : null,
        a.caption ? `: ${a.caption}` : null,
        attachmentDetails(a, kind, c),
      ),
    ];
  });
}

function attachmentDetails(a, kind, c) {
  if (kind === "location" && a.latitude != null && a.longitude != null) {
    const place = [a.name, a.address].filter(Boolean).join(", ");
    const map = `https://www.openstreetmap.org/?mlat=${a.latitude}&mlon=${a.longitude}#map=17/${a.latitude}/${a.longitude}`;
    return [
      place ? `: ${place}` : null,
      " ",
      h("a", { href: map, target: "_blank", rel: "noopener noreferrer" },
        `${a.latitude}, ${a.longitude}`),
    ];
  }
  if (kind === "contact" && a.contact) {
    return `: ${[a.contact.name, ...(a.contact.phones ?? []), ...(a.contact.emails ?? [])].join(" · ")}`;
  }
  if (a.media_id) {
    const open = h("button", { type: "button", class: "link-button" }, "Open");
    open.addEventListener("click", () => openMedia(c.id, a, open));
    return [" ", open];
  }
  if (/^https?:/i.test(a.url ?? "")) {
    return [" ", h("a", { href: a.url, target: "_blank", rel: "noopener noreferrer" }, a.url)];
  }
  return null;
}

/** Fetch the file through the service (the agent's token), then open or download it. */
async function openMedia(conversationId, a, button) {
  button.disabled = true;
  try {
    const path = `${API}/conversations/${conversationId}/media/${encodeURIComponent(a.media_id)}`;
    const response = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      button.replaceWith(h("span", { role: "status" }, ` ${data?.message ?? "Could not open the file."}`));
      return;
    }
    const blob = await response.blob();
    const inline = SHOWN_INLINE.test(blob.type);
    const url = URL.createObjectURL(new Blob([blob], { type: inline ? blob.type : "application/octet-stream" }));
    const link = h("a", inline
      ? { href: url, target: "_blank", rel: "noopener noreferrer" }
      : { href: url, download: a.filename ?? `${a.kind ?? "file"}-${a.media_id}` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } finally {
    button.disabled = false;
  }
}
