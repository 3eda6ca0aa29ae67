// The request handler: common headers, namespace selection, routing, and the
// one place where errors become OCI error responses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { RegistryError } from '../registry/errors.js';
import type { StorageDriver } from '../storage/driver.js';
import type { Context } from './context.js';
import { sendJson } from './context.js';
import { describeError, HttpError, sendError } from './errors.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { catalog, referrers, tagsList } from './handlers/listings.js';
import { deleteManifestHandler, getManifestHandler, putManifestHandler } from './handlers/manifests.js';
import { deleteUpload, getUpload, patchUpload, postUpload, putUpload } from './handlers/uploads.js';
import { parseTarget, type Route } from './router.js';
import { checkTransferCoding, drainOrClose } from './headers.js';
import { mirrorHandler, selectTarget, type Target } from './handlers/mirror.js';
import { createMirrors } from '../registry/mirror/mirror.js';
import { createAuth, TOKEN_PATH, type Auth } from './auth/index.js';
import { resolveNamespace } from '../registry/namespaces.js';
import { createUi } from './ui/index.js';

type Handler = (ctx: Context) => Promise<void>;

function methodNotAllowed(allowed: string[]): never {
  throw new HttpError('UNSUPPORTED', 'method not allowed for this endpoint', undefined, { headers: { Allow: allowed.join(', ') } });
}

function pick(method: string, table: Record<string, Handler>): Handler {
  const h = table[method === 'HEAD' && !table.HEAD ? 'GET' : method];
  if (!h) methodNotAllowed(Object.keys(table));
  return h;
}

function handlerFor(method: string, r: Route): Handler {
  switch (r.kind) {
    case 'base':
      return pick(method, { GET: async (ctx) => sendJson(ctx, 200, {}) });
    case 'catalog':
      return pick(method, { GET: catalog });
    case 'tags':
      return pick(method, { GET: (ctx) => tagsList(ctx, r.repo) });
    case 'manifest':
      return pick(method, {
        GET: (ctx) => getManifestHandler(ctx, r.repo, r.reference),
        PUT: (ctx) => putManifestHandler(ctx, r.repo, r.reference),
        DELETE: (ctx) => deleteManifestHandler(ctx, r.repo, r.reference),
      });
    case 'uploads':
      return pick(method, { POST: (ctx) => postUpload(ctx, r.repo) });
    case 'upload':
      return pick(method, {
        GET: (ctx) => getUpload(ctx, r.repo, r.id),
        PATCH: (ctx) => patchUpload(ctx, r.repo, r.id),
        PUT: (ctx) => putUpload(ctx, r.repo, r.id),
        DELETE: (ctx) => deleteUpload(ctx, r.repo, r.id),
      });
    case 'blob':
      return pick(method, {
        GET: (ctx) => getBlob(ctx, r.repo, r.digest),
        DELETE: (ctx) => deleteBlob(ctx, r.repo, r.digest),
      });
    case 'referrers':
      return pick(method, { GET: (ctx) => referrers(ctx, r.repo, r.digest) });
    case 'unknown':
      throw new RegistryError('NOT_FOUND', 'no such endpoint');
  }
}

export type Dispatcher = (req: IncomingMessage, res: ServerResponse) => void;

export function createDispatcher(config: Config, driver: StorageDriver, log: Logger, auth?: Auth): Dispatcher {
  // Access control (auth/): startServer builds it first to fail fast; otherwise it is built here.
  const authReady: Promise<Auth> = auth ? Promise.resolve(auth) : createAuth(config, log);
  authReady.catch(() => undefined);
  // Mirror namespaces (src/registry/mirror/): one upstream client and fetch table each, per process.
  const mirrors = createMirrors(config.namespaces.mirrors, log, config.limits.manifestMaxBytes);
  // The web UI (src/http/ui/): its files, and JSON endpoints authorized like the API routes they stand for.
  const ui = createUi(config, driver, log);
  return (req, res) => {
    const started = process.hrtime.bigint();
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const method = req.method ?? 'GET';
    let url: URL;
    const fail = (err: unknown) => {
      const clientGone = (req.destroyed && !req.complete) || !res.socket || res.socket.destroyed;
      if (res.headersSent || res.destroyed || clientGone) {
        // The client went away (or the response was already streaming): there
        // is no one to answer; a dropped client is not a server fault.
        log.debug('request aborted', { method, url: req.url, err: String(err) });
        res.destroy();
        return;
      }
      const reply = describeError(err);
      if (reply.internal) log.error('request failed', { method, url: req.url, err: String((err as Error)?.stack ?? err) });
      if (!req.complete) drainOrClose(req, res); // so that a client still sending sees this answer
      sendError(res, reply, method);
    };
    try {
      checkTransferCoding(req); // 501 for codings Node leaves undecoded, before any body is read
      url = parseTarget(req.url ?? '/');
      const done = () => {
        if (log.enabled('debug')) {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          log.debug('request', { method, url: req.url, status: res.statusCode, ms: Math.round(ms * 10) / 10 });
        }
      };
      const uiTarget = ui?.target(method, url);
      if (uiTarget?.kind === 'files') {
        uiTarget.files.serve(req, res, url);
        done();
        return;
      }
      // ?ns=, the Host map, else the default — or a mirror named by the path's first component.
      // UI endpoints name their repository in the query: no path prefix to look at.
      const target: Target =
        uiTarget?.kind === 'api'
          ? { ns: resolveNamespace(config.namespaces, req.headers.host, url.searchParams.get('ns')), route: uiTarget.route }
          : selectTarget(config.namespaces, req.headers.host, url);
      const { ns, route: r, prefix, outerNs } = target;
      if (url.pathname === TOKEN_PATH) {
        authReady.then((a) => a.token(req, res, url, ns)).then(done, fail);
        return;
      }
      const handler =
        (uiTarget?.kind === 'api' ? uiTarget.handler : undefined) ?? mirrorHandler(method, r, mirrors.get(ns)) ?? handlerFor(method, r);
      const ctx: Context = { req, res, url, scope: { driver, ns }, config, log, pathPrefix: prefix };
      // Every route is authorized before its handler runs (and before any body is read).
      // A mirror reached by path prefix is authorized as the client sees it:
      // `<prefix>/<repo>` in the namespace it addressed. That is the scope a
      // client computes from its image reference (podman asks for
      // `repository:docker.io/library/x:pull`) and the one the challenge names.
      const outer = prefix !== undefined && outerNs !== undefined && 'repo' in r;
      const authUrl = outer ? new URL(url) : url;
      const from = authUrl.searchParams.get('from');
      if (outer && from !== null) authUrl.searchParams.set('from', `${prefix}/${from}`);
      const authRoute: Route = outer && 'repo' in r ? { ...r, repo: `${prefix}/${r.repo}` } : r;
      authReady
        .then((a) => a.authorize(req, authUrl, outer ? outerNs! : ns, authRoute, method))
        .then((authz) => {
          if (outer && !authUrl.searchParams.has('mount')) {
            // The authorizer turned a mount it may not do into a plain upload.
            url.searchParams.delete('mount');
            url.searchParams.delete('from');
          }
          ctx.auth = authz;
          return handler(ctx);
        })
        .then(done, fail);
    } catch (err) {
      fail(err);
    }
  };
}
