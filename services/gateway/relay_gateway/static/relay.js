// Relay's Messages module: issues feed, Issue Tracker, channels and private messages, live over one WebSocket.
import { api, ApiError } from "/static/api.js";
import { openIssue, openCustomer } from "/static/issues.js";
import { applyIssue, emptyIssueLists, loadIssues, openIssues } from "/static/issue-lists.js";
import {
  isFeed, leaveConversation, markOpenConversationRead, newChannelDialog, newPrivateDialog, openConversation,
  refreshConversations, renderConversationList, savePosition,
} from "/static/chat.js";
import { FRAME_UPDATES } from "/static/events.js";
import { toast, closeLightbox } from "/static/ui.js";
import { announcePresence, watchForAway } from "/static/away.js";
import { isAdmin, openAuditLog } from "/static/audit.js";

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MOST_MS = 10000;
const PING_EVERY_MS = 25000;
const APPLIED_KEPT = 5000;
// Frames that say something about the connection itself; everything else waits until the page has its state.
const CONNECTION_FRAMES = new Set(["hello", "reload", "caught_up", "pong", "error"]);

const state = {
  me: null,
  staff: [],
  conversations: [],
  presence: {},          // staff id -> "online" | "away" (absent: offline)
  view: null,            // {kind: "feed"|"tracker"|"conversation", id?}
  open: null,            // the conversation on screen: {id, conversation, firstUnread, oldestSeq, lastSeq}
  loading: null,         // the conversation being opened, and chat events that arrived meanwhile
  drafts: new Map(),     // conversation id -> unsent text
  feedFilter: "open",
  issues: emptyIssueLists(),   // the feed and the Issue Tracker as loaded, kept current by pushed snapshots
  issueActions: null,
  feedUnread: 0,         // customer messages that arrived while the feed was not on screen
  lastEventId: null,     // sent as ?since= when the socket reconnects
  applied: new Set(),    // kind:event_id of frames already applied (a replay may repeat them)
  appliedOrder: [],
  socket: null,
  reconnectDelay: RECONNECT_FIRST_MS,
  ready: false,
  waiting: [],
  send: sendLive,
};
window.relayState = state; // for looking at the state in the browser console

async function start() {
  try {
    const session = await api("GET", "/api/session");
    state.me = { ...session.staff, tenant_id: session.tenant_id };
  } catch (error) {
    return showSignIn();
  }
  Object.assign(state, { conversations: [], presence: {}, view: null, open: null, feedUnread: 0, lastEventId: null,
    ready: false, waiting: [], drafts: new Map(), issues: emptyIssueLists() });
  document.getElementById("sign-in").hidden = true;
  document.getElementById("messages").hidden = false;
  document.getElementById("me-name").textContent = state.me.display_name;
  document.getElementById("presence-dot").dataset.presenceOf = state.me.staff_id;
  for (const id of ["nav-admin-heading", "nav-admin"]) document.getElementById(id).hidden = !isAdmin(state.me);
  try {
    state.staff = (await api("GET", "/api/staff")).staff;
    connectLive();
    loadIssues(state, "tracker").catch(() => null);   // the tracker's count shows from the start
    await refreshConversations(state);
    const asked = location.hash;
    const target = asked || await savedPosition() || "#feed";
    // reopen where the user left off, unless they already went somewhere while it was being looked up
    if (!asked && location.hash) return;
    if (!location.hash) history.replaceState(null, "", target);
    await route(target);
  } finally {
    state.ready = true;
    for (const frame of state.waiting.splice(0)) onFrame(frame);
  }
}

function showSignIn() {
  document.getElementById("messages").hidden = true;
  document.getElementById("sign-in").hidden = false;
}

document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const error = document.getElementById("sign-in-error");
  error.textContent = "";
  const credentials = Object.fromEntries([...form].filter(([name, value]) => name !== "code" || value));
  try {
    await api("POST", "/api/session", credentials);
  } catch (e) {
    error.textContent = e instanceof ApiError ? e.message : "Could not sign in.";
    if (e instanceof ApiError && (e.code === "totp_required" || e.code === "totp_wrong")) {
      const code = document.getElementById("sign-in-code");
      code.hidden = false;
      code.querySelector("input").focus();
    }
    return;
  }
  await start();
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/api/session").catch(() => null);
  signedOut();
});

