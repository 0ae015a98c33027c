// The Customer Messages feed and the Issue Tracker: each loaded when it is opened, then kept current by the issue
// snapshots the services push (and the answers to this tab's own actions); a push never makes it load again.
import { api } from "/static/api.js";
import { olderThan, renderIssueCard, showIssueChange } from "/static/issues.js";
import { el } from "/static/ui.js";

const FILTERS = { open: ["unassigned", "assigned"], unassigned: ["unassigned"], assigned: ["assigned"], closed: ["closed"] };
const TRACKED = ["assigned", "closed"];   // the Issue Tracker: assigned to me, open ones first, then closed

export function emptyIssueLists() {
  // feed, tracker: null until loaded, then {issues: Map(issue id -> issue), filter (the feed's), loading, early:
  // the snapshots pushed while it loads}; newest: issue id -> the newest updated_at applied (older ones are late).
  return { feed: null, tracker: null, newest: new Map() };
}

// ---- what belongs in each list, in which order ----------------------------------------------------------

function belongs(kind, issue, state) {
  if (kind === "tracker") return TRACKED.includes(issue.status) && issue.assignee?.id === state.me.staff_id;
  return FILTERS[state.feedFilter].includes(issue.status);
}

const at = (iso) => Date.parse(iso) || 0;
const ORDER = {
  feed: (a, b) => at(b.updated_at) - at(a.updated_at) || (b.issue_id > a.issue_id ? 1 : -1),
  tracker: (a, b) => TRACKED.indexOf(a.status) - TRACKED.indexOf(b.status) || at(a.opened_at) - at(b.opened_at),
};

export function listed(state, kind) {
  const list = state.issues[kind];
  return list ? [...list.issues.values()].sort(ORDER[kind]) : [];
}

// ---- changes --------------------------------------------------------------------------------------------

// One issue's new state (a pushed snapshot, or the answer to an action): placed in, moved within or taken out of
// each list, merged over what the list had (fields only the listing has are kept). Older states are ignored.
export function applyIssue(state, issue) {
  const lists = state.issues;
  if (olderThan(issue, { updated_at: lists.newest.get(issue.issue_id) })) return;
  lists.newest.set(issue.issue_id, issue.updated_at);
  for (const kind of ["feed", "tracker"]) {
    const list = lists[kind];
    if (!list) continue;
    if (list.loading) list.early.push(issue);
    else place(state, kind, issue);
  }
  updateTrackerCount(state);
  const onScreen = state.view?.kind === "feed" || state.view?.kind === "tracker" ? lists[state.view.kind] : null;
  if (onScreen && !onScreen.loading) renderIssues(state, state.view.kind);
  showIssueChange(issue);
}

function place(state, kind, issue) {
  const issues = state.issues[kind].issues;
  const current = issues.get(issue.issue_id);
  if (olderThan(issue, current)) return;
  if (belongs(kind, issue, state)) issues.set(issue.issue_id, { ...current, ...issue });
  else issues.delete(issue.issue_id);
}

// Every issue event carries the issue's state after the change.
export function applyIssueEvent(state, frame) {
  const issue = frame.payload?.issue;
  if (issue) applyIssue(state, issue);
}

// ---- loading (when a list is opened, its filter changes, or the live connection could not catch up) -------

const tickets = { feed: 0, tracker: 0 };   // only the newest load of a list is kept: an older answer is dropped

export async function loadIssues(state, kind) {
  const ticket = ++tickets[kind];
  const path = kind === "tracker" ? "/api/issues/mine" : `/api/issues?status=${state.feedFilter}`;
  state.issues[kind] = { issues: new Map(), early: [], loading: true };
  let body;
  try {
    body = await api("GET", path);
  } catch (error) {
    if (ticket === tickets[kind]) state.issues[kind] = null;
    throw error;
  }
  if (ticket !== tickets[kind]) return;
  const list = { issues: new Map(), early: [], loading: false, filter: state.feedFilter };
  for (const issue of body.issues || []) list.issues.set(issue.issue_id, issue);
  const early = state.issues[kind].early;
  state.issues[kind] = list;
  for (const issue of early) place(state, kind, issue);
  if (kind === "tracker") updateTrackerCount(state);
}

function updateTrackerCount(state) {
  const tracker = state.issues.tracker;
  if (!tracker || tracker.loading) return;
  const open = [...tracker.issues.values()].filter((i) => i.status !== "closed").length;
  document.getElementById("count-tracker").textContent = open || "";
}

// ---- on screen ------------------------------------------------------------------------------------------

// Open the feed or the tracker: shown from the state when pushes have kept it current, else loaded first.
export async function openIssues(state, kind, { reload = false } = {}) {
  const list = state.issues[kind];
  if (reload || !list || list.loading || (kind === "feed" && list.filter !== state.feedFilter)) {
    await loadIssues(state, kind);
  }
  if (state.view?.kind === kind) renderIssues(state, kind);
}

export function renderIssues(state, kind) {
  const main = document.getElementById("main");
  const actions = state.issueActions;
  const filterKey = `${kind}:${state.feedFilter}`;
  const shown = document.getElementById("issue-feed");
  const scrollTop = shown?.dataset.kind === filterKey ? shown.scrollTop : 0;
  const issues = listed(state, kind);
  const list = el("div", { class: "feed", id: "issue-feed", dataset: { kind: filterKey } });
  if (!issues.length) list.append(el("p", { class: "empty" }, kind === "tracker" ? "Nothing assigned to you." : "No customer messages here."));
  for (const issue of issues) list.append(renderIssueCard(issue, state, actions));
  const title = kind === "tracker" ? "Issue Tracker — assigned to me" : "Customer Messages";
  main.replaceChildren(
    el("header", {}, el("h1", {}, title)),
    kind === "feed" ? el("div", { class: "filters" }, ...Object.keys(FILTERS).map((f) =>
      el("button", { class: f === state.feedFilter ? "on" : "", onclick: () => chooseFilter(state, f) }, f))) : "",
    list,
  );
  list.scrollTop = scrollTop; // a live update keeps the place in a long feed
}

async function chooseFilter(state, filter) {
  state.feedFilter = filter;
  await openIssues(state, "feed");
}
