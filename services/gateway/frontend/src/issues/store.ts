// Customer issues: the Customer Messages feed, the Issue Tracker, the issue on screen and the two counts.
// Lists are loaded when opened; after that every pushed snapshot (and the answer to this tab's own action) is
// applied in place. A push never makes a list load again; only a connection that could not catch up does (reload).
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { api } from "@/api";
import { useAttentionStore } from "@/stores/attention";
import { useSessionStore } from "@/stores/session";
import { customerLabel } from "./labels";
import type {
  FeedFilter, IssueCounts, IssueDetail, IssueFrame, IssueSnapshot, IssueStatus,
} from "./types";

export type ListKind = "feed" | "tracker";

export const FEED_FILTERS: { filter: FeedFilter; label: string }[] = [
  { filter: "open", label: "Open" },
  { filter: "unassigned", label: "Unassigned" },
  { filter: "assigned", label: "Assigned" },
  { filter: "mine", label: "Mine" },
  { filter: "closed", label: "Closed" },
  { filter: "all", label: "All" },
];

const FEED_PATHS: Record<FeedFilter, string> = {
  open: "/api/issues?status=open",
  unassigned: "/api/issues?status=unassigned",
  assigned: "/api/issues?status=assigned",
  mine: "/api/issues/mine",
  closed: "/api/issues?status=closed",
  all: "/api/issues",
};
const TRACKED: IssueStatus[] = ["assigned", "closed"];   // the Issue Tracker: mine, open ones first, then closed
const DETAIL_REFRESH_MS = 150;   // several events in a row about the issue on screen: one load of its history

interface IssueList {
  issues: Record<string, IssueSnapshot>;
  loading: boolean;
  loaded: boolean;
  filter: FeedFilter;
  early: IssueSnapshot[];   // pushed while the list was loading: applied over the answer
  error: string;
}

interface Counted {
  unassigned: boolean;
  mineOpen: boolean;
}

const at = (iso: string | undefined | null): number => (iso ? Date.parse(iso) || 0 : 0);

function emptyList(filter: FeedFilter = "open"): IssueList {
  return { issues: {}, loading: false, loaded: false, filter, early: [], error: "" };
}

/** Whether a snapshot is older than the state already applied (a late answer, a replayed push). */
export function olderThan(issue: Pick<IssueSnapshot, "updated_at">, current: { updated_at?: string } | null | undefined): boolean {
  return Boolean(current?.updated_at) && at(issue.updated_at) < at(current!.updated_at);
}

/** The actions the issues service offers this staff member for the issue as it is now. */
export function offeredActions(issue: IssueSnapshot, staffId: string | undefined): string[] {
  const offered = issue.offered_actions ?? { assignee: [], others: [] };
  return issue.assignee?.id && issue.assignee.id === staffId ? offered.assignee : offered.others;
}

