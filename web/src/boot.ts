// The boot script, inlined into index.html by scripts/build-ui.mjs (its hash
// is in the page's Content-Security-Policy). It runs while the HTML is
// parsed, before the app's bundle has arrived, and starts the first screen's
// requests — the namespaces answer, and the repository list when the address
// names one — so that they travel while the bundle loads and evaluates. The
// app takes each answer once, only for exactly the address it would have
// asked for (api.ts). Only for a visitor who is not logged in: a logged-in
// tab needs a token first, which the app gets. The requests are the app's
// own, with no credentials: nothing comes into the page that the app would
// not have fetched.
//
// On a page the server rendered (/ui/r/<ns>), the answers are already in the
// page, in a JSON data block (src/http/ui/first-page.ts): they are handed to
// the app as if fetched, so its first render is the page the server sent and
// nothing is asked for. A logged-in tab may see more than the anonymous view
// the server rendered: it ignores the block, hides the rendered rows
// (app.css), and its app asks with its token.
import { routeOf } from './route.js';
import { REFRESH_KEY } from './session-keys.js';
import { paths, withNs, type EarlyAnswers } from './urls.js';

function loggedIn(): boolean {
  try {
    return sessionStorage.getItem(REFRESH_KEY) !== null;
  } catch {
    return false;
  }
}

// Marks for the benchmark's waterfall (bench/scenarios/ui.ts), and for anyone's DevTools.
performance.mark('wharf:boot');
const FIRST = 'wharf-first';
/** The server's rows are not this tab's page: hidden (app.css) until the app replaces them. */
function hideFirst(): void {
  document.documentElement.dataset.hideFirst = '';
}
interface First {
  ns: string;
  namespaces: unknown;
  repositories: unknown;
}
function firstAnswers(): First | undefined {
  const block = document.getElementById(FIRST);
  if (!block) return undefined;
  try {
    return JSON.parse(block.textContent ?? '') as First;
  } catch {
    return undefined;
  }
}
if (!loggedIn()) {
  const early: EarlyAnswers = {};
  const get = (url: string) => {
    // High priority: Chromium otherwise holds a fetch made while <head> is parsed until the body is reached.
    const response = fetch(url, { credentials: 'omit', cache: 'no-store', priority: 'high' });
    const entry: EarlyAnswers[string] = { response };
    early[url] = entry;
    // A 200's body, parsed ahead, lets the app's first render show it. Taken by the
    // app or not at all: an unused failure is not an error.
    response
      .then((r) => (r.ok ? r.clone().json() : undefined))
      .then((body: unknown) => {
        if (body !== undefined) entry.body = body;
      })
      .catch(() => undefined);
  };
  const have = (url: string, body: unknown) => {
    early[url] = { response: Promise.resolve(new Response(JSON.stringify(body), { status: 200 })), body };
  };
  const route = routeOf(location.pathname, location.hash);
  const first = firstAnswers();
  if (first && route.page === 'repositories' && route.ns === first.ns) {
    have(withNs(paths.namespaces(), ''), first.namespaces);
    have(withNs(paths.repositories({}), first.ns), first.repositories);
  } else if (first) {
    // A fragment names another page: the server's rows are not it.
    hideFirst();
    get(withNs(paths.namespaces(), ''));
    if (route.page === 'repositories') get(withNs(paths.repositories({}), route.ns));
  } else {
    get(withNs(paths.namespaces(), ''));
    if (route.page === 'repositories') get(withNs(paths.repositories({}), route.ns));
  }
  (window as unknown as { wharfEarly?: EarlyAnswers }).wharfEarly = early;
} else {
  hideFirst();
}
// On a page the server rendered, the app's bundle is preloaded, not run
// (src/http/ui/first-page.ts): run it once the rows are on screen, or at once
// when they are hidden. "On screen" is the presentation of the frame that
// painted the page's last element (Element Timing on it, `PAINTED`): the
// frame is painted on the main thread, then rastered and drawn by other
// threads and processes; started at the paint (a frame, then a task), the
// bundle's evaluation and the app's first render (~40 ms of CPU in a new
// renderer) ran while that frame was rastered and drawn, and on two cores
// delayed it by about as much. Browsers without Element Timing run it after
// the load event's next frame; and should the entry never come (the element
// not painted), 1 s after the load event.
/** The `elementtiming` of the server-rendered page's last element (first-page.ts). */
const PAINTED = 'wharf-first-painted';
if (document.getElementById(FIRST)) {
  let started = false;
  const runApp = () => {
    if (started) return;
    started = true;
    const link = document.querySelector<HTMLLinkElement>('link[rel=modulepreload]');
    if (!link) return;
    const s = document.createElement('script');
    s.type = 'module';
    s.src = link.href;
    document.head.append(s);
  };
  const afterFrame = () => requestAnimationFrame(() => setTimeout(runApp, 0));
  // (A tab opened in the background paints no frame until it is shown.)
  if (document.documentElement.dataset.hideFirst !== undefined || document.visibilityState === 'hidden') {
    addEventListener('DOMContentLoaded', runApp);
  } else if (PerformanceObserver.supportedEntryTypes?.includes('element')) {
    const seen = new PerformanceObserver((list) => {
      if (!list.getEntries().some((e) => (e as PerformanceEntry & { identifier?: string }).identifier === PAINTED)) return;
      seen.disconnect();
      performance.mark('wharf:first-on-screen');
      setTimeout(runApp, 0);
    });
    seen.observe({ type: 'element', buffered: true });
    addEventListener('load', () => setTimeout(runApp, 1000));
  } else {
    addEventListener('load', afterFrame);
  }
}
