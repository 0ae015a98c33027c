// Channels and private messages: the sidebar with unread badges, a conversation with its "New Messages" line,
// the composer, editing and deleting, typing and presence. Everything reads and changes `state` (see relay.js).
import { api } from "/static/api.js";
import { el, when, toast, openLightbox, closeLightbox } from "/static/ui.js";

const CUSTOMER_FEED = "customer_issues";
const MANAGERS = new Set(["manager", "admin"]);
const PAGE = 50;
const MOST_LOADED_AT_OPEN = 400;   // unread messages loaded at once; older ones come with "Show older messages"
const TYPING_SHOWN_MS = 5000;      // notify: show a typing signal for ~5 s unless repeated
const TYPING_REPEAT_MS = 3000;     // notify throttles starts to one per 3 s
const READ_DELAY_MS = 250;         // messages arriving together are marked read together
const NEAR_BOTTOM_PX = 80;

const typers = new Map();          // conversation id -> Map(staff id -> {name, timer})
let typingIn = null;
let typingSentAt = 0;
let openTicket = 0;
let refreshTimer = null;
let readTimer = null;

// ---- conversations and the sidebar ----------------------------------------------------------------

export function isFeed(conversation) { return conversation?.feed === CUSTOMER_FEED; }

export function findConversation(state, id) { return state.conversations.find((c) => c.conversation_id === id); }

function others(conversation, state) { return (conversation.participants || []).filter((id) => id !== state.me.staff_id); }

function staffName(state, id) { return state.staff.find((s) => s.staff_id === id)?.display_name; }

export function conversationName(conversation, state) {
  if (conversation.kind === "private") {
    const names = others(conversation, state).map((id) => staffName(state, id)).filter(Boolean);
    return names.join(", ") || conversation.name || "Just me";
  }
  return `# ${conversation.name}`;
}

function presenceDot(state, staffId) {
  const status = state.presence[staffId] || "offline";
  return el("span", { class: `dot ${status}`, title: status, dataset: { presenceOf: staffId } });
}

// The badge hides while the conversation is open on screen: what arrives there is read at once.
function shownUnread(state, conversation) {
  const onScreen = state.open?.id === conversation.conversation_id && !document.hidden;
  return onScreen ? 0 : conversation.unread_count || 0;
}

export function renderConversationList(state) {
  const item = (c) => {
    const unread = shownUnread(state, c);
    const active = state.view?.kind === "conversation" && state.view.id === c.conversation_id;
    const single = c.kind === "private" && others(c, state).length === 1 ? others(c, state)[0] : null;
    return el("li", {}, el("a", {
      href: `#c/${c.conversation_id}`, dataset: { conversation: c.conversation_id },
      class: ["conversation", unread ? "unread" : "", active ? "active" : ""].join(" ").trim(),
    }, el("span", { class: "name" }, single ? presenceDot(state, single) : "", conversationName(c, state)),
    unread ? el("span", { class: "badge", title: `${unread} unread` }, String(unread)) : ""));
  };
  const listed = state.conversations.filter((c) => !isFeed(c));
  document.getElementById("channel-list").replaceChildren(...listed.filter((c) => c.kind !== "private").map(item));
  document.getElementById("private-list").replaceChildren(...listed.filter((c) => c.kind === "private").map(item));

  const feedChannel = state.conversations.find(isFeed);
  const feedCount = (state.view?.kind === "feed" ? 0 : state.feedUnread) + (feedChannel ? shownUnread(state, feedChannel) : 0);
  setBadge(document.getElementById("badge-feed"), feedCount);
  const total = state.conversations.reduce((sum, c) => sum + shownUnread(state, c), 0);
  setBadge(document.getElementById("badge-total"), total);
  document.title = total ? `(${total}) Relay — Messages` : "Relay — Messages";
}

function setBadge(badge, count) {
  badge.textContent = count ? String(count) : "";
  badge.hidden = !count;
}

export async function refreshConversations(state) {
  try {
    const body = await api("GET", "/api/chat/conversations");
    state.conversations = body.conversations || [];
  } catch { /* the list stays as it was; live frames or the next refresh bring it up to date */ }
  renderConversationList(state);
  if (state.open) renderHeader(state);
}

// Several membership or conversation events in a row cause one refresh.
function refreshSoon(state) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refreshConversations(state), 150);
}