function signedOut() {
  state.me = null;
  const socket = state.socket;
  state.socket = null;
  socket?.close();
  leaveConversation(state);
  Object.assign(state, { conversations: [], view: null, feedUnread: 0, issues: emptyIssueLists() });
  renderConversationList(state);
  history.replaceState(null, "", location.pathname);
  for (const id of ["main", "channel-list", "private-list", "toasts"]) document.getElementById(id).replaceChildren();
  showSignIn();
}

window.addEventListener("hashchange", () => { if (state.me) route(location.hash); });
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeLightbox(); });
document.getElementById("lightbox").addEventListener("click", (e) => { if (e.target.id === "lightbox") closeLightbox(); });
document.getElementById("new-channel").addEventListener("click", () => newChannelDialog(state));
document.getElementById("new-private").addEventListener("click", () => newPrivateDialog(state));
watchForAway(sendLive);
document.addEventListener("visibilitychange", () => {
  if (!state.me) return;
  renderConversationList(state);
  if (!document.hidden) markOpenConversationRead(state);
});

async function savedPosition() {
  try {
    const position = await api("GET", "/api/chat/me/position");
    if (!position?.conversation_id) return null;
    return isFeed(position.conversation) ? "#feed" : `#c/${position.conversation_id}`;
  } catch { return null; }
}

async function route(hash) {
  leaveConversation(state);
  document.querySelectorAll(".sidebar a.active").forEach((a) => a.classList.remove("active"));
  if (hash.startsWith("#c/")) {
    const id = decodeURIComponent(hash.slice(3));
    if (!isFeed(state.conversations.find((c) => c.conversation_id === id))) {
      state.view = { kind: "conversation", id };
      renderConversationList(state);
      return openConversation(state, id);
    }
    hash = "#feed";
  }
  if (hash === "#audit" && isAdmin(state.me)) {
    state.view = { kind: "audit" };
    renderConversationList(state);
    document.getElementById("nav-audit").classList.add("active");
    return openAuditLog(document.getElementById("main"));
  }
  const kind = hash === "#tracker" ? "tracker" : "feed";
  state.view = { kind };
  if (kind === "feed") {
    state.feedUnread = 0;
    const feed = state.conversations.find(isFeed);
    if (feed) savePosition(feed.conversation_id, 0);
  }
  renderConversationList(state);
  document.getElementById(`nav-${kind}`).classList.add("active");
  return openIssues(state, kind);
}

// Actions from a card: the answer is the issue's new state, applied at once (its push, when it comes, changes nothing).
const issueActions = {
  async take(issue) { await act(`/api/issues/${issue.issue_id}/take`); },
  async close(issue) { await act(`/api/issues/${issue.issue_id}/close`); },
  async resolve(issue) { await act(`/api/issues/${issue.issue_id}/resolve`); },
  async reopen(issue) { await act(`/api/issues/${issue.issue_id}/reopen`); },
  assign(issue) { return openIssue(issue.issue_id, state, issueActions); },
  customer(issue) { return openCustomer(issue.customer_id); },
  changed(issue) { applyIssue(state, issue); },
};
state.issueActions = issueActions;

async function act(path, body) {
  try {
    const answer = await api("POST", path, body || {});
    if (answer?.issue) issueActions.changed(answer.issue);
  } catch (error) {
    toast({ title: "Not done", body: error.message });
  }
}

// ---- live updates -------------------------------------------------------------------------------------

const SESSION_ENDED_CLOSE = 4401; // the server ended this session: show sign-in, do not reconnect

