// S3 storage driver: the driver contract mapped onto the S3 API. Works with
// AWS S3 and S3-compatible stores (Swift's s3api, Ceph RGW, MinIO, ...);
// `forcePathStyle` for the latter. Its parts: config.ts (settings),
// requests.ts + sigv4.ts (the hot calls — HEAD, GET, PUT, UploadPart,
// DELETE, ListObjectsV2 — as plain signed node:http requests), client.ts (the
// AWS SDK v3 client for the rest: multipart bookkeeping, copies,
// DeleteObjects, presigning), concat-plan.ts.
//
// Mapping of the driver contract:
//   list    ListObjectsV2 (Prefix, Delimiter, StartAfter); CommonPrefixes and
//           Contents merged in byte order
//   put     PutObject for bytes and for streams up to one part (10 MiB)
//           (retried); longer streams as a multipart upload of buffered parts
//           (each part retried; one part uploading while the next fills)
//   putChecked  the same, with the check between the last part and
//           CompleteMultipartUpload (or the PutObject): nothing is visible
//           at the key before it passes
//   concat  one source: CopyObject (any size up to 5 GiB); otherwise planned
//           parts (planConcat): a source of >= 5 MiB is copied on the
//           server (UploadPartCopy, CopySourceRange); runs of small sources are
//           downloaded and re-uploaded as one >= 5 MiB part (S3's minimum
//           for every part but the last). One whole source -> CopyObject; a
//           small total -> one PutObject.
//   copy    CopyObject (UploadPartCopy parts above 5 GiB): on the server
//   deleteConcatSources  DeleteObjects (Content-MD5 added for stores that
//           insist on it, e.g. Swift 2.30's s3api)
//   presignGet  a SigV4 presigned GET URL
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  type S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ChunkSource } from '../chunk-source.js';
import type { ByteRange, ListEntry, ListOptions, ListPage, ObjectInfo, StorageDriver } from '../driver.js';
import { NotFoundError, RangeNotSatisfiableError, StorageUnavailableError } from '../errors.js';
import { checkBackendRange, checkKey as validateKey, checkPrefix, compareKeys, encodeKeyPath, listLimit } from '../keys.js';
import { mapLimit } from '../../async/map-limit.js';
import { Semaphore } from '../../async/semaphore.js';
import { retryPolicy, watchBody, withRetries, type AttemptContext, type IdleDeadline, type RetryPolicy } from '../retry.js';
import { isBadRange, isNoSuchBucket, isS3NotFound, makeS3Client } from './client.js';
import { parseListResult, S3Requests } from './requests.js';
import { MAX_COPY_PART, MIN_PART, planConcat, type Piece } from './concat-plan.js';
import type { S3Config } from './config.js';

const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/**
 * A streamed body up to this size is one PutObject: an 8 MiB chunk is 1
 * request, not the 4 of a multipart upload (Distribution's s3 driver writes
 * in 10 MiB pieces too). Longer bodies go in parts of `partSize` (5 MiB).
 */
const SINGLE_PUT = 10 * 1024 * 1024;

type Check = (info: ObjectInfo) => Promise<boolean>;