function upsertConversation(state, conversation) {
  const index = state.conversations.findIndex((c) => c.conversation_id === conversation.conversation_id);
  if (index >= 0) state.conversations[index] = { ...state.conversations[index], ...conversation };
  else if (conversation.is_member) state.conversations.push(conversation);
}

// ---- badges from notify ------------------------------------------------------------------------------

function setUnread(state, id, counts) {
  const conversation = findConversation(state, id);
  if (!conversation) return false;
  conversation.unread_count = counts.unread ?? counts.unread_count ?? 0;
  conversation.first_unread_seq = conversation.unread_count ? counts.first_unread_seq ?? null : null;
  if (counts.read_up_to_seq != null) conversation.read_up_to_seq = counts.read_up_to_seq;
  if (counts.last_seq != null) conversation.last_seq = Math.max(conversation.last_seq || 0, counts.last_seq);
  return true;
}

export function applyUnread(state, frame) {
  const changes = frame.kind === "unread_snapshot" ? Object.entries(frame.conversations || {}) : [[frame.conversation_id, frame]];
  let unknown = false;
  for (const [id, counts] of changes) {
    if (!setUnread(state, id, counts) && (counts.unread || 0) > 0) unknown = true;
  }
  if (unknown) refreshSoon(state);
  renderConversationList(state);
}

// ---- chat events ------------------------------------------------------------------------------------

export function applyChatEvent(state, frame) {
  const payload = frame.payload || {};
  const id = payload.conversation?.conversation_id;
  if (state.loading?.id === id) state.loading.early.push(frame);
  const open = state.open?.id === id ? state.open : null;
  switch (frame.type) {
    case "chat.message_posted": {
      const message = { ...payload.message, conversation_id: id };
      const conversation = findConversation(state, id);
      if (conversation) {
        conversation.last_seq = Math.max(conversation.last_seq || 0, message.seq);
        conversation.last_message_at = message.posted_at;
      } else refreshSoon(state);
      stopShowingTyping(state, id, message.author?.id);
      if (open) {
        const mine = message.author?.id === state.me.staff_id;
        if (!mine && document.hidden && !document.getElementById("new-messages-line")) open.firstUnread = message.seq;
        showMessage(state, message);
        if (!mine && !document.hidden) readSoon(state);
      }
      return;
    }
    case "chat.message_edited":
      if (open) showMessage(state, { ...payload.message, conversation_id: id }, { onlyIfShown: true });
      return;
    case "chat.message_deleted":
      if (open) removeMessage(payload.message_id);
      return;
    case "chat.read_marker_moved":
      if (payload.staff_id === state.me.staff_id) {
        setUnread(state, id, { unread: payload.unread_count, first_unread_seq: payload.first_unread_seq,
          read_up_to_seq: payload.read_up_to_seq, last_seq: payload.last_seq });
        renderConversationList(state);
      }
      return;
    case "chat.membership_changed":
      refreshSoon(state);
      if (open && payload.member?.id === state.me.staff_id && ["left", "removed"].includes(payload.change)) {
        openConversation(state, id);
      }
      return;
    case "chat.conversation_created":
    case "chat.conversation_updated":
      refreshSoon(state);
      return;
    default:
      return; // chat.reading_position_saved: where this person is, already known here
  }
}

// ---- one conversation --------------------------------------------------------------------------------

export function leaveConversation(state) {
  openTicket += 1; // a conversation still loading is not shown any more
  stopTyping(state);
  state.open = null;
  state.loading = null;
}

