import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it } from "vitest";
import { installFrameTable, live } from "@/live";
import { useAttentionStore } from "@/stores/attention";
import { useChatStore } from "@/stores/chat";
import { useIssuesStore } from "@/issues/store";
import { useSessionStore } from "@/stores/session";

beforeEach(() => {
  setActivePinia(createPinia());
  useSessionStore().me = { staff_id: "carol", display_name: "Carol Diaz", username: "carol", role: "staff", tenant_id: "demo" };
});

describe("the frame table", () => {
  it("sends each frame to the store that applies it", () => {
    installFrameTable();
    live.markReady();
    const chat = useChatStore();
    chat.conversations = [{ conversation_id: "p1", kind: "private", name: "", participants: ["bob", "carol"], is_member: true }];
    live.receive({ kind: "unread", event_id: "u1", conversation_id: "p1", unread: 2, first_unread_seq: 4 });
    expect(chat.totalUnread).toBe(2);
    live.receive({ kind: "presence", staff_id: "bob", status: "online" });
    expect(chat.presenceOf("bob")).toBe("online");

    live.receive({ kind: "toast", event_id: "t1", title: "Bob Chen", where: "Bob Chen", body: "Lunch?", mention: false,
      open: { conversation_id: "p1", seq: 4 } });
    const attention = useAttentionStore();
    expect(attention.toasts[0]).toMatchObject({ title: "Bob Chen", where: "Bob Chen", href: "#c/p1",
      attention: "private_message", about: { conversation_id: "p1", seq: 4 } });
    live.receive({ kind: "toast", event_id: "t1", title: "Bob Chen" });   // the same toast again: shown once
    expect(attention.toasts).toHaveLength(1);

    const issue = { issue_id: "i1", customer_id: "c1", customer_label: "Mei Tanaka", channel: "sms", status: "unassigned",
      opened_at: "2026-12-02T10:00:00Z", updated_at: "2026-12-02T10:00:00Z", status_label: "Unassigned", status_colour: "red" };
    const before = useIssuesStore().unassignedCount;
    live.receive({ kind: "event", event_id: "e1", type: "issue.opened", payload: { issue } });
    expect(useIssuesStore().unassignedCount).toBe(before + 1);
    expect(attention.waiting.has("i1")).toBe(true);
  });
});
