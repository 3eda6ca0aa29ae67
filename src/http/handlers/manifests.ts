// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
import { RegistryError } from '../../registry/errors.js';
import { getManifest, indexChildren, putManifest, statManifest, deleteManifest, type StoredManifest } from '../../registry/manifests.js';
import { isIndexType } from '../../registry/media-types.js';
import { parseDigest } from '../../registry/names.js';
import { HttpError } from '../errors.js';
import { location, send, type Context } from '../context.js';
import { readSmallBody } from '../headers.js';
import { notifyDeleteDigest, notifyDeleteTag, notifyManifest } from '../notify.js';
import { isDigestReference } from '../../registry/names.js';

/** Media types listed in Accept; null when the client accepts anything. */
export function acceptedTypes(header: string | string[] | undefined): Set<string> | null {
  const values = (Array.isArray(header) ? header : header === undefined ? [] : [header])
    .flatMap((h) => h.split(','))
    .map((t) => t.split(';')[0]!.trim().toLowerCase())
    .filter((t) => t !== '');
  if (values.length === 0 || values.includes('*/*') || values.includes('application/*')) return null;
  return new Set(values);
}

/**
 * Content negotiation as Distribution does it: a client that does not accept
 * an index gets the linux/amd64 (or first) image of it, if it accepts that;
 * otherwise MANIFEST_UNKNOWN.
 */
export async function negotiate(
  ctx: Context,
  repo: string,
  m: StoredManifest,
  accepted: Set<string> | null,
  /** How to get a child manifest (mirror namespaces fetch it from upstream). */
  get: (s: Context['scope'], repo: string, reference: string) => Promise<StoredManifest> = getManifest,
): Promise<StoredManifest> {
  if (!accepted || accepted.has(m.mediaType)) return m;
  if (isIndexType(m.mediaType)) {
    const children = indexChildren(m).filter((c) => accepted.has(c.mediaType));
    const pick = children.find((c) => c.platform?.os === 'linux' && c.platform?.architecture === 'amd64') ?? children[0];
    if (pick) {
      const child = await get(ctx.scope, repo, parseDigest(pick.digest).text);
      if (accepted.has(child.mediaType)) return child;
    }
  }
  throw new RegistryError('MANIFEST_UNKNOWN', `manifest of type ${m.mediaType} found, but the Accept header does not allow it`, {
    mediaType: m.mediaType,
  });
}

export function manifestHeaders(m: { digest: { text: string }; mediaType: string }, size: number): Record<string, string | number> {
  return {
    'Content-Type': m.mediaType,
    'Content-Length': size,
    'Docker-Content-Digest': m.digest.text,
    ETag: `"${m.digest.text}"`,
  };
}

export async function getManifestHandler(ctx: Context, repo: string, reference: string): Promise<void> {
  const accepted = acceptedTypes(ctx.req.headers.accept);
  if (ctx.req.method === 'HEAD') {
    const { digest, link } = await statManifest(ctx.scope, repo, reference);
    if (!accepted || accepted.has(link.mediaType)) {
      send(ctx, 200, manifestHeaders({ digest, mediaType: link.mediaType }, link.size));
      return;
    }
  }
  const m = await negotiate(ctx, repo, await getManifest(ctx.scope, repo, reference), accepted);
  send(ctx, 200, manifestHeaders(m, m.body.length), m.body);
  if (ctx.req.method === 'GET') notifyPull(ctx, repo, reference, m);
}

/** A manifest GET answered: a pull event (opt-in). */
export function notifyPull(ctx: Context, repo: string, reference: string, m: StoredManifest): void {
  notifyManifest(ctx, 'pull', repo, {
    digest: m.digest.text,
    mediaType: m.mediaType,
    size: m.body.length,
    ...(isDigestReference(reference) ? {} : { tag: reference }),
  });
}

export async function putManifestHandler(ctx: Context, repo: string, reference: string): Promise<void> {
  const body = await readSmallBody(ctx.req, ctx.config.limits.manifestMaxBytes);
  const result = await putManifest(ctx.scope, repo, reference, body, ctx.req.headers['content-type'] ?? '');
  send(ctx, 201, {
    Location: location(ctx, `/v2/${repo}/manifests/${result.digest.text}`),
    'Docker-Content-Digest': result.digest.text,
    ...(result.subject ? { 'OCI-Subject': result.subject.text } : {}),
  });
  notifyPush(ctx, repo, reference, result);
}

/** A manifest stored: the push event. */
export function notifyPush(
  ctx: Context,
  repo: string,
  reference: string,
  r: { digest: { text: string }; mediaType: string; size: number },
): void {
  notifyManifest(ctx, 'push', repo, {
    digest: r.digest.text,
    mediaType: r.mediaType,
    size: r.size,
    ...(isDigestReference(reference) ? {} : { tag: reference }),
  });
}

export async function deleteManifestHandler(ctx: Context, repo: string, reference: string): Promise<void> {
  if (!ctx.config.deleteEnabled) throw new HttpError('UNSUPPORTED', 'deletes are disabled on this registry');
  await deleteManifest(ctx.scope, repo, reference);
  send(ctx, 202, {});
  if (isDigestReference(reference)) notifyDeleteDigest(ctx, repo, reference);
  else notifyDeleteTag(ctx, repo, reference);
}
