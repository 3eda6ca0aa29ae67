// The repository list addressed by path, `/ui/r/<ns>`, rendered by the server:
// index.html with the first page of rows already in it, so the browser paints
// the list from the HTML alone, before the app's script has loaded or run.
// The page holds what an anonymous caller may see — the request's own
// credentials, if any, are not looked at (a logged-in tab keeps its token in
// sessionStorage, so its first screen comes from the API after the token) —
// and nothing when anonymous callers may not list the namespace. Every name
// is written as escaped text. The same answers go into the page as a JSON
// data block, which the boot script hands to the app (web/src/boot.ts) so
// that its first render is this page and it asks the server for nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import { resolveNamespace } from '../../registry/namespaces.js';
import type { StorageDriver } from '../../storage/driver.js';
import type { Auth } from '../auth/index.js';
import { HttpError } from '../errors.js';
import { namespacesAnswer, repositoriesAnswer, type ApiDeps } from './api.js';
import { siBytes } from './bytes.js';
import { PAGE_PATH, type StaticFiles } from './static.js';

type NamespacesAnswer = Awaited<ReturnType<typeof namespacesAnswer>>;
type RepositoriesAnswer = Awaited<ReturnType<typeof repositoriesAnswer>>;

/** The id of the data block (web/src/boot.ts reads it). */
export const FIRST_ID = 'wharf-first';
/**
 * Element Timing identifiers: the page's last element (the boot script runs the app once the
 * frame that painted it is on screen, web/src/boot.ts) and the first row's first cell.
 */
export const PAGE_PAINTED = 'wharf-first-painted';
export const ROW_PAINTED = 'wharf-first-row';
/** Rows on the first page: the app's page (web/src/urls.ts REPOSITORIES_PAGE). */
export const FIRST_ROWS = 50;

/** The namespace a `/ui/r/<ns>` address names, or null when it names none. */
export function pageNamespace(pathname: string): string | null {
  if (!pathname.startsWith(PAGE_PATH)) return null;
  let rest = pathname.slice(PAGE_PATH.length);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest === '' || rest.includes('/')) return null;
  try {
    return decodeURIComponent(rest);
  } catch {
    return null;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text or an attribute value, escaped: data never becomes markup. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** JSON inside a <script type="application/json">: no `<` (so no `</script>`), no HTML comment. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** As the app's href (web/src/route.ts). */
const enc = (s: string) => encodeURIComponent(s).replace(/%2F/g, '/').replace(/%3A/g, ':');

function size(n: number | undefined): string {
  return n === undefined ? '<span>—</span>' : `<data value="${n}">${esc(siBytes(n))}</data>`;
}

/** The repositories page as the app renders it (web/src/main.tsx, pages/repositories.tsx). */
export function renderList(ns: string, info: NamespacesAnswer, page: RepositoriesAnswer, icon: string): string {
  // `icon` is markup: the build's inline SVG (dist/ui/brand.svg), never registry data.
  const nsInfo = info.namespaces.find((n) => n.name === ns);
  const nsHref = `#/${enc(ns)}`;
  const account = info.session.authEnabled
    ? `<div class="account"><span class="muted">Anonymous</span><a class="button small" href="#/login?back=${esc(encodeURIComponent(nsHref))}">Log in</a></div>`
    : '';
  const usage = page.usage
    ? `Storage use as of <time datetime="${new Date(page.usage.computedAt).toISOString()}">${esc(
        new Date(page.usage.computedAt).toISOString().slice(0, 16).replace('T', ' '),
      )} UTC</time>${page.computing ? ' (a newer count is being made)' : ''}.`
    : page.computing
      ? 'Storage use is being computed.'
      : 'Storage use has not been computed yet.';
  const rows = page.repositories
    .map(
      (r, i) =>
        // The first row's paint is reported to the page (Element Timing): what the bench measures.
        `<tr><td${i === 0 ? ` elementtiming="${ROW_PAINTED}"` : ''}><a href="${esc(`${nsHref}/${enc(r.name)}`)}">${esc(r.name)}</a></td>` +
        `<td class="num">${size(r.usage?.unique)}</td><td class="num">${size(r.usage?.shared)}</td></tr>`,
    )
    .join('');
  const table =
    page.repositories.length === 0
      ? '<p>No repository you may see on this page.</p>'
      : `<div class="table-wrap" role="region" aria-label="Repositories" tabindex="0"><table class="repos" aria-busy="false">` +
        `<caption class="visually-hidden">Repositories in ${esc(ns)}</caption>` +
        `<thead><tr><th scope="col">Repository</th><th scope="col" class="num">Unique</th><th scope="col" class="num">Shared</th></tr></thead>` +
        `<tbody>${rows}</tbody></table></div>`;
  return (
    `<button type="button" class="skip" data-first>Skip to content</button>` +
    `<header class="top" data-first><a class="brand" href="#/"><span class="brand-icon">${icon}</span><span>Wharf</span></a>` +
    `<nav aria-label="Breadcrumb" class="crumbs"><ol><li><a href="#/">Namespaces</a></li><li><a href="${esc(nsHref)}" aria-current="page">${esc(ns)}</a></li></ol></nav>` +
    `${account}</header>` +
    `<main id="main" tabindex="-1" data-first><h1 tabindex="-1">Repositories in ${esc(ns)}</h1>` +
    (nsInfo?.mirror
      ? `<p class="lead">A mirror of <span class="break">${esc(nsInfo.mirror.upstream)}</span>: it shows what was pushed here and what was cached from the upstream.</p>`
      : '') +
    `<form class="filter"><label for="repo-filter">Name starts with</label>` +
    `<input id="repo-filter" type="search" value="" placeholder="e.g. team/" autocomplete="off" spellcheck="false"><button type="submit">Filter</button></form>` +
    `<p class="muted" role="status">${usage}</p>${table}` +
    `<nav class="pager" aria-label="Pages of repositories"><button type="button" disabled>Previous page</button><span elementtiming="${PAGE_PAINTED}">Page 1</span>` +
    `<button type="button"${page.next ? '' : ' disabled'}>Next page</button></nav></main>` +
    `<div class="announcer" role="status" aria-live="polite" data-first></div>`
  );
}

const LOADING = '<p class="boot">Wharf is loading…</p>';

/** index.html with the first page's rows and its data block; the template unchanged without them. */
export function fillTemplate(
  template: string,
  first: { ns: string; info: NamespacesAnswer; page: RepositoriesAnswer } | null,
  icon = '',
): string {
  if (!first) return template;
  const data = `<script type="application/json" id="${FIRST_ID}">${jsonForScript({
    ns: first.ns,
    namespaces: first.info,
    repositories: first.page,
  })}</script>`;
  // Before the boot script, which reads it while <head> is parsed.
  const head = template.indexOf('<script>');
  const app = template.indexOf(LOADING);
  if (head < 0 || app < 0) return template;
  // The bundle is fetched at once but run only after the rows are painted: the boot script
  // adds it then (a module script in the page would run first and hold that paint).
  const page = template.slice(head, app).replace(/<script type="module" src="([^"]+)"><\/script>/, '<link rel="modulepreload" href="$1">');
  return template.slice(0, head) + data + page + renderList(first.ns, first.info, first.page, icon) + template.slice(app + LOADING.length);
}

