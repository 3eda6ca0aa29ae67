// S3 storage driver (AWS SDK v3). Works with AWS S3 and S3-compatible stores
// (Swift's s3api, Ceph RGW, MinIO, ...); `forcePathStyle` for the latter.
//
// Mapping of the driver contract:
//   list    ListObjectsV2 (Prefix, Delimiter, StartAfter); CommonPrefixes and
//           Contents merged in byte order
//   put     PutObject for bytes and for streams shorter than one part
//           (retried); longer streams as a multipart upload of buffered parts
//           (each part retried; one part uploading while the next fills)
//   concat  planned parts (planConcat): a source of >= 5 MiB is copied on the
//           server (UploadPartCopy, CopySourceRange); runs of small sources are
//           downloaded and re-uploaded as one >= 5 MiB part (S3's minimum
//           for every part but the last). One whole source -> CopyObject; a
//           small total -> one PutObject.
//   deleteConcatSources  DeleteObjects (Content-MD5 added for stores that
//           insist on it, e.g. Swift 2.30's s3api)
//   presignGet  a SigV4 presigned GET URL
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  MAX_LIST_LIMIT,
  type ByteRange,
  type ListEntry,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type StorageDriver,
} from './driver.js';
import { NotFoundError, RangeNotSatisfiableError, StorageUnavailableError } from './errors.js';
import { checkKey as validateKey, checkPrefix } from './keys.js';
import {
  mapLimit,
  retryPolicy,
  watchBody,
  withRetries,
  type AttemptContext,
  type IdleDeadline,
  type RetryOptions,
  type RetryPolicy,
} from './retry.js';

export interface S3Config extends RetryOptions {
  /** e.g. http://127.0.0.1:8080 for a local store; omitted for AWS. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** With secretKey; both unset: the SDK's default credential chain (AWS_* env, ~/.aws, instance role). */
  accessKey?: string;
  secretKey?: string;
  /** Path-style URLs (needed by most S3-compatible stores). Default: true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Most parts a multipart upload may have (AWS: 10000; Swift s3api: 1000, the default). */
  maxParts?: number;
  /** First part size for streamed puts (default and minimum 5 MiB; doubles every maxParts/4 parts). About 4 parts per upload are in memory at once. */
  partSize?: number;
  /** Parallel requests within one concat / cleanup (default 4). */
  concurrency?: number;
}

export const MIN_PART = 5 * 1024 * 1024;
export const MAX_COPY_PART = 5 * 1024 * 1024 * 1024;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** One byte range of one source. `end` inclusive. */
export interface Piece {
  source: number;
  start: number;
  end: number;
}

/** One part of a planned concat: a server-side copy, or bytes downloaded and uploaded. */
export type PlannedPart = { kind: 'copy'; piece: Piece; size: number } | { kind: 'upload'; pieces: Piece[]; size: number };

/**
 * Split the concatenation of objects with the given sizes into multipart
 * parts such that every part but the last is >= minPart, while downloading
 * (and re-uploading) as few bytes as possible:
 * - a source of >= minPart is copied on the server (UploadPartCopy, pieces of
 *   at most maxCopyPart, never leaving a piece below minPart);
 * - consecutive small sources are coalesced into upload parts of >= minPart;
 * - a small run followed by a large source is merged into the previous upload
 *   part when that stays <= maxUploadPart, else it borrows the tail of the
 *   previous copy part (when that stays >= minPart), else the head of the
 *   large source;
 * - the final run may be small (the last part has no minimum).
 */
