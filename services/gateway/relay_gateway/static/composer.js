// The composer of a conversation: the text with @mention suggestions, a reply to one message (reply_to), and
// files attached by reference (a URL and a name). What is pending lives on `state.open` until it is sent.
import { api } from "/static/api.js";
import { el, toast } from "/static/ui.js";

const QUOTE_CHARS = 140;
const SUGGESTIONS_SHOWN = 6;
const CONTENT_TYPES = {
  pdf: "application/pdf", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp",
  txt: "text/plain", csv: "text/csv", doc: "application/msword", xls: "application/vnd.ms-excel",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

export function shortText(text, chars = QUOTE_CHARS) {
  const flat = (text || "").replace(/\s+/g, " ").trim();
  return flat.length > chars ? `${flat.slice(0, chars - 1)}…` : flat;
}

// What the composer of a conversation shows: "archived" (read only), "join" (not a member) or "write".
export function composerMode(conversation) {
  if (conversation.archived) return "archived";
  return conversation.is_member ? "write" : "join";
}

// hooks: name (the conversation's name), join(), typing(started), sent(message).
export function renderComposer(state, conversation, hooks) {
  const mode = composerMode(conversation);
  if (mode === "archived") {
    return el("div", { class: "composer closed", id: "composer", dataset: { mode } }, "This channel is archived: read only.");
  }
  if (mode === "join") {
    return el("div", { class: "composer closed", id: "composer", dataset: { mode } },
      el("button", { class: "primary", onclick: hooks.join }, `Join ${hooks.name}`));
  }
  const id = conversation.conversation_id;
  const box = el("textarea", { placeholder: `Message ${hooks.name}`, "aria-label": "Message", rows: 1 });
  box.value = state.drafts.get(id) || "";
  const extras = el("div", { class: "composer-extras", id: "composer-extras" });
  const suggestions = el("ul", { class: "mention-suggestions", id: "mention-suggestions", role: "listbox", "aria-label": "Mention someone", hidden: true });
  const attachForm = attachmentForm(state, () => { paintExtras(state); box.focus(); });
  const area = el("div", { class: "composer-area", id: "composer", dataset: { mode } }, extras, attachForm, suggestions,
    el("div", { class: "composer" },
      el("button", { type: "button", class: "link attach", "aria-label": "Attach a file", title: "Attach a file by its address",
        onclick: () => { attachForm.hidden = !attachForm.hidden; if (!attachForm.hidden) attachForm.querySelector("input").focus(); } }, "Attach"),
      box, el("button", { class: "primary", onclick: () => send() }, "Send")));
  const mentions = mentionSuggestions(state, box, suggestions);

  async function send() {
    const open = state.open;
    const text = box.value.trim();
    const attachments = [...(open?.attachments || [])];
    const replyTo = open?.replyTo;
    if (!open || (!text && !attachments.length)) return;
    box.value = "";
    state.drafts.delete(id);
    Object.assign(open, { attachments: [], replyTo: null });
    paintExtras(state);
    hooks.typing(false);
    const body = { text, client_message_id: clientMessageId() };
    if (replyTo) body.reply_to = replyTo.message_id;
    if (attachments.length) body.attachments = attachments;
    try {
      hooks.sent(await api("POST", `/api/chat/conversations/${encodeURIComponent(id)}/messages`, body));
    } catch (error) {
      toast({ title: "Not sent", body: error.message });
      if (state.open !== open) return;
      if (!box.value) box.value = text;
      Object.assign(open, { attachments: [...attachments, ...open.attachments], replyTo: open.replyTo || replyTo });
      paintExtras(state);
    }
  }

  box.addEventListener("keydown", (e) => {
    if (mentions.handleKey(e)) return;
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
    if (e.key === "Escape" && state.open?.replyTo) { e.stopPropagation(); cancelReply(state); }
  });
  box.addEventListener("input", () => {
    state.drafts.set(id, box.value);
    hooks.typing(Boolean(box.value.trim()));
    mentions.update();
  });
  box.addEventListener("blur", () => { hooks.typing(false); setTimeout(mentions.close, 150); });
  queueMicrotask(() => paintExtras(state));
  return area;
}

// ---- replying to a message -------------------------------------------------------------------------------

export function startReply(state, message) {
  if (!state.open) return;
  state.open.replyTo = message;
  paintExtras(state);
  document.querySelector("#composer textarea")?.focus();
}

function cancelReply(state) {
  if (state.open) state.open.replyTo = null;
  paintExtras(state);
}

// The reply being written and the files attached, above the text box.
function paintExtras(state) {
  const extras = document.getElementById("composer-extras");
  if (!extras) return;
  const replyTo = state.open?.replyTo;
  const attachments = state.open?.attachments || [];
  extras.replaceChildren(
    replyTo ? el("div", { class: "replying", id: "replying-to" },
      el("span", {}, "Replying to ", el("strong", {}, replyTo.author?.name || ""), `: ${shortText(replyTo.text, 80)}`),
      el("button", { class: "link", "aria-label": "Cancel reply", onclick: () => cancelReply(state) }, "✕")) : "",
    attachments.length ? el("ul", { class: "pending-attachments", "aria-label": "Attached files" }, ...attachments.map((file, index) =>
      el("li", {}, file.name, el("button", { class: "link", "aria-label": `Remove ${file.name}`, onclick: () => {
        state.open.attachments.splice(index, 1);
        paintExtras(state);
      } }, "✕")))) : "");
}

// ---- attaching a file by reference ------------------------------------------------------------------------

function attachmentForm(state, done) {
  const url = el("input", { type: "url", name: "url", "aria-label": "File address", placeholder: "https://… (where the file is)", required: true });
  const name = el("input", { name: "name", "aria-label": "File name", placeholder: "Name shown (optional)", maxlength: 255 });
  const error = el("span", { class: "error", role: "alert" });
  const form = el("form", { class: "attach-form", "aria-label": "Attach a file", hidden: true, novalidate: true }, url, name,
    el("button", { type: "submit", class: "primary" }, "Attach"),
    el("button", { type: "button", onclick: () => { form.hidden = true; error.textContent = ""; } }, "Cancel"), error);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let address;
    try { address = new URL(url.value.trim()); } catch { address = null; }
    if (!address || !["http:", "https:"].includes(address.protocol)) {
      error.textContent = "Give the file's full address, starting with https://";
      return;
    }
    const fileName = name.value.trim() || decodeURIComponent(address.pathname.split("/").pop() || "") || address.hostname;
    const extension = fileName.includes(".") ? fileName.split(".").pop().toLowerCase() : "";
    state.open.attachments = [...(state.open.attachments || []),
      { url: address.href, name: fileName, content_type: CONTENT_TYPES[extension] || "application/octet-stream" }];
    form.reset();
    error.textContent = "";
    form.hidden = true;
    done();
  });
  return form;
}

