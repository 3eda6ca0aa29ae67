// The request handler: request id and client address, common headers, the
// admin endpoints (unless on their own listener), namespace selection,
// read-only mode, routing, and the one place where errors become OCI error
// responses. When the response ends: the access log line and the metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../registry/errors.js';
import type { Context } from './context.js';
import { sendJson } from './context.js';
import { describeError, HttpError, sendError } from './errors.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { catalog, referrers, tagsList } from './handlers/listings.js';
import { type KnownNamespace, PROMOTE_PATH, promoteHandler, type RepoCheck } from './handlers/promote.js';
import { deleteManifestHandler, getManifestHandler, putManifestHandler } from './handlers/manifests.js';
import { deleteUpload, getUpload, patchUpload, postUpload, putUpload } from './handlers/uploads.js';
import { parseTarget, type Route } from './router.js';
import { checkTransferCoding, drainOrClose } from './headers.js';
import { mirrorHandler, selectTarget, type Target } from './handlers/mirror.js';
import { createMirrors } from '../registry/mirror/mirror.js';
import { resolveNamespace } from '../registry/namespaces.js';
import { createUi } from './ui/index.js';
import type { MirrorObserver } from '../registry/mirror/observer.js';
import type { Metrics } from '../metrics/metrics.js';
import { parseBasic } from './auth/basic.js';
import { TOKEN_PATH } from './auth/index.js';
import { requestEnded, type RequestFacts } from './access-log.js';
import { ADMIN_PATHS, serveAdmin } from './admin.js';
import { notifyBlob, notifyManifest } from './notify.js';
import { attachRequestInfo, requestIdFrom, type RequestInfo } from './request-info.js';
import type { Runtime } from './runtime.js';
import { ADMIN_API_PREFIX, adminRoute, type AdminContext } from './admin-api.js';
import { selectBuildsetTarget, type BuildsetTarget } from './buildset-target.js';
import { buildsetHandler } from './handlers/buildset.js';

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

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The route kind as a metrics label (both upload routes are "upload"). */
function routeLabel(r: Route): string {
  return r.kind === 'uploads' ? 'upload' : r.kind;
}

/** Where the request went, for the access log. */
function describeRoute(r: Route, facts: RequestFacts): void {
  facts.route = routeLabel(r);
  if ('repo' in r) facts.repository = r.repo;
  if (r.kind === 'manifest') facts.reference = r.reference;
  else if (r.kind === 'blob' || r.kind === 'referrers') facts.digest = r.digest;
  else if (r.kind === 'upload') facts.upload = r.id;
}

/** Upload counters from a finished upload request. */
function countUpload(metrics: Metrics, method: string, url: URL | undefined, status: number): void {
  if (method === 'POST' && status === 202) metrics.uploadStarted();
  else if (status === 201 && method === 'POST' && url?.searchParams.has('mount')) metrics.blobMounted();
  else if (status === 201) {
    if (method === 'POST') metrics.uploadStarted(); // monolithic: started and finished at once
    metrics.uploadCompleted();
  }
}

/** The mirror observer: metrics, and `mirror` events named after the request that led the fill. */
function mirrorObserver(rt: Runtime): MirrorObserver {
  return {
    upstream: (ns, kind, outcome, failure) => rt.metrics?.mirror.upstream(ns, kind, outcome, failure),
    cache: (ns, kind, hit) => rt.metrics?.mirror.cache(ns, kind, hit),
    filled: (ns, fill) => {
      rt.metrics?.mirror.filled(ns, fill);
      const ctx = fill.scope.origin as Context | undefined;
      if (!ctx) return;
      if (fill.kind === 'manifest')
        notifyManifest(ctx, 'mirror', fill.repo, { digest: fill.digest, mediaType: fill.mediaType ?? '', size: fill.size });
      else notifyBlob(ctx, 'mirror', fill.repo, fill.digest, fill.size);
    },
  };
}