export async function openConversation(state, conversationId) {
  const ticket = ++openTicket;
  const main = document.getElementById("main");
  state.loading = { id: conversationId, early: [] };
  let conversation;
  let page;
  try {
    conversation = await api("GET", `/api/chat/conversations/${encodeURIComponent(conversationId)}`);
    if (ticket !== openTicket) return;
    if (isFeed(conversation)) { location.hash = "#feed"; return; }
    upsertConversation(state, conversation);
    const firstUnread = conversation.unread_count ? conversation.first_unread_seq : null;
    page = await loadOpeningPage(conversationId, firstUnread);
    page.firstUnread = firstUnread;
  } catch (error) {
    if (ticket !== openTicket) return;
    state.loading = null;
    state.open = null;
    main.replaceChildren(el("header", {}, el("h1", {}, "Messages")),
      el("p", { class: "empty", id: "not-available" }, error.status === 404
        ? "This conversation is not available to you." : `Could not open the conversation: ${error.message}`));
    return;
  }
  if (ticket !== openTicket) return;
  const early = state.loading?.early || [];
  state.loading = null;
  state.open = { id: conversationId, conversation, firstUnread: page.firstUnread, oldestSeq: page.messages[0]?.seq || 0, lastSeq: 0 };

  const list = el("div", { class: "feed message-list", id: "message-list" });
  main.replaceChildren(el("header", { id: "conversation-header" }), list,
    el("div", { class: "typing", id: "typing", "aria-live": "polite" }), composer(state, conversation));
  renderHeader(state);
  if (page.hasMoreBefore) list.append(olderButton(state));
  for (const message of page.messages) showMessage(state, message, { scroll: false });
  for (const frame of early) applyChatEvent(state, frame);
  const line = document.getElementById("new-messages-line");
  if (line) line.scrollIntoView({ block: "start" }); else list.scrollTop = list.scrollHeight;
  paintTyping(state);
  renderConversationList(state);
  for (const shown of document.querySelectorAll(`#toasts .toast[data-conversation-id="${CSS.escape(conversationId)}"]`)) shown.remove();

  const lastSeq = state.open.lastSeq;
  if (conversation.is_member && lastSeq && !document.hidden) await markRead(state, conversationId, lastSeq);
  if (ticket === openTicket) await savePosition(conversationId, lastSeq);
}

// The first page: around the first unread message (and every unread one after it), or the latest.
async function loadOpeningPage(conversationId, firstUnread) {
  const base = `/api/chat/conversations/${encodeURIComponent(conversationId)}/messages`;
  const first = await api("GET", `${base}?${firstUnread ? `around=${firstUnread}` : "before=latest"}&limit=${PAGE}`);
  const messages = first.messages || [];
  let more = first.has_more_after;
  while (more && messages.length < MOST_LOADED_AT_OPEN) {
    const next = await api("GET", `${base}?after=${messages[messages.length - 1].seq}&limit=200`);
    messages.push(...(next.messages || []));
    more = next.has_more_after && (next.messages || []).length > 0;
  }
  return { messages, hasMoreBefore: first.has_more_before };
}

function olderButton(state) {
  const button = el("button", { class: "link load-older", onclick: async () => {
    const open = state.open;
    if (!open) return;
    button.disabled = true;
    try {
      const page = await api("GET", `/api/chat/conversations/${encodeURIComponent(open.id)}/messages?before=${open.oldestSeq}&limit=${PAGE}`);
      if (state.open !== open) return;
      const list = document.getElementById("message-list");
      const fromBottom = list.scrollHeight - list.scrollTop;
      button.remove();
      for (const message of page.messages || []) showMessage(state, message, { scroll: false });
      open.oldestSeq = page.messages?.[0]?.seq || open.oldestSeq;
      if (page.has_more_before) list.prepend(olderButton(state));
      list.scrollTop = list.scrollHeight - fromBottom;
    } catch (error) {
      button.disabled = false;
      toast({ title: "Could not load older messages", body: error.message });
    }
  } }, "Show older messages");
  return button;
}

function renderHeader(state) {
  const header = document.getElementById("conversation-header");
  if (!header || !state.open) return;
  const conversation = { ...state.open.conversation, ...(findConversation(state, state.open.id) || {}) };
  state.open.conversation = conversation;
  const details = [];
  if (conversation.kind === "private") {
    const people = others(conversation, state);
    for (const id of people) {
      const label = people.length === 1 ? el("span", { class: "presence-word", dataset: { presenceOf: id } }, state.presence[id] || "offline") : staffName(state, id) || "";
      details.push(el("span", { class: "person" }, presenceDot(state, id), label));
    }
  } else {
    if (conversation.topic) details.push(el("span", { class: "topic" }, conversation.topic));
    details.push(el("span", { class: "members" }, `${conversation.members_count} member${conversation.members_count === 1 ? "" : "s"}`));
    if (conversation.is_member && !conversation.default) {
      details.push(el("button", { class: "link", onclick: () => leaveChannel(state, conversation) }, "Leave"));
    }
  }
  header.replaceChildren(el("h1", {}, conversationName(conversation, state)), ...details);
}

async function leaveChannel(state, conversation) {
  try {
    await api("POST", `/api/chat/channels/${encodeURIComponent(conversation.conversation_id)}/leave`);
    state.conversations = state.conversations.filter((c) => c.conversation_id !== conversation.conversation_id);
    location.hash = "#feed";
  } catch (error) {
    toast({ title: "Not done", body: error.message });
  }
}

