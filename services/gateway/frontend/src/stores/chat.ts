// Channels and private messages: the side list with unread badges, the open conversation with its "New Messages"
// line, replies, edits, deletions, typing and presence. Pushed frames are applied here as they come (the message
// in a `chat.message_posted` event is shown as it is, never fetched again); components only render this store.
import { defineStore } from "pinia";
import { computed, reactive, ref } from "vue";
import { api, ApiError } from "@/api";
import type { Frame } from "@/live";
import type {
  ChatAttachment, Conversation, Member, Message, MessagePage, ReadAnswer, UnreadCounts,
} from "@/chat/types";
import { useAttentionStore } from "@/stores/attention";
import { useSessionStore } from "@/stores/session";

export const CUSTOMER_FEED = "customer_issues";
const PAGE = 50;
const MOST_LOADED_AT_OPEN = 400;   // unread messages loaded at once; older ones come with "Show older messages"
export const TYPING_SHOWN_MS = 5000;   // notify: show a typing signal for ~5 s unless repeated
const TYPING_REPEAT_MS = 3000;     // notify throttles starts to one per 3 s
const READ_DELAY_MS = 250;         // messages arriving together are marked read together
const REFRESH_DELAY_MS = 150;      // several membership or conversation events in a row: one refresh
const QUOTE_CHARS = 140;

export interface OpenConversation {
  id: string;
  conversation: Conversation;
  /** The seq the "New Messages" line goes above (the first unread one), or null. */
  firstUnread: number | null;
  /** Loaded messages, oldest first, each once. */
  messages: Message[];
  /** Every message of this conversation seen (also ones quoted from further up): id -> message. */
  known: Record<string, Message>;
  hasMoreBefore: boolean;
  replyTo: Message | null;
  attachments: ChatAttachment[];
  /** A message to show and highlight (a search result, a clicked quote). */
  highlightSeq: number | null;
  /** Where the list should scroll next: bumped by the store, followed by the component. */
  scroll: { to: "line" | "bottom" | "highlight" | "keep" | "if-near-bottom"; ticket: number };
}

export function isFeed(conversation: Conversation | null | undefined): boolean {
  return conversation?.feed === CUSTOMER_FEED;
}

export function shortText(text: string | null | undefined, chars = QUOTE_CHARS): string {
  const flat = (text || "").replace(/\s+/g, " ").trim();
  return flat.length > chars ? `${flat.slice(0, chars - 1)}…` : flat;
}

/** What the composer of a conversation offers: "archived" (read only), "join" (not a member) or "write". */
export function composerMode(conversation: Conversation): "archived" | "join" | "write" {
  if (conversation.archived) return "archived";
  return conversation.is_member ? "write" : "join";
}

