// POST /admin/v1/promote: copy a manifest and everything it references from
// one namespace/repository to another under a tag (src/registry/promote.ts).
//
//   {"from": {"namespace": "bs-1234", "repository": "app", "reference": "latest"},
//    "to":   {"namespace": "intermediate", "repository": "app", "tag": "change-1234"},
//    "referrers": true}
//   -> 201 {"digest", "mediaType", "size", "from", "to",
//           "copied": {"blobs", "bytes"}, "reused": {"blobs", "bytes"},
//           "linked": {"blobs", "manifests", "referrers"}}
//
// Who may: a caller the registry's rules let pull the source repository and
// push the target repository (checked per namespace, as a pull and a push
// would be; anonymous callers are refused first, before the body is read) —
// least privilege for a gate pipeline, rather than the admin role of the rest
// of /admin/v1/ (dispatch.ts routes this path before the admin API). With no
// users configured the registry is open, and so is this. Either side may be
// a live buildset namespace (docs/buildsets.md).
import { namespaceBytes } from '../../registry/buildsets/bytes.js';
import { RegistryError } from '../../registry/errors.js';
import { resolveNamespace } from '../../registry/namespaces.js';
import { isDigestReference, validateRepoName, validateTag } from '../../registry/names.js';
import { promote, type PromoteResult } from '../../registry/promote.js';
import type { Scope } from '../../registry/scope.js';
import { sendJson, type Context } from '../context.js';
import { HttpError } from '../errors.js';
import { readSmallBody } from '../headers.js';
import { notifyManifest } from '../notify.js';

export const PROMOTE_PATH = '/admin/v1/promote';
const MAX_BODY = 64 * 1024;

interface Side {
  namespace: string;
  repository: string;
}

export interface PromoteRequest {
  from: Side & { reference: string };
  to: Side & { tag: string };
  referrers: boolean;
}

function field(obj: Record<string, unknown>, side: string, name: string, required: boolean): string | undefined {
  const v = obj[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw badRequest(`"${side}.${name}" must be a non-empty string`);
  return v;
}

function badRequest(message: string): HttpError {
  // Not a manifest, not a name: a malformed request body is a plain 400.
  return new HttpError('UNSUPPORTED', message, undefined, { status: 400 });
}

/** The request body, checked for shape (names are checked by the registry layer). */
export function parsePromoteRequest(body: Buffer, defaultNs: string): PromoteRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('the body must be JSON: {"from": {...}, "to": {...}}');
  }
  const obj = (v: unknown, name: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest(`"${name}" must be an object`);
    return v as Record<string, unknown>;
  };
  const top = obj(doc, 'body');
  const from = obj(top.from, 'from');
  const to = obj(top.to, 'to');
  if (top.referrers !== undefined && typeof top.referrers !== 'boolean') throw badRequest('"referrers" must be true or false');
  return {
    from: {
      namespace: field(from, 'from', 'namespace', false) ?? defaultNs,
      repository: field(from, 'from', 'repository', true)!,
      reference: field(from, 'from', 'reference', true)!,
    },
    to: {
      namespace: field(to, 'to', 'namespace', false) ?? defaultNs,
      repository: field(to, 'to', 'repository', true)!,
      tag: field(to, 'to', 'tag', true)!,
    },
    referrers: top.referrers === true,
  };
}

/**
 * The caller's access check, as for an API request on `repo` of `ns` with
 * `method` (GET: pull, PUT: push); throws 401/403. Absent: authentication off.
 */
export type RepoCheck = (ns: string, repo: string, reference: string, method: 'GET' | 'PUT') => Promise<void>;

/** Whether a namespace the configuration does not name exists (a live buildset namespace). */
export type KnownNamespace = (name: string) => Promise<boolean>;