// ---- @mention suggestions -----------------------------------------------------------------------------------

function mentionSuggestions(state, box, list) {
  let matches = [];
  let chosen = 0;
  let start = -1;

  function close() { list.hidden = true; matches = []; }

  function update() {
    const before = box.value.slice(0, box.selectionStart);
    const typed = /(^|\s)@([\w.-]*)$/.exec(before);
    if (!typed) return close();
    const query = typed[2].toLowerCase();
    start = before.length - typed[2].length - 1;
    matches = state.staff.filter((s) => s.staff_id !== state.me.staff_id && s.username && (
      s.username.toLowerCase().startsWith(query) || (s.display_name || "").toLowerCase().split(/\s+/).some((w) => w.startsWith(query))))
      .slice(0, SUGGESTIONS_SHOWN);
    if (!matches.length) return close();
    chosen = Math.min(chosen, matches.length - 1);
    paint();
  }

  function paint() {
    list.replaceChildren(...matches.map((s, index) => el("li", {
      role: "option", "aria-selected": index === chosen ? "true" : "false", class: index === chosen ? "on" : "",
      onmousedown: (e) => { e.preventDefault(); pick(index); },
    }, el("strong", {}, `@${s.username}`), ` ${s.display_name}`)));
    list.hidden = false;
  }

  function pick(index) {
    const staff = matches[index];
    if (!staff) return;
    const caret = box.selectionStart;
    const inserted = `@${staff.username} `;
    box.value = box.value.slice(0, start) + inserted + box.value.slice(caret);
    box.selectionStart = box.selectionEnd = start + inserted.length;
    box.dispatchEvent(new Event("input"));
    close();
    box.focus();
  }

  function handleKey(e) {
    if (list.hidden || !matches.length) return false;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      chosen = (chosen + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      paint();
    } else if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey) pick(chosen);
    else if (e.key === "Escape") { e.stopPropagation(); close(); }
    else return false;
    e.preventDefault();
    return true;
  }

  return { update, close, handleKey };
}

function clientMessageId() {
  return globalThis.crypto?.randomUUID?.() || `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