export function createDispatcher(rt: Runtime): Dispatcher {
  // Mirror namespaces (src/registry/mirror/): one upstream client and fetch table each, per process.
  const mirrors = createMirrors(rt.config.namespaces.mirrors, rt.log, rt.config.limits.manifestMaxBytes, mirrorObserver(rt));
  // The web UI (src/http/ui/): its files, and JSON endpoints authorized like the API routes they stand for.
  const ui = createUi(rt.config, rt.driver, rt.log, rt.buildsets);
  const log = rt.log;
  return (req, res) => {
    const facts: RequestFacts = { started: process.hrtime.bigint(), route: 'unknown', namespace: rt.config.namespaces.default };
    const info: RequestInfo = { id: requestIdFrom(req.headers['x-request-id']), client: rt.clients.of(req) };
    attachRequestInfo(req, info);
    // One configuration for the whole request, even if a SIGHUP swaps it meanwhile.
    const config = rt.config;
    const auth = rt.auth;
    const notifier = rt.notifier;
    const metrics = rt.metrics;
    const method = req.method ?? 'GET';
    let url: URL | undefined;
    let uploadBody = false;
    rt.requestStarted();
    metrics?.requestStarted();
    res.once('close', () => {
      rt.requestEnded();
      if (metrics && uploadBody) {
        metrics.uploadBody(-1);
        countUpload(metrics, method, url, res.statusCode);
      }
      requestEnded(rt, req, res, facts);
    });
    res.setHeader('X-Request-Id', info.id);
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    // Draining (SIGTERM): each connection ends after its current response.
    if (rt.health.isDraining) res.setHeader('Connection', 'close');
    const fail = (err: unknown) => {
      const clientGone = (req.destroyed && !req.complete) || !res.socket || res.socket.destroyed;
      if (res.headersSent || res.destroyed || clientGone) {
        // The client went away (or the response was already streaming): there
        // is no one to answer; a dropped client is not a server fault.
        log.debug('request aborted', { id: info.id, method, url: req.url, err: String(err) });
        res.destroy();
        return;
      }
      const reply = describeError(err);
      info.error = reply.code;
      if (reply.internal) log.error('request failed', { id: info.id, method, url: req.url, err: String((err as Error)?.stack ?? err) });
      if (!req.complete) drainOrClose(req, res); // so that a client still sending sees this answer
      sendError(res, reply, method);
    };
    try {
      checkTransferCoding(req); // 501 for codings Node leaves undecoded, before any body is read
      url = parseTarget(req.url ?? '/');
      if (rt.adminOnMain && ADMIN_PATHS.has(url.pathname) && (url.pathname !== '/metrics' || metrics)) {
        facts.route = url.pathname === '/metrics' ? 'metrics' : 'health';
        void serveAdmin(rt, req, res, url.pathname);
        return;
      }
      const at = url;
      if (at.pathname === PROMOTE_PATH) {
        // Promotion (handlers/promote.ts): a known caller, then pull on the source and push on the target.
        facts.route = 'promote';
        const scope = { driver: rt.driver, ns: config.namespaces.default, graceSeconds: config.prune.graceSeconds };
        const ctx: Context = {
          req,
          res,
          url: at,
          scope,
          config,
          log,
          events: notifier,
          onBuildsetDenied: (reason) => metrics?.buildsets.denied(reason),
        };
        // A namespace not in the configuration may be a live buildset namespace (looked up fresh: a write).
        const known: KnownNamespace = async (name) => {
          if (!config.buildsets) return false;
          return (await rt.buildsets.lookup(name, true)).kind === 'live';
        };
        const check: RepoCheck = async (ns, repo, reference, m) =>
          void (await auth.authorize(req, at, ns, { kind: 'manifest', repo, reference }, m));
        // A user with the admin role may promote anything; anyone else as the rules allow.
        const basicUser = parseBasic(req.headers.authorization)?.user;
        const asAdmin = basicUser !== undefined && config.users.some((u) => u.admin && u.name === basicUser);
        (asAdmin
          ? auth.admin(req).then(() => promoteHandler(ctx, undefined, known))
          : auth
              .authorize(req, at, config.namespaces.default, { kind: 'base' }, method)
              .then(() => promoteHandler(ctx, auth.enabled ? check : undefined, known))
        ).then(undefined, fail);
        return;
      }
      if (url.pathname.startsWith(ADMIN_API_PREFIX)) {
        facts.route = 'admin';
        const handler = adminRoute(method, url.pathname);
        if (config.ops.readOnly && method !== 'GET' && method !== 'HEAD') {
          throw new HttpError('UNSUPPORTED', 'the registry is read-only for now (registry.read-only)', undefined, {
            headers: { Allow: 'GET, HEAD' },
          });
        }
        const actx: AdminContext = {
          req,
          res,
          url,
          config,
          log,
          driver: rt.driver,
          buildsets: rt.buildsets,
          admin: '',
          onCreated: () => metrics?.buildsets.created(),
          onDeleted: () => metrics?.buildsets.deleted(),
          onDenied: (reason) => metrics?.buildsets.denied(reason),
        };
        auth
          .admin(req)
          .then((name) => {
            actx.admin = name;
            return handler(actx);
          })
          .then(undefined, fail);
        return;
      }
      const uiTarget = ui?.target(method, url);
      if (uiTarget?.kind === 'files') {
        facts.route = 'ui';
        uiTarget.files.serve(req, res, url);
        return;
      }
      if (uiTarget?.kind === 'page') {
        facts.route = 'ui';
        uiTarget.serve(req, res, url, auth).then(undefined, fail);
        return;
      }
      // A UI endpoint's namespace may be a live buildset namespace (?ns=): looked up as the API does.
      if (config.buildsets && uiTarget?.kind === 'api' && ui) {
        const target = url;
        ui.namespace(config, req.headers.host, target)
          .then((ns) => proceed(target, uiTarget, null, ns))
          .then(undefined, fail);
        return;
      }
      // A buildset namespace (?ns=, a Host pattern, the path prefix): looked up in the store, briefly cached for reads.
      if (config.buildsets && uiTarget?.kind !== 'api') {
        const fresh = WRITE_METHODS.has(method) || url.pathname === TOKEN_PATH;
        const target = url;
        selectBuildsetTarget(config, rt.buildsets, req.headers.host, target, fresh)
          .then((bs) => proceed(target, uiTarget, bs))
          .then(undefined, fail);
        return;
      }
      proceed(url, uiTarget, null);
    } catch (err) {
      fail(err);
    }

    function proceed(
      url: URL,
      uiTarget: ReturnType<NonNullable<typeof ui>['target']> | undefined,
      bs: BuildsetTarget | null,
      uiNs?: string,
    ): void {
      // ?ns=, the Host map, else the default — or a mirror named by the path's first component.
      // UI endpoints name their repository in the query: no path prefix to look at.
      const target: Target = bs
        ? { ns: bs.ns, route: bs.route, prefix: bs.pathPrefix }
        : uiTarget?.kind === 'api'
          ? { ns: uiNs ?? resolveNamespace(config.namespaces, req.headers.host, url.searchParams.get('ns')), route: uiTarget.route }
          : selectTarget(config.namespaces, req.headers.host, url);
      const { ns, route: r, prefix, outerNs } = target;
      facts.namespace = ns;
      if (url.pathname === TOKEN_PATH) {
        facts.route = 'token';
        auth.token(req, res, url, ns).then(undefined, fail);
        return;
      }
      describeRoute(r, facts);
      if (uiTarget?.kind === 'api') facts.route = 'ui';
      if (config.ops.readOnly && WRITE_METHODS.has(method) && r.kind !== 'unknown') {
        throw new HttpError(
          'UNSUPPORTED',
          'the registry is read-only for now (registry.read-only): pulls work, pushes and deletes do not',
          undefined,
          {
            headers: { Allow: 'GET, HEAD' },
          },
        );
      }
      if ((r.kind === 'upload' || r.kind === 'uploads') && (method === 'POST' || method === 'PATCH' || method === 'PUT')) {
        uploadBody = true;
        metrics?.uploadBody(1);
      }
      // Read-only: mirror namespaces serve what they hold and fetch nothing (a fill writes to the store).
      const handler = bs
        ? buildsetHandler(method, r, bs.record, config.ops.readOnly ? new Map() : mirrors, config.buildsets?.maxBytes ?? 0, (x) =>
            handlerFor(method, x),
          )
        : ((uiTarget?.kind === 'api' ? uiTarget.handler : undefined) ??
          (config.ops.readOnly ? undefined : mirrorHandler(method, r, mirrors.get(ns))) ??
          handlerFor(method, r));
      const ctx: Context = {
        req,
        res,
        url,
        scope: { driver: rt.driver, ns, graceSeconds: config.prune.graceSeconds },
        config,
        log,
        pathPrefix: prefix,
        events: notifier,
        onBuildsetDenied: (reason) => metrics?.buildsets.denied(reason),
      };
      ctx.scope = { driver: rt.driver, ns, graceSeconds: config.prune.graceSeconds, origin: ctx };
      // Every route is authorized before its handler runs (and before any body is read).
      // A mirror reached by path prefix is authorized as the client sees it:
      // `<prefix>/<repo>` in the namespace it addressed. That is the scope a
      // client computes from its image reference (podman asks for
      // `repository:docker.io/library/x:pull`) and the one the challenge names.
      // A buildset is authorized as buildset-target.ts says (the same rule, for its path prefix).
      const outer = prefix !== undefined && (bs !== null || outerNs !== undefined) && 'repo' in r;
      const authUrl = outer ? new URL(url) : url;
      const from = authUrl.searchParams.get('from');
      if (outer && from !== null) authUrl.searchParams.set('from', `${prefix}/${from}`);
      const authRoute: Route = bs ? bs.authRoute : outer && 'repo' in r ? { ...r, repo: `${prefix}/${r.repo}` } : r;
      const authNs = bs ? bs.authNs : outer ? outerNs! : ns;
      const reqUrl = url;
      auth
        .authorize(req, authUrl, authNs, authRoute, method)
        .then((authz) => {
          if (outer && !authUrl.searchParams.has('mount')) {
            // The authorizer turned a mount it may not do into a plain upload.
            reqUrl.searchParams.delete('mount');
            reqUrl.searchParams.delete('from');
          }
          ctx.auth = authz;
          return handler(ctx);
        })
        .then(undefined, fail);
    }
  };
}