/** `name` validated, and known: configured (or dynamic), or a live buildset namespace; else NAME_UNKNOWN. */
async function namespaceOf(ctx: Context, name: string, known?: KnownNamespace): Promise<string> {
  try {
    return resolveNamespace(ctx.config.namespaces, undefined, name);
  } catch (err) {
    if (!(err instanceof RegistryError) || err.code !== 'NAME_UNKNOWN' || !known) throw err;
    const ns = name.toLowerCase();
    if (await known(ns)) return ns;
    throw err;
  }
}

/** Refuses a promotion that would take buildset namespace `ns` past `maxBytes` (403 DENIED, as a push would be). */
function capAdmission(ctx: Context, ns: string, maxBytes: number): (incoming: { bytes: number }) => Promise<void> {
  return async ({ bytes: incoming }) => {
    const { bytes } = await namespaceBytes(ctx.scope.driver, ns);
    if (incoming > 0 && bytes + incoming > maxBytes) {
      ctx.onBuildsetDenied?.('bytes');
      throw new HttpError(
        'DENIED',
        `namespace ${ns} holds ${bytes} bytes; this promotion (${incoming} bytes) would exceed its limit of ${maxBytes} bytes (registry.buildsets.max-bytes)`,
        { namespace: ns, bytes, incoming, maxBytes },
      );
    }
  };
}

export async function promoteHandler(ctx: Context, check?: RepoCheck, known?: KnownNamespace): Promise<void> {
  const { req, config } = ctx;
  if (req.method !== 'POST') {
    req.resume();
    throw new HttpError('UNSUPPORTED', 'method not allowed for this endpoint', undefined, { headers: { Allow: 'POST' } });
  }
  if (config.ops.readOnly) {
    req.resume();
    throw new RegistryError('DENIED', 'the registry is read-only for now (registry.read-only): nothing can be promoted into it');
  }
  const body = await readSmallBody(req, MAX_BODY, (max) => new HttpError('TOO_LARGE', `request body larger than ${max} bytes`));
  const r = parsePromoteRequest(body, config.namespaces.default);
  // Namespaces as `?ns=` names them: validated, and known (or dynamic).
  const fromNs = await namespaceOf(ctx, r.from.namespace, known);
  const toNs = await namespaceOf(ctx, r.to.namespace, known);
  validateRepoName(r.from.repository);
  validateRepoName(r.to.repository);
  if (!isDigestReference(r.from.reference)) validateTag(r.from.reference);
  validateTag(r.to.tag);
  if (check) {
    await check(fromNs, r.from.repository, r.from.reference, 'GET');
    await check(toNs, r.to.repository, r.to.tag, 'PUT');
  }
  // A buildset namespace's byte cap holds for promotions into it as for pushes.
  const maxBytes = config.buildsets?.maxBytes ?? 0;
  const admit = maxBytes > 0 && known && (await known(toNs)) ? capAdmission(ctx, toNs, maxBytes) : undefined;
  const base = { driver: ctx.scope.driver, graceSeconds: ctx.scope.graceSeconds };
  const src: Scope = { ...base, ns: fromNs };
  ctx.scope = { ...base, ns: toNs, origin: ctx };
  const dst = ctx.scope;
  const result: PromoteResult = await promote(
    src,
    { repo: r.from.repository, reference: r.from.reference },
    dst,
    { repo: r.to.repository, tag: r.to.tag },
    {
      referrers: r.referrers,
      admit,
      onManifest: (m) =>
        notifyManifest(ctx, 'push', r.to.repository, { digest: m.digest.text, mediaType: m.mediaType, size: m.size, tag: m.tag }),
    },
  );
  sendJson(
    ctx,
    201,
    {
      digest: result.digest.text,
      mediaType: result.mediaType,
      size: result.size,
      from: { namespace: fromNs, repository: r.from.repository, reference: r.from.reference },
      to: { namespace: toNs, repository: r.to.repository, tag: r.to.tag },
      copied: result.copied,
      reused: result.reused,
      linked: result.linked,
    },
    { 'Docker-Content-Digest': result.digest.text },
  );
}