export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly bucket: string;
  private readonly cfg: S3Config;
  private readonly policy: RetryPolicy;
  /** SDK retries off: retry.ts decides. */
  private readonly client: S3Client;
  /** The hot calls without the SDK (requests.ts). */
  private readonly fast: S3Requests;
  private readonly concurrency: number;
  private readonly maxParts: number;
  private bucketReady: Promise<void> | undefined;

  constructor(config: S3Config) {
    if (!config.bucket) throw new TypeError('s3: bucket is required');
    if (!config.region) throw new TypeError('s3: region is required');
    // The SDK warns on Node < 22 about *future* releases; this one is pinned
    // and supports Node 20. Keep server logs clean unless the operator chose.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.cfg = config;
    this.bucket = config.bucket;
    this.policy = retryPolicy(config);
    this.concurrency = Math.max(1, config.concurrency ?? 4);
    this.maxParts = Math.max(2, config.maxParts ?? 1000);
    this.client = makeS3Client(config, this.policy);
    const { accessKey, secretKey } = config;
    const fixed = accessKey !== undefined && secretKey !== undefined ? { accessKeyId: accessKey, secretAccessKey: secretKey } : undefined;
    // Without keys in the configuration: the SDK's default chain (it caches and renews).
    this.fast = new S3Requests(config, fixed ? async () => fixed : () => this.client.config.credentials());
  }

  private send<T>(what: string, idempotent: boolean, fn: (ctx: AttemptContext) => Promise<T>, keepDeadline = false): Promise<T> {
    return withRetries(what, this.policy, fn, { idempotent, keepDeadline });
  }

  /** Create the bucket at first write when it is missing. */
  private ensureBucket(): Promise<void> {
    if (!this.bucketReady) {
      const Bucket = this.bucket;
      this.bucketReady = this.send(`s3 ensure bucket ${Bucket}`, true, async ({ signal }) => {
        try {
          await this.client.send(new HeadBucketCommand({ Bucket }), { abortSignal: signal });
          return;
        } catch (err) {
          if (!isS3NotFound(err)) throw err;
        }
        try {
          await this.client.send(new CreateBucketCommand({ Bucket }), { abortSignal: signal });
        } catch (err) {
          const name = (err as { name?: string }).name;
          if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
        }
      });
      this.bucketReady.catch(() => {
        this.bucketReady = undefined;
      });
    }
    return this.bucketReady;
  }

  /** Run a write; when it finds the bucket gone, create it again and retry once. */
  private async write<T>(what: string, idempotent: boolean, fn: (ctx: AttemptContext) => Promise<T>): Promise<T> {
    await this.ensureBucket();
    try {
      return await this.send(what, idempotent, fn);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause ?? err;
      if (!idempotent || !isNoSuchBucket(cause)) throw err;
      this.bucketReady = undefined;
      await this.ensureBucket();
      return this.send(what, idempotent, fn);
    }
  }

  async list(options: ListOptions): Promise<ListPage> {
    checkPrefix(options.prefix ?? '');
    const limit = listLimit(options.limit);
    const entries: ListEntry[] = [];
    const { startAfter } = options;
    let token: string | undefined;
    for (;;) {
      const want = limit - entries.length;
      const page = await this.send(`s3 list ${options.prefix}`, true, async ({ signal }) => {
        const query: Record<string, string> = { 'list-type': '2', 'max-keys': String(want) };
        if (options.prefix) query.prefix = options.prefix;
        if (options.delimiter) query.delimiter = options.delimiter;
        if (token) query['continuation-token'] = token;
        else if (startAfter) query['start-after'] = startAfter;
        try {
          const r = await this.fast.send({ method: 'GET', key: '', query, signal });
          let xml = '';
          r.setEncoding('utf8');
          for await (const piece of r) xml += piece as string;
          return parseListResult(xml);
        } catch (err) {
          if (isNoSuchBucket(err)) return null;
          throw err;
        }
      });
      if (!page) return { entries };
      const rows: ListEntry[] = [
        ...page.prefixes.map((key): ListEntry => ({ key, prefix: true })),
        ...page.contents.map((o): ListEntry => ({ key: o.key, prefix: false, size: o.size, modified: o.modified })),
      ].sort((a, b) => compareKeys(a.key, b.key));
      for (const row of rows) {
        // a common prefix that sorts before the marker is not "after" it
        if (startAfter !== undefined && compareKeys(row.key, startAfter) <= 0) continue;
        if (entries.length === limit) return { entries, next: entries[limit - 1]!.key };
        entries.push(row);
      }
      if (!page.truncated || !page.next) return { entries };
      if (entries.length === limit) return { entries, next: entries[limit - 1]!.key };
      token = page.next;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    return this.send(`s3 stat ${key}`, true, async ({ signal }) => {
      try {
        const r = await this.fast.send({ method: 'HEAD', key, signal });
        r.resume();
        const modified = r.headers['last-modified'];
        return { key, size: Number(r.headers['content-length'] ?? 0), modified: modified ? new Date(modified) : new Date(0) };
      } catch (err) {
        if (isS3NotFound(err)) return null;
        throw err;
      }
    });
  }

  async put(key: string, body: Uint8Array | Readable): Promise<ObjectInfo> {
    validateKey(key);
    const what = `s3 put ${key}`;
    if (body instanceof Uint8Array) {
      const md5 = createHash('md5').update(body).digest('base64');
      await this.write(what, true, async ({ signal }) => {
        const r = await this.fast.send({
          method: 'PUT',
          key,
          body,
          headers: { 'content-type': 'application/octet-stream', 'content-md5': md5 },
          signal,
        });
        r.resume();
      });
      return { key, size: body.byteLength, modified: new Date() };
    }
    return this.putStream(what, key, body);
  }

  /** Start a multipart upload to `key`; its UploadId. */
  /** One part of a multipart upload, retried, its MD5 checked by the store; resolves to its ETag. */
  private async uploadPart(what: string, key: string, UploadId: string, PartNumber: number, bytes: Buffer): Promise<string | undefined> {
    const md5 = createHash('md5').update(bytes).digest('base64');
    return this.send(`${what} (part ${PartNumber})`, true, async ({ signal }) => {
      const r = await this.fast.send({
        method: 'PUT',
        key,
        query: { partNumber: String(PartNumber), uploadId: UploadId },
        body: bytes,
        headers: { 'content-md5': md5 },
        signal,
      });
      r.resume();
      const etag = r.headers.etag;
      return typeof etag === 'string' ? etag : undefined;
    });
  }

  private async createMultipart(what: string, key: string): Promise<string> {
    const created = await this.write(what, true, ({ signal }) =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/octet-stream' }), {
        abortSignal: signal,
      }),
    );
    if (!created.UploadId) throw new StorageUnavailableError(`${what}: CreateMultipartUpload returned no UploadId`);
    return created.UploadId;
  }

  /** Complete a multipart upload of `size` bytes at `key` from `parts` (in order). */
  private async completeMultipart(what: string, key: string, UploadId: string, parts: CompletedPart[], size: number): Promise<void> {
    await this.send(`${what} (complete)`, true, async ({ signal, attempt }) => {
      try {
        await this.client.send(
          new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
          { abortSignal: signal },
        );
      } catch (err) {
        // A retry after a lost answer: the upload is gone because it completed.
        if (attempt > 0 && (err as { name?: string }).name === 'NoSuchUpload') {
          const info = await this.stat(key);
          if (info && info.size === size) return;
        }
        throw err;
      }
    });
  }

  /** Drop a multipart upload and its parts (best effort: a store's lifecycle rule removes what is left). */
  private async abortMultipart(key: string, UploadId: string): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId })).catch(() => undefined);
  }

  /**
   * A put that asks `check` once every byte is stored and before anything
   * appears at `key`: the parts of a multipart upload at `key` that is not
   * completed yet (or, for a body shorter than one part, the bytes in
   * memory before its PutObject). false or a throw aborts it: nothing is
   * published. So an upload in one request goes straight to its blob key,
   * with no part object and no server-side copy (src/registry/uploads.ts).
   */
  async putChecked(key: string, body: Readable, check: Check): Promise<ObjectInfo | null> {
    validateKey(key);
    return this.putStream(`s3 put ${key}`, key, body, check);
  }

  /** Part n's size (0-based): doubles every maxParts/4 parts, so long streams fit the part limit. */
  private partSizeFor(n: number): number {
    const base = Math.max(MIN_PART, this.cfg.partSize ?? MIN_PART);
    return Math.min(MAX_COPY_PART, base * 2 ** Math.floor(n / Math.max(1, Math.floor(this.maxParts / 4))));
  }

  /**
   * A stream: shorter than one part -> one PutObject; otherwise a multipart
   * upload of buffered parts, one part uploading while the next fills
   * (memory: about two parts). Each part is retried; the upload is aborted
   * when anything fails, so nothing appears at `key`.
   */
  private async putStream(what: string, key: string, body: Readable): Promise<ObjectInfo>;
  private async putStream(what: string, key: string, body: Readable, check: Check): Promise<ObjectInfo | null>;
  private async putStream(what: string, key: string, body: Readable, check?: Check): Promise<ObjectInfo | null> {
    const source = new ChunkSource(body);
    const first = await source.fill(this.partSizeFor(0));
    let second: Buffer | undefined;
    if (!(await source.atEnd())) {
      // Up to SINGLE_PUT bytes are still one PutObject; otherwise these are parts 1 and 2.
      second = await source.fill(this.partSizeFor(1));
      if (first.length + second.length <= SINGLE_PUT && (await source.atEnd())) {
        second = Buffer.concat([first, second]);
        if (check && !(await check({ key, size: second.length, modified: new Date() }))) return null;
        return this.put(key, second);
      }
    }
    if (second === undefined) {
      if (check && !(await check({ key, size: first.length, modified: new Date() }))) return null;
      return this.put(key, first);
    }

    await this.ensureBucket();
    const UploadId = await this.createMultipart(what, key);
    const done: CompletedPart[] = [];
    let size = 0;
    let n = 0; // parts started
    let inFlight: Promise<void> | undefined;
    // One part uploading while the next fills.
    const send = async (part: Buffer): Promise<void> => {
      if (n + 1 > this.maxParts) throw new StorageUnavailableError(`${what}: more than ${this.maxParts} parts`);
      size += part.length;
      const PartNumber = ++n;
      const uploading = (async () => {
        done.push({ PartNumber, ETag: await this.uploadPart(what, key, UploadId, PartNumber, part) });
      })();
      uploading.catch(() => undefined);
      if (inFlight) await inFlight;
      inFlight = uploading;
    };
    try {
      const head = [first, second];
      second = undefined; // only the parts may keep them alive
      while (head.length) await send(head.shift()!);
      while (!(await source.atEnd())) {
        const part = await source.fill(this.partSizeFor(n));
        if (part.length === 0) break;
        await send(part);
      }
      await inFlight;
      done.sort((a, b) => a.PartNumber! - b.PartNumber!);
      // Every byte is in the store, in parts nobody can read: the last moment to say no.
      if (check && !(await check({ key, size, modified: new Date() }))) {
        await this.abortMultipart(key, UploadId);
        return null;
      }
      await this.completeMultipart(what, key, UploadId, done, size);
    } catch (err) {
      await inFlight?.catch(() => undefined);
      await this.abortMultipart(key, UploadId);
      if (!body.destroyed) body.destroy();
      throw source.error ?? err;
    }
    return { key, size, modified: new Date() };
  }

  async get(key: string): Promise<Buffer | null> {
    validateKey(key);
    return this.send(`s3 get ${key}`, true, async ({ signal }) => {
      try {
        const r = await this.fast.send({ method: 'GET', key, signal });
        const pieces: Buffer[] = [];
        for await (const piece of r) pieces.push(piece as Buffer);
        return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
      } catch (err) {
        if (isS3NotFound(err)) return null;
        throw err;
      }
    });
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    validateKey(key);
    const what = `s3 read ${key}`;
    if (range) await checkBackendRange(key, range, (k) => this.stat(k));
    let deadline: IdleDeadline | undefined;
    const body = await this.send(
      what,
      true,
      async (ctx) => {
        deadline = ctx.deadline; // ours to clear from here on (keepDeadline)
        try {
          return await this.fast.send({
            method: 'GET',
            key,
            headers: range ? { range: `bytes=${range.start}-${range.end ?? ''}` } : undefined,
            signal: ctx.signal,
          });
        } catch (err) {
          if (isS3NotFound(err)) throw new NotFoundError(key);
          if (isBadRange(err)) return null;
          throw err;
        }
      },
      true,
    );
    if (body === null) {
      deadline?.clear();
      const info = await this.stat(key);
      if (!info) throw new NotFoundError(key);
      throw new RangeNotSatisfiableError(key, info.size);
    }
    return watchBody(body, deadline!, what);
  }

  async delete(key: string): Promise<boolean> {
    validateKey(key);
    if (!(await this.stat(key))) return false;
    await this.deleteOne(`s3 delete ${key}`, key);
    return true;
  }

  async move(from: string, to: string): Promise<void> {
    validateKey(from);
    validateKey(to);
    if (from === to) {
      if (!(await this.stat(from))) throw new NotFoundError(from);
      return;
    }
    await this.concat(to, [from]);
    await this.deleteOne(`s3 move ${from} -> ${to} (delete source)`, from);
  }

  /** DeleteObject (S3 answers 204 whether or not the key existed). */
  private deleteOne(what: string, key: string): Promise<void> {
    return this.send(what, true, async ({ signal }) => {
      try {
        (await this.fast.send({ method: 'DELETE', key, signal })).resume();
      } catch (err) {
        if (!isS3NotFound(err)) throw err;
      }
    });
  }

  /**
   * On the server: CopyObject up to 5 GiB (any size, unlike a concat part),
   * above that a multipart upload of UploadPartCopy parts (concat's plan for
   * one large source is all copies). No byte passes through this process.
   */
  async copy(from: string, to: string): Promise<ObjectInfo> {
    validateKey(from);
    validateKey(to);
    const what = `s3 copy ${from} -> ${to}`;
    const info = await this.stat(from);
    if (!info) throw new NotFoundError(from);
    if (from === to) return info;
    if (info.size > MAX_COPY_PART) return this.concat(to, [from]);
    await this.ensureBucket();
    await this.copyWhole(what, from, to);
    return { key: to, size: info.size, modified: new Date() };
  }

  /** CopyObject of `from` (≤ 5 GiB) to `to` on the server; the bucket exists. A missing `from` is NotFound. */
  private async copyWhole(what: string, from: string, to: string): Promise<void> {
    const Bucket = this.bucket;
    await this.write(what, true, async ({ signal }) => {
      try {
        return await this.client.send(
          new CopyObjectCommand({
            Bucket,
            Key: to,
            CopySource: `${Bucket}/${encodeKeyPath(from)}`,
            ContentType: 'application/octet-stream',
            MetadataDirective: 'REPLACE',
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        if (isS3NotFound(err) && !isNoSuchBucket(err)) throw new NotFoundError(from);
        throw err;
      }
    });
  }

  async concat(to: string, sources: string[]): Promise<ObjectInfo> {
    validateKey(to);
    const what = `s3 concat ${to}`;
    const infos = await mapLimit(sources, this.concurrency * 2, async (key) => {
      const info = await this.stat(key);
      if (!info) throw new NotFoundError(key);
      return info;
    });
    const total = infos.reduce((n, i) => n + i.size, 0);
    if (infos.length === 1 && total > 0 && total <= MAX_COPY_PART) {
      // One source of any size (a one-PATCH upload): a copy on the server, even
      // below the part minimum, where the plan would download and upload it again.
      await this.ensureBucket();
      await this.copyWhole(what, sources[0]!, to);
      return { key: to, size: total, modified: new Date() };
    }
    let minPart = MIN_PART;
    let parts = planConcat(
      infos.map((i) => i.size),
      minPart,
    );
    while (parts.length > this.maxParts) {
      minPart *= 2; // fewer, larger parts (more of the data is downloaded and re-uploaded)
      parts = planConcat(
        infos.map((i) => i.size),
        minPart,
      );
    }
    await this.ensureBucket();
    const Bucket = this.bucket;
    const copySource = (i: number) => `${Bucket}/${encodeKeyPath(sources[i]!)}`;

    if (parts.length === 0) return this.put(to, new Uint8Array(0));
    const first = parts[0]!;
    if (parts.length === 1 && first.kind === 'copy') {
      await this.copyWhole(what, sources[first.piece.source]!, to);
      return { key: to, size: total, modified: new Date() };
    }
    if (parts.length === 1 && first.kind === 'upload') {
      const bytes = await this.download(what, sources, first.pieces, first.size);
      await this.put(to, bytes);
      return { key: to, size: total, modified: new Date() };
    }

    const UploadId = await this.createMultipart(what, to);
    try {
      // Uploaded parts hold up to minPart bytes in memory each: at most 2 at once.
      const uploadSlots = new Semaphore(2);
      const completed = await mapLimit(parts, this.concurrency, async (part, index): Promise<CompletedPart> => {
        const PartNumber = index + 1;
        if (part.kind === 'copy') {
          const p = part.piece;
          const r = await this.send(`${what} (part ${PartNumber})`, true, async ({ signal }) => {
            try {
              return await this.client.send(
                new UploadPartCopyCommand({
                  Bucket,
                  Key: to,
                  UploadId,
                  PartNumber,
                  CopySource: copySource(p.source),
                  CopySourceRange: `bytes=${p.start}-${p.end}`,
                }),
                { abortSignal: signal },
              );
            } catch (err) {
              if ((err as { name?: string }).name === 'NoSuchKey') throw new NotFoundError(sources[p.source]!);
              throw err;
            }
          });
          return { PartNumber, ETag: r.CopyPartResult?.ETag };
        }
        return uploadSlots.run(async () => {
          const bytes = await this.download(what, sources, part.pieces, part.size);
          return { PartNumber, ETag: await this.uploadPart(what, to, UploadId, PartNumber, bytes) };
        });
      });
      await this.completeMultipart(what, to, UploadId, completed, total);
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key: to, UploadId })).catch(() => undefined);
      throw err;
    }
    return { key: to, size: total, modified: new Date() };
  }

  /** Fetch the given byte ranges of the sources into one buffer. */
  private async download(what: string, sources: string[], pieces: Piece[], size: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(size);
    const offsets: number[] = [];
    let off = 0;
    for (const p of pieces) {
      offsets.push(off);
      off += p.end - p.start + 1;
    }
    await mapLimit(pieces, this.concurrency, async (p, i) => {
      const key = sources[p.source]!;
      const bytes = await this.send(`${what} (read ${key})`, true, async ({ signal }) => {
        try {
          const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${p.start}-${p.end}` }), {
            abortSignal: signal,
          });
          return r.Body ? await r.Body.transformToByteArray() : new Uint8Array(0);
        } catch (err) {
          if (isS3NotFound(err)) throw new NotFoundError(key);
          throw err;
        }
      });
      if (bytes.length !== p.end - p.start + 1) {
        throw new StorageUnavailableError(`${what}: ${key} changed while being read (got ${bytes.length} bytes of ${p.start}-${p.end})`);
      }
      buf.set(bytes, offsets[i]!);
    });
    return buf;
  }

  async deleteConcatSources(to: string, sources: string[]): Promise<void> {
    // The published object owns its bytes: every source can go. Keys are
    // checked here as everywhere else: DeleteObjects would take any string.
    validateKey(to);
    for (const key of sources) validateKey(key);
    await this.deleteMany(`s3 delete concat sources of ${to}`, [...new Set(sources)]);
  }

  private async deleteMany(what: string, keys: string[]): Promise<void> {
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += 1000) batches.push(keys.slice(i, i + 1000));
    await mapLimit(batches, 2, (batch) =>
      this.send(what, true, async ({ signal }) => {
        let r;
        try {
          r = await this.client.send(
            new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
            { abortSignal: signal },
          );
        } catch (err) {
          if (isNoSuchBucket(err)) return;
          throw err;
        }
        const errors = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (errors.length) {
          throw new StorageUnavailableError(
            `${what}: ${errors.length} not deleted, e.g. ${errors[0]!.Key}: ${errors[0]!.Code} ${errors[0]!.Message ?? ''}`,
          );
        }
      }),
    );
  }

  async presignGet(key: string, expiresSeconds: number): Promise<string | null> {
    validateKey(key);
    const expiresIn = Math.max(1, Math.min(MAX_PRESIGN_SECONDS, Math.floor(expiresSeconds)));
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn });
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.fast.destroy();
  }
}