export function planConcat(
  sizes: readonly number[],
  minPart = MIN_PART,
  maxCopyPart = MAX_COPY_PART,
  maxUploadPart = 2 * minPart,
): PlannedPart[] {
  if (maxCopyPart < 2 * minPart) throw new RangeError('planConcat: maxCopyPart must be >= 2 * minPart');
  const parts: PlannedPart[] = [];
  let pending: Piece[] = [];
  let pendingLen = 0;
  const flush = () => {
    if (pendingLen > 0) parts.push({ kind: 'upload', pieces: pending, size: pendingLen });
    pending = [];
    pendingLen = 0;
  };
  const copy = (source: number, from: number, n: number) => {
    let o = from;
    while (o < n) {
      let take = Math.min(n - o, maxCopyPart);
      const rest = n - o - take;
      if (rest > 0 && rest < minPart) take -= minPart - rest;
      parts.push({ kind: 'copy', piece: { source, start: o, end: o + take - 1 }, size: take });
      o += take;
    }
  };
  sizes.forEach((n, source) => {
    if (n <= 0) return;
    if (n < minPart) {
      pending.push({ source, start: 0, end: n - 1 });
      pendingLen += n;
      if (pendingLen >= minPart) flush();
      return;
    }
    let from = 0;
    if (pendingLen > 0) {
      const last = parts[parts.length - 1];
      const need = minPart - pendingLen;
      if (last?.kind === 'upload' && last.size + pendingLen <= maxUploadPart) {
        last.pieces.push(...pending);
        last.size += pendingLen;
        pending = [];
        pendingLen = 0;
      } else if (last?.kind === 'copy' && last.size - need >= minPart) {
        const p = last.piece;
        const tail: Piece = { source: p.source, start: p.end - need + 1, end: p.end };
        p.end -= need;
        last.size -= need;
        pending.unshift(tail);
        pendingLen += need;
        flush();
      } else {
        pending.push({ source, start: 0, end: need - 1 });
        pendingLen += need;
        flush();
        from = need;
      }
    }
    if (n - from >= minPart) copy(source, from, n);
    else {
      pending.push({ source, start: from, end: n - 1 });
      pendingLen += n - from;
    }
  });
  flush();
  return parts;
}

function s3Status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isS3NotFound(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return s3Status(err) === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket';
}

function isNoSuchBucket(err: unknown): boolean {
  return (err as { name?: string })?.name === 'NoSuchBucket';
}

