// Fairness for small requests during a big upload (PROFILE.md row 9 c).
// A big body arrives as fast as the socket delivers it, and every chunk costs
// the event loop stream handling and a write submission; small HEAD/GET
// requests queue behind that. When the loop lags, a big body is paused for
// one turn: TCP backpressure then slows the push (the kernel buffers, the
// client waits) and the queued small requests run first. Nothing is dropped
// or reordered within the body, so integrity is untouched.
//
// The lag is measured by a 10 ms timer (unref'ed: it never keeps the process
// alive) that notes how late it fired; it runs only while a big body flows.

/** A body counts as big after this many bytes: small pushes never pause. */
export const BIG_BODY_BYTES = 1 << 20;
/** Timer lateness above which the loop counts as lagging. */
const LAG_MS = 5;
const PROBE_MS = 10;

let lagMs = 0;
let users = 0;
let timer: NodeJS.Timeout | null = null;
let expected = 0;

function probe(): void {
  const now = performance.now();
  lagMs = Math.max(0, now - expected);
  expected = now + PROBE_MS;
}

/** Start measuring (once per big body); call the returned function when the body ends. */
export function watchLag(): () => void {
  users++;
  if (!timer) {
    expected = performance.now() + PROBE_MS;
    lagMs = 0;
    timer = setInterval(probe, PROBE_MS);
    timer.unref();
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--users === 0 && timer) {
      clearInterval(timer);
      timer = null;
      lagMs = 0;
    }
  };
}

/** WHARF_BODY_YIELD=off turns the pausing off (to measure what it costs a big push). */
const ENABLED = !/^(0|off|false|no)$/i.test(process.env.WHARF_BODY_YIELD ?? '');

/** True when the loop ran late lately: big bodies should let others go first. */
export function loopLagging(): boolean {
  return ENABLED && lagMs > LAG_MS;
}
