// Getting a staff member's attention: toasts (at most three, gone after a few seconds unless hovered or focused,
// announced through one polite live region), desktop notifications, a sound repeated while a customer issue waits
// for someone to take it, and the unread count in the tab's title and favicon. The two switches are kept per staff
// member in this browser.
import { defineStore } from "pinia";
import { computed, reactive, ref, watch } from "vue";
import { drawFavicon } from "@/favicon";
import { navigate } from "@/router";
import { chime, unlockSound } from "@/sound";

/** What attention a toast asks for (the toast frame's `attention`; "info" for the page's own notes): customer
 * issues, mentions and private messages also notify the desktop. */
export type AttentionKind = "customer_issue" | "mention" | "private_message" | "chat" | "info";

export interface ToastInput {
  title: string;
  body?: string;
  /** The channel, chat or customer it belongs to. */
  where?: string;
  /** What a click opens: a hash route such as "#c/<id>" or "#feed". */
  href?: string;
  attention: AttentionKind;
  /** What it is about, so that opening that conversation or issue takes its toasts away. */
  about?: { conversation_id?: string; issue_id?: string };
  /** Run instead of (or after) following `href` when the toast or its notification is clicked. */
  onOpen?: () => void;
}

export interface Toast extends ToastInput {
  id: number;
}

export interface AttentionSettings {
  desktopNotifications: boolean;
  sound: boolean;
}

export const TOAST_SHOWN_MS = 6000;
export const TOASTS_SHOWN = 3;
export const RING_EVERY_MS = 10_000;
const NOTIFYING: ReadonlySet<AttentionKind> = new Set(["customer_issue", "mention", "private_message"]);
const DEFAULTS: AttentionSettings = { desktopNotifications: false, sound: false };

export function settingsKey(tenantId: string, staffId: string): string {
  return `relay.attention.${tenantId}.${staffId}`;
}

export function titleFor(count: number): string {
  return count > 0 ? `(${count}) Relay` : "Relay";
}

function notificationsPermitted(): boolean {
  return typeof Notification !== "undefined" && Notification.permission === "granted";
}