function isBadRange(err: unknown): boolean {
  return s3Status(err) === 416 || (err as { name?: string })?.name === 'InvalidRange';
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly bucket: string;
  private readonly cfg: S3Config;
  private readonly policy: RetryPolicy;
  /** SDK retries off: retry.ts decides. */
  private readonly client: S3Client;
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
    const make = (maxAttempts: number): S3Client => {
      const opts: S3ClientConfig = {
        region: config.region,
        forcePathStyle: config.forcePathStyle ?? !!config.endpoint,
        ...(config.accessKey !== undefined && config.secretKey !== undefined
          ? { credentials: { accessKeyId: config.accessKey, secretAccessKey: config.secretKey } }
          : {}),
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts,
        requestHandler: {
          connectionTimeout: this.policy.timeoutMs,
          // No socketTimeout: a reader that is slow to consume a body must not
          // count as a stalled backend. retry.ts's per-attempt abort signal and
          // watchBody's idle deadline (paused while the reader is behind) do it.
          httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
          httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
        },
      };
      if (config.endpoint) opts.endpoint = config.endpoint;
      const client = new S3Client(opts);
      addContentMd5ForDeleteObjects(client);
      return client;
    };
    this.client = make(1);
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
    const limit = Math.max(1, Math.min(options.limit ?? MAX_LIST_LIMIT, MAX_LIST_LIMIT));
    const entries: ListEntry[] = [];
    const { startAfter } = options;
    let token: string | undefined;
    for (;;) {
      const want = limit - entries.length;
      const page = await this.send(`s3 list ${options.prefix}`, true, async ({ signal }) => {
        try {
          return await this.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: options.prefix || undefined,
              Delimiter: options.delimiter || undefined,
              StartAfter: token ? undefined : startAfter || undefined,
              ContinuationToken: token,
              MaxKeys: want,
            }),
            { abortSignal: signal },
          );
        } catch (err) {
          if (isNoSuchBucket(err)) return null;
          throw err;
        }
      });
      if (!page) return { entries };
      const rows: ListEntry[] = [
        ...(page.CommonPrefixes ?? []).map((p): ListEntry => ({ key: p.Prefix ?? '', prefix: true })),
        ...(page.Contents ?? []).map(
          (o): ListEntry => ({
            key: o.Key ?? '',
            prefix: false,
            size: Number(o.Size ?? 0),
            modified: o.LastModified ?? new Date(0),
          }),
        ),
      ].sort((a, b) => compareBytes(a.key, b.key));
      for (const row of rows) {
        // a common prefix that sorts before the marker is not "after" it
        if (startAfter !== undefined && compareBytes(row.key, startAfter) <= 0) continue;
        if (entries.length === limit) return { entries, next: entries[limit - 1]!.key };
        entries.push(row);
      }
      if (!page.IsTruncated || !page.NextContinuationToken) return { entries };
      if (entries.length === limit) return { entries, next: entries[limit - 1]!.key };
      token = page.NextContinuationToken;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    return this.send(`s3 stat ${key}`, true, async ({ signal }) => {
      try {
        const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
        return { key, size: Number(r.ContentLength ?? 0), modified: r.LastModified ?? new Date(0) };
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
      await this.write(what, true, ({ signal }) =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: body,
            ContentLength: body.byteLength,
            ContentType: 'application/octet-stream',
            ContentMD5: createHash('md5').update(body).digest('base64'),
          }),
          { abortSignal: signal },
        ),
      );
      return { key, size: body.byteLength, modified: new Date() };
    }
    return this.putStream(what, key, body);
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
  private async putStream(what: string, key: string, body: Readable): Promise<ObjectInfo> {
    const it = body[Symbol.asyncIterator]();
    let sourceError: unknown;
    let carry: Buffer | undefined;
    let ended = false;
    /** The next non-empty chunk of the body, or undefined at its end. */
    const pull = async (): Promise<Buffer | undefined> => {
      for (;;) {
        let r: IteratorResult<unknown>;
        try {
          r = await it.next();
        } catch (err) {
          sourceError = err;
          throw err;
        }
        if (r.done) {
          ended = true;
          return undefined;
        }
        const v = r.value;
        const chunk = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v as Uint8Array);
        if (chunk.length > 0) return chunk;
      }
    };
    /** Fill one part of `size` bytes (less at the end of the body). */
    const fill = async (size: number): Promise<Buffer> => {
      const buf = Buffer.allocUnsafe(size);
      let n = 0;
      while (n < size) {
        const chunk = carry ?? (await pull());
        carry = undefined;
        if (!chunk) break;
        const take = Math.min(chunk.length, size - n);
        chunk.copy(buf, n, 0, take);
        n += take;
        if (take < chunk.length) carry = chunk.subarray(take);
      }
      return n === size ? buf : buf.subarray(0, n);
    };
    /** Is the body used up? (Reads ahead one chunk into `carry` to know.) */
    const isLast = async (): Promise<boolean> => {
      if (carry) return false;
      if (ended) return true;
      carry = await pull();
      return carry === undefined;
    };

    let first: Buffer | undefined = await fill(this.partSizeFor(0));
    if (await isLast()) return this.put(key, first);

    await this.ensureBucket();
    const Bucket = this.bucket;
    const created = await this.write(what, true, ({ signal }) =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType: 'application/octet-stream' }), {
        abortSignal: signal,
      }),
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new StorageUnavailableError(`${what}: CreateMultipartUpload returned no UploadId`);
    const done: CompletedPart[] = [];
    let size = 0;
    const uploadPart = async (PartNumber: number, bytes: Buffer): Promise<void> => {
      const r = await this.send(`${what} (part ${PartNumber})`, true, ({ signal }) =>
        this.client.send(
          new UploadPartCommand({
            Bucket,
            Key: key,
            UploadId,
            PartNumber,
            Body: bytes,
            ContentLength: bytes.length,
            ContentMD5: createHash('md5').update(bytes).digest('base64'),
          }),
          { abortSignal: signal },
        ),
      );
      done.push({ PartNumber, ETag: r.ETag });
    };
    let inFlight: Promise<void> | undefined;
    try {
      let part: Buffer = first;
      first = undefined; // only `part` may keep it alive
      for (let n = 0; ; n++) {
        if (n + 1 > this.maxParts) throw new StorageUnavailableError(`${what}: more than ${this.maxParts} parts`);
        size += part.length;
        const uploading = uploadPart(n + 1, part);
        uploading.catch(() => undefined);
        if (inFlight) await inFlight;
        inFlight = uploading;
        if (await isLast()) break;
        part = await fill(this.partSizeFor(n + 1));
        if (part.length === 0) break;
      }
      await inFlight;
      done.sort((a, b) => a.PartNumber! - b.PartNumber!);
      await this.send(`${what} (complete)`, true, async ({ signal, attempt }) => {
        try {
          await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }), {
            abortSignal: signal,
          });
        } catch (err) {
          if (attempt > 0 && (err as { name?: string }).name === 'NoSuchUpload') {
            const info = await this.stat(key);
            if (info && info.size === size) return;
          }
          throw err;
        }
      });
    } catch (err) {
      await inFlight?.catch(() => undefined);
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId })).catch(() => undefined);
      if (!body.destroyed) body.destroy();
      throw sourceError ?? err;
    }
    return { key, size, modified: new Date() };
  }

  async get(key: string): Promise<Buffer | null> {
    validateKey(key);
    return this.send(`s3 get ${key}`, true, async ({ signal }) => {
      try {
        const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
        return r.Body ? Buffer.from(await r.Body.transformToByteArray()) : Buffer.alloc(0);
      } catch (err) {
        if (isS3NotFound(err)) return null;
        throw err;
      }
    });
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    validateKey(key);
    const what = `s3 read ${key}`;
    if (range) {
      if (!Number.isSafeInteger(range.start) || range.start < 0 || (range.end !== undefined && !Number.isSafeInteger(range.end))) {
        throw new TypeError(`invalid byte range ${JSON.stringify(range)}`);
      }
      if (range.end !== undefined && range.end < range.start) {
        const info = await this.stat(key);
        if (!info) throw new NotFoundError(key);
        throw new RangeNotSatisfiableError(key, info.size);
      }
    }
    let deadline: IdleDeadline | undefined;
    const body = await this.send(
      what,
      true,
      async (ctx) => {
        deadline = ctx.deadline; // ours to clear from here on (keepDeadline)
        try {
          const r = await this.client.send(
            new GetObjectCommand({
              Bucket: this.bucket,
              Key: key,
              Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined,
            }),
            { abortSignal: ctx.signal },
          );
          return (r.Body as Readable | undefined) ?? Readable.from([]);
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
    await this.send(`s3 delete ${key}`, true, async ({ signal }) => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      } catch (err) {
        if (!isS3NotFound(err)) throw err;
      }
    });
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
    await this.send(`s3 move ${from} -> ${to} (delete source)`, true, async ({ signal }) => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: from }), { abortSignal: signal });
      } catch (err) {
        if (!isS3NotFound(err)) throw err;
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
    const copySource = (i: number) => `${Bucket}/${encodeKey(sources[i]!)}`;

    if (parts.length === 0) return this.put(to, new Uint8Array(0));
    const first = parts[0]!;
    if (parts.length === 1 && first.kind === 'copy') {
      await this.write(what, true, async ({ signal }) => {
        try {
          return await this.client.send(
            new CopyObjectCommand({
              Bucket,
              Key: to,
              CopySource: copySource(first.piece.source),
              ContentType: 'application/octet-stream',
              MetadataDirective: 'REPLACE',
            }),
            { abortSignal: signal },
          );
        } catch (err) {
          if (isS3NotFound(err) && !isNoSuchBucket(err)) throw new NotFoundError(sources[first.piece.source]!);
          throw err;
        }
      });
      return { key: to, size: total, modified: new Date() };
    }
    if (parts.length === 1 && first.kind === 'upload') {
      const bytes = await this.download(what, sources, first.pieces, first.size);
      await this.put(to, bytes);
      return { key: to, size: total, modified: new Date() };
    }

    const created = await this.write(what, true, ({ signal }) =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket, Key: to, ContentType: 'application/octet-stream' }), {
        abortSignal: signal,
      }),
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new StorageUnavailableError(`${what}: CreateMultipartUpload returned no UploadId`);
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
          const r = await this.send(`${what} (part ${PartNumber})`, true, ({ signal }) =>
            this.client.send(
              new UploadPartCommand({
                Bucket,
                Key: to,
                UploadId,
                PartNumber,
                Body: bytes,
                ContentLength: bytes.length,
                ContentMD5: createHash('md5').update(bytes).digest('base64'),
              }),
              { abortSignal: signal },
            ),
          );
          return { PartNumber, ETag: r.ETag };
        });
      });
      await this.send(`${what} (complete)`, true, async ({ signal, attempt }) => {
        try {
          await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key: to, UploadId, MultipartUpload: { Parts: completed } }), {
            abortSignal: signal,
          });
        } catch (err) {
          // A retry after a lost answer: the upload is gone because it completed.
          if (attempt > 0 && (err as { name?: string }).name === 'NoSuchUpload') {
            const info = await this.stat(to);
            if (info && info.size === total) return;
          }
          throw err;
        }
      });
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
    void to; // the published object owns its bytes: every source can go
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
  }

  /** Empty the bucket (objects and unfinished multipart uploads) and delete it (tests, teardown). */
  async destroyBucket(): Promise<void> {
    const what = `s3 destroy bucket ${this.bucket}`;
    for (;;) {
      const page = await this.send(what, true, async ({ signal }) => {
        try {
          return await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1000 }), { abortSignal: signal });
        } catch (err) {
          if (isNoSuchBucket(err)) return null;
          throw err;
        }
      });
      if (!page) return;
      const keys = (page.Contents ?? []).map((o) => o.Key!).filter(Boolean);
      if (keys.length === 0) break;
      await this.deleteMany(what, keys);
    }
    const uploads = await this.send(what, true, ({ signal }) =>
      this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket }), { abortSignal: signal }),
    );
    for (const u of uploads.Uploads ?? []) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }))
        .catch(() => undefined);
    }
    await this.send(what, true, async ({ signal }) => {
      try {
        await this.client.send(new DeleteBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
      } catch (err) {
        if (!isNoSuchBucket(err)) throw err;
      }
    });
    this.bucketReady = undefined;
  }
}

/** Counting semaphore (bounds memory of concurrently buffered parts). */
class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/**
 * DeleteObjects: current SDKs send a CRC32 checksum instead of Content-MD5;
 * some S3-compatible stores (Swift 2.30's s3api) insist on Content-MD5. Add it.
 */
function addContentMd5ForDeleteObjects(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if ((context as { commandName?: string }).commandName === 'DeleteObjectsCommand') {
        const req = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
        const body = req?.body;
        if (req?.headers && (typeof body === 'string' || body instanceof Uint8Array)) {
          const has = Object.keys(req.headers).some((h) => h.toLowerCase() === 'content-md5');
          if (!has) req.headers['content-md5'] = createHash('md5').update(body).digest('base64');
        }
      }
      return next(args);
    },
    { step: 'build', name: 'wharfDeleteObjectsContentMd5', priority: 'low' },
  );
}
