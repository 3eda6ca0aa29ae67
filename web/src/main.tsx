// The Wharf web UI: a header (where you are, who you are), the page the URL
// fragment names, and a live region for announcements. On every page
// change the page's heading takes the focus, so keyboard and screen-reader
// users start at the new content.
import { render } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, session, type NamespacesAnswer } from './api.js';
import { ErrorNotice, Loading } from './components.js';
import { AppContext, type AppState } from './context.js';
import { LoginPage } from './pages/login.js';
import { ManifestPage } from './pages/manifest.js';
import { NamespacesPage } from './pages/namespaces.js';
import { RepositoriesPage } from './pages/repositories.js';
import { RepositoryPage } from './pages/repository.js';
import { hereHash, href, useRoute, type Route } from './router.js';

/** The header's icon as inline SVG markup (scripts/build-ui.mjs: web/favicon.svg, a constant of the build, no registry data). */
declare const WHARF_BRAND_ICON: string;

function Breadcrumbs({ route }: { route: Route }) {
  const items: Array<[string, string]> = [['Namespaces', href.namespaces()]];
  if ('ns' in route) items.push([route.ns, href.repositories(route.ns)]);
  if ('repo' in route) items.push([route.repo, href.repository(route.ns, route.repo)]);
  if (route.page === 'manifest') items.push([route.reference, href.manifest(route.ns, route.repo, route.reference)]);
  if (route.page === 'login') items.push(['Log in', href.login()]);
  return (
    <nav aria-label="Breadcrumb" class="crumbs">
      <ol>
        {items.map(([label, link], i) => (
          <li key={link}>
            {i === items.length - 1 ? (
              <a href={link} aria-current="page">
                {label}
              </a>
            ) : (
              <a href={link}>{label}</a>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}

function Account({ info }: { info?: NamespacesAnswer }) {
  const user = session.user;
  if (user) {
    return (
      <div class="account">
        <span>
          Logged in as <strong>{user}</strong>
        </span>
        <button type="button" class="small" onClick={() => session.logout()}>
          Log out
        </button>
      </div>
    );
  }
  // On the login page itself the form is the way in.
  if ((!info || info.session.authEnabled) && !location.hash.startsWith('#/login')) {
    return (
      <div class="account">
        {info && <span class="muted">Anonymous</span>}
        <a class="button small" href={href.login(hereHash())}>
          Log in
        </a>
      </div>
    );
  }
  return null;
}

function Page({ route, info, infoError }: { route: Route; info?: NamespacesAnswer; infoError?: unknown }) {
  if (route.page === 'login') return <LoginPage back={route.back} />;
  if (route.page === 'repositories') return <RepositoriesPage key={route.ns} ns={route.ns} />;
  if (route.page === 'repository') return <RepositoryPage key={`${route.ns}\n${route.repo}`} ns={route.ns} repo={route.repo} />;
  if (route.page === 'manifest') {
    return (
      <ManifestPage key={`${route.ns}\n${route.repo}\n${route.reference}`} ns={route.ns} repo={route.repo} reference={route.reference} />
    );
  }
  if (infoError) {
    return (
      <>
        <h1 tabIndex={-1}>Namespaces</h1>
        <ErrorNotice error={infoError} what="this registry" />
      </>
    );
  }
  if (!info) return <Loading what="namespaces" />;
  return <NamespacesPage />;
}

function App() {
  const route = useRoute();
  // The boot script's answer, when it is already here: the first render uses it.
  const [ready] = useState(() => api.ready.namespaces(''));
  const [info, setInfo] = useState<NamespacesAnswer | undefined>(ready);
  const [infoError, setInfoError] = useState<unknown>();
  const [round, setRound] = useState(0);
  const [message, setMessage] = useState('');
  const [, setUser] = useState(session.user);

  useEffect(
    () =>
      session.onChange(() => {
        setUser(session.user);
        setRound((r) => r + 1);
      }),
    [],
  );
  // A layout effect: started at once, not after the first frame is painted (see useLoad).
  useLayoutEffect(() => {
    if (round === 0 && ready) {
      session.service = ready.session.service;
      return undefined;
    }
    let live = true;
    // The namespace this address selects answers for every namespace's list.
    api.namespaces(info?.current ?? '').then(
      (a) => {
        if (!live) return;
        session.service = a.session.service;
        setInfo(a);
        setInfoError(undefined);
      },
      (err: unknown) => {
        if (!live) return;
        setInfo(undefined);
        setInfoError(err);
        // Nothing may be seen without a login: go to the form.
        if (err instanceof ApiError && err.status === 401 && !location.hash.startsWith('#/login')) location.hash = href.login(hereHash());
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [round]);

  // The route as parsed, not location.hash: a render between a hash change and
  // its hashchange event would otherwise key the effects below (heading focus,
  // document title) to the new hash while `route` is still the old page.
  const routeKey = JSON.stringify(route);
  // Focus the new page's heading once it is there.
  useEffect(() => {
    const focus = () => {
      const h = document.querySelector<HTMLElement>('main h1');
      if (h) h.focus({ preventScroll: false });
      return h !== null;
    };
    if (!focus()) {
      const t = setTimeout(focus, 150);
      return () => clearTimeout(t);
    }
    return undefined;
  }, [routeKey]);

  useEffect(() => {
    const ns = 'ns' in route ? ` – ${route.ns}` : '';
    const what =
      route.page === 'manifest'
        ? `${route.repo}:${route.reference}`
        : route.page === 'repository'
          ? route.repo
          : route.page === 'login'
            ? 'Log in'
            : 'Registry';
    document.title = `${what}${route.page === 'repository' || route.page === 'manifest' ? ns : ''} – Wharf`;
  }, [routeKey]);

  const announce = useCallback((text: string) => {
    setMessage('');
    setTimeout(() => setMessage(text), 50);
    // Read out once, then out of the way.
    setTimeout(() => setMessage((m) => (m === text ? '' : m)), 5000);
  }, []);
  const refresh = useCallback(() => setRound((r) => r + 1), []);
  const state: AppState = useMemo(() => ({ info, refresh, announce }), [info, refresh, announce]);

  return (
    <AppContext.Provider value={state}>
      {/* A button, not a link: "#main" would be read as a page address by the router. */}
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <a class="brand" href={href.namespaces()}>
          {/* Inline, as on the page the server renders: an SVG image costs the renderer a separate document (scripts/build-ui.mjs). */}
          <span class="brand-icon" dangerouslySetInnerHTML={{ __html: WHARF_BRAND_ICON }} />
          <span>Wharf</span>
        </a>
        <Breadcrumbs route={route} />
        <Account info={info} />
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} info={info} infoError={infoError} />
      </main>
      <div class="announcer" role="status" aria-live="polite">
        {message}
      </div>
    </AppContext.Provider>
  );
}

performance.mark('wharf:app');
const root = document.getElementById('app')!;
root.textContent = ''; // the "loading" line of index.html, or the page the server rendered (boot.ts runs this script after its paint)
render(<App />, root);
