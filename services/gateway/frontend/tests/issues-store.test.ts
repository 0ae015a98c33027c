import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const attention = vi.hoisted(() => ({
  customerIssueWaiting: vi.fn(),
  customerIssueTaken: vi.fn(),
  toast: vi.fn(),
}));
vi.mock("@/stores/attention", () => ({ useAttentionStore: () => attention }));

import { customerLabel } from "@/issues/labels";
import { useIssuesStore } from "@/issues/store";
import type { IssueSnapshot, IssueStatus } from "@/issues/types";
import { useSessionStore } from "@/stores/session";

const ME = { id: "stf_bob", name: "Bob Chen" };
const CAROL = { id: "stf_carol", name: "Carol Diaz" };
let clock = Date.parse("2026-12-02T10:00:00Z");

function snapshot(id: string, status: IssueStatus, extra: Partial<IssueSnapshot> = {}): IssueSnapshot {
  clock += 1000;
  const assignee = extra.assignee ?? null;
  return {
    issue_id: id, customer_id: `cus_${id}`, customer_name: null, customer_label: "(202) 555-0143", channel: "sms",
    status, assignee, summary: "Is my coat ready?", opened_at: "2026-12-02T09:00:00Z",
    updated_at: new Date(clock).toISOString(),
    status_label: status === "assigned" ? `Assigned to ${assignee?.name}` : status === "closed" ? "Closed" : "Unassigned",
    status_colour: status === "assigned" ? "blue" : status === "closed" ? "green" : "red",
    offered_actions: { assignee: ["assign", "close", "resolve", "comment", "reply"], others: ["assign", "take", "comment", "reply"] },
    ...extra,
  };
}

const frame = (type: string, issue: IssueSnapshot) => ({ kind: "event", event_id: `ev-${clock}`, type, payload: { issue } });

let calls: string[] = [];
function serve(routes: Record<string, unknown>): void {
  calls = [];
  vi.stubGlobal("fetch", vi.fn(async (path: string, init?: RequestInit) => {
    calls.push(`${init?.method ?? "GET"} ${path}`);
    const body = routes[path] ?? routes[`${init?.method} ${path}`];
    if (body === undefined) return new Response(JSON.stringify({ error: { message: "no" } }), { status: 404 });
    return new Response(JSON.stringify(body), { status: 200 });
  }));
}

beforeEach(() => {
  setActivePinia(createPinia());
  useSessionStore().me = { staff_id: ME.id, display_name: ME.name, username: "bob", role: "staff", tenant_id: "demo" };
  Object.values(attention).forEach((spy) => spy.mockClear());
});
afterEach(() => vi.unstubAllGlobals());

