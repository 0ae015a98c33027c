// Away after idle: this tab tells notify it is "away" when hidden or left without input for a while, and "active"
// again on the next key press, click or mouse move. A person is away when all their tabs are.
const IDLE_AFTER_MS = 5 * 60 * 1000;
const INPUT_EVENTS = ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "focus"];

let idleAfter = IDLE_AFTER_MS;
let lastInput = Date.now();
let idle = false;
let timer: ReturnType<typeof setTimeout> | null = null;
let reported: "away" | "active" | null = null;   // what notify last heard from this tab
let send: (frame: Record<string, unknown>) => boolean = () => false;
let watching = false;

/** The idle time: ?idle=<seconds> in the address or window.RELAY_IDLE_MS (a demo or a test), else 5 minutes. */
function idleAfterMs(): number {
  const seconds = Number(new URLSearchParams(location.search).get("idle"));
  if (seconds > 0) return seconds * 1000;
  const ms = Number((window as { RELAY_IDLE_MS?: number }).RELAY_IDLE_MS);
  return ms > 0 ? ms : IDLE_AFTER_MS;
}

function isAway(): boolean {
  return document.hidden || idle;
}

/** Start watching input and visibility; `sendFrame(frame)` says whether the frame went out. */
export function watchForAway(sendFrame: (frame: Record<string, unknown>) => boolean): void {
  send = sendFrame;
  if (watching) return;
  watching = true;
  idleAfter = idleAfterMs();
  for (const name of INPUT_EVENTS) window.addEventListener(name, onInput, { capture: true, passive: true });
  document.addEventListener("visibilitychange", () => (document.hidden ? report() : onInput()));
  schedule();
}

/** A new connection starts out active on notify's side: say "away" at once if this tab is. */
export function announcePresence(): void {
  reported = "active";
  report();
}

function onInput(): void {
  lastInput = Date.now();
  idle = false;
  report();
  schedule();
}

function schedule(): void {
  if (!timer) timer = setTimeout(checkIdle, idleAfter);
}

function checkIdle(): void {
  timer = null;
  const quiet = Date.now() - lastInput;
  if (quiet >= idleAfter) {
    idle = true;
    report();
  } else {
    timer = setTimeout(checkIdle, idleAfter - quiet);
  }
}

function report(): void {
  const status = isAway() ? "away" : "active";
  if (status !== reported && send({ kind: status })) reported = status;
}