function connectLive() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const since = state.lastEventId;
  const socket = new WebSocket(`${scheme}://${location.host}/ws${since ? `?since=${encodeURIComponent(since)}` : ""}`);
  socket.resumed = Boolean(since);        // notify replays what this page missed
  socket.afterLoading = state.ready;        // the page has state that may have gone stale meanwhile
  state.socket = socket;
  socket.onopen = () => {
    state.reconnectDelay = RECONNECT_FIRST_MS;
    socket.opened = true;
    document.body.dataset.live = "on";
    announcePresence();
  };
  socket.onmessage = (message) => {
    if (state.socket === socket) onFrame(JSON.parse(message.data));
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return; // replaced or signed out
    document.body.dataset.live = "off";
    if (event.code === SESSION_ENDED_CLOSE) return signedOut(); // signed out elsewhere, deactivated, new password
    const delay = socket.reloadNow ? 0 : state.reconnectDelay;
    state.reconnectDelay = Math.min(state.reconnectDelay * 2, RECONNECT_MOST_MS);
    setTimeout(() => reconnect(socket), delay);
  };
}

async function reconnect(closed) {
  if (state.socket !== closed || !state.me) return;
  if (!closed.opened) {
    // The handshake failed: maybe the session ended rather than the connection.
    try { await api("GET", "/api/session"); }
    catch (error) { if (error.status === 401) return signedOut(); }
  }
  if (state.socket === closed && state.me) connectLive();
}

export function sendLive(frame) {
  if (state.socket?.readyState !== WebSocket.OPEN) return false;
  state.socket.send(JSON.stringify(frame));
  return true;
}

setInterval(() => sendLive({ kind: "ping" }), PING_EVERY_MS);

function onFrame(frame) {
  const kind = frame.kind;
  if (!state.ready && !CONNECTION_FRAMES.has(kind)) { state.waiting.push(frame); return; }
  if (frame.event_id) {
    const key = `${kind}:${frame.event_id}`;
    if (state.applied.has(key)) return; // replayed after a reconnect, or pushed twice
    state.applied.add(key);
    state.appliedOrder.push(key);
    if (state.appliedOrder.length > APPLIED_KEPT) state.applied.delete(state.appliedOrder.shift());
    state.lastEventId = frame.event_id;
  }
  switch (kind) {
    case "hello":
      // A connection that cannot catch up (no event seen yet, or after `reload`) brings fresh state instead.
      if (state.socket.afterLoading && !state.socket.resumed) refetch();
      return;
    case "reload":
      state.lastEventId = null;
      state.socket.reloadNow = true;
      state.socket.close();
      return;
    case "toast":
      return showToast(frame);
    case "error":
      console.warn("live updates:", frame.message);
      return;
    default:
      return FRAME_UPDATES[kind]?.(state, frame); // events, badges, presence, typing; caught_up and pong: nothing
  }
}

// After events were missed (the connection could not catch up): everything on the page is loaded again.
async function refetch() {
  await refreshConversations(state);
  const onScreen = state.view?.kind === "feed" || state.view?.kind === "tracker" ? state.view.kind : null;
  await Promise.all(["feed", "tracker"].filter((kind) => kind === onScreen || state.issues[kind])
    .map((kind) => openIssues(state, kind, { reload: true }).catch(() => null)));
  if (state.view?.kind === "conversation") await openConversation(state, state.view.id);
}

function showToast(frame) {
  const open = frame.open || (frame.conversation_id ? { conversation_id: frame.conversation_id }
    : frame.issue_id ? { issue_id: frame.issue_id } : null);
  if (open?.conversation_id && state.open?.id === open.conversation_id && !document.hidden) return; // on screen already
  if (open?.issue_id && state.view?.kind !== "feed") {
    state.feedUnread += 1;
    renderConversationList(state);
  }
  toast({
    title: frame.title, where: frame.where || frame.conversation_name, body: frame.body, mention: frame.mention,
    dataset: { conversationId: open?.conversation_id || "", issueId: open?.issue_id || "" },
    onclick: () => openTarget(open),
  });
}

function openTarget(open) {
  if (open?.conversation_id) {
    const hash = `#c/${open.conversation_id}`;
    if (location.hash === hash) route(hash); else location.hash = hash;
  } else if (open?.issue_id) {
    if (location.hash !== "#feed") location.hash = "#feed";
    openIssue(open.issue_id, state, issueActions);
  }
}

start();