function composer(state, conversation) {
  const id = conversation.conversation_id;
  if (conversation.archived) return el("div", { class: "composer closed" }, "This channel is archived: read only.");
  if (!conversation.is_member) {
    return el("div", { class: "composer closed" }, el("button", { class: "primary", onclick: async () => {
      try {
        await api("POST", `/api/chat/channels/${encodeURIComponent(id)}/join`);
        await refreshConversations(state);
        await openConversation(state, id);
      } catch (error) { toast({ title: "Not joined", body: error.message }); }
    } }, `Join ${conversationName(conversation, state)}`));
  }
  const box = el("textarea", { placeholder: `Message ${conversationName(conversation, state)}`, "aria-label": "Message", rows: 1 });
  box.value = state.drafts.get(id) || "";
  const send = async () => {
    const text = box.value.trim();
    if (!text) return;
    box.value = "";
    state.drafts.delete(id);
    stopTyping(state);
    try {
      const message = await api("POST", `/api/chat/conversations/${encodeURIComponent(id)}/messages`, { text, client_message_id: clientMessageId() });
      if (state.open?.id === id) showMessage(state, message, { scroll: "always" });
    } catch (error) {
      toast({ title: "Not sent", body: error.message });
      if (!box.value) box.value = text;
    }
  };
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  box.addEventListener("input", () => {
    state.drafts.set(id, box.value);
    if (box.value.trim()) startTyping(state, id); else stopTyping(state);
  });
  box.addEventListener("blur", () => stopTyping(state));
  return el("div", { class: "composer" }, box, el("button", { class: "primary", onclick: send }, "Send"));
}

function clientMessageId() {
  return globalThis.crypto?.randomUUID?.() || `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

// ---- messages in the open conversation ---------------------------------------------------------------

function messageNodes(list) { return [...list.querySelectorAll(":scope > .message")]; }

// Put a message where its number says, replacing an older copy of it; the "New Messages" line goes above
// the first unread message.
function showMessage(state, message, { scroll = "if-near-bottom", onlyIfShown = false } = {}) {
  const list = document.getElementById("message-list");
  if (!list || message.deleted) return;
  const existing = list.querySelector(`:scope > [data-message-id="${CSS.escape(message.message_id)}"]`);
  if (existing) {
    if (!existing.classList.contains("editing")) existing.replaceWith(renderMessage(message, state));
    return;
  }
  if (onlyIfShown) return;
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
  const node = renderMessage(message, state);
  const after = messageNodes(list).find((n) => Number(n.dataset.seq) > message.seq);
  if (after) {
    const before = after.previousElementSibling;
    list.insertBefore(node, before?.id === "new-messages-line" ? before : after);
  } else list.append(node);
  if (state.open) {
    state.open.lastSeq = Math.max(state.open.lastSeq, message.seq);
    state.open.oldestSeq = Math.min(state.open.oldestSeq || message.seq, message.seq);
  }
  placeNewMessagesLine(state, list);
  if (scroll === "always" || (scroll === "if-near-bottom" && nearBottom)) list.scrollTop = list.scrollHeight;
}

function placeNewMessagesLine(state, list) {
  const firstUnread = state.open?.firstUnread;
  if (!firstUnread || document.getElementById("new-messages-line")) return;
  const target = messageNodes(list).find((n) => Number(n.dataset.seq) >= firstUnread && !n.classList.contains("mine"));
  if (target) list.insertBefore(el("div", { class: "new-messages", id: "new-messages-line", role: "separator" }, "New Messages"), target);
}

function removeMessage(messageId) {
  const node = document.querySelector(`#message-list > [data-message-id="${CSS.escape(messageId)}"]`);
  if (!node) return;
  const line = node.previousElementSibling?.id === "new-messages-line" ? node.previousElementSibling : null;
  node.remove();
  if (line && !line.nextElementSibling?.classList.contains("message")) line.remove();
}