export const useAttentionStore = defineStore("attention", () => {
  const toasts = ref<Toast[]>([]);
  /** The text of the one polite live region: the newest toast, read out once. */
  const announcement = ref("");
  const settings = reactive<AttentionSettings>({ ...DEFAULTS });
  const permission = ref<NotificationPermission | "unsupported">(
    typeof Notification === "undefined" ? "unsupported" : Notification.permission);
  const unreadCount = ref(0);
  /** Customer issues nobody has taken yet: issue id -> how the customer is named. */
  const waiting = reactive(new Map<string, string>());
  const ringing = computed(() => settings.sound && waiting.size > 0);

  let nextId = 1;
  let storageKey: string | null = null;
  const timers = new Map<number, ReturnType<typeof setTimeout>>();
  const held = new Set<number>();
  let ringTimer: ReturnType<typeof setInterval> | null = null;

  // ---- toasts ---------------------------------------------------------------------------------------

  function schedule(id: number): void {
    clearTimeout(timers.get(id));
    timers.set(id, setTimeout(() => dismiss(id), TOAST_SHOWN_MS));
  }

  function toast(input: ToastInput): Toast {
    const shown: Toast = { ...input, id: nextId++ };
    toasts.value = [shown, ...toasts.value];
    for (const dropped of toasts.value.slice(TOASTS_SHOWN)) forget(dropped.id);
    toasts.value = toasts.value.slice(0, TOASTS_SHOWN);
    schedule(shown.id);
    announcement.value = [shown.where, shown.title, shown.body].filter(Boolean).join(": ");
    if (NOTIFYING.has(input.attention)) notifyDesktop(shown);
    return shown;
  }

  function forget(id: number): void {
    clearTimeout(timers.get(id));
    timers.delete(id);
    held.delete(id);
  }

  function dismiss(id: number): void {
    forget(id);
    toasts.value = toasts.value.filter((t) => t.id !== id);
  }

  /** Take away the toasts about a conversation or issue now on screen. */
  function dismissAbout(about: { conversation_id?: string; issue_id?: string }): void {
    for (const t of toasts.value) {
      if ((about.conversation_id && t.about?.conversation_id === about.conversation_id)
        || (about.issue_id && t.about?.issue_id === about.issue_id)) dismiss(t.id);
    }
  }

  /** Hover or focus keeps a toast on screen; leaving it starts its time again. */
  function hold(id: number): void {
    held.add(id);
    clearTimeout(timers.get(id));
  }

  function release(id: number): void {
    if (!held.delete(id)) return;
    if (toasts.value.some((t) => t.id === id)) schedule(id);
  }

  function open(t: Toast): void {
    dismiss(t.id);
    if (t.href) navigate(t.href);
    t.onOpen?.();
  }

  function clearToasts(): void {
    for (const t of toasts.value) forget(t.id);
    toasts.value = [];
    announcement.value = "";
  }

  // ---- desktop notifications --------------------------------------------------------------------------

  function notifyDesktop(t: Toast): void {
    if (!settings.desktopNotifications || !notificationsPermitted()) return;
    try {
      const shown = new Notification(t.where ? `${t.title} · ${t.where}` : t.title, {
        body: t.body ?? "",
        tag: t.about?.issue_id ?? t.about?.conversation_id ?? `toast-${t.id}`,
      });
      shown.onclick = () => {
        window.focus();
        open(t);
        shown.close();
      };
    } catch {
      /* a browser that refuses page notifications (some phones) keeps the toast only */
    }
  }

  /** The "Desktop notifications" switch: turning it on asks the browser's permission, from this click. */
  async function setDesktopNotifications(on: boolean): Promise<void> {
    if (!on) {
      settings.desktopNotifications = false;
      return;
    }
    if (typeof Notification === "undefined") {
      permission.value = "unsupported";
      settings.desktopNotifications = false;
      return;
    }
    const asked = Notification.permission === "default" ? Notification.requestPermission() : Notification.permission;
    settings.desktopNotifications = true;   // shown on at once; taken back if the browser says no
    permission.value = await asked;
    settings.desktopNotifications = permission.value === "granted";
  }

  // ---- the sound while a customer issue waits -----------------------------------------------------------

  function setSound(on: boolean): void {
    settings.sound = on;
    if (on) unlockSound();   // browsers let a page play sound after a click on it
  }

  function customerIssueWaiting(issueId: string, label: string): void {
    waiting.set(issueId, label);
  }

  function customerIssueTaken(issueId: string): void {
    waiting.delete(issueId);
  }

  watch(ringing, (now) => {
    if (ringTimer) clearInterval(ringTimer);
    ringTimer = null;
    if (!now) return;
    chime();
    ringTimer = setInterval(chime, RING_EVERY_MS);
  });

  // ---- the tab's title and favicon ----------------------------------------------------------------------

  function setUnreadCount(count: number): void {
    unreadCount.value = Math.max(0, count);
    document.title = titleFor(unreadCount.value);
    const link = document.querySelector<HTMLLinkElement>("link#favicon");
    const url = drawFavicon(unreadCount.value);
    if (link && url) link.href = url;
  }

  // ---- settings, per staff member ----------------------------------------------------------------------

  /** Read this staff member's switches (or the defaults) and keep them saved from now on. */
  function useSettingsOf(tenantId: string | null, staffId: string | null): void {
    storageKey = tenantId && staffId ? settingsKey(tenantId, staffId) : null;
    let saved: Partial<AttentionSettings> = {};
    try {
      saved = storageKey ? JSON.parse(localStorage.getItem(storageKey) || "{}") : {};
    } catch {
      saved = {};
    }
    settings.desktopNotifications = Boolean(saved.desktopNotifications);
    settings.sound = Boolean(saved.sound);
    permission.value = typeof Notification === "undefined" ? "unsupported" : Notification.permission;
  }

  watch(settings, (now) => {
    if (!storageKey) return;
    try {
      localStorage.setItem(storageKey, JSON.stringify({ desktopNotifications: now.desktopNotifications, sound: now.sound }));
    } catch { /* private mode: the switches last as long as the page */ }
  }, { deep: true });

  /** Signed out: nothing of the last person's stays on screen or rings. */
  function reset(): void {
    clearToasts();
    waiting.clear();
    useSettingsOf(null, null);
    setUnreadCount(0);
  }

  return {
    toasts, announcement, settings, permission, unreadCount, waiting, ringing,
    toast, dismiss, dismissAbout, hold, release, open, clearToasts,
    setDesktopNotifications, setSound, customerIssueWaiting, customerIssueTaken, setUnreadCount, useSettingsOf, reset,
  };
});
