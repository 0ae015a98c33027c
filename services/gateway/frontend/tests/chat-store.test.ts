import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useChatStore } from "@/stores/chat";
import { useSessionStore } from "@/stores/session";

const CHANNEL = { conversation_id: "c1", kind: "channel", name: "front", is_member: true, unread_count: 0,
  last_seq: 2, members_count: 2, participants: [] };

function message(seq: number, author = "bob", text = `message ${seq}`) {
  return { message_id: `m${seq}`, seq, author: { id: author, name: author === "bob" ? "Bob Chen" : "Carol Diaz" }, text,
    posted_at: "2026-12-02T10:00:00Z" };
}

/** The chat API as the store calls it; every call is recorded so a test can say nothing was fetched again. */
function fakeChatApi() {
  const calls: string[] = [];
  vi.stubGlobal("fetch", vi.fn(async (url: string, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    calls.push(`${method} ${url}`);
    const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200 });
    if (url === "/api/chat/conversations/c1") return json({ ...CHANNEL, unread_count: 1, first_unread_seq: 2 });
    if (url.startsWith("/api/chat/conversations/c1/messages?")) {
      return json({ messages: [message(1, "carol"), message(2)], has_more_before: false, has_more_after: false });
    }
    if (url === "/api/chat/conversations/c1/read") {
      return json({ conversation_id: "c1", read_up_to_seq: 2, unread_count: 0, first_unread_seq: null, last_seq: 2 });
    }
    if (url === "/api/chat/me/position") return json({});
    if (url.startsWith("/api/chat/conversations?")) return json({ conversations: [CHANNEL] });
    return new Response("{}", { status: 404 });
  }));
  return calls;
}

let calls: string[];

beforeEach(() => {
  setActivePinia(createPinia());
  calls = fakeChatApi();
  location.hash = "";
  const session = useSessionStore();
  session.me = { staff_id: "carol", display_name: "Carol Diaz", username: "carol", role: "staff", tenant_id: "demo" };
  session.staff = [{ staff_id: "bob", username: "bob", display_name: "Bob Chen", role: "staff" },
    { staff_id: "carol", username: "carol", display_name: "Carol Diaz", role: "staff" }];
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("the chat store", () => {
  it("opens a conversation under the New Messages line at the first unread message by someone else", async () => {
    const chat = useChatStore();
    chat.conversations = [{ ...CHANNEL }];
    await chat.openConversation("c1");
    expect(chat.open?.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(chat.newMessagesLineSeq).toBe(2);
    expect(calls).toContain("POST /api/chat/conversations/c1/read");
    expect(chat.find("c1")?.unread_count).toBe(0);
  });

  it("applies pushed messages, edits and deletions without asking the server again", async () => {
    const chat = useChatStore();
    chat.conversations = [{ ...CHANNEL }];
    await chat.openConversation("c1");
    const before = calls.length;
    const conversation = { conversation_id: "c1" };
    chat.applyEvent({ kind: "event", event_id: "e1", type: "chat.message_posted",
      payload: { conversation, message: message(4) } });
    chat.applyEvent({ kind: "event", event_id: "e2", type: "chat.message_posted",
      payload: { conversation, message: message(3) } });
    expect(chat.open?.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    chat.applyEvent({ kind: "event", event_id: "e3", type: "chat.message_edited",
      payload: { conversation, message: { ...message(3), text: "changed", edited_at: "2026-12-02T10:01:00Z" } } });
    expect(chat.open?.messages[2]?.text).toBe("changed");
    chat.applyEvent({ kind: "event", event_id: "e4", type: "chat.message_deleted", payload: { conversation, message_id: "m4" } });
    expect(chat.open?.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(chat.open?.known.m4?.deleted).toBe(true);
    expect(chat.find("c1")?.last_seq).toBe(4);
    expect(calls.slice(before).filter((c) => c.startsWith("GET"))).toEqual([]);
  });

  it("keeps badges from unread frames, hiding the one of the conversation on screen", async () => {
    const chat = useChatStore();
    chat.conversations = [{ ...CHANNEL }, { ...CHANNEL, conversation_id: "c2", name: "back" }];
    chat.applyUnread({ kind: "unread_snapshot", conversations: { c1: { unread: 3, first_unread_seq: 1 }, c2: { unread: 2 } } });
    expect(chat.totalUnread).toBe(5);
    chat.applyUnread({ kind: "unread", conversation_id: "c2", unread: 0 });
    expect(chat.totalUnread).toBe(3);
    await chat.openConversation("c1");
    chat.applyUnread({ kind: "unread", conversation_id: "c1", unread: 1, first_unread_seq: 3 });
    expect(chat.shownUnread(chat.find("c1")!)).toBe(0);
    chat.setPageHidden(true);
    expect(chat.shownUnread(chat.find("c1")!)).toBe(1);
  });

  it("shows who is typing for a few seconds, and presence as it changes", () => {
    vi.useFakeTimers();
    const chat = useChatStore();
    chat.open = { id: "c1", conversation: { ...CHANNEL }, firstUnread: null, messages: [], known: {}, hasMoreBefore: false,
      replyTo: null, attachments: [], highlightSeq: null, scroll: { to: "bottom", ticket: 0 } };
    chat.applyTyping({ kind: "typing", conversation_id: "c1", staff_id: "bob", name: "Bob Chen", state: "start" });
    expect(chat.typingLine).toBe("Bob Chen is typing…");
    vi.advanceTimersByTime(5001);
    expect(chat.typingLine).toBe("");
    chat.applyPresence({ kind: "presence_snapshot", statuses: { bob: "online" } });
    chat.applyPresence({ kind: "presence", staff_id: "bob", status: "away" });
    expect(chat.presenceOf("bob")).toBe("away");
    chat.applyPresence({ kind: "presence", staff_id: "bob", status: "offline" });
    expect(chat.presenceOf("bob")).toBe("offline");
  });
});
