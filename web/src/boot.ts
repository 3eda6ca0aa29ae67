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
import { parseRoute } from './route.js';
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
  get(withNs(paths.namespaces(), ''));
  const route = parseRoute(location.hash);
  if (route.page === 'repositories') get(withNs(paths.repositories({}), route.ns));
  (window as unknown as { wharfEarly?: EarlyAnswers }).wharfEarly = early;
}
