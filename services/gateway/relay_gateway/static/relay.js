// Relay's Messages module: issues feed, Issue Tracker, channels and private messages, live over one WebSocket.
import { api, ApiError } from "/static/api.js";
import { renderIssueCard, openIssue, openCustomer } from "/static/issues.js";
import { openConversation, renderConversationList, applyChatFrame } from "/static/chat.js";
import { el, toast, closeLightbox } from "/static/ui.js";

const state = {
  me: null,
  staff: [],
  conversations: [],
  view: null,            // {kind: "feed"|"tracker"|"conversation", id?}
  feedFilter: "open",
  lastEventId: localStorage.getItem("relay.lastEventId") || null,
  socket: null,
  reconnectDelay: 500,
};
window.relayState = state; // for debugging in the browser console

async function start() {
  try {
    const session = await api("GET", "/api/session");
    state.me = { ...session.staff, tenant_id: session.tenant_id };
  } catch (error) {
    return showSignIn();
  }
  document.getElementById("sign-in").hidden = true;
  document.getElementById("messages").hidden = false;
  document.getElementById("me-name").textContent = state.me.display_name;
  state.staff = (await api("GET", "/api/staff")).staff;
  await refreshConversations();
  connectLive();
  const saved = await savedPosition();
  route(location.hash || saved || "#feed");
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
  try {
    await api("POST", "/api/session", Object.fromEntries(form));
    await start();
  } catch (e) {
    error.textContent = e instanceof ApiError ? e.message : "Could not sign in.";
  }
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/api/session");
  state.socket?.close();
  location.hash = "";
  showSignIn();
});

window.addEventListener("hashchange", () => route(location.hash));
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeLightbox(); });
document.getElementById("lightbox").addEventListener("click", (e) => { if (e.target.id === "lightbox") closeLightbox(); });
document.addEventListener("visibilitychange", () => sendLive({ kind: document.hidden ? "away" : "active" }));

async function savedPosition() {
  try {
    const position = await api("GET", "/api/chat/me/position");
    return position && position.conversation_id ? `#c/${position.conversation_id}` : null;
  } catch { return null; }
}

export async function refreshConversations() {
  try {
    const body = await api("GET", "/api/chat/conversations");
    state.conversations = body.conversations || body;
  } catch { state.conversations = []; }
  renderConversationList(state);
}

function route(hash) {
  document.querySelectorAll(".sidebar a.active").forEach((a) => a.classList.remove("active"));
  if (hash.startsWith("#c/")) {
    const id = hash.slice(3);
    state.view = { kind: "conversation", id };
    document.querySelector(`.sidebar a[data-conversation="${CSS.escape(id)}"]`)?.classList.add("active");
    return openConversation(state, id);
  }
  const kind = hash === "#tracker" ? "tracker" : "feed";
  state.view = { kind };
  document.getElementById(`nav-${kind}`).classList.add("active");
  return renderIssues(kind);
}

export async function renderIssues(kind = state.view?.kind) {
  const main = document.getElementById("main");
  const filters = ["open", "unassigned", "assigned", "closed"];
  const title = kind === "tracker" ? "Issue Tracker — assigned to me" : "Customer Messages";
  const path = kind === "tracker" ? "/api/issues/mine" : `/api/issues?status=${state.feedFilter}`;
  const body = await api("GET", path);
  const issues = body.issues || body.items || body;
  const list = el("div", { class: "feed", id: "issue-feed" });
  if (!issues.length) list.append(el("p", { class: "empty" }, kind === "tracker" ? "Nothing assigned to you." : "No customer messages here."));
  for (const issue of issues) list.append(renderIssueCard(issue, state, issueActions));
  main.replaceChildren(
    el("header", {}, el("h1", {}, title)),
    kind === "feed" ? el("div", { class: "filters" }, ...filters.map((f) =>
      el("button", { class: f === state.feedFilter ? "on" : "", onclick: () => { state.feedFilter = f; renderIssues("feed"); } }, f))) : "",
    list,
  );
  if (kind === "tracker") document.getElementById("count-tracker").textContent = issues.filter((i) => i.status !== "closed").length || "";
}

const issueActions = {
  async take(issue) { await act(`/api/issues/${issue.issue_id}/take`); },
  async close(issue) { await act(`/api/issues/${issue.issue_id}/close`); },
  async resolve(issue) { await act(`/api/issues/${issue.issue_id}/resolve`); },
  async reopen(issue) { await act(`/api/issues/${issue.issue_id}/reopen`); },
  assign(issue) { return openIssue(issue.issue_id, state, issueActions); },
  customer(issue) { return openCustomer(issue.customer_id); },
  refresh() { return state.view?.kind !== "conversation" ? renderIssues() : null; },
};

async function act(path, body) {
  try {
    await api("POST", path, body || {});
  } catch (error) {
    toast({ title: "Not done", body: error.message });
  }
  await issueActions.refresh();
}

// ---- live updates -------------------------------------------------------------------------------------

function connectLive() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const since = state.lastEventId ? `?since=${encodeURIComponent(state.lastEventId)}` : "";
  const socket = new WebSocket(`${scheme}://${location.host}/ws${since}`);
  state.socket = socket;
  socket.onopen = () => { state.reconnectDelay = 500; document.body.dataset.live = "on"; };
  socket.onmessage = (message) => onFrame(JSON.parse(message.data));
  socket.onclose = () => {
    document.body.dataset.live = "off";
    if (state.me) setTimeout(connectLive, state.reconnectDelay);
    state.reconnectDelay = Math.min(state.reconnectDelay * 2, 10000);
  };
}

export function sendLive(frame) {
  if (state.socket?.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
}

function onFrame(frame) {
  if (frame.event_id) {
    state.lastEventId = frame.event_id;
    localStorage.setItem("relay.lastEventId", frame.event_id);
  }
  const kind = frame.kind || "event";
  if (kind === "reload") { state.lastEventId = null; localStorage.removeItem("relay.lastEventId"); return location.reload(); }
  if (kind === "toast") return showToast(frame);
  const type = frame.type || "";
  if (type.startsWith("issue.")) {
    if (state.view?.kind !== "conversation") issueActions.refresh();
    document.dispatchEvent(new CustomEvent("relay:issue", { detail: frame }));
    return;
  }
  applyChatFrame(state, frame);
}

function showToast(frame) {
  const target = frame.conversation_id ? `#c/${frame.conversation_id}` : frame.issue_id ? "#feed" : null;
  toast({
    title: frame.title, where: frame.where || frame.conversation_name, body: frame.body,
    onclick: () => {
      if (frame.issue_id) openIssue(frame.issue_id, state, issueActions);
      if (target) location.hash = target;
    },
  });
}

start();