describe("the issues store", () => {
  it("takes the counts from the server, then keeps them from pushed snapshots without asking again", async () => {
    serve({ "/api/issues/counts": { unassigned: 2, mine_open: 1, assigned: 3 }, "/api/issues/mine": { issues: [] } });
    const store = useIssuesStore();
    await store.reload();
    expect([store.unassignedCount, store.myOpenCount]).toEqual([2, 1]);
    const asked = calls.length;

    const fresh = snapshot("iss_new", "unassigned");
    store.applyIssueFrame(frame("issue.opened", fresh));
    expect(store.unassignedCount).toBe(3);

    store.applyIssueFrame(frame("issue.message_appended", snapshot("iss_new", "unassigned")));
    expect(store.unassignedCount).toBe(3);   // the same issue again: counted once

    store.applyIssueFrame(frame("issue.assigned", snapshot("iss_new", "assigned", { assignee: ME })));
    expect([store.unassignedCount, store.myOpenCount]).toEqual([2, 2]);

    store.applyIssueFrame(frame("issue.assigned", snapshot("iss_new", "assigned", { assignee: CAROL })));
    expect([store.unassignedCount, store.myOpenCount]).toEqual([2, 1]);

    store.applyIssueFrame(frame("issue.closed", snapshot("iss_new", "closed", { assignee: CAROL })));
    expect([store.unassignedCount, store.myOpenCount]).toEqual([2, 1]);

    store.applyIssueFrame(frame("issue.reopened", snapshot("iss_new", "unassigned")));
    expect(store.unassignedCount).toBe(3);
    expect(calls.length).toBe(asked);   // no request for any push
  });

  it("counts an issue it never saw by the kind of change: taken from unassigned, closed by its assignee", () => {
    serve({});
    const store = useIssuesStore();
    store.unassignedCount = 4;
    store.myOpenCount = 2;
    store.applyIssueFrame(frame("issue.assigned", snapshot("iss_a", "assigned", { assignee: CAROL })));
    expect([store.unassignedCount, store.myOpenCount]).toEqual([3, 2]);
    store.applyIssueFrame(frame("issue.closed", snapshot("iss_b", "closed", { assignee: ME })));
    expect([store.unassignedCount, store.myOpenCount]).toEqual([3, 1]);
    store.applyIssueFrame(frame("issue.resolved", snapshot("iss_c", "closed")));
    expect([store.unassignedCount, store.myOpenCount]).toEqual([2, 1]);
  });

  it("updates a listed issue in place and moves it out of a filter it no longer fits, never loading again", async () => {
    const first = snapshot("iss_1", "unassigned");
    const second = snapshot("iss_2", "unassigned");
    serve({ "/api/issues?status=open": { issues: [second, first] } });
    const store = useIssuesStore();
    await store.openList("feed");
    expect(store.feedIssues.map((i) => i.issue_id)).toEqual(["iss_2", "iss_1"]);
    const listed = store.feed.issues.iss_1;

    store.applyIssueFrame(frame("issue.assigned", snapshot("iss_1", "assigned", { assignee: CAROL })));
    expect(store.feedIssues.map((i) => i.issue_id)).toEqual(["iss_1", "iss_2"]);   // newest activity first
    expect(store.feed.issues.iss_1?.status_label).toBe("Assigned to Carol Diaz");
    expect(store.feed.issues.iss_1).not.toBe(listed);

    store.applyIssueFrame(frame("issue.closed", snapshot("iss_1", "closed", { assignee: CAROL })));
    expect(store.feedIssues.map((i) => i.issue_id)).toEqual(["iss_2"]);

    store.applyIssueFrame(frame("issue.opened", snapshot("iss_3", "unassigned")));
    expect(store.feedIssues.map((i) => i.issue_id)).toEqual(["iss_3", "iss_2"]);
    await store.openList("feed");   // opened again: from the store
    expect(calls).toEqual(["GET /api/issues?status=open"]);
  });

  it("loads the open issues, the tracker and the counts once at the start, and a list asked for twice once", async () => {
    serve({ "/api/issues/counts": { unassigned: 1, mine_open: 0 }, "/api/issues/mine": { issues: [] },
      "/api/issues?status=open": { issues: [snapshot("iss_1", "unassigned")] } });
    const store = useIssuesStore();
    await Promise.all([store.start(), store.openList("feed"), store.openList("tracker")]);
    expect(calls.sort()).toEqual(["GET /api/issues/counts", "GET /api/issues/mine", "GET /api/issues?status=open"]);
    // a push about a listed issue is counted against its listed state: no double count
    store.applyIssueFrame(frame("issue.message_appended", snapshot("iss_1", "unassigned")));
    expect(store.unassignedCount).toBe(1);
  });

  it("ignores a snapshot older than the one applied (a late answer or a replayed push)", () => {
    serve({});
    const store = useIssuesStore();
    const older = snapshot("iss_1", "unassigned");
    const newer = snapshot("iss_1", "assigned", { assignee: ME });
    store.applyIssueFrame(frame("issue.assigned", newer));
    store.applyIssueFrame(frame("issue.opened", older));
    expect(store.myOpenCount).toBe(1);
    expect(store.unassignedCount).toBe(0);
  });

  it("applies the pushes that came while a list was loading over its answer", async () => {
    const listed = snapshot("iss_1", "unassigned");
    let answer: (value: Response) => void = () => undefined;
    vi.stubGlobal("fetch", vi.fn(() => new Promise<Response>((resolve) => { answer = resolve; })));
    const store = useIssuesStore();
    const loading = store.openList("feed");
    store.applyIssueFrame(frame("issue.assigned", snapshot("iss_1", "assigned", { assignee: ME })));
    answer(new Response(JSON.stringify({ issues: [listed] }), { status: 200 }));
    await loading;
    expect(store.feed.issues.iss_1?.status).toBe("assigned");
  });

  it("keeps a pushed state newer than a list's answer that was on its way", async () => {
    const listed = snapshot("iss_1", "unassigned");
    const taken = snapshot("iss_1", "assigned", { assignee: ME });
    serve({ "/api/issues?status=open": { issues: [listed] } });
    const store = useIssuesStore();
    store.applyIssueFrame(frame("issue.assigned", taken));
    await store.openList("feed");
    expect(store.feed.issues.iss_1?.status_label).toBe("Assigned to Bob Chen");
  });

  it("calls for attention on a new unassigned issue, by its label, and stops when it is taken", () => {
    serve({});
    const store = useIssuesStore();
    store.applyIssueFrame(frame("issue.opened", snapshot("iss_1", "unassigned")));
    expect(attention.customerIssueWaiting).toHaveBeenCalledWith("iss_1", "(202) 555-0143");
    store.applyIssueFrame(frame("issue.assigned", snapshot("iss_1", "assigned", { assignee: CAROL })));
    expect(attention.customerIssueTaken).toHaveBeenCalledWith("iss_1");
  });

  it("keeps the Issue Tracker to my assigned and closed issues", async () => {
    serve({ "/api/issues/mine": { issues: [] } });
    const store = useIssuesStore();
    await store.openList("tracker");
    store.applyIssueFrame(frame("issue.assigned", snapshot("iss_1", "assigned", { assignee: ME })));
    store.applyIssueFrame(frame("issue.assigned", snapshot("iss_2", "assigned", { assignee: CAROL })));
    expect(store.trackerIssues.map((i) => i.issue_id)).toEqual(["iss_1"]);
    store.applyIssueFrame(frame("issue.closed", snapshot("iss_1", "closed", { assignee: ME })));
    expect(store.trackerIssues.map((i) => i.status)).toEqual(["closed"]);
  });
});

describe("the customer's label", () => {
  it("is the label, else the name, else 'Unknown customer' — never the id", () => {
    expect(customerLabel({ customer_label: "(202) 555-0143", customer_name: null })).toBe("(202) 555-0143");
    expect(customerLabel({ customer_label: null, customer_name: "Jane Doe" })).toBe("Jane Doe");
    expect(customerLabel({ customer_label: "Jane Doe", customer_name: "Jane Doe" })).toBe("Jane Doe");
    const unknown = { customer_id: "cus_f754c4cdd21548ce", customer_label: null, customer_name: null };
    expect(customerLabel(unknown)).toBe("Unknown customer");
  });
});
