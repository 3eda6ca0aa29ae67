// A buildset namespace's reads and pushes (src/registry/buildsets/,
// http/buildset-target.ts). Reads that the namespace cannot answer itself
// fall back, in order, to:
//   1. its read-only parents (configured namespaces, e.g. the long-lived
//      "intermediate" registry), the same repository name;
//   2. for `<template>/<repo>` with a mirror template (e.g. docker.io): the
//      configured mirror namespace of that name, repository `<repo>` — its
//      pull-through cache is shared by every buildset, so a base image is
//      fetched from the upstream once for all of them.
// Manifests (GET/HEAD), blob GETs and tag lists fall back. A blob HEAD does
// not: a pusher asks HEAD to learn what it must upload, and everything a
// buildset's manifests reference must be its own (prune removes an ended
// namespace whole, and never touches a parent's or the mirror's content).
// Nothing is ever written to a parent or a mirror through a buildset.
//
// Pushes are checked against registry.buildsets.max-bytes first.
import { isRegistryError } from '../../registry/errors.js';
import { namespaceBytes } from '../../registry/buildsets/bytes.js';
import type { BuildsetRecord } from '../../registry/buildsets/record.js';
import type { Mirror } from '../../registry/mirror/mirror.js';
import type { Context } from '../context.js';
import { HttpError } from '../errors.js';
import { contentLength } from '../headers.js';
import type { Route } from '../router.js';
import { mirrorHandler } from './mirror.js';

type Handler = (ctx: Context) => Promise<void>;

const MISSING = new Set(['MANIFEST_UNKNOWN', 'BLOB_UNKNOWN', 'NAME_UNKNOWN']);

function isMissing(err: unknown): boolean {
  return isRegistryError(err) && MISSING.has(err.code);
}

/** The same request answered from another namespace. */
function elsewhere(ctx: Context, ns: string): Context {
  const other: Context = { ...ctx, scope: { ...ctx.scope, ns } };
  return other;
}

/** The fallbacks of a read, in order. */
function fallbacks(
  method: string,
  r: Route,
  record: BuildsetRecord,
  mirrors: Map<string, Mirror>,
  plain: (r: Route) => Handler,
): Handler[] {
  if (!('repo' in r)) return [];
  const read = method === 'GET' || method === 'HEAD';
  const falls = read && (r.kind === 'manifest' || r.kind === 'tags' || (r.kind === 'blob' && method === 'GET'));
  if (!falls) return [];
  const out: Handler[] = record.parents.map((p) => (ctx) => plain(r)(elsewhere(ctx, p)));
  const slash = r.repo.indexOf('/');
  const template = slash > 0 ? r.repo.slice(0, slash) : '';
  const mirror = record.mirrors.includes(template) ? mirrors.get(template) : undefined;
  if (mirror) {
    const inMirror: Route = { ...r, repo: r.repo.slice(slash + 1) };
    const h = mirrorHandler(method, inMirror, mirror) ?? plain(inMirror);
    out.push((ctx) => h(elsewhere(ctx, template)));
  }
  return out;
}

async function checkBytes(ctx: Context, maxBytes: number): Promise<void> {
  if (maxBytes <= 0) return;
  const { bytes } = await namespaceBytes(ctx.scope.driver, ctx.scope.ns);
  const incoming = contentLength(ctx.req) ?? 0;
  if (bytes + incoming > maxBytes) {
    ctx.onBuildsetDenied?.('bytes');
    throw new HttpError(
      'DENIED',
      `namespace ${ctx.scope.ns} holds ${bytes} bytes; this push (${incoming} bytes) would exceed its limit of ${maxBytes} bytes (registry.buildsets.max-bytes)`,
      { namespace: ctx.scope.ns, bytes, incoming, maxBytes },
    );
  }
}

/**
 * The handler of a request in a buildset namespace: `plain(route)` is the
 * ordinary handler for a route (the namespace's own content).
 */
export function buildsetHandler(
  method: string,
  r: Route,
  record: BuildsetRecord,
  mirrors: Map<string, Mirror>,
  maxBytes: number,
  plain: (r: Route) => Handler,
): Handler {
  const own = plain(r);
  const push =
    (r.kind === 'uploads' || r.kind === 'upload' || r.kind === 'manifest') && (method === 'POST' || method === 'PATCH' || method === 'PUT');
  if (push) {
    return async (ctx) => {
      await checkBytes(ctx, maxBytes);
      await own(ctx);
    };
  }
  const rest = fallbacks(method, r, record, mirrors, plain);
  if (rest.length === 0) return own;
  return async (ctx) => {
    let last: unknown;
    for (const h of [own, ...rest]) {
      try {
        await h(ctx);
        return;
      } catch (err) {
        if (!isMissing(err) || ctx.res.headersSent) throw err;
        last ??= err; // the namespace's own answer is the one a client sees when nothing has it
      }
    }
    throw last;
  };
}