function clientMessageId(): string {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

const path = (id: string) => `/api/chat/conversations/${encodeURIComponent(id)}`;

export const useChatStore = defineStore("chat", () => {
  const session = useSessionStore();
  const conversations = ref<Conversation[]>([]);
  const presence = ref<Record<string, string>>({});
  /** conversation id -> staff id -> the name of who is typing there. */
  const typers = ref<Record<string, Record<string, string>>>({});
  const open = ref<OpenConversation | null>(null);
  /** Why the conversation asked for is not shown (not available to me, could not load). */
  const unavailable = ref<{ id: string; reason: string } | null>(null);
  const drafts = reactive<Record<string, string>>({});
  const pageHidden = ref(typeof document !== "undefined" ? document.hidden : false);

  let loading: { id: string; early: Frame[] } | null = null;
  let openTicket = 0;
  let scrollTicket = 0;
  let refreshTimer: ReturnType<typeof setTimeout> | null = null;
  let readTimer: ReturnType<typeof setTimeout> | null = null;
  const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  let typingIn: string | null = null;
  let typingSentAt = 0;
  let sendFrame: (frame: Record<string, unknown>) => boolean = () => false;
  let wanted: { id: string; seq: number } | null = null;
  const quoteFetches = new Set<string>();

  const myId = () => session.me?.staff_id ?? "";

  // ---- the side list -----------------------------------------------------------------------------------

  function find(id: string | null | undefined): Conversation | undefined {
    return conversations.value.find((c) => c.conversation_id === id);
  }

  function others(conversation: Conversation): string[] {
    return (conversation.participants ?? []).filter((id) => id !== myId());
  }

  /** A private conversation's one other person (for the presence dot), else null. */
  function onlyOther(conversation: Conversation): string | null {
    const people = conversation.kind === "private" ? others(conversation) : [];
    return people.length === 1 ? people[0]! : null;
  }

  function conversationName(conversation: Conversation): string {
    if (conversation.kind === "private") {
      const names = others(conversation).map((id) => session.staffName(id)).filter(Boolean);
      return names.join(", ") || conversation.name || "Just me";
    }
    return `# ${conversation.name}`;
  }

  /** An archived channel stays out of the side list unless it is the one on screen (the "+" dialog lists it). */
  function listed(conversation: Conversation): boolean {
    return !isFeed(conversation) && (!conversation.archived || open.value?.id === conversation.conversation_id);
  }

  /** The badge hides while the conversation is on screen: what arrives there is read at once. */
  function shownUnread(conversation: Conversation): number {
    const onScreen = open.value?.id === conversation.conversation_id && !pageHidden.value;
    return onScreen ? 0 : conversation.unread_count ?? 0;
  }

  const channels = computed(() => conversations.value.filter((c) => listed(c) && c.kind !== "private"));
  const privates = computed(() => conversations.value.filter((c) => listed(c) && c.kind === "private"));
  const totalUnread = computed(() => conversations.value
    .reduce((sum, c) => sum + (isFeed(c) || listed(c) ? shownUnread(c) : 0), 0));
  const feedConversation = computed(() => conversations.value.find(isFeed) ?? null);

  async function refreshConversations(): Promise<void> {
    try {
      const body = await api<{ conversations: Conversation[] }>("GET", "/api/chat/conversations?include_archived=true");
      conversations.value = body.conversations ?? [];
    } catch { /* the list stays as it was; live frames or the next refresh bring it up to date */ }
    syncOpenConversation();
  }

  function refreshSoon(): void {
    if (refreshTimer) clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void refreshConversations(), REFRESH_DELAY_MS);
  }

  function upsertConversation(conversation: Conversation): void {
    const index = conversations.value.findIndex((c) => c.conversation_id === conversation.conversation_id);
    if (index >= 0) conversations.value[index] = { ...conversations.value[index]!, ...conversation };
    else if (conversation.is_member) conversations.value.push(conversation);
    syncOpenConversation();
  }

  /** The open conversation's header and composer follow what the list knows of it. */
  function syncOpenConversation(): void {
    const shown = open.value;
    const listedOne = shown ? find(shown.id) : undefined;
    if (shown && listedOne) shown.conversation = { ...shown.conversation, ...listedOne };
  }

  function setUnread(id: string, counts: UnreadCounts): boolean {
    const conversation = find(id);
    if (!conversation) return false;
    conversation.unread_count = counts.unread ?? counts.unread_count ?? 0;
    conversation.first_unread_seq = conversation.unread_count ? counts.first_unread_seq ?? null : null;
    if (counts.read_up_to_seq != null) conversation.read_up_to_seq = counts.read_up_to_seq;
    if (counts.last_seq != null) conversation.last_seq = Math.max(conversation.last_seq ?? 0, counts.last_seq);
    return true;
  }

  // ---- frames: badges, presence, typing --------------------------------------------------------------------

  function applyUnread(frame: Frame): void {
    const changes: [string, UnreadCounts][] = frame.kind === "unread_snapshot"
      ? Object.entries((frame.conversations ?? {}) as Record<string, UnreadCounts>)
      : [[String(frame.conversation_id), frame as UnreadCounts]];
    let unknown = false;
    for (const [id, counts] of changes) {
      if (!setUnread(id, counts) && (counts.unread ?? 0) > 0) unknown = true;
    }
    if (unknown) refreshSoon();
  }

  function applyPresence(frame: Frame): void {
    if (frame.kind === "presence_snapshot") {
      presence.value = { ...((frame.statuses ?? {}) as Record<string, string>) };
      return;
    }
    const staffId = String(frame.staff_id);
    if (frame.status === "offline") delete presence.value[staffId];
    else presence.value[staffId] = String(frame.status);
  }

  function presenceOf(staffId: string | null | undefined): "online" | "away" | "offline" {
    const status = staffId ? presence.value[staffId] : undefined;
    return status === "online" || status === "away" ? status : "offline";
  }

  function stopShowingTyping(conversationId: string, staffId: string | undefined): void {
    if (!staffId) return;
    const key = `${conversationId}:${staffId}`;
    clearTimeout(typingTimers.get(key));
    typingTimers.delete(key);
    const people = typers.value[conversationId];
    if (people && staffId in people) delete people[staffId];
  }

  function applyTyping(frame: Frame): void {
    const conversationId = String(frame.conversation_id);
    const staffId = String(frame.staff_id);
    if (frame.state === "stop") {
      stopShowingTyping(conversationId, staffId);
      return;
    }
    const key = `${conversationId}:${staffId}`;
    clearTimeout(typingTimers.get(key));
    typingTimers.set(key, setTimeout(() => stopShowingTyping(conversationId, staffId), TYPING_SHOWN_MS));
    const people = typers.value[conversationId] ?? (typers.value[conversationId] = {});
    people[staffId] = String(frame.name || session.staffName(staffId) || "Someone");
  }

  const typingLine = computed(() => {
    const names = Object.values(open.value ? typers.value[open.value.id] ?? {} : {});
    if (names.length === 0) return "";
    if (names.length === 1) return `${names[0]} is typing…`;
    if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
    return "Several people are typing…";
  });

  // ---- frames: chat events ----------------------------------------------------------------------------------

  function applyEvent(frame: Frame): void {
    const payload = (frame.payload ?? {}) as Record<string, unknown>;
    const id = (payload.conversation as Conversation | undefined)?.conversation_id;
    if (id && loading?.id === id) loading.early.push(frame);   // replayed once the conversation has loaded
    const shown = open.value && open.value.id === id ? open.value : null;
    switch (frame.type) {
      case "chat.message_posted": {
        const message = { ...(payload.message as Message), conversation_id: id };
        const conversation = find(id);
        if (conversation) {
          conversation.last_seq = Math.max(conversation.last_seq ?? 0, message.seq);
          conversation.last_message_at = message.posted_at ?? null;
        } else refreshSoon();
        if (id) stopShowingTyping(id, message.author?.id);
        if (shown) {
          const mine = message.author?.id === myId();
          if (!mine && pageHidden.value && newMessagesLineSeq.value === null) shown.firstUnread = message.seq;
          showMessage(message);
          if (!mine && !pageHidden.value) readSoon();
        }
        return;
      }
      case "chat.message_edited":
        if (shown) showMessage({ ...(payload.message as Message), conversation_id: id }, { onlyIfShown: true });
        return;
      case "chat.message_deleted":
        if (shown) removeMessage(String(payload.message_id));
        return;
      case "chat.read_marker_moved":
        if (payload.staff_id !== myId() || !id) return;
        setUnread(id, { unread: payload.unread_count as number, first_unread_seq: payload.first_unread_seq as number | null,
          read_up_to_seq: payload.read_up_to_seq as number, last_seq: payload.last_seq as number });
        return;
      case "chat.membership_changed": {
        refreshSoon();
        const member = payload.member as { id?: string } | undefined;
        if (shown && id && member?.id === myId() && ["left", "removed"].includes(String(payload.change))) {
          void openConversation(id);
        }
        return;
      }
      case "chat.conversation_created":
      case "chat.conversation_updated": {
        const conversation = payload.conversation as Conversation | undefined;
        if (conversation && find(conversation.conversation_id)) {
          // what the event says of the conversation shows at once; my own read state comes with the refresh
          const { unread_count: _u, first_unread_seq: _f, read_up_to_seq: _r, is_member: _m, ...facts } = conversation;
          upsertConversation({ ...find(conversation.conversation_id)!, ...facts });
        }
        refreshSoon();
        return;
      }
      default:
        return;   // chat.reading_position_saved: where this person is, which this page knows already
    }
  }

  // ---- one conversation ---------------------------------------------------------------------------------

  function requestScroll(to: OpenConversation["scroll"]["to"]): void {
    if (open.value) open.value.scroll = { to, ticket: ++scrollTicket };
  }

  function leaveConversation(): void {
    openTicket += 1;   // a conversation still loading is not shown any more
    stopTyping();
    open.value = null;
    loading = null;
    unavailable.value = null;
  }

  async function loadOpeningPage(id: string, firstUnread: number | null, around: number | null): Promise<MessagePage> {
    const base = `${path(id)}/messages`;
    const from = around ?? firstUnread;
    const first = await api<MessagePage>("GET", `${base}?${from ? `around=${from}` : "before=latest"}&limit=${PAGE}`);
    const messages = [...(first.messages ?? [])];
    let more = first.has_more_after;
    while (more && messages.length < MOST_LOADED_AT_OPEN) {
      const next = await api<MessagePage>("GET", `${base}?after=${messages[messages.length - 1]!.seq}&limit=200`);
      messages.push(...(next.messages ?? []));
      more = next.has_more_after && (next.messages ?? []).length > 0;
    }
    return { messages, has_more_before: first.has_more_before, has_more_after: more };
  }

  /** Open a conversation: at its first unread message (under the "New Messages" line), or at `seq`, or the latest. */
  async function openConversation(id: string, { seq = null }: { seq?: number | null } = {}): Promise<void> {
    const ticket = ++openTicket;
    if (open.value && open.value.id !== id) stopTyping();
    const target = seq ?? (wanted?.id === id ? wanted.seq : null);
    wanted = null;
    loading = { id, early: [] };
    let conversation: Conversation;
    let page: MessagePage;
    let firstUnread: number | null;
    try {
      conversation = await api<Conversation>("GET", path(id));
      if (ticket !== openTicket) return;
      if (isFeed(conversation)) {
        loading = null;
        location.hash = "#feed";
        return;
      }
      upsertConversation(conversation);
      firstUnread = conversation.unread_count ? conversation.first_unread_seq ?? null : null;
      page = await loadOpeningPage(id, firstUnread, target);
    } catch (error) {
      if (ticket !== openTicket) return;
      loading = null;
      open.value = null;
      unavailable.value = {
        id,
        reason: error instanceof ApiError && error.status === 404 ? "This conversation is not available to you."
          : `Could not open the conversation: ${error instanceof Error ? error.message : String(error)}`,
      };
      return;
    }
    if (ticket !== openTicket) return;
    const early = loading?.early ?? [];
    loading = null;
    unavailable.value = null;
    const messages = page.messages.map((m) => ({ ...m, conversation_id: id }));
    open.value = {
      id, conversation, firstUnread, messages, known: Object.fromEntries(messages.map((m) => [m.message_id, m])),
      hasMoreBefore: page.has_more_before, replyTo: null, attachments: [], highlightSeq: target,
      scroll: { to: target ? "highlight" : firstUnread ? "line" : "bottom", ticket: ++scrollTicket },
    };
    for (const frame of early) applyEvent(frame);
    useAttentionStore().dismissAbout({ conversation_id: id });
    const lastSeq = lastLoadedSeq();
    if (conversation.is_member && lastSeq && !pageHidden.value) await markRead(id, lastSeq);
    if (ticket === openTicket) await savePosition(id, lastSeq);
  }

  /** A search result: open the conversation scrolled to that message and highlight it. */
  function openMessage(conversationId: string, seq: number): void {
    const hash = `#c/${conversationId}`;
    if (location.hash === hash) {
      void openConversation(conversationId, { seq });
    } else {
      wanted = { id: conversationId, seq };
      location.hash = hash;
    }
  }

  async function loadOlder(): Promise<void> {
    const shown = open.value;
    if (!shown || !shown.messages.length) return;
    const page = await api<MessagePage>("GET", `${path(shown.id)}/messages?before=${shown.messages[0]!.seq}&limit=${PAGE}`);
    if (open.value !== shown) return;
    for (const message of page.messages ?? []) showMessage({ ...message, conversation_id: shown.id }, { scroll: "keep" });
    shown.hasMoreBefore = page.has_more_before;
  }

  function lastLoadedSeq(): number {
    const messages = open.value?.messages ?? [];
    return messages.length ? messages[messages.length - 1]!.seq : 0;
  }

  /** The seq of the message the "New Messages" line sits above: the first unread one not by me. */
  const newMessagesLineSeq = computed<number | null>(() => {
    const shown = open.value;
    if (!shown?.firstUnread) return null;
    const target = shown.messages.find((m) => m.seq >= shown.firstUnread! && m.author?.id !== myId());
    return target ? target.seq : null;
  });

  /** Put a message where its number says, replacing an older copy of it. */
  function showMessage(message: Message, { onlyIfShown = false, scroll = "if-near-bottom" as OpenConversation["scroll"]["to"] } = {}): void {
    const shown = open.value;
    if (!shown || message.deleted || (message.conversation_id && message.conversation_id !== shown.id)) return;
    const full = { ...message, conversation_id: shown.id };
    shown.known[full.message_id] = full;
    const index = shown.messages.findIndex((m) => m.message_id === full.message_id);
    if (index >= 0) {
      shown.messages[index] = full;
      return;
    }
    if (onlyIfShown) return;
    const after = shown.messages.findIndex((m) => m.seq > full.seq);
    if (after >= 0) shown.messages.splice(after, 0, full);
    else shown.messages.push(full);
    requestScroll(scroll);
  }

  function removeMessage(messageId: string): void {
    const shown = open.value;
    if (!shown) return;
    shown.known[messageId] = { message_id: messageId, seq: shown.known[messageId]?.seq ?? 0, deleted: true };
    shown.messages = shown.messages.filter((m) => m.message_id !== messageId);
    if (shown.replyTo?.message_id === messageId) shown.replyTo = null;
  }

  /** A message answered further up than the loaded page: asked for once. */
  function fetchQuoted(messageId: string): void {
    const shown = open.value;
    if (!shown || quoteFetches.has(messageId) || shown.known[messageId]) return;
    quoteFetches.add(messageId);
    api<Message>("GET", `${path(shown.id)}/messages/${encodeURIComponent(messageId)}`)
      .then((message) => message, (error) => (error instanceof ApiError && error.status === 404
        ? { message_id: messageId, seq: 0, deleted: true } as Message : null))
      .then((message) => {
        quoteFetches.delete(messageId);
        if (!message || open.value !== shown) return;
        shown.known[messageId] = message.deleted ? message : { ...message, conversation_id: shown.id };
      });
  }

  /** Show the message a quote answers, if it is loaded. */
  function highlight(seq: number): void {
    if (!open.value) return;
    open.value.highlightSeq = seq;
    requestScroll("highlight");
  }

  // ---- writing --------------------------------------------------------------------------------------------

  function startReply(message: Message): void {
    if (open.value) open.value.replyTo = message;
  }

  function cancelReply(): void {
    if (open.value) open.value.replyTo = null;
  }

  function attach(file: ChatAttachment): void {
    if (open.value) open.value.attachments = [...open.value.attachments, file];
  }

  function removeAttachment(index: number): void {
    if (open.value) open.value.attachments = open.value.attachments.filter((_, i) => i !== index);
  }

  /** Send what the composer holds; on a refusal, the text, reply and files come back for another try. */
  async function send(): Promise<void> {
    const shown = open.value;
    if (!shown) return;
    const id = shown.id;
    const text = (drafts[id] ?? "").trim();
    const attachments = [...shown.attachments];
    const replyTo = shown.replyTo;
    if (!text && !attachments.length) return;
    drafts[id] = "";
    shown.attachments = [];
    shown.replyTo = null;
    stopTyping();
    const body: Record<string, unknown> = { text, client_message_id: clientMessageId() };
    if (replyTo) body.reply_to = replyTo.message_id;
    if (attachments.length) body.attachments = attachments;
    try {
      const sent = await api<Message>("POST", `${path(id)}/messages`, body);
      if (open.value === shown) showMessage({ ...sent, conversation_id: id }, { scroll: "bottom" });
    } catch (error) {
      useAttentionStore().toast({ title: "Not sent", body: error instanceof Error ? error.message : "", attention: "info" });
      if (open.value !== shown) return;
      if (!drafts[id]) drafts[id] = text;
      shown.attachments = [...attachments, ...shown.attachments];
      shown.replyTo = shown.replyTo ?? replyTo;
    }
  }

  async function editMessage(message: Message, text: string): Promise<void> {
    const changed = await api<Message>("PATCH", `${path(message.conversation_id ?? open.value?.id ?? "")}/messages/${encodeURIComponent(message.message_id)}`, { text });
    showMessage(changed, { onlyIfShown: true });
  }

  async function deleteMessage(message: Message): Promise<void> {
    await api("DELETE", `${path(message.conversation_id ?? open.value?.id ?? "")}/messages/${encodeURIComponent(message.message_id)}`);
    removeMessage(message.message_id);
  }

  async function join(id: string): Promise<void> {
    await api("POST", `/api/chat/channels/${encodeURIComponent(id)}/join`);
    await refreshConversations();
    await openConversation(id);
  }

  async function leave(id: string): Promise<void> {
    await api("POST", `/api/chat/channels/${encodeURIComponent(id)}/leave`);
    conversations.value = conversations.value.filter((c) => c.conversation_id !== id);
    location.hash = "#feed";
  }

  async function createChannel(form: { name: string; topic: string; is_private: boolean; member_ids: string[] }): Promise<Conversation> {
    const conversation = await api<Conversation>("POST", "/api/chat/channels", form);
    upsertConversation(conversation);
    return conversation;
  }

  async function startPrivate(staffIds: string[]): Promise<Conversation> {
    const conversation = await api<Conversation>("POST", "/api/chat/private", { staff_ids: staffIds });
    upsertConversation(conversation);
    return conversation;
  }

  async function members(id: string): Promise<Member[]> {
    return (await api<{ members: Member[] }>("GET", `${path(id)}/members`)).members ?? [];
  }

  // ---- typing --------------------------------------------------------------------------------------------

  function useSender(send: (frame: Record<string, unknown>) => boolean): void {
    sendFrame = send;
  }

  function startTyping(id: string): void {
    if (typingIn === id && Date.now() - typingSentAt < TYPING_REPEAT_MS) return;
    if (typingIn && typingIn !== id) stopTyping();
    typingIn = id;
    typingSentAt = Date.now();
    sendFrame({ kind: "typing", conversation_id: id, state: "start" });
  }

  function stopTyping(): void {
    if (!typingIn) return;
    sendFrame({ kind: "typing", conversation_id: typingIn, state: "stop" });
    typingIn = null;
    typingSentAt = 0;
  }

  // ---- read state and where I left off ----------------------------------------------------------------------

  async function markRead(id: string, seq: number): Promise<void> {
    try {
      const read = await api<ReadAnswer>("POST", `${path(id)}/read`, { up_to_seq: seq });
      setUnread(id, { unread: read.unread_count, first_unread_seq: read.first_unread_seq,
        read_up_to_seq: read.read_up_to_seq, last_seq: read.last_seq });
    } catch { /* the badge stays; the next open marks it read */ }
  }

  async function savePosition(id: string, seq: number): Promise<void> {
    try {
      await api("PUT", "/api/chat/me/position", { conversation_id: id, seq: seq || 0 });
    } catch { /* the module reopens at the previous place */ }
  }

  /** Where the module reopens: "#feed", "#c/<id>", or null (nowhere I can still see). */
  async function savedPosition(): Promise<string | null> {
    try {
      const position = await api<{ conversation_id: string | null; conversation: Conversation | null }>(
        "GET", "/api/chat/me/position");
      if (!position?.conversation_id) return null;
      return isFeed(position.conversation) ? "#feed" : `#c/${position.conversation_id}`;
    } catch {
      return null;
    }
  }

  function readSoon(): void {
    if (readTimer) clearTimeout(readTimer);
    readTimer = setTimeout(() => void markOpenConversationRead(), READ_DELAY_MS);
  }

  async function markOpenConversationRead(): Promise<void> {
    const shown = open.value;
    const lastSeq = lastLoadedSeq();
    if (!shown || pageHidden.value || !shown.conversation.is_member || !lastSeq) return;
    const conversation = find(shown.id);
    if (conversation && (conversation.read_up_to_seq ?? 0) >= lastSeq && !conversation.unread_count) return;
    await markRead(shown.id, lastSeq);
    await savePosition(shown.id, lastSeq);
  }

  function setPageHidden(hidden: boolean): void {
    pageHidden.value = hidden;
    if (!hidden) void markOpenConversationRead();
  }

  /** The live connection could not catch up: load the list and the open conversation again. */
  async function resync(): Promise<void> {
    await refreshConversations();
    if (open.value) await openConversation(open.value.id);
  }

  function reset(): void {
    leaveConversation();
    conversations.value = [];
    presence.value = {};
    typers.value = {};
    for (const key of Object.keys(drafts)) delete drafts[key];
    for (const timer of typingTimers.values()) clearTimeout(timer);
    typingTimers.clear();
  }

  return {
    conversations, presence, typers, open, unavailable, drafts, pageHidden,
    channels, privates, totalUnread, feedConversation, typingLine, newMessagesLineSeq,
    find, others, onlyOther, conversationName, listed, shownUnread, presenceOf,
    refreshConversations, upsertConversation, applyUnread, applyPresence, applyTyping, applyEvent,
    leaveConversation, openConversation, openMessage, loadOlder, showMessage, removeMessage, fetchQuoted, highlight,
    startReply, cancelReply, attach, removeAttachment, send, editMessage, deleteMessage, join, leave,
    createChannel, startPrivate, members, useSender, startTyping, stopTyping,
    markRead, savePosition, savedPosition, markOpenConversationRead, setPageHidden, resync, reset,
  };
});