function renderMessage(message, state) {
  const mentioned = (message.mentions || []).includes(state.me.staff_id);
  const mine = message.author?.id === state.me.staff_id;
  const mayDelete = mine || MANAGERS.has(state.me.role);
  const node = el("div", {
    class: ["message", mentioned ? "mention" : "", mine ? "mine" : ""].join(" ").trim(),
    dataset: { seq: message.seq, messageId: message.message_id },
  },
  el("span", { class: "author" }, message.author?.name || ""),
  el("span", { class: "time", title: message.posted_at || "" }, when(message.posted_at),
    message.edited_at ? el("span", { class: "edited" }, " (edited)") : ""),
  el("div", { class: "body" }, message.text || ""),
  (message.attachments || []).length ? el("div", { class: "attachments" }, ...message.attachments.map((a) =>
    el("a", { href: a.url, target: "_blank", rel: "noopener noreferrer" }, a.name || a.url))) : "",
  mine || mayDelete ? el("div", { class: "tools" },
    mine ? el("button", { class: "link", onclick: () => startEditing(node, message, state) }, "Edit") : "",
    mayDelete ? el("button", { class: "link", onclick: () => askToDelete(node, message, state) }, "Delete") : "") : "");
  return node;
}

function startEditing(node, message, state) {
  const box = el("textarea", { class: "edit-box", "aria-label": "Edit message", rows: 2 });
  box.value = message.text;
  const cancel = () => node.replaceWith(renderMessage(message, state));
  const save = async () => {
    const text = box.value.trim();
    if (!text || text === message.text) return cancel();
    try {
      const changed = await api("PATCH", `/api/chat/conversations/${encodeURIComponent(message.conversation_id)}/messages/${encodeURIComponent(message.message_id)}`, { text });
      node.replaceWith(renderMessage(changed, state));
    } catch (error) {
      toast({ title: "Not saved", body: error.message });
    }
  };
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); save(); }
    if (e.key === "Escape") { e.stopPropagation(); cancel(); }
  });
  node.classList.add("editing");
  node.querySelector(".body").replaceWith(el("div", { class: "body" }, box,
    el("div", { class: "actions" }, el("button", { class: "primary", onclick: save }, "Save"), el("button", { onclick: cancel }, "Cancel"))));
  node.querySelector(".tools")?.remove();
  box.focus();
}

function askToDelete(node, message, state) {
  node.querySelector(".tools").replaceWith(el("div", { class: "tools confirm" }, "Delete this message? ",
    el("button", { class: "link danger", onclick: async () => {
      try {
        await api("DELETE", `/api/chat/conversations/${encodeURIComponent(message.conversation_id)}/messages/${encodeURIComponent(message.message_id)}`);
        removeMessage(message.message_id);
      } catch (error) { toast({ title: "Not deleted", body: error.message }); }
    } }, "Yes, delete"),
    el("button", { class: "link", onclick: () => node.replaceWith(renderMessage(message, state)) }, "Cancel")));
}

// ---- read state and where I left off ----------------------------------------------------------------

async function markRead(state, conversationId, seq) {
  try {
    const read = await api("POST", `/api/chat/conversations/${encodeURIComponent(conversationId)}/read`, { up_to_seq: seq });
    setUnread(state, conversationId, { unread: read.unread_count, first_unread_seq: read.first_unread_seq,
      read_up_to_seq: read.read_up_to_seq, last_seq: read.last_seq });
    renderConversationList(state);
  } catch { /* the badge stays; the next open marks it read */ }
}

export async function savePosition(conversationId, seq) {
  try { await api("PUT", "/api/chat/me/position", { conversation_id: conversationId, seq: seq || 0 }); }
  catch { /* the module reopens at the previous place */ }
}

// Messages arriving in the open conversation on a visible tab are read: one call for a burst of them.
function readSoon(state) {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => markOpenConversationRead(state), READ_DELAY_MS);
}

export async function markOpenConversationRead(state) {
  const open = state.open;
  if (!open || document.hidden || !open.conversation.is_member || !open.lastSeq) return;
  const conversation = findConversation(state, open.id);
  if (conversation && (conversation.read_up_to_seq || 0) >= open.lastSeq && !conversation.unread_count) return;
  await markRead(state, open.id, open.lastSeq);
  await savePosition(open.id, open.lastSeq);
}

// ---- typing --------------------------------------------------------------------------------------------

function startTyping(state, conversationId) {
  if (typingIn === conversationId && Date.now() - typingSentAt < TYPING_REPEAT_MS) return;
  if (typingIn && typingIn !== conversationId) stopTyping(state);
  typingIn = conversationId;
  typingSentAt = Date.now();
  state.send({ kind: "typing", conversation_id: conversationId, state: "start" });
}

function stopTyping(state) {
  if (!typingIn) return;
  state.send({ kind: "typing", conversation_id: typingIn, state: "stop" });
  typingIn = null;
  typingSentAt = 0;
}

