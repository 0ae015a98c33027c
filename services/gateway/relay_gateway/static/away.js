// Away after idle: this tab tells notify it is "away" when hidden or left without input for a while, and
// "active" again on the next key press, click or mouse move. A person is away when all their tabs are.
const IDLE_AFTER_MS = 5 * 60 * 1000;
const INPUT_EVENTS = ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "focus"];

let idleAfter = IDLE_AFTER_MS;
let lastInput = Date.now();
let idle = false;
let timer = null;
let reported = null;   // what notify last heard from this tab
let send = () => false;

// The idle time: ?idle=<seconds> in the address or window.RELAY_IDLE_MS (for a demo or a test), else 5 minutes.
function idleAfterMs() {
  const seconds = Number(new URLSearchParams(location.search).get("idle"));
  if (seconds > 0) return seconds * 1000;
  const ms = Number(window.RELAY_IDLE_MS);
  return ms > 0 ? ms : IDLE_AFTER_MS;
}

function isAway() { return document.hidden || idle; }

// Start watching input and visibility; `sendFrame(frame)` returns whether the frame went out.
export function watchForAway(sendFrame) {
  send = sendFrame;
  idleAfter = idleAfterMs();
  for (const name of INPUT_EVENTS) window.addEventListener(name, onInput, { capture: true, passive: true });
  document.addEventListener("visibilitychange", () => (document.hidden ? report() : onInput()));
  schedule();
}

// A new connection starts out active on notify's side: say "away" at once if this tab is.
export function announcePresence() {
  reported = "active";
  report();
}

function onInput() {
  lastInput = Date.now();
  idle = false;
  report();
  schedule();
}

function schedule() {
  if (!timer) timer = setTimeout(checkIdle, idleAfter);
}

function checkIdle() {
  timer = null;
  const quiet = Date.now() - lastInput;
  if (quiet >= idleAfter) {
    idle = true;
    report();
  } else timer = setTimeout(checkIdle, idleAfter - quiet);
}

function report() {
  const status = isAway() ? "away" : "active";
  if (status !== reported && send({ kind: status })) reported = status;
}
