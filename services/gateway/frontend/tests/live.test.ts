import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveConnection, RECONNECT_FIRST_MS, type Frame } from "@/live";

/** A WebSocket the test drives: it records what the page sent and lets the test push frames and close it. */
class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static opened: FakeSocket[] = [];
  readyState = FakeSocket.CONNECTING;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  constructor(readonly url: string) { FakeSocket.opened.push(this); }
  open(): void { this.readyState = FakeSocket.OPEN; this.onopen?.(); }
  push(frame: Frame): void { this.onmessage?.({ data: JSON.stringify(frame) }); }
  send(data: string): void { this.sent.push(JSON.parse(data)); }
  close(code = 1000): void { this.readyState = FakeSocket.CLOSED; this.onclose?.({ code }); }
}

function connection(options: Partial<ConstructorParameters<typeof LiveConnection>[0]> = {}) {
  const live = new LiveConnection({
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    url: (since) => `ws://relay.test/ws${since ? `?since=${since}` : ""}`,
    ...options,
  });
  const events: Frame[] = [];
  live.onFrame("event", (frame) => events.push(frame));
  return { live, events };
}

const latest = () => FakeSocket.opened[FakeSocket.opened.length - 1]!;

beforeEach(() => {
  FakeSocket.opened = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe("the live connection", () => {
  it("holds frames back until the page has loaded its state, then applies them in order", () => {
    const { live, events } = connection();
    live.start();
    latest().open();
    latest().push({ kind: "hello" });
    latest().push({ kind: "event", event_id: "e1", type: "chat.message_posted" });
    latest().push({ kind: "event", event_id: "e2", type: "issue.opened" });
    expect(events).toEqual([]);
    expect(live.waiting).toHaveLength(2);
    live.markReady();
    expect(events.map((e) => e.event_id)).toEqual(["e1", "e2"]);
  });

  it("applies an event once however often it is pushed or replayed", () => {
    const { live, events } = connection();
    live.start();
    live.markReady();
    latest().open();
    for (const id of ["e1", "e2", "e1", "e2", "e3"]) latest().push({ kind: "event", event_id: id, type: "chat.x" });
    expect(events.map((e) => e.event_id)).toEqual(["e1", "e2", "e3"]);
    // the same id in another kind of frame is another frame
    const toasts: Frame[] = [];
    live.onFrame("toast", (frame) => toasts.push(frame));
    latest().push({ kind: "toast", event_id: "e3", title: "t" });
    expect(toasts).toHaveLength(1);
  });

  it("reconnects after a growing pause asking for what it missed, and without since after reload", () => {
    const resyncs: number[] = [];
    const { live } = connection({ onResync: () => resyncs.push(1) });
    live.start();
    live.markReady();
    latest().open();
    latest().push({ kind: "event", event_id: "e7", type: "chat.x" });
    latest().close(1006);
    expect(FakeSocket.opened).toHaveLength(1);
    vi.advanceTimersByTime(RECONNECT_FIRST_MS);
    expect(latest().url).toBe("ws://relay.test/ws?since=e7");
    latest().close(1006);   // never opened: the pause doubles
    vi.advanceTimersByTime(RECONNECT_FIRST_MS);
    expect(FakeSocket.opened).toHaveLength(2);
    vi.advanceTimersByTime(RECONNECT_FIRST_MS);
    expect(FakeSocket.opened).toHaveLength(3);
    latest().open();
    latest().push({ kind: "hello" });
    expect(resyncs).toHaveLength(0);   // it catches up: nothing to load again

    latest().push({ kind: "reload", reason: "too old" });
    vi.advanceTimersByTime(0);
    expect(latest().url).toBe("ws://relay.test/ws");
    latest().open();
    latest().push({ kind: "hello" });
    expect(resyncs).toHaveLength(1);   // it could not catch up: the page loads its state again
  });

  it("stops on a session the server ended and pings while open", () => {
    const ended: number[] = [];
    const { live } = connection({ onSessionEnded: () => ended.push(1) });
    live.start();
    latest().open();
    vi.advanceTimersByTime(25_000);
    expect(latest().sent).toContainEqual({ kind: "ping" });
    latest().close(4401);
    vi.advanceTimersByTime(60_000);
    expect(ended).toEqual([1]);
    expect(FakeSocket.opened).toHaveLength(1);
  });
});