export function applyTyping(state, frame) {
  const people = typers.get(frame.conversation_id) || new Map();
  typers.set(frame.conversation_id, people);
  clearTimeout(people.get(frame.staff_id)?.timer);
  if (frame.state === "stop") people.delete(frame.staff_id);
  else {
    const timer = setTimeout(() => stopShowingTyping(state, frame.conversation_id, frame.staff_id), TYPING_SHOWN_MS);
    people.set(frame.staff_id, { name: frame.name || staffName(state, frame.staff_id) || "Someone", timer });
  }
  paintTyping(state);
}

function stopShowingTyping(state, conversationId, staffId) {
  const people = typers.get(conversationId);
  if (!people?.has(staffId)) return;
  clearTimeout(people.get(staffId).timer);
  people.delete(staffId);
  paintTyping(state);
}

function paintTyping(state) {
  const line = document.getElementById("typing");
  if (!line) return;
  const names = [...(typers.get(state.open?.id)?.values() || [])].map((p) => p.name);
  line.textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…`
    : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : "Several people are typing…";
}

// ---- presence ----------------------------------------------------------------------------------------

export function applyPresence(state, frame) {
  if (frame.kind === "presence_snapshot") state.presence = { ...(frame.statuses || {}) };
  else if (frame.status === "offline") delete state.presence[frame.staff_id];
  else state.presence[frame.staff_id] = frame.status;
  for (const shown of document.querySelectorAll("[data-presence-of]")) {
    const status = state.presence[shown.dataset.presenceOf] || "offline";
    if (shown.classList.contains("presence-word")) shown.textContent = status;
    else { shown.className = `dot ${status}`; shown.title = status; }
  }
}

// ---- starting a private message, creating or joining a channel ----------------------------------------

function colleagues(state) { return state.staff.filter((s) => s.staff_id !== state.me.staff_id); }

function pickList(state, name) {
  return el("div", { class: "pick" }, ...colleagues(state).map((s) =>
    el("label", {}, el("input", { type: "checkbox", name, value: s.staff_id }), presenceDot(state, s.staff_id), s.display_name)));
}

function checked(form, name) { return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value); }

export function newPrivateDialog(state) {
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "dialog", "aria-label": "New private message" },
    el("h2", {}, "New private message"),
    el("p", { class: "hint" }, "With whom? (up to 7 colleagues)"),
    pickList(state, "staff"), error,
    el("button", { type: "submit", class: "primary" }, "Start conversation"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const staffIds = checked(form, "staff");
    if (!staffIds.length) { error.textContent = "Pick at least one colleague."; return; }
    try {
      const conversation = await api("POST", "/api/chat/private", { staff_ids: staffIds });
      upsertConversation(state, conversation);
      renderConversationList(state);
      closeLightbox();
      location.hash = `#c/${conversation.conversation_id}`;
    } catch (e) { error.textContent = e.message; }
  });
  openLightbox(form);
}

export async function newChannelDialog(state) {
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "dialog", "aria-label": "New channel" },
    el("h2", {}, "New channel"),
    el("label", {}, "Name ", el("input", { name: "name", required: true, maxlength: 80, autocomplete: "off" })),
    el("label", {}, "Topic ", el("input", { name: "topic", maxlength: 250, autocomplete: "off" })),
    el("label", { class: "inline" }, el("input", { type: "checkbox", name: "is_private" }), "Private: only its members see it"),
    el("p", { class: "hint" }, "Add colleagues now (anyone can join a public channel later)"),
    pickList(state, "members"), error,
    el("button", { type: "submit", class: "primary" }, "Create channel"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      const conversation = await api("POST", "/api/chat/channels", {
        name: data.get("name"), topic: data.get("topic") || "", is_private: data.get("is_private") === "on",
        member_ids: checked(form, "members"),
      });
      upsertConversation(state, conversation);
      renderConversationList(state);
      closeLightbox();
      location.hash = `#c/${conversation.conversation_id}`;
    } catch (e) { error.textContent = e.message; }
  });
  const browse = el("div", { class: "browse" });
  openLightbox(form, browse);
  try {
    const joinable = (await api("GET", "/api/chat/channels")).channels.filter((c) => !c.is_member);
    if (joinable.length) {
      browse.append(el("h3", {}, "Or join a public channel"), el("ul", {}, ...joinable.map((c) => el("li", {},
        el("a", { href: `#c/${c.conversation_id}`, onclick: closeLightbox }, `# ${c.name}`), c.topic ? ` — ${c.topic}` : ""))));
    }
  } catch { /* browsing is optional */ }
}
