// Mirror namespaces over HTTP (src/registry/mirror/): which namespace and
// repository a request addresses (path prefix), and the handlers that differ
// from a plain namespace — manifest and blob reads (pull-through), manifest
// pushes (fetch references only the upstream has), tag lists (merged).
// Everything else (uploads, deletes, referrers, catalog) is the ordinary
// handler working on the namespace alone: nothing ever goes upstream but reads.
import { statBlob } from '../../registry/blobs.js';
import { isRegistryError } from '../../registry/errors.js';
import { parseManifest } from '../../registry/manifest-parse.js';
import { putManifest } from '../../registry/manifests.js';
import type { Mirror } from '../../registry/mirror/mirror.js';
import { splitMirrorPrefix } from '../../registry/mirror/prefix.js';
import type { BlobTap } from '../../registry/mirror/pull-through.js';
import { isUpstreamError, type UpstreamError } from '../../registry/mirror/upstream-client.js';
import { resolveNamespace, type NamespaceRules } from '../../registry/namespaces.js';
import { parseDigest, type Digest } from '../../registry/names.js';
import { location, send, sendJson, type Context } from '../context.js';
import { HttpError } from '../errors.js';
import { pagination, readSmallBody } from '../headers.js';
import { route, type Route } from '../router.js';
import { getBlob } from './blobs.js';
import { acceptedTypes, manifestHeaders, negotiate, notifyPull, notifyPush } from './manifests.js';
import { notifyBlob } from '../notify.js';

type Handler = (ctx: Context) => Promise<void>;

export interface Target {
  ns: string;
  route: Route;
  /** Set when a mirror was named by the path's first component (it is kept in Location and Link headers). */
  prefix?: string;
  /** With a prefix: the namespace the client addressed (it asks for tokens there, for `<prefix>/<repo>`). */
  outerNs?: string;
}

/** The namespace (`?ns=`, Host map, default — or a mirror path prefix) and the route of a request. */
export function selectTarget(rules: NamespaceRules, host: string | undefined, url: URL): Target {
  const nsParam = url.searchParams.get('ns');
  const ns = resolveNamespace(rules, host, nsParam);
  const r = route(url.pathname);
  if (!('repo' in r)) return { ns, route: r };
  const split = splitMirrorPrefix(rules, ns, nsParam, r.repo);
  if (!split) return { ns, route: r };
  // A mount source named the same way is in the same namespace.
  const from = url.searchParams.get('from');
  if (from?.startsWith(`${split.ns}/`)) url.searchParams.set('from', from.slice(split.ns.length + 1));
  return { ns: split.ns, route: { ...r, repo: split.repo }, prefix: split.ns, outerNs: ns };
}

/** The handler a mirror namespace uses instead of the ordinary one, if any. */
export function mirrorHandler(method: string, r: Route, mirror: Mirror | undefined): Handler | undefined {
  if (!mirror) return undefined;
  const read = method === 'GET' || method === 'HEAD';
  let h: Handler | undefined;
  if (r.kind === 'manifest' && read) h = (ctx) => getManifestThrough(ctx, mirror, r.repo, r.reference);
  else if (r.kind === 'manifest' && method === 'PUT') h = (ctx) => putManifestInMirror(ctx, mirror, r.repo, r.reference);
  else if (r.kind === 'blob' && read) h = (ctx) => getBlobThrough(ctx, mirror, r.repo, r.digest);
  else if (r.kind === 'tags' && read) h = (ctx) => tagsThrough(ctx, mirror, r.repo);
  if (!h) return undefined;
  const handler = h;
  return (ctx) =>
    handler(ctx).catch((err: unknown) => {
      throw isUpstreamError(err) ? upstreamHttpError(err) : err;
    });
}

/**
 * Upstream failures as the client sees them. The code is the one the upstream
 * client gave the failure; this adds what HTTP needs: unreachable or silent →
 * 503 with Retry-After, nonsense from the upstream → 502; denied (403) and
 * rate-limited (429) keep the catalogue's status. Never a 401: that would
 * send the client into Wharf's own login.
 */
function upstreamHttpError(err: UpstreamError): HttpError | UpstreamError {
  switch (err.failure) {
    case 'unreachable':
    case 'timeout':
      return new HttpError(err.code, err.message, err.detail, { headers: { 'Retry-After': '10' } });
    case 'bad-response':
      // UNAVAILABLE (retry later), as 502 Bad Gateway: the fault is the upstream's, not Wharf's.
      return new HttpError(err.code, err.message, err.detail, { status: 502 });
    default:
      return err;
  }
}

/** The repository's path as the client wrote it (with the mirror prefix when it used one). */
function clientPath(ctx: Context, path: string): string {
  return ctx.pathPrefix ? `/v2/${ctx.pathPrefix}/${path.slice('/v2/'.length)}` : path;
}

async function getManifestThrough(ctx: Context, mirror: Mirror, repo: string, reference: string): Promise<void> {
  const accepted = acceptedTypes(ctx.req.headers.accept);
  const m = await mirror.getManifest(ctx.scope, repo, reference);
  const out = await negotiate(ctx, repo, m, accepted, (s, r, ref) => mirror.getManifest(s, r, ref));
  send(ctx, 200, manifestHeaders(out, out.body.length), out.body);
  if (ctx.req.method === 'GET') notifyPull(ctx, repo, reference, out);
}

