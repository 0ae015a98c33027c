// Channels and private messages: the sidebar with unread badges, a conversation with its "New Messages" line.
import { api } from "/static/api.js";
import { el, when, toast } from "/static/ui.js";

const typingTimers = new Map();
let lastTypingSent = 0;

function conversationName(c, state) {
  if (c.kind === "private") {
    const others = (c.participants || c.members || []).filter((id) => id !== state.me.staff_id);
    const names = others.map((id) => state.staff.find((s) => s.staff_id === id)?.display_name || id);
    return names.join(", ") || c.name || "Just me";
  }
  return `# ${c.name}`;
}

export function renderConversationList(state) {
  const channels = document.getElementById("channel-list");
  const privates = document.getElementById("private-list");
  const item = (c) => el("li", {}, el("a", {
    href: `#c/${c.conversation_id}`, dataset: { conversation: c.conversation_id },
    class: [c.unread_count ? "unread" : "", state.view?.id === c.conversation_id ? "active" : ""].join(" "),
  }, conversationName(c, state), c.unread_count ? el("span", { class: "badge" }, String(c.unread_count)) : ""));
  channels.replaceChildren(...state.conversations.filter((c) => c.kind !== "private").map(item));
  privates.replaceChildren(...state.conversations.filter((c) => c.kind === "private").map(item));
}

export async function openConversation(state, conversationId) {
  const main = document.getElementById("main");
  const conversation = state.conversations.find((c) => c.conversation_id === conversationId);
  if (!conversation) {
    main.replaceChildren(el("p", { class: "empty" }, "This conversation is not available to you."));
    return;
  }
  const firstUnread = conversation.first_unread_seq;
  const around = firstUnread ? `around=${firstUnread}` : "before=latest";
  const page = await api("GET", `/api/chat/conversations/${conversationId}/messages?${around}&limit=50`);
  const messages = page.messages || page;
  const list = el("div", { class: "feed", id: "message-list" });
  for (const message of messages) {
    if (firstUnread && message.seq === firstUnread) list.append(el("div", { class: "new-messages", id: "new-messages-line" }, "New Messages"));
    list.append(renderMessage(message, state));
  }
  const box = el("textarea", { placeholder: `Message ${conversationName(conversation, state)}`, "aria-label": "Message" });
  const send = async () => {
    const text = box.value.trim();
    if (!text) return;
    box.value = "";
    try { await api("POST", `/api/chat/conversations/${conversationId}/messages`, { text }); }
    catch (error) { toast({ title: "Not sent", body: error.message }); box.value = text; }
  };
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); }
    else if (Date.now() - lastTypingSent > 3000) { lastTypingSent = Date.now(); import("/static/relay.js").then((m) => m.sendLive({ kind: "typing", conversation_id: conversationId })); }
  });
  main.replaceChildren(
    el("header", {}, el("h1", {}, conversationName(conversation, state)), conversation.topic ? el("span", { class: "topic" }, conversation.topic) : ""),
    list, el("div", { class: "typing", id: "typing" }),
    el("div", { class: "composer" }, box, el("button", { class: "primary", onclick: send }, "Send")));
  (document.getElementById("new-messages-line") || list.lastElementChild)?.scrollIntoView({ block: "center" });
  const lastSeq = messages.length ? messages[messages.length - 1].seq : 0;
  if (lastSeq) await markRead(state, conversation, lastSeq);
}

async function markRead(state, conversation, seq) {
  try {
    await api("POST", `/api/chat/conversations/${conversation.conversation_id}/read`, { up_to_seq: seq });
    await api("PUT", "/api/chat/me/position", { conversation_id: conversation.conversation_id, seq });
  } catch { /* read state catches up on the next open */ }
}

function renderMessage(message, state) {
  const mentioned = (message.mentions || []).includes(state.me.staff_id);
  const mine = message.author?.id === state.me.staff_id;
  return el("div", { class: `message${mentioned ? " mention" : ""}`, dataset: { seq: message.seq, messageId: message.message_id } },
    el("span", { class: "author" }, message.author?.name || ""),
    el("span", { class: "time" }, when(message.posted_at), message.edited_at ? el("span", { class: "edited" }, " (edited)") : ""),
    el("div", { class: "body" }, message.deleted ? "(message deleted)" : message.text),
    mine && !message.deleted ? el("div", { class: "tools" }) : "");
}

export function applyChatFrame(state, frame) {
  const type = frame.type || frame.kind;
  const payload = frame.payload || frame;
  const conversationId = payload.conversation?.conversation_id || payload.conversation_id;
  const viewing = state.view?.kind === "conversation" && state.view.id === conversationId && !document.hidden;
  if (type === "chat.message_posted" || type === "chat.message_edited") {
    if (viewing) {
      const list = document.getElementById("message-list");
      const existing = list?.querySelector(`[data-message-id="${CSS.escape(payload.message.message_id)}"]`);
      const node = renderMessage(payload.message, state);
      if (existing) existing.replaceWith(node); else list?.append(node);
      node.scrollIntoView({ block: "end" });
      if (type === "chat.message_posted" && payload.message.author?.id !== state.me.staff_id) {
        const c = state.conversations.find((x) => x.conversation_id === conversationId);
        if (c) markRead(state, c, payload.message.seq);
      }
    }
  } else if (type === "chat.message_deleted" && viewing) {
    const node = document.querySelector(`[data-message-id="${CSS.escape(payload.message_id)}"] .body`);
    if (node) node.textContent = "(message deleted)";
  } else if (type === "unread" || type === "chat.read_marker_moved") {
    const c = state.conversations.find((x) => x.conversation_id === conversationId);
    if (c) { c.unread_count = payload.unread ?? payload.unread_count ?? 0; if (!c.unread_count) c.first_unread_seq = null; }
    renderConversationList(state);
  } else if (type === "typing" && viewing) {
    const line = document.getElementById("typing");
    if (line) {
      line.textContent = `${payload.name || payload.staff_name || "Someone"} is typing…`;
      clearTimeout(typingTimers.get(conversationId));
      typingTimers.set(conversationId, setTimeout(() => { line.textContent = ""; }, 4000));
    }
  } else if (type && (type.startsWith("chat.conversation") || type === "chat.membership_changed")) {
    import("/static/relay.js").then((m) => m.refreshConversations());
  }
}
