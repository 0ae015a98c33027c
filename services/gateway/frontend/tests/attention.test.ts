import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { nextTick } from "vue";
import { settingsKey, TOAST_SHOWN_MS, useAttentionStore } from "@/stores/attention";

beforeEach(() => {
  setActivePinia(createPinia());
  vi.useFakeTimers();
  localStorage.clear();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("attention", () => {
  it("shows at most three toasts, newest first, each gone after a few seconds", () => {
    const attention = useAttentionStore();
    for (const n of [1, 2, 3, 4]) attention.toast({ title: `t${n}`, where: "# front", attention: "chat" });
    expect(attention.toasts.map((t) => t.title)).toEqual(["t4", "t3", "t2"]);
    expect(attention.announcement).toBe("# front: t4");
    vi.advanceTimersByTime(TOAST_SHOWN_MS + 1);
    expect(attention.toasts).toEqual([]);
  });

  it("keeps a hovered or focused toast until it is left", () => {
    const attention = useAttentionStore();
    const held = attention.toast({ title: "held", attention: "chat" });
    attention.toast({ title: "other", attention: "chat" });
    attention.hold(held.id);
    vi.advanceTimersByTime(TOAST_SHOWN_MS * 3);
    expect(attention.toasts.map((t) => t.title)).toEqual(["held"]);
    attention.release(held.id);
    vi.advanceTimersByTime(TOAST_SHOWN_MS + 1);
    expect(attention.toasts).toEqual([]);
  });

  it("puts the unread count in the tab's title", () => {
    const attention = useAttentionStore();
    attention.setUnreadCount(4);
    expect(document.title).toBe("(4) Relay");
    attention.setUnreadCount(0);
    expect(document.title).toBe("Relay");
  });

  it("rings while a customer issue waits and the sound is on, and keeps each person's switches", async () => {
    const attention = useAttentionStore();
    attention.useSettingsOf("demo", "bob");
    attention.customerIssueWaiting("i1", "Mei Tanaka");
    expect(attention.ringing).toBe(false);   // the sound is off until switched on
    attention.setSound(true);
    expect(attention.ringing).toBe(true);
    attention.customerIssueTaken("i1");
    expect(attention.ringing).toBe(false);
    await nextTick();
    expect(JSON.parse(localStorage.getItem(settingsKey("demo", "bob"))!)).toEqual({ desktopNotifications: false, sound: true });
    attention.useSettingsOf("demo", "carol");
    expect(attention.settings.sound).toBe(false);
    attention.useSettingsOf("demo", "bob");
    expect(attention.settings.sound).toBe(true);
  });

  it("shows a desktop notification for a customer issue when switched on and permitted", async () => {
    const shown: { title: string; body?: string }[] = [];
    const made: FakeNotification[] = [];
    class FakeNotification {
      static permission = "default";
      static requestPermission = vi.fn(async () => { FakeNotification.permission = "granted"; return "granted"; });
      onclick: (() => void) | null = null;
      constructor(title: string, options: { body?: string }) { shown.push({ title, body: options.body }); made.push(this); }
      close(): void {}
    }
    vi.stubGlobal("Notification", FakeNotification);
    const attention = useAttentionStore();
    attention.toast({ title: "New message from Mei Tanaka", attention: "customer_issue" });
    expect(shown).toEqual([]);
    await attention.setDesktopNotifications(true);
    expect(FakeNotification.requestPermission).toHaveBeenCalledOnce();
    attention.toast({ title: "Bob Chen", where: "# front", attention: "chat" });
    attention.toast({ title: "New message from Mei Tanaka", where: "Customer Messages", body: "Ready?", attention: "customer_issue" });
    expect(shown).toEqual([{ title: "New message from Mei Tanaka · Customer Messages", body: "Ready?" }]);

    // mentions and private messages too; a click on one opens what it is about
    attention.toast({ title: "Bob Chen mentioned you", where: "# front", body: "@carol", attention: "mention", href: "#c/c1" });
    attention.toast({ title: "Bob Chen", where: "Bob Chen", body: "Lunch?", attention: "private_message", href: "#c/p1" });
    expect(shown.map((n) => n.body)).toEqual(["Ready?", "@carol", "Lunch?"]);
    made[2]!.onclick!();
    expect(location.hash).toBe("#c/p1");
    expect(attention.toasts.some((t) => t.body === "Lunch?")).toBe(false);
  });
});
