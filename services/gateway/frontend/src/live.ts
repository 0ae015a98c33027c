// The one live connection (notify's WebSocket through the gateway) and the one table that turns each pushed frame
// into a store update (as Zulip's server_events_dispatch): components render the stores, nothing renders from here,
// and nothing asks the server again for what a push carried.
//
// Frames are applied once (kind:event_id remembered), wait until the page has loaded its state, and a connection
// that dropped comes back with `?since=<last event id>` after a growing pause; `reload` makes it come back without.

import { watchForAway, announcePresence } from "@/away";
import { useIssuesStore } from "@/issues/store";
import type { IssueFrame } from "@/issues/types";
import { useAttentionStore, type AttentionKind } from "@/stores/attention";
import { useChatStore } from "@/stores/chat";

export interface Frame {
  kind: string;
  event_id?: string;
  type?: string;
  [field: string]: unknown;
}

export type FrameHandler = (frame: Frame) => void;

export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_MOST_MS = 10_000;
export const PING_EVERY_MS = 25_000;
export const APPLIED_KEPT = 5000;
/** The server ended this session (signed out elsewhere, deactivated, new password): sign-in, no reconnect. */
export const SESSION_ENDED_CLOSE = 4401;
/** Frames about the connection itself; every other frame waits until the page has its state. */
const CONNECTION_FRAMES = new Set(["hello", "reload", "caught_up", "pong", "error"]);

export interface LiveOptions {
  /** The address to open, given the event id to catch up from. */
  url?: (since: string | null) => string;
  WebSocket?: typeof WebSocket;
  /** The connection could not catch up (first connection after loading, or after `reload`): load everything again. */
  onResync?: () => void;
  /** The session ended on the server. */
  onSessionEnded?: () => void;
  /** The handshake failed: resolves false when the session is gone (then no reconnect). */
  sessionStillOpen?: () => Promise<boolean>;
  onOpen?: () => void;
  onLiveChange?: (on: boolean) => void;
}

interface SocketFacts {
  resumed: boolean;
  afterLoading: boolean;
  opened: boolean;
  reloadNow: boolean;
}