export const useIssuesStore = defineStore("issues", () => {
  const feed = ref<IssueList>(emptyList());
  const tracker = ref<IssueList>(emptyList());
  const unassignedCount = ref(0);
  const myOpenCount = ref(0);
  const detail = ref<IssueDetail | null>(null);
  const openIssueId = ref<string | null>(null);
  const customer = ref<{ customerId: string; backToIssue: string | null } | null>(null);

  // What each issue counted for in the two counts, and the newest state applied (not rendered: bookkeeping).
  const counted = new Map<string, Counted>();
  const newest = new Map<string, IssueSnapshot>();
  const tickets: Record<ListKind, number> = { feed: 0, tracker: 0 };
  const loading: Record<ListKind, Promise<void> | null> = { feed: null, tracker: null };
  let detailTicket = 0;
  let detailTimer: ReturnType<typeof setTimeout> | null = null;

  const me = (): string | undefined => useSessionStore().me?.staff_id;

  function countsFor(issue: IssueSnapshot): Counted {
    return {
      unassigned: issue.status === "unassigned",
      mineOpen: issue.status === "assigned" && Boolean(me()) && issue.assignee?.id === me(),
    };
  }

  // What an issue counted for before a change this tab had not seen it before: told by the kind of change.
  function countedBefore(issue: IssueSnapshot, type: string | undefined): Counted {
    const nothing = { unassigned: false, mineOpen: false };
    switch (type) {
      case "issue.opened":
      case "issue.reopened":
        return nothing;
      case "issue.assigned":
        return { unassigned: true, mineOpen: false };
      case "issue.closed":
      case "issue.resolved":
        return issue.assignee ? { unassigned: false, mineOpen: issue.assignee.id === me() } : { unassigned: true, mineOpen: false };
      default:
        return countsFor(issue);
    }
  }

  function recount(issue: IssueSnapshot, type: string | undefined): void {
    const before = counted.get(issue.issue_id) ?? countedBefore(issue, type);
    const after = countsFor(issue);
    unassignedCount.value = Math.max(0, unassignedCount.value + Number(after.unassigned) - Number(before.unassigned));
    myOpenCount.value = Math.max(0, myOpenCount.value + Number(after.mineOpen) - Number(before.mineOpen));
    counted.set(issue.issue_id, after);
  }

  function belongs(kind: ListKind, issue: IssueSnapshot, filter: FeedFilter): boolean {
    const mine = Boolean(me()) && issue.assignee?.id === me();
    if (kind === "tracker") return TRACKED.includes(issue.status) && mine;
    switch (filter) {
      case "open": return issue.status !== "closed";
      case "unassigned": return issue.status === "unassigned";
      case "assigned": return issue.status === "assigned";
      case "mine": return issue.status === "assigned" && mine;
      case "closed": return issue.status === "closed";
      case "all": return true;
    }
  }

  function listOf(kind: ListKind) {
    return kind === "feed" ? feed : tracker;
  }

  function place(kind: ListKind, issue: IssueSnapshot): void {
    const list = listOf(kind).value;
    const current = list.issues[issue.issue_id];
    if (olderThan(issue, current)) return;
    if (belongs(kind, issue, list.filter)) list.issues[issue.issue_id] = { ...current, ...issue };
    else delete list.issues[issue.issue_id];
  }

  /** One issue's new state (a pushed snapshot or the answer to an action), placed in, moved within or out of each list. */
  function applyIssue(issue: IssueSnapshot, { type }: { type?: string } = {}): void {
    if (olderThan(issue, newest.get(issue.issue_id))) return;
    newest.set(issue.issue_id, issue);
    recount(issue, type);
    for (const kind of ["feed", "tracker"] as ListKind[]) {
      const list = listOf(kind).value;
      if (list.loading) list.early.push(issue);
      else if (list.loaded) place(kind, issue);
    }
    const shown = detail.value;
    if (shown && shown.issue.issue_id === issue.issue_id && !olderThan(issue, shown.issue)) {
      shown.issue = { ...shown.issue, ...issue };
    }
  }

  /** A pushed `event` frame of an issue event: its snapshot applied in place; the attention it calls for. */
  function applyIssueFrame(frame: IssueFrame): void {
    const issue = frame.payload?.issue ?? frame.issue;
    if (!issue?.issue_id) return;
    const wasUnassigned = counted.get(issue.issue_id)?.unassigned;
    applyIssue(issue, { type: frame.type });
    const attention = useAttentionStore();
    if (frame.type === "issue.opened" && issue.status === "unassigned") {
      attention.customerIssueWaiting(issue.issue_id, customerLabel(issue));
    } else if (issue.status !== "unassigned" && wasUnassigned !== false) {
      attention.customerIssueTaken(issue.issue_id);
    }
    // The history of the issue on screen comes with the full issue (a push carries its state): loaded once for
    // several events in a row, also when another issue of the same customer changed (their past communication).
    const shown = detail.value;
    if (shown && (shown.issue.issue_id === issue.issue_id || shown.issue.customer_id === issue.customer_id)) {
      scheduleDetailRefresh();
    }
  }

  // ---- loading -------------------------------------------------------------------------------------

  async function loadCounts(): Promise<void> {
    const counts = await api<IssueCounts>("GET", "/api/issues/counts");
    unassignedCount.value = counts.unassigned ?? 0;
    myOpenCount.value = counts.mine_open ?? counts.mine ?? 0;
  }

  async function loadList(kind: ListKind, filter?: FeedFilter): Promise<void> {
    const ticket = ++tickets[kind];
    const list = listOf(kind);
    const chosen = filter ?? list.value.filter;
    list.value = { ...emptyList(chosen), loading: true, early: [] };
    let body: { issues: IssueSnapshot[] };
    try {
      body = await api<{ issues: IssueSnapshot[] }>("GET", kind === "tracker" ? "/api/issues/mine" : FEED_PATHS[chosen]);
    } catch (error) {
      if (ticket === tickets[kind]) list.value = { ...emptyList(chosen), error: (error as Error).message };
      throw error;
    }
    if (ticket !== tickets[kind]) return;   // an older answer than the list asked for since
    const early = list.value.early;
    const loaded: IssueList = { ...emptyList(chosen), loaded: true };
    for (const listed of body.issues ?? []) {
      // a push newer than the answer (sent while it was on its way) wins over it
      const pushed = newest.get(listed.issue_id);
      const issue = pushed && olderThan(listed, pushed) ? { ...listed, ...pushed } : listed;
      if (!counted.has(issue.issue_id)) counted.set(issue.issue_id, countsFor(issue));
      if (belongs(kind, issue, chosen)) loaded.issues[issue.issue_id] = issue;
    }
    list.value = loaded;
    for (const issue of early) place(kind, issue);
  }

  /** The feed or the tracker on screen: kept current by pushes once loaded, loaded when first opened. */
  async function openList(kind: ListKind, { filter, reload = false }: { filter?: FeedFilter; reload?: boolean } = {}) {
    const list = listOf(kind).value;
    const wanted = filter ?? list.filter;
    if (!reload && list.loading && wanted === list.filter && loading[kind]) return loading[kind]!;   // asked already
    if (reload || !list.loaded || wanted !== list.filter) {
      const load = loadList(kind, wanted);
      loading[kind] = load;
      try {
        await load;
      } finally {
        if (loading[kind] === load) loading[kind] = null;
      }
    }
  }

  async function chooseFilter(filter: FeedFilter): Promise<void> {
    await openList("feed", { filter });
  }

  /** Once signed in: the counts for the badges, and the open issues and the Issue Tracker they are made of (so
   * every later snapshot is counted against the state it changes). */
  async function start(): Promise<void> {
    await Promise.all([loadCounts().catch(() => null), openList("tracker").catch(() => null),
      openList("feed", { filter: "open" }).catch(() => null)]);
  }

  /** After the live connection could not catch up: everything loaded is loaded again. */
  async function reload(): Promise<void> {
    const lists = (["feed", "tracker"] as ListKind[]).filter((kind) => listOf(kind).value.loaded || kind === "tracker");
    await Promise.all([loadCounts().catch(() => null),
      ...lists.map((kind) => openList(kind, { reload: true }).catch(() => null))]);
    if (openIssueId.value) await loadDetail(openIssueId.value).catch(() => null);
  }

  function reset(): void {
    feed.value = emptyList();
    tracker.value = emptyList();
    unassignedCount.value = 0;
    myOpenCount.value = 0;
    detail.value = null;
    openIssueId.value = null;
    customer.value = null;
    counted.clear();
    newest.clear();
    tickets.feed += 1;   // an answer still on its way belongs to whoever was signed in before
    tickets.tracker += 1;
    loading.feed = null;
    loading.tracker = null;
  }

  function sorted(kind: ListKind): IssueSnapshot[] {
    const issues = Object.values(listOf(kind).value.issues);
    if (kind === "feed") {
      return issues.sort((a, b) => at(b.updated_at) - at(a.updated_at) || (b.issue_id > a.issue_id ? 1 : -1));
    }
    return issues.sort((a, b) => TRACKED.indexOf(a.status) - TRACKED.indexOf(b.status) || at(a.opened_at) - at(b.opened_at));
  }

  const feedIssues = computed(() => sorted("feed"));
  const trackerIssues = computed(() => sorted("tracker"));

  // ---- the issue on screen -------------------------------------------------------------------------

  async function loadDetail(issueId: string): Promise<void> {
    const ticket = ++detailTicket;
    const body = await api<IssueDetail>("GET", `/api/issues/${encodeURIComponent(issueId)}`);
    if (ticket !== detailTicket || openIssueId.value !== issueId) return;
    detail.value = body;
    if (!olderThan(body.issue, newest.get(issueId))) {
      newest.set(issueId, body.issue);
      recount(body.issue, undefined);
    }
  }

  function scheduleDetailRefresh(): void {
    if (detailTimer) clearTimeout(detailTimer);
    const issueId = openIssueId.value;
    detailTimer = setTimeout(() => {
      detailTimer = null;
      if (issueId && openIssueId.value === issueId) loadDetail(issueId).catch(() => null);
    }, DETAIL_REFRESH_MS);
  }

  /** Open one issue with the customer's past communication (Assign It, a toast, a search result). */
  async function openIssue(issueId: string): Promise<void> {
    customer.value = null;
    if (openIssueId.value !== issueId) detail.value = null;
    openIssueId.value = issueId;
    try {
      await loadDetail(issueId);
    } catch (error) {
      if (openIssueId.value === issueId) openIssueId.value = null;
      useAttentionStore().toast({ title: "Issue not found", body: (error as Error).message, attention: "info" });
    }
  }

  function closeIssue(): void {
    openIssueId.value = null;
    detail.value = null;
  }

  /** View Customer, from a card, the issue (which it replaces, with a way back) or a search result. */
  function openCustomer(customerId: string, { backToIssue = null }: { backToIssue?: string | null } = {}): void {
    if (backToIssue) closeIssue();
    customer.value = { customerId, backToIssue };
  }

  function closeCustomer(): void {
    customer.value = null;
  }

  // ---- actions -------------------------------------------------------------------------------------

  const ACTION_EVENTS: Record<string, string> = {
    take: "issue.assigned", assign: "issue.assigned", close: "issue.closed", resolve: "issue.resolved",
    reopen: "issue.reopened",
  };

  /** A staff action on an issue; the answer is its new state, applied at once (its push then changes nothing). */
  async function act(issueId: string, action: "take" | "close" | "resolve" | "reopen" | "assign" | "comments" | "replies",
    body: Record<string, unknown> = {}): Promise<void> {
    const answer = await api<{ issue?: IssueSnapshot }>("POST", `/api/issues/${encodeURIComponent(issueId)}/${action}`, body);
    if (answer?.issue) applyIssue(answer.issue, { type: ACTION_EVENTS[action] });
    if (answer?.issue && answer.issue.status !== "unassigned") useAttentionStore().customerIssueTaken(issueId);
    if (openIssueId.value === issueId) await loadDetail(issueId).catch(() => null);
  }

  /** A card's action: a refusal is told in a toast. */
  async function actFromCard(issue: IssueSnapshot, action: "take" | "close" | "resolve" | "reopen"): Promise<void> {
    try {
      await act(issue.issue_id, action);
    } catch (error) {
      useAttentionStore().toast({ title: "Not done", body: (error as Error).message, attention: "info" });
    }
  }

  return {
    feed, tracker, unassignedCount, myOpenCount, detail, openIssueId, customer, feedIssues, trackerIssues,
    applyIssue, applyIssueFrame, loadCounts, loadList, openList, chooseFilter, start, reload, reset,
    openIssue, closeIssue, openCustomer, closeCustomer, loadDetail, act, actFromCard,
  };
});