async function putManifestInMirror(ctx: Context, mirror: Mirror, repo: string, reference: string): Promise<void> {
  const body = await readSmallBody(ctx.req, ctx.config.limits.manifestMaxBytes);
  const contentType = ctx.req.headers['content-type'] ?? '';
  let result;
  try {
    result = await putManifest(ctx.scope, repo, reference, body, contentType);
  } catch (err) {
    if (!isRegistryError(err) || err.code !== 'MANIFEST_BLOB_UNKNOWN') throw err;
    // The client skipped uploads a HEAD answered from upstream: fetch them, then check again.
    await mirror.fetchReferences(ctx.scope, repo, parseManifest(body, contentType));
    result = await putManifest(ctx.scope, repo, reference, body, contentType);
  }
  send(ctx, 201, {
    Location: location(ctx, `/v2/${repo}/manifests/${result.digest.text}`),
    'Docker-Content-Digest': result.digest.text,
    ...(result.subject ? { 'OCI-Subject': result.subject.text } : {}),
  });
  notifyPush(ctx, repo, reference, result);
}

function blobHeaders(digest: Digest): Record<string, string> {
  return {
    'Docker-Content-Digest': digest.text,
    ETag: `"${digest.text}"`,
    'Content-Type': 'application/octet-stream',
  };
}

/**
 * The response as a tap for a blob being pulled through. A client that takes
 * nothing for the mirror's timeout is cut off, so it cannot stall the fetch
 * that other clients (and the cache) are waiting for.
 */
function responseTap(ctx: Context, digest: Digest, stallMs: number): BlobTap {
  const { res } = ctx;
  return {
    start(size) {
      res.statusCode = 200;
      for (const [k, v] of Object.entries(blobHeaders(digest))) res.setHeader(k, v);
      if (size !== undefined) res.setHeader('Content-Length', size);
    },
    write(chunk) {
      if (res.destroyed || res.writableEnded) return;
      if (res.write(chunk)) return;
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        const timer = setTimeout(() => {
          ctx.log.debug('mirror: client stalled, cut off; the fetch goes on', { url: ctx.req.url });
          res.destroy();
          done();
        }, stallMs);
        res.once('drain', done);
        res.once('close', done);
      });
    },
    end(last) {
      if (res.destroyed) return;
      if (last) res.end(last);
      else res.end();
    },
    abort() {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Nothing sent yet: the error becomes an ordinary OCI error response.
      for (const k of ['Content-Length', ...Object.keys(blobHeaders(digest))]) res.removeHeader(k);
    },
  };
}

async function getBlobThrough(ctx: Context, mirror: Mirror, repo: string, digestText: string): Promise<void> {
  const digest = parseDigest(digestText);
  let held = true;
  try {
    await statBlob(ctx.scope, repo, digest);
  } catch (err) {
    if (!isRegistryError(err) || err.code !== 'BLOB_UNKNOWN') throw err;
    held = false;
  }
  mirror.noteCache('blob', held);
  if (held) return getBlob(ctx, repo, digestText);
  if (ctx.req.method === 'HEAD') {
    const info = await mirror.headBlob(ctx.scope, repo, digest);
    send(ctx, 200, { ...blobHeaders(digest), 'Content-Length': info.size });
    return;
  }
  if (ctx.req.headers.range !== undefined) {
    // A range of a blob not held: cache all of it first, then answer from storage.
    await mirror.ensureBlob(ctx.scope, repo, digest);
    return getBlob(ctx, repo, digestText);
  }
  let served: boolean;
  try {
    served = await mirror.pullBlob(ctx.scope, repo, digest, responseTap(ctx, digest, mirror.settings.timeoutMs));
  } catch (err) {
    if (isUpstreamError(err)) {
      ctx.log.warn('mirror: pull-through failed', { namespace: mirror.name, repo, digest: digest.text, err: err.message });
    }
    throw err;
  }
  if (!served) await getBlob(ctx, repo, digestText);
  else notifyBlob(ctx, 'pull', repo, digest.text, undefined);
}

async function tagsThrough(ctx: Context, mirror: Mirror, repo: string): Promise<void> {
  const { limit, last } = pagination(ctx.url);
  const { tags, more } = await mirror.listTags(ctx.scope, repo, { limit, last });
  const headers: Record<string, string> = {};
  if (more && limit !== undefined && tags.length > 0) {
    const q = new URLSearchParams();
    const ns = ctx.url.searchParams.get('ns');
    if (ns !== null) q.set('ns', ns);
    q.set('n', String(limit));
    q.set('last', tags[tags.length - 1]!);
    headers.Link = `<${clientPath(ctx, `/v2/${repo}/tags/list`)}?${q.toString()}>; rel="next"`;
  }
  const name = ctx.pathPrefix ? `${ctx.pathPrefix}/${repo}` : repo;
  sendJson(ctx, 200, { name, tags }, headers);
}
