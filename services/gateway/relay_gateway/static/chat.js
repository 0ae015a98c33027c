// Channels and private messages: the sidebar with unread badges, a conversation with its "New Messages" line,
// quotes of the messages replied to, editing and deleting, typing and presence; the composer is in composer.js.
// Everything reads and changes `state` (see relay.js).
import { api } from "/static/api.js";
import { el, when, toast, openLightbox, closeLightbox } from "/static/ui.js";
import { composerMode, renderComposer, shortText, startReply } from "/static/composer.js";
import { openChannelSettings } from "/static/channel-settings.js";
import { applyEvent } from "/static/events.js";

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

// An archived channel stays out of the sidebar unless it is the one on screen (the "+" dialog lists them).
function listed(state, conversation) {
  return !isFeed(conversation) && (!conversation.archived || state.open?.id === conversation.conversation_id);
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
      class: ["conversation", unread ? "unread" : "", active ? "active" : "", c.archived ? "archived" : ""].join(" ").trim(),
    }, el("span", { class: "name" }, single ? presenceDot(state, single) : "", conversationName(c, state)),
    unread ? el("span", { class: "badge", title: `${unread} unread` }, String(unread)) : ""));
  };
  const shown = state.conversations.filter((c) => listed(state, c));
  document.getElementById("channel-list").replaceChildren(...shown.filter((c) => c.kind !== "private").map(item));
  document.getElementById("private-list").replaceChildren(...shown.filter((c) => c.kind === "private").map(item));

  const feedChannel = state.conversations.find(isFeed);
  const feedCount = (state.view?.kind === "feed" ? 0 : state.feedUnread) + (feedChannel ? shownUnread(state, feedChannel) : 0);
  setBadge(document.getElementById("badge-feed"), feedCount);
  const total = state.conversations.reduce((sum, c) => sum + (isFeed(c) || listed(state, c) ? shownUnread(state, c) : 0), 0);
  setBadge(document.getElementById("badge-total"), total);
  document.title = total ? `(${total}) Relay — Messages` : "Relay — Messages";
}

function setBadge(badge, count) {
  badge.textContent = count ? String(count) : "";
  badge.hidden = !count;
}

