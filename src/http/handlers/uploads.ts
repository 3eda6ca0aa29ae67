// POST /v2/<name>/blobs/uploads/ (start, monolithic, mount) and
// GET/PATCH/PUT/DELETE /v2/<name>/blobs/uploads/<id>
import { mountBlob } from '../../registry/blobs.js';
import { RegistryError } from '../../registry/errors.js';
import { parseDigest, validateRepoName } from '../../registry/names.js';
import {
  appendChunk,
  cancelUpload,
  finishUpload,
  startUpload,
  uploadStatus,
  uploadWhole,
  type ChunkHeaders,
  type UploadStatus,
} from '../../registry/uploads.js';
import { location, send, type Context } from '../context.js';
import { contentLength, discardBody, hasBody, parseContentRange } from '../headers.js';
import { notifyBlob } from '../notify.js';

function chunkHeaders(ctx: Context): ChunkHeaders {
  return { range: parseContentRange(ctx.req.headers['content-range']), length: contentLength(ctx.req) };
}

function uploadHeaders(ctx: Context, repo: string, st: UploadStatus): Record<string, string> {
  return {
    Location: location(ctx, `/v2/${repo}/blobs/uploads/${st.id}`),
    Range: `0-${Math.max(st.offset - 1, 0)}`,
    'Docker-Upload-UUID': st.id,
  };
}

function created(ctx: Context, repo: string, digest: string): void {
  send(ctx, 201, { Location: location(ctx, `/v2/${repo}/blobs/${digest}`), 'Docker-Content-Digest': digest });
}

export async function postUpload(ctx: Context, repo: string): Promise<void> {
  const q = ctx.url.searchParams;
  const mount = q.get('mount');
  const digestParam = q.get('digest');
  // Only a monolithic upload reads the body; a mount or a start acts once
  // the (unused) body has arrived whole, or not at all.
  if (digestParam === null || mount !== null) await discardBody(ctx.req);
  if (mount !== null) {
    const digest = parseDigest(mount);
    const from = q.get('from');
    if (from !== null) validateRepoName(from);
    const mounted = await mountBlob(ctx.scope, repo, digest, from ?? undefined);
    if (mounted) {
      created(ctx, repo, digest.text);
      notifyBlob(ctx, 'mount', repo, digest.text, mounted.size, from ?? undefined);
      return;
    }
    // Not mountable: the spec says to start an ordinary upload instead.
  }
  if (digestParam !== null && mount === null) {
    const digest = parseDigest(digestParam);
    const info = await uploadWhole(ctx.scope, repo, digest, ctx.req, chunkHeaders(ctx));
    created(ctx, repo, info.digest.text);
    notifyBlob(ctx, 'push', repo, info.digest.text, info.size);
    return;
  }
  const st = await startUpload(ctx.scope, repo);
  send(ctx, 202, uploadHeaders(ctx, repo, st));
}

export async function getUpload(ctx: Context, repo: string, id: string): Promise<void> {
  const st = await uploadStatus(ctx.scope, repo, id);
  send(ctx, 204, uploadHeaders(ctx, repo, st));
}

/** A chunk out of order, or a request another one overtook: tell the client where the upload really is. */
async function withRealOffset(ctx: Context, repo: string, id: string, err: unknown): Promise<never> {
  if (err instanceof RegistryError && err.code === 'RANGE_INVALID') {
    const current = await uploadStatus(ctx.scope, repo, id).catch(() => null);
    if (current) for (const [k, v] of Object.entries(uploadHeaders(ctx, repo, current))) ctx.res.setHeader(k, v);
  }
  throw err;
}

export async function patchUpload(ctx: Context, repo: string, id: string): Promise<void> {
  const st = await appendChunk(ctx.scope, repo, id, ctx.req, chunkHeaders(ctx)).catch((err: unknown) => withRealOffset(ctx, repo, id, err));
  send(ctx, 202, uploadHeaders(ctx, repo, st));
}

export async function putUpload(ctx: Context, repo: string, id: string): Promise<void> {
  const digestParam = ctx.url.searchParams.get('digest');
  if (digestParam === null) throw new RegistryError('DIGEST_INVALID', 'digest parameter is required to finish an upload');
  const digest = parseDigest(digestParam);
  const body = hasBody(ctx.req) ? ctx.req : null;
  if (!body) ctx.req.resume();
  const info = await finishUpload(ctx.scope, repo, id, digest, body, chunkHeaders(ctx)).catch((err: unknown) =>
    withRealOffset(ctx, repo, id, err),
  );
  created(ctx, repo, info.digest.text);
  notifyBlob(ctx, 'push', repo, info.digest.text, info.size);
}

export async function deleteUpload(ctx: Context, repo: string, id: string): Promise<void> {
  await cancelUpload(ctx.scope, repo, id);
  send(ctx, 204, {});
}