export interface FirstPageDeps extends ApiDeps {
  files: StaticFiles;
  driver: StorageDriver;
  log: Logger;
}

/** The request as an anonymous caller sends it: no credentials looked at. */
function anonymous(req: IncomingMessage): IncomingMessage {
  const view = Object.create(req) as IncomingMessage;
  const { authorization: _dropped, ...headers } = req.headers;
  Object.defineProperty(view, 'headers', { value: headers });
  return view;
}

/** What an anonymous caller may see of `ns`'s repository list; null when it may see none (or `ns` is not one). */
async function firstAnswers(deps: FirstPageDeps, config: Config, auth: Auth, req: IncomingMessage, url: URL, ns: string) {
  const anon = anonymous(req);
  const scopeOf = (name: string) => ({ driver: deps.driver, ns: name, graceSeconds: config.prune.graceSeconds });
  let here: string;
  let target: string;
  try {
    here = resolveNamespace(config.namespaces, req.headers.host, null);
    target = resolveNamespace(config.namespaces, req.headers.host, ns);
  } catch {
    return null; // a namespace this registry does not know: the app says so
  }
  try {
    const [hereAuth, targetAuth] = await Promise.all([
      auth.authorize(anon, url, here, { kind: 'catalog' }, 'GET'),
      target === here ? undefined : auth.authorize(anon, url, target, { kind: 'catalog' }, 'GET'),
    ]);
    const [info, page] = await Promise.all([
      namespacesAnswer(deps, { scope: scopeOf(here), auth: hereAuth }),
      repositoriesAnswer(
        deps,
        { scope: scopeOf(target), auth: target === here ? hereAuth : targetAuth },
        new URLSearchParams({ n: String(FIRST_ROWS) }),
      ),
    ]);
    return { ns: target, info, page };
  } catch (err) {
    // Anonymous callers may not list it (401/403): the page carries no rows.
    if (err instanceof HttpError) return null;
    throw err;
  }
}

/** Serve GET/HEAD of `/ui/r/<ns>`. */
export async function serveFirstPage(
  deps: FirstPageDeps,
  config: Config,
  auth: Auth,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ns: string,
): Promise<void> {
  req.resume();
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    throw new HttpError('UNSUPPORTED', 'method not allowed for this endpoint', undefined, { headers: { Allow: 'GET, HEAD' } });
  }
  const template = deps.files.index;
  if (template === undefined) {
    throw new HttpError('NOT_FOUND', 'the web UI is not built: run `npm run build`');
  }
  const first = await firstAnswers(deps, config, auth, req, url, ns).catch((err: unknown) => {
    deps.log.warn('ui: the first page could not be rendered', { ns, err: String(err) });
    return null;
  });
  const body = Buffer.from(fillTemplate(template, first, deps.files.brandIcon), 'utf8');
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    // What an anonymous caller may see now: not kept by any cache.
    'Cache-Control': 'no-store',
    ...deps.files.pageHeaders,
  });
  res.end(method === 'HEAD' ? undefined : body);
}