export async function refreshConversations(state) {
  try {
    const body = await api("GET", "/api/chat/conversations?include_archived=true");
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

// ---- chat events (events.js maps each type to one of these) -------------------------------------------

function about(state, frame) {
  const payload = frame.payload || {};
  const id = payload.conversation?.conversation_id;
  return { payload, id, open: state.open?.id === id ? state.open : null };
}

// A conversation being opened replays what arrived while its messages loaded.
export function noteWhileOpening(state, frame) {
  const id = frame.payload?.conversation?.conversation_id;
  if (id && state.loading?.id === id) state.loading.early.push(frame);
}

export function onMessagePosted(state, frame) {
  const { payload, id, open } = about(state, frame);
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
}

export function onMessageEdited(state, frame) {
  const { payload, id, open } = about(state, frame);
  if (open) showMessage(state, { ...payload.message, conversation_id: id }, { onlyIfShown: true });
}

export function onMessageDeleted(state, frame) {
  const { payload, open } = about(state, frame);
  if (open) removeMessage(state, payload.message_id);
}

export function onReadMarkerMoved(state, frame) {
  const { payload, id } = about(state, frame);
  if (payload.staff_id !== state.me.staff_id) return;
  setUnread(state, id, { unread: payload.unread_count, first_unread_seq: payload.first_unread_seq,
    read_up_to_seq: payload.read_up_to_seq, last_seq: payload.last_seq });
  renderConversationList(state);
}

export function onMembershipChanged(state, frame) {
  const { payload, id, open } = about(state, frame);
  refreshSoon(state);
  if (open && payload.member?.id === state.me.staff_id && ["left", "removed"].includes(payload.change)) {
    openConversation(state, id);
  }
}

export function onConversationChanged(state) {
  refreshSoon(state);
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
  state.open = { id: conversationId, conversation, firstUnread: page.firstUnread, oldestSeq: page.messages[0]?.seq || 0, lastSeq: 0,
    known: new Map(), replyTo: null, attachments: [] };

  const list = el("div", { class: "feed message-list", id: "message-list" });
  main.replaceChildren(el("header", { id: "conversation-header" }), list,
    el("div", { class: "typing", id: "typing", "aria-live": "polite" }), composer(state, conversation));
  for (const message of page.messages) state.open.known.set(message.message_id, message);
  renderHeader(state);
  if (page.hasMoreBefore) list.append(olderButton(state));
  for (const message of page.messages) showMessage(state, message, { scroll: false });
  for (const frame of early) applyEvent(state, frame);
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
    if (conversation.archived) details.push(el("span", { class: "tag archived" }, "Archived"));
    if (conversation.topic) details.push(el("span", { class: "topic", id: "conversation-topic", title: conversation.topic }, conversation.topic));
    const settings = () => channelSettings(state, conversation);
    details.push(el("button", { class: "link members", title: "Who is in this channel", onclick: settings },
      `${conversation.members_count} member${conversation.members_count === 1 ? "" : "s"}`));
    details.push(el("button", { class: "link", id: "channel-settings-button", onclick: settings }, "Channel settings"));
    if (conversation.is_member && !conversation.default) {
      details.push(el("button", { class: "link", onclick: () => leaveChannel(state, conversation) }, "Leave"));
    }
  }
  header.replaceChildren(el("h1", {}, conversationName(conversation, state)), ...details);
  syncComposer(state);
  document.querySelector("#composer textarea")?.setAttribute("placeholder", `Message ${conversationName(conversation, state)}`);
}

function channelSettings(state, conversation) {
  return openChannelSettings(state, conversation, {
    dot: (staffId) => presenceDot(state, staffId),
    changed: (changed) => {
      upsertConversation(state, changed);
      if (state.open?.id === changed.conversation_id) state.open.conversation = { ...state.open.conversation, ...changed };
      renderConversationList(state);
      renderHeader(state);
    },
  });
}

// Archiving, unarchiving or joining changes what the composer offers; a draft stays in state.drafts.
function syncComposer(state) {
  const shown = document.getElementById("composer");
  const conversation = state.open?.conversation;
  if (!shown || !conversation || shown.dataset.mode === composerMode(conversation)) return;
  shown.replaceWith(composer(state, conversation));
  for (const node of document.querySelectorAll("#message-list > .message")) {
    const message = state.open.known.get(node.dataset.messageId);
    if (message && !node.classList.contains("editing")) node.replaceWith(renderMessage(message, state));
  }
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
  return renderComposer(state, conversation, {
    name: conversationName(conversation, state),
    join: async () => {
      try {
        await api("POST", `/api/chat/channels/${encodeURIComponent(id)}/join`);
        await refreshConversations(state);
        await openConversation(state, id);
      } catch (error) { toast({ title: "Not joined", body: error.message }); }
    },
    typing: (started) => (started ? startTyping(state, id) : stopTyping(state)),
    sent: (message) => { if (state.open?.id === id) showMessage(state, message, { scroll: "always" }); },
  });
}

// ---- messages in the open conversation ---------------------------------------------------------------

function messageNodes(list) { return [...list.querySelectorAll(":scope > .message")]; }

// Put a message where its number says, replacing an older copy of it; the "New Messages" line goes above
// the first unread message.
function showMessage(state, message, { scroll = "if-near-bottom", onlyIfShown = false } = {}) {
  const list = document.getElementById("message-list");
  if (!list || message.deleted) return;
  if (state.open?.id === message.conversation_id) {
    state.open.known.set(message.message_id, message);
    paintQuotesOf(state, message.message_id);
  }
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

function removeMessage(state, messageId) {
  if (state.open) {
    state.open.known.set(messageId, { message_id: messageId, deleted: true });
    paintQuotesOf(state, messageId);
  }
  const node = document.querySelector(`#message-list > [data-message-id="${CSS.escape(messageId)}"]`);
  if (!node) return;
  const line = node.previousElementSibling?.id === "new-messages-line" ? node.previousElementSibling : null;
  node.remove();
  if (line && !line.nextElementSibling?.classList.contains("message")) line.remove();
}

function renderMessage(message, state) {
  const mentioned = (message.mentions || []).includes(state.me.staff_id);
  const mine = message.author?.id === state.me.staff_id;
  const conversation = state.open?.conversation;
  const writable = Boolean(conversation?.is_member && !conversation.archived);
  const mayDelete = writable && (mine || MANAGERS.has(state.me.role));
  const mayEdit = writable && mine;
  const node = el("div", {
    class: ["message", mentioned ? "mention" : "", mine ? "mine" : ""].join(" ").trim(),
    dataset: { seq: message.seq, messageId: message.message_id },
  },
  el("span", { class: "author" }, message.author?.name || ""),
  el("span", { class: "time", title: message.posted_at || "" }, when(message.posted_at),
    message.edited_at ? el("span", { class: "edited" }, " (edited)") : ""),
  message.reply_to ? quoteOf(state, message) : "",
  el("div", { class: "body" }, message.text || ""),
  (message.attachments || []).length ? el("div", { class: "attachments" }, ...message.attachments.map((a) =>
    el("a", { href: a.url, target: "_blank", rel: "noopener noreferrer", title: [a.content_type, a.size ? sizeText(a.size) : ""].filter(Boolean).join(", ") },
      a.name || a.url))) : "",
  writable ? el("div", { class: "tools" },
    el("button", { class: "link", onclick: () => startReply(state, message) }, "Reply"),
    mayEdit ? el("button", { class: "link", onclick: () => startEditing(node, message, state) }, "Edit") : "",
    mayDelete ? el("button", { class: "link", onclick: () => askToDelete(node, message, state) }, "Delete") : "") : "");
  return node;
}

function sizeText(bytes) {
  return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${Math.round(bytes / 1024)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

// ---- replies: a quote of the message answered --------------------------------------------------------

const quoteFetches = new Map();   // message id -> the request for a quoted message not on the page

function quoteOf(state, message) {
  const quote = el("button", { class: "quote", dataset: { replyTo: message.reply_to, replyToSeq: message.reply_to_seq ?? "" },
    title: "Show the message this answers", onclick: () => showOriginal(message.reply_to) });
  paintQuote(state, quote);
  return quote;
}

function paintQuote(state, quote) {
  const original = state.open?.known.get(quote.dataset.replyTo);
  if (original?.deleted) quote.replaceChildren("↪ ", el("em", {}, "a deleted message"));
  else if (original) quote.replaceChildren("↪ ", el("strong", {}, original.author?.name || ""), ` ${shortText(original.text) || "(attachment)"}`);
  else {
    quote.replaceChildren(`↪ message #${quote.dataset.replyToSeq}`);
    fetchQuoted(state, quote.dataset.replyTo);
  }
}

function paintQuotesOf(state, messageId) {
  for (const quote of document.querySelectorAll(`#message-list .quote[data-reply-to="${CSS.escape(messageId)}"]`)) paintQuote(state, quote);
}

// A message answered further up than the loaded page: asked for once.
function fetchQuoted(state, messageId) {
  const open = state.open;
  if (!open || quoteFetches.has(messageId)) return;
  const path = `/api/chat/conversations/${encodeURIComponent(open.id)}/messages/${encodeURIComponent(messageId)}`;
  quoteFetches.set(messageId, api("GET", path)
    .then((message) => message, (error) => (error.status === 404 ? { message_id: messageId, deleted: true } : null))
    .then((message) => {
      quoteFetches.delete(messageId);
      if (!message || state.open !== open) return;
      open.known.set(messageId, message.deleted ? message : { ...message, conversation_id: open.id });
      paintQuotesOf(state, messageId);
    }));
}

function showOriginal(messageId) {
  const node = document.querySelector(`#message-list > [data-message-id="${CSS.escape(messageId)}"]`);
  if (!node) return;
  node.scrollIntoView({ block: "center", behavior: "smooth" });
  node.classList.add("flash");
  setTimeout(() => node.classList.remove("flash"), 1500);
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
      if (state.open?.id === changed.conversation_id) {
        state.open.known.set(changed.message_id, changed);
        paintQuotesOf(state, changed.message_id);
      }
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
        removeMessage(state, message.message_id);
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
  const entry = (c) => el("li", {},
    el("a", { href: `#c/${c.conversation_id}`, onclick: closeLightbox }, `# ${c.name}`), c.topic ? ` — ${c.topic}` : "");
  try {
    const channels = (await api("GET", "/api/chat/channels?include_archived=true")).channels;
    const joinable = channels.filter((c) => !c.is_member && !c.archived);
    if (joinable.length) browse.append(el("h3", {}, "Or join a public channel"), el("ul", {}, ...joinable.map(entry)));
    const archived = new Map(channels.filter((c) => c.archived).map((c) => [c.conversation_id, c]));
    for (const c of state.conversations) if (c.archived && c.kind !== "private") archived.set(c.conversation_id, c);
    if (archived.size) {
      browse.append(el("h3", {}, "Archived channels"), el("ul", { id: "archived-channels" }, ...[...archived.values()].map(entry)));
    }
  } catch { /* browsing is optional */ }
}
