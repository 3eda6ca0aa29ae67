// Fetching from the upstream into the namespace. Everything goes through the
// normal write paths, so it is verified before it is kept:
// - a manifest is stored with putManifest by digest (the digest is checked,
//   the body parsed; its blobs and children are fetched later, on demand);
// - a blob is written as a one-chunk upload and published by finishUpload,
//   which compares the digest and publishes nothing on a mismatch. While it
//   is written it is also streamed to the client that asked (a "tap"), one
//   chunk behind: the last chunk is sent only once the digest has matched,
//   so a client never receives a complete blob that was not verified.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobInfo } from '../blobs.js';
import { RegistryError, isRegistryError } from '../errors.js';
import { parseManifest } from '../manifest-parse.js';
import { putManifest, type StoredManifest } from '../manifests.js';
import { isDigestReference, parseDigest, type Digest } from '../names.js';
import type { Scope } from '../scope.js';
import { cancelUpload, finishUpload, startUpload } from '../uploads.js';
import { UpstreamError, type UpstreamClient } from './upstream-client.js';

/** Where a pulled-through blob is streamed while it is cached (the HTTP response, seen from below). */
export interface BlobTap {
  /** The upstream answered: send headers (size when the upstream told it). */
  start(size: number | undefined): void;
  /** Send a chunk; resolves when the client can take more (or has gone). Never rejects. */
  write(chunk: Buffer): Promise<void> | void;
  /** The blob is verified and stored: send the held-back last chunk and finish. */
  end(last: Buffer | null): void;
  /** Fetching or verifying failed after start(): cut the response short (nothing sent yet: leave it to the error response). */
  abort(err: unknown): void;
}

/** Fetch a manifest by tag or digest and keep it in the repository (not tagged). */
export async function fetchManifest(
  client: UpstreamClient,
  s: Scope,
  repo: string,
  reference: string,
  maxBytes: number,
): Promise<StoredManifest> {
  const got = await client.manifest(repo, reference, 'GET', maxBytes);
  if (!got?.body) {
    throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to the namespace and to its upstream', {
      reference,
      upstream: client.origin,
    });
  }
  const body = got.body;
  const where = `${repo}:${reference}`;
  let digest: Digest;
  if (isDigestReference(reference)) digest = parseDigest(reference);
  else if (got.digest) {
    try {
      digest = parseDigest(got.digest);
    } catch {
      throw new UpstreamError('bad-response', `upstream sent an invalid Docker-Content-Digest for ${where}`);
    }
  } else digest = parseDigest(`sha256:${createHash('sha256').update(body).digest('hex')}`);
  let mediaType: string;
  try {
    mediaType = parseManifest(body, got.mediaType).mediaType;
    await putManifest(s, repo, digest.text, body, got.mediaType, { requireReferences: false, origin: 'upstream' });
  } catch (err) {
    if (isRegistryError(err) && (err.code === 'DIGEST_INVALID' || err.code === 'MANIFEST_INVALID')) {
      throw new UpstreamError('bad-response', `upstream sent an unusable manifest for ${where}: ${err.message}; nothing was kept`, {
        upstream: client.origin,
        reference,
        problem: err.code,
      });
    }
    throw err;
  }
  return { digest, mediaType, body };
}

/** Passes upstream bytes on to the upload, and to the tap one chunk behind. */
class Tee extends Transform {
  private held: Buffer | null = null;
  constructor(private readonly tap: BlobTap | undefined) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.tap) {
      done(null, chunk);
      return;
    }
    const previous = this.held;
    this.held = chunk;
    if (!previous) {
      done(null, chunk);
      return;
    }
    const wait = this.tap.write(previous);
    if (wait)
      wait.then(
        () => done(null, chunk),
        () => done(null, chunk),
      );
    else done(null, chunk);
  }
  takeHeld(): Buffer | null {
    const h = this.held;
    this.held = null;
    return h;
  }
}

/**
 * Fetch a blob from the upstream into the namespace, linked into `repo`,
 * streaming it to `tap` meanwhile. Resolves once it is verified and published.
 */
export async function fetchBlob(client: UpstreamClient, s: Scope, repo: string, digest: Digest, tap?: BlobTap): Promise<BlobInfo> {
  const got = await client.blob(repo, digest.text, 'GET');
  if (!got?.body) {
    throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to the namespace and to its upstream', {
      digest: digest.text,
      upstream: client.origin,
    });
  }
  const upstream = got.body;
  let id: string;
  try {
    ({ id } = await startUpload(s, repo));
  } catch (err) {
    upstream.destroy();
    throw err;
  }
  let broken: unknown;
  upstream.once('error', (err) => (broken = err));
  const tee = new Tee(tap);
  const carried = pipeline(upstream, tee);
  carried.catch(() => undefined);
  let started = false;
  try {
    tap?.start(got.size);
    started = true;
    const info = await finishUpload(s, repo, id, digest, tee, { length: got.size });
    tap?.end(tee.takeHeld());
    return info;
  } catch (err) {
    upstream.destroy();
    tee.destroy();
    // A digest mismatch has removed the upload already; anything else leaves it.
    await cancelUpload(s, repo, id).catch(() => undefined);
    let out = err;
    if (broken !== undefined) {
      // The upstream side failed (connection lost, silent too long).
      const reason = (broken as NodeJS.ErrnoException).code ?? (broken as Error).message;
      out =
        broken instanceof UpstreamError
          ? broken
          : new UpstreamError('unreachable', `upstream connection broke while sending ${digest.text}: ${reason}`, {
              upstream: client.origin,
              reason,
            });
    } else if (isRegistryError(err) && (err.code === 'DIGEST_INVALID' || err.code === 'SIZE_INVALID')) {
      out = new UpstreamError('bad-response', `upstream sent content for ${digest.text} that does not match it; nothing was kept`, {
        upstream: client.origin,
        digest: digest.text,
        problem: err.code,
      });
    }
    if (started) tap?.abort(out);
    throw out;
  }
}