function defaultUrl(since: string | null): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws${since ? `?since=${encodeURIComponent(since)}` : ""}`;
}

export class LiveConnection {
  socket: WebSocket | null = null;
  lastEventId: string | null = null;
  ready = false;
  readonly waiting: Frame[] = [];
  reconnectDelay = RECONNECT_FIRST_MS;
  private readonly applied = new Set<string>();
  private readonly appliedOrder: string[] = [];
  private readonly handlers = new Map<string, Set<FrameHandler>>();
  private readonly facts = new WeakMap<WebSocket, SocketFacts>();
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(private readonly options: LiveOptions = {}) {}

  /** Set what the connection tells the page (the page's callbacks are known once it has started). */
  configure(options: Partial<LiveOptions>): void {
    Object.assign(this.options, options);
  }

  /** Call `handler` with every applied frame of this kind ("event", "toast", "unread", …). */
  onFrame(kind: string, handler: FrameHandler): () => void {
    const set = this.handlers.get(kind) ?? new Set<FrameHandler>();
    set.add(handler);
    this.handlers.set(kind, set);
    return () => set.delete(handler);
  }

  start(): void {
    this.running = true;
    this.ready = false;
    this.waiting.length = 0;
    this.connect();
    if (!this.pingTimer) this.pingTimer = setInterval(() => this.send({ kind: "ping" }), PING_EVERY_MS);
  }

  /** The page has loaded its state: apply what waited, in order. */
  markReady(): void {
    this.ready = true;
    for (const frame of this.waiting.splice(0)) this.receive(frame);
  }

  stop(): void {
    this.running = false;
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.pingTimer = null;
    this.reconnectTimer = null;
    this.lastEventId = null;
    this.ready = false;
    this.waiting.length = 0;
    this.applied.clear();
    this.appliedOrder.length = 0;
    this.reconnectDelay = RECONNECT_FIRST_MS;
    this.options.onLiveChange?.(false);
  }

  send(frame: Record<string, unknown>): boolean {
    const Klass = this.options.WebSocket ?? WebSocket;
    if (!this.socket || this.socket.readyState !== Klass.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  private connect(): void {
    const Klass = this.options.WebSocket ?? WebSocket;
    const since = this.lastEventId;
    const socket = new Klass((this.options.url ?? defaultUrl)(since));
    const facts: SocketFacts = { resumed: Boolean(since), afterLoading: this.ready, opened: false, reloadNow: false };
    this.facts.set(socket, facts);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.reconnectDelay = RECONNECT_FIRST_MS;
      facts.opened = true;
      this.options.onLiveChange?.(true);
      this.options.onOpen?.();
    };
    socket.onmessage = (message: MessageEvent) => {
      if (this.socket !== socket) return;
      let frame: Frame;
      try {
        frame = JSON.parse(String(message.data)) as Frame;
      } catch {
        return;
      }
      this.receive(frame);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;   // replaced, or signed out
      this.options.onLiveChange?.(false);
      if (event.code === SESSION_ENDED_CLOSE) {
        this.options.onSessionEnded?.();
        return;
      }
      const delay = facts.reloadNow ? 0 : this.reconnectDelay;
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MOST_MS);
      this.reconnectTimer = setTimeout(() => void this.reconnect(socket), delay);
    };
  }

  private async reconnect(closed: WebSocket): Promise<void> {
    if (this.socket !== closed || !this.running) return;
    if (!this.facts.get(closed)?.opened && this.options.sessionStillOpen) {
      // The handshake failed: maybe the session ended rather than the connection.
      if (!(await this.options.sessionStillOpen())) {
        this.options.onSessionEnded?.();
        return;
      }
    }
    if (this.socket === closed && this.running) this.connect();
  }

  /** One frame from the server (public for the tests). */
  receive(frame: Frame): void {
    const kind = frame.kind;
    if (!this.ready && !CONNECTION_FRAMES.has(kind)) {
      this.waiting.push(frame);
      return;
    }
    if (frame.event_id) {
      const key = `${kind}:${frame.event_id}`;
      if (this.applied.has(key)) return;   // replayed after a reconnect, or pushed twice
      this.applied.add(key);
      this.appliedOrder.push(key);
      if (this.appliedOrder.length > APPLIED_KEPT) this.applied.delete(this.appliedOrder.shift()!);
      this.lastEventId = frame.event_id;
    }
    const socket = this.socket;
    const facts = socket ? this.facts.get(socket) : undefined;
    if (kind === "hello") {
      if (facts?.afterLoading && !facts.resumed) this.options.onResync?.();
    } else if (kind === "reload") {
      this.lastEventId = null;
      if (facts) facts.reloadNow = true;
      socket?.close();
    } else if (kind === "error") {
      console.warn("live updates:", frame.message);
    }
    for (const handler of this.handlers.get(kind) ?? []) handler(frame);
  }
}

// ---- the one table: each frame kind and event type, and the store update it makes -------------------------


/** The connection the signed-in page uses (window.relayState.socket shows its socket). */
export const live = new LiveConnection({
  onLiveChange: (on) => { document.body.dataset.live = on ? "on" : "off"; },
  onOpen: () => announcePresence(),
  sessionStillOpen: async () => {
    const answer = await fetch("/api/session", { credentials: "same-origin" }).catch(() => null);
    return !answer || answer.status !== 401;
  },
});

function applyEventFrame(frame: Frame): void {
  const type = frame.type ?? "";
  if (type.startsWith("issue.")) {
    // every issue event carries the issue's state after the change, also event types newer than this page
    // (that store also starts and stops the sound for a customer issue waiting to be taken)
    useIssuesStore().applyIssueFrame(frame as IssueFrame);
  } else if (type.startsWith("chat.")) {
    useChatStore().applyEvent(frame);
  }
}

/** A toast frame: shown unless it is about the conversation on screen. */
function showToast(frame: Frame): void {
  const chat = useChatStore();
  const opens = (frame.open as { conversation_id?: string; issue_id?: string } | undefined)
    ?? (frame.conversation_id ? { conversation_id: String(frame.conversation_id) }
      : frame.issue_id ? { issue_id: String(frame.issue_id) } : undefined);
  if (opens?.conversation_id && chat.open?.id === opens.conversation_id && !chat.pageHidden) return;
  const conversation = opens?.conversation_id ? chat.find(opens.conversation_id) : undefined;
  const told = frame.attention as AttentionKind | undefined;
  const attention: AttentionKind = told && told !== "info" ? told : opens?.issue_id ? "customer_issue"
    : frame.mention ? "mention" : conversation?.kind === "private" ? "private_message" : "chat";
  const href = opens?.conversation_id ? `#c/${encodeURIComponent(opens.conversation_id)}` : opens?.issue_id ? "#feed" : undefined;
  useAttentionStore().toast({
    title: String(frame.title ?? ""),
    body: frame.body ? String(frame.body) : undefined,
    where: String(frame.where || frame.conversation_name || ""),
    href,
    attention,
    about: opens,
    onOpen: opens?.issue_id ? () => void useIssuesStore().openIssue(opens.issue_id!) : undefined,
  });
}

let installed = false;

/** Connect the frame kinds to the stores (once). */
export function installFrameTable(): void {
  if (installed) return;
  installed = true;
  const chat = useChatStore();
  live.onFrame("event", applyEventFrame);
  live.onFrame("toast", showToast);
  live.onFrame("unread", (frame) => chat.applyUnread(frame));
  live.onFrame("unread_snapshot", (frame) => chat.applyUnread(frame));
  live.onFrame("presence", (frame) => chat.applyPresence(frame));
  live.onFrame("presence_snapshot", (frame) => chat.applyPresence(frame));
  live.onFrame("typing", (frame) => chat.applyTyping(frame));
  chat.useSender((frame) => live.send(frame));
  watchForAway((frame) => live.send(frame));
}
