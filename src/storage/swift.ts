// OpenStack Swift storage driver over plain fetch().
//
// Auth: v1 (tempauth/swauth: X-Auth-User/X-Auth-Key), Keystone v3 password
// auth (object-store endpoint from the catalog), or a named cloud from
// clouds.yaml. The token is refreshed before it expires and once on a 401.
//
// Storage layout: `container` holds the keys. Objects below segmentThreshold
// (1 MiB) are plain objects. Larger ones (streamed chunks, blobs) are written
// as segments into `<container>_segments` (random names) plus a Static Large
// Object manifest at the key. That is what makes concat and move cheap
// without tying a published object to the caller's source keys:
//   concat  a new SLO manifest listing the sources' segments (no data copied;
//           a lone small plain source is server-side copied into a segment
//           first; runs of small plain sources are read and written back as
//           segments of >= 4 MiB, as Swift rate-limits small segments).
//           Empty sources are left out (Swift rejects empty segments); with no
//           bytes at all an empty plain object is put. >1000 segments nest.
//   deleteConcatSources  DELETE of the sources' manifests; segments the
//           published object uses stay, any others go too (concatKeepsSources).
//   delete  of an SLO uses ?multipart-manifest=delete: segments go too.
//   move    server-side copy with ?multipart-manifest=get (an SLO's manifest
//           is copied, not its data), then a plain DELETE of the source.
//   list    GET container?format=json&prefix&delimiter&marker&limit
//   presignGet  TempURL (HMAC-SHA256) with the configured tempUrlKey.
// Overwriting a segmented object leaves its old segments behind (a reader
// may still be streaming them); they are garbage in the segments container.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
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
  BackendHttpError,
  mapLimit,
  retryPolicy,
  unavailable,
  watchBody,
  withRetries,
  type AttemptContext,
  type IdleDeadline,
  type RetryOptions,
  type RetryPolicy,
} from './retry.js';

export interface SwiftConfig extends RetryOptions {
  /** Auth endpoint: e.g. http://host:8080/auth/v1.0 (v1) or https://keystone:5000/v3 (v3). */
  authUrl?: string;
  username?: string;
  password?: string;
  /** Container holding every object; created at first write when missing. */
  container: string;
  /** 1 (tempauth/swauth) or 3 (Keystone). Default: guessed from authUrl/projectName. */
  authVersion?: 1 | 3 | '1' | '1.0' | '3' | 'v1' | 'v3';
  projectName?: string;
  projectId?: string;
  /** Default "Default". */
  projectDomainName?: string;
  projectDomainId?: string;
  /** Default "Default". */
  userDomainName?: string;
  userDomainId?: string;
  /** Region of the object-store endpoint in the Keystone catalog. */
  region?: string;
  /** Catalog interface: public (default), internal or admin. */
  interface?: string;
  /** Name of a cloud in clouds.yaml; its settings fill in what is not set here. */
  cloud?: string;
  /** TempURL key: set on the account at the first presign (Temp-URL-Key or, when that holds another key, Temp-URL-Key-2). */
  tempUrlKey?: string;
  /** Use this storage URL instead of the one auth returns. */
  storageUrl?: string;
  /** A token to start with (pre-authenticated); replaced via auth on its first 401. */
  token?: string;
  /** Parallel HEADs/DELETEs in concat and cleanup (default 8). */
  concurrency?: number;
  /** Container for the segments of large objects (default `<container>_segments`). */
  segmentContainer?: string;
  /** Objects of at least this many bytes are stored as segments + SLO manifest (default 1 MiB). */
  segmentThreshold?: number;
  /** Largest segment in bytes (default 1 GiB; Swift's own limit is 5 GiB). */
  segmentSize?: number;
  /** Most segments in one manifest before manifests nest (Swift's max_manifest_segments, default 1000). */
  maxManifestSegments?: number;
}

interface Session {
  token: string;
  storageUrl: string;
  /** ms since epoch; refresh a minute before. */
  expiresAt?: number;
}

interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

interface StreamReply {
  status: number;
  headers: Headers;
  stream: Readable;
}

/** Bytes, or a factory of a streamed body (called again to replay it after a 401, when `canReplay` says so). */
type Body = Uint8Array | (() => AsyncIterable<Uint8Array>);

interface CallOptions {
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  body?: Body;
  /** May be retried (false for consumed streams and non-idempotent calls). */
  idempotent: boolean;
  /** For a streamed body: may it be sent again (after a 401)? */
  canReplay?: () => boolean;
  /** Path relative to the storage URL ('' = account). */
  path: string;
}

const MAX_SLO_SEGMENTS = 1000;
/** Least size of a segment made from several small concat sources (Swift rate-limits segments under 1 MiB). */
const COALESCE_BYTES = 4 * 1024 * 1024;
/** Bytes of a streamed body kept to send it again after a 401. */
const MAX_REPLAY = 8 * 1024 * 1024;

/** Static Large Object manifest entry as stored (?multipart-manifest=get). */
interface StoredSegment {
  name?: string;
  bytes?: number;
  hash?: string;
  range?: string;
  sub_slo?: boolean;
  data?: string;
}

/** Static Large Object manifest entry as put (?multipart-manifest=put). */
interface Seg {
  path?: string;
  etag?: string;
  size_bytes?: number;
  range?: string;
  data?: string;
}

function segFromStored(s: StoredSegment): Seg {
  if (s.data !== undefined) return { data: s.data };
  return {
    path: s.name,
    size_bytes: s.bytes,
    ...(s.sub_slo || !s.hash ? {} : { etag: s.hash }),
    ...(s.range ? { range: s.range } : {}),
  };
}

/** Bytes a manifest entry contributes. */
function segLength(s: Seg): number {
  if (s.data !== undefined) return Buffer.from(s.data, 'base64').length;
  const m = s.range ? /^(\d+)-(\d+)$/.exec(s.range) : null;
  if (m) return Number(m[2]) - Number(m[1]) + 1;
  return s.size_bytes ?? 0;
}

/** A pull-based view of a body stream with one chunk of push-back. */
class ChunkSource {
  private readonly it: AsyncIterator<unknown>;
  private readonly stream: Readable;
  private pushedBack: Buffer | undefined;
  done = false;
  error: unknown;

  constructor(stream: Readable) {
    this.stream = stream;
    this.it = stream[Symbol.asyncIterator]();
  }

  /** The next non-empty chunk, or undefined at the end. Rejects with the stream's error. */
  async next(): Promise<Buffer | undefined> {
    if (this.pushedBack) {
      const b = this.pushedBack;
      this.pushedBack = undefined;
      return b;
    }
    for (;;) {
      let r: IteratorResult<unknown>;
      try {
        r = await this.it.next();
      } catch (err) {
        this.error ??= err;
        throw err;
      }
      if (r.done) {
        this.done = true;
        return undefined;
      }
      const v = r.value;
      const b = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v as Uint8Array);
      if (b.length > 0) return b;
    }
  }

  unshift(b: Buffer): void {
    if (b.length > 0) this.pushedBack = b;
  }

  /** Up to `limit` bytes (starting with `first`) into one buffer. */
  async take(limit: number, first: Buffer[]): Promise<Buffer> {
    const out: Buffer[] = [];
    let n = 0;
    for (;;) {
      const chunk = first.length ? first.shift()! : await this.next();
      if (!chunk) break;
      if (n + chunk.length > limit) {
        this.unshift(chunk.subarray(limit - n));
        out.push(chunk.subarray(0, limit - n));
        n = limit;
        break;
      }
      out.push(chunk);
      n += chunk.length;
      if (n >= limit) break;
    }
    return Buffer.concat(out, n);
  }

  close(): void {
    if (!this.stream.destroyed && !this.stream.readableEnded) this.stream.destroy();
  }
}

export class SwiftDriver implements StorageDriver {
  readonly name = 'swift';
  /** A concat result shares its sources' segments until deleteConcatSources (see there). */
  readonly concatKeepsSources = true;
  private readonly cfg: SwiftConfig;
  private readonly policy: RetryPolicy;
  private readonly authVersion: 1 | 3;
  private readonly concurrency: number;
  private readonly segmentContainer: string;
  private readonly segmentThreshold: number;
  private readonly segmentSize: number;
  private readonly maxSegments: number;
  private session: Session | undefined;
  private sessionPromise: Promise<Session> | undefined;
  private containerReady: Promise<void> | undefined;
  private tempUrlReady: Promise<boolean> | undefined;

  constructor(config: SwiftConfig) {
    const cfg = config.cloud ? mergeCloud(config) : { ...config };
    if (!cfg.container) throw new TypeError('swift: container is required');
    if (!cfg.authUrl && !(cfg.storageUrl && cfg.token)) throw new TypeError('swift: authUrl is required');
    this.cfg = cfg;
    this.policy = retryPolicy(cfg);
    this.authVersion = guessAuthVersion(cfg);
    this.concurrency = Math.max(1, cfg.concurrency ?? 8);
    this.segmentContainer = cfg.segmentContainer ?? `${cfg.container}_segments`;
    this.segmentThreshold = Math.max(1, cfg.segmentThreshold ?? 1024 * 1024);
    this.segmentSize = Math.max(1, Math.min(cfg.segmentSize ?? 1024 ** 3, 5 * 1024 ** 3));
    this.maxSegments = Math.max(2, cfg.maxManifestSegments ?? MAX_SLO_SEGMENTS);
    if (cfg.token && cfg.storageUrl) this.session = { token: cfg.token, storageUrl: stripSlash(cfg.storageUrl) };
  }

  // ------------------------------------------------------------------ auth

  private async getSession(): Promise<Session> {
    const s = this.session;
    if (s && (!s.expiresAt || s.expiresAt - Date.now() > 60_000)) return s;
    if (!this.sessionPromise) {
      this.sessionPromise = this.authenticate().then(
        (fresh) => {
          this.session = fresh;
          this.sessionPromise = undefined;
          return fresh;
        },
        (err) => {
          this.sessionPromise = undefined;
          throw err;
        },
      );
    }
    return this.sessionPromise;
  }

  /** Drop `stale` (the backend said 401 to it), unless someone already replaced it. */
  private forget(stale: Session): void {
    if (this.session === stale) this.session = undefined;
  }

  private async authenticate(): Promise<Session> {
    const { authUrl, username, password } = this.cfg;
    if (!authUrl || username === undefined || password === undefined) {
      throw new StorageUnavailableError('swift: token rejected and no credentials (authUrl, username, password) to get another');
    }
    const signal = AbortSignal.timeout(this.policy.timeoutMs);
    if (this.authVersion === 1) {
      const res = await fetch(authUrl, {
        headers: { 'X-Auth-User': username, 'X-Auth-Key': password },
        signal,
      });
      await res.arrayBuffer();
      if (res.status >= 300) throw new BackendHttpError(`swift auth v1 at ${authUrl} answered ${res.status}`, res.status);
      const token = res.headers.get('x-auth-token');
      const storageUrl = this.cfg.storageUrl ?? res.headers.get('x-storage-url');
      if (!token || !storageUrl) throw new StorageUnavailableError(`swift auth v1 at ${authUrl}: no X-Auth-Token/X-Storage-Url`);
      const ttl = Number(res.headers.get('x-auth-token-expires'));
      return {
        token,
        storageUrl: stripSlash(storageUrl),
        expiresAt: Number.isFinite(ttl) && ttl > 0 ? Date.now() + ttl * 1000 : undefined,
      };
    }
    return this.authenticateV3(authUrl, username, password, signal);
  }

  private async authenticateV3(authUrl: string, username: string, password: string, signal: AbortSignal): Promise<Session> {
    const c = this.cfg;
    const base = stripSlash(authUrl);
    const url = (/\/v3$/.test(base) ? base : `${base}/v3`) + '/auth/tokens';
    const userDomain = c.userDomainId ? { id: c.userDomainId } : { name: c.userDomainName ?? 'Default' };
    const projectDomain = c.projectDomainId ? { id: c.projectDomainId } : { name: c.projectDomainName ?? 'Default' };
    const scope = c.projectId
      ? { project: { id: c.projectId } }
      : c.projectName
        ? { project: { name: c.projectName, domain: projectDomain } }
        : undefined;
    const body = {
      auth: {
        identity: { methods: ['password'], password: { user: { name: username, domain: userDomain, password } } },
        ...(scope ? { scope } : {}),
      },
    };
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    if (res.status >= 300) throw new BackendHttpError(`keystone at ${url} answered ${res.status}: ${text.slice(0, 200)}`, res.status);
    const token = res.headers.get('x-subject-token');
    if (!token) throw new StorageUnavailableError(`keystone at ${url}: no X-Subject-Token`);
    interface Endpoint {
      interface?: string;
      region?: string;
      region_id?: string;
      url?: string;
    }
    interface CatalogEntry {
      type?: string;
      endpoints?: Endpoint[];
    }
    let parsed: { token?: { expires_at?: string; catalog?: CatalogEntry[] } };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch (err) {
      throw new StorageUnavailableError(`keystone at ${url}: bad JSON`, { cause: err });
    }
    let storageUrl = c.storageUrl;
    if (!storageUrl) {
      const want = c.interface ?? 'public';
      const endpoints = (parsed.token?.catalog ?? [])
        .filter((e) => e.type === 'object-store')
        .flatMap((e) => e.endpoints ?? [])
        .filter((e) => (e.interface ?? 'public') === want)
        .filter((e) => !c.region || e.region_id === c.region || e.region === c.region);
      storageUrl = endpoints[0]?.url;
      if (!storageUrl) {
        throw new StorageUnavailableError(
          `keystone at ${url}: no ${want} object-store endpoint${c.region ? ` in region ${c.region}` : ''} in the catalog`,
        );
      }
    }
    const expires = parsed.token?.expires_at ? Date.parse(parsed.token.expires_at) : NaN;
    return { token, storageUrl: stripSlash(storageUrl), expiresAt: Number.isFinite(expires) ? expires : undefined };
  }

  // -------------------------------------------------------------- requests

  private objectPath(key: string): string {
    validateKey(key);
    return `${encodeURIComponent(this.cfg.container)}/${encodePath(key)}`;
  }

  private containerPath(): string {
    return encodeURIComponent(this.cfg.container);
  }

  private segmentPath(segKey: string): string {
    return `${encodeURIComponent(this.segmentContainer)}/${encodePath(segKey)}`;
  }

  /** One HTTP exchange with auth; a 401 gets one fresh token and one more try. */
  private async exchange(method: string, o: CallOptions, ctx: AttemptContext): Promise<Response> {
    let session = await this.getSession();
    for (let authTry = 0; ; authTry++) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) qs.set(k, v);
      const q = qs.toString();
      const url = `${session.storageUrl}${o.path ? '/' + o.path : ''}${q ? '?' + q : ''}`;
      const init: RequestInit & { duplex?: 'half' } = {
        method,
        headers: { ...o.headers, 'X-Auth-Token': session.token },
        signal: ctx.signal,
      };
      if (o.body instanceof Uint8Array) init.body = o.body as unknown as RequestInit['body'];
      // fetch() reads a streamed request body without backpressure (all of it
      // into memory): streamed bodies go through node:http instead.
      const res =
        typeof o.body === 'function'
          ? await streamRequest(method, url, init.headers as Record<string, string>, o.body(), ctx.signal)
          : await fetch(url, init);
      if (res.status !== 401 || authTry > 0) return res;
      await res.arrayBuffer().catch(() => undefined);
      this.forget(session);
      session = await this.getSession();
      if (typeof o.body === 'function' && !(o.canReplay?.() ?? false)) {
        throw new StorageUnavailableError(
          `swift ${method} /${o.path}: token rejected after too much of the streamed body was sent; the token is renewed, try again`,
        );
      }
    }
  }

  /** A request whose answer is read whole. */
  private async call(what: string, method: string, o: CallOptions): Promise<Reply> {
    return withRetries(
      what,
      this.policy,
      async (ctx) => {
        const res = await this.exchange(method, o, ctx);
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status >= 500 || res.status === 408 || res.status === 429) {
          throw new BackendHttpError(`swift ${method} /${o.path} answered ${res.status}`, res.status);
        }
        return { status: res.status, headers: res.headers, body };
      },
      { idempotent: o.idempotent },
    );
  }

  /** A GET whose body is streamed back (with an idle timeout) on 2xx. */
  private async callStream(what: string, o: CallOptions): Promise<StreamReply | Reply> {
    let deadline: IdleDeadline | undefined;
    const reply = await withRetries(
      what,
      this.policy,
      async (ctx): Promise<StreamReply | Reply> => {
        const res = await this.exchange('GET', o, ctx);
        if (res.status >= 500 || res.status === 408 || res.status === 429) {
          await res.arrayBuffer().catch(() => undefined);
          throw new BackendHttpError(`swift GET /${o.path} answered ${res.status}`, res.status);
        }
        if (res.status >= 300 || !res.body) {
          const body = Buffer.from(await res.arrayBuffer());
          ctx.deadline.clear();
          return { status: res.status, headers: res.headers, body };
        }
        deadline = ctx.deadline;
        const web = res.body as unknown as import('node:stream/web').ReadableStream<Uint8Array>;
        return { status: res.status, headers: res.headers, stream: Readable.fromWeb(web) };
      },
      { idempotent: true, keepDeadline: true },
    );
    if ('stream' in reply && deadline) return { ...reply, stream: watchBody(reply.stream, deadline, what) };
    deadline?.clear();
    return reply;
  }

  private fail(what: string, r: { status: number; body?: Buffer }): Error {
    const detail = r.body?.length ? `: ${r.body.toString('utf8', 0, Math.min(r.body.length, 300))}` : '';
    return unavailable(what, new BackendHttpError(`answered ${r.status}${detail}`, r.status));
  }

  /** Create the containers (data and segments) once, at the first write, or again after a write found one missing. */
  private ensureContainer(): Promise<void> {
    if (!this.containerReady) {
      this.containerReady = (async () => {
        for (const name of [this.cfg.container, this.segmentContainer]) {
          const what = `swift create container ${name}`;
          const r = await this.call(what, 'PUT', { path: encodeURIComponent(name), idempotent: true });
          if (r.status !== 201 && r.status !== 202) throw this.fail(what, r);
        }
      })();
      this.containerReady.catch(() => {
        this.containerReady = undefined;
      });
    }
    return this.containerReady;
  }

  /** Write call: containers created first; on 404 (container gone) re-created and retried once. */
  private async write(what: string, method: string, o: CallOptions): Promise<Reply> {
    await this.ensureContainer();
    let r = await this.call(what, method, o);
    if (r.status === 404 && o.idempotent && !o.headers?.['X-Copy-From']) {
      this.containerReady = undefined;
      await this.ensureContainer();
      r = await this.call(what, method, o);
    }
    return r;
  }

  // ------------------------------------------------------------- contract

  async list(options: ListOptions): Promise<ListPage> {
    checkPrefix(options.prefix ?? '');
    const limit = Math.max(1, Math.min(options.limit ?? MAX_LIST_LIMIT, MAX_LIST_LIMIT));
    const delimiter = options.delimiter || undefined;
    if (delimiter && delimiter.length !== 1) throw new TypeError('swift: the list delimiter must be one character');
    const entries: ListEntry[] = [];
    let marker = options.startAfter;
    for (;;) {
      const want = limit - entries.length;
      const r = await this.call(`swift list ${options.prefix}`, 'GET', {
        path: this.containerPath(),
        query: { format: 'json', prefix: options.prefix || undefined, delimiter, marker: marker || undefined, limit: String(want + 1) },
        idempotent: true,
      });
      if (r.status === 404) return { entries };
      if (r.status !== 200 && r.status !== 204) throw this.fail('swift list', r);
      type Row = { name?: string; subdir?: string; bytes?: number; last_modified?: string };
      const rows = r.status === 204 || r.body.length === 0 ? [] : (JSON.parse(r.body.toString('utf8')) as Row[]);
      let lastSeen: string | undefined;
      for (const row of rows.slice(0, want + 1)) {
        const key = row.subdir ?? row.name ?? '';
        lastSeen = key;
        // Swift may repeat a prefix that equals the marker; the contract wants strictly after.
        if (options.startAfter !== undefined && compareBytes(key, options.startAfter) <= 0) continue;
        if (entries.length === limit) return { entries, next: entries[entries.length - 1]!.key };
        entries.push(
          row.subdir !== undefined
            ? { key, prefix: true }
            : { key, prefix: false, size: row.bytes ?? 0, modified: parseSwiftDate(row.last_modified) },
        );
      }
      if (rows.length <= want || lastSeen === undefined) return { entries };
      // Everything in this batch was skipped or consumed: read on (never in place).
      marker = marker !== undefined && compareBytes(lastSeen, marker) <= 0 ? `${marker}\u{10FFFF}` : lastSeen;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const r = await this.call(`swift stat ${key}`, 'HEAD', { path: this.objectPath(key), idempotent: true });
    if (r.status === 404) return null;
    if (r.status !== 200 && r.status !== 204) throw this.fail(`swift stat ${key}`, r);
    return { key, size: Number(r.headers.get('content-length') ?? 0), modified: headerDate(r.headers) };
  }

  async put(key: string, body: Uint8Array | Readable): Promise<ObjectInfo> {
    const what = `swift put ${key}`;
    validateKey(key);
    if (body instanceof Uint8Array) {
      if (body.byteLength < this.segmentThreshold) return this.putPlain(what, key, body);
      return this.putSegmented(what, key, new ChunkSource(Readable.from([Buffer.from(body)])), [], true);
    }
    // Read ahead up to the threshold: a short stream becomes a plain (retryable) put.
    const source = new ChunkSource(body);
    const head: Buffer[] = [];
    let headLen = 0;
    try {
      while (headLen < this.segmentThreshold) {
        const chunk = await source.next();
        if (!chunk) return await this.putPlain(what, key, Buffer.concat(head, headLen));
        head.push(chunk);
        headLen += chunk.length;
      }
    } catch (err) {
      source.close();
      throw err; // the caller's stream failed: not a backend fault
    }
    return this.putSegmented(what, key, source, head, false);
  }

  /** One plain object: ETag-checked, retried. */
  private async putPlain(what: string, key: string, bytes: Uint8Array): Promise<ObjectInfo> {
    const headers = {
      'Content-Type': 'application/octet-stream',
      ETag: createHash('md5').update(bytes).digest('hex'),
    };
    const r = await this.write(what, 'PUT', { path: this.objectPath(key), headers, body: bytes, idempotent: true });
    if (r.status !== 201) throw this.fail(what, r);
    return { key, size: bytes.byteLength, modified: headerDate(r.headers) };
  }

  /**
   * Data into fresh segment objects (at most segmentSize bytes each) in the
   * segments container, then an SLO manifest at `key`: atomic (readers see
   * the old manifest until the new one is in place) and cheap to concat and
   * move later. `replayable`: the source is in memory, so segment PUTs may be retried.
   */
  private async putSegmented(what: string, key: string, source: ChunkSource, head: Buffer[], replayable: boolean): Promise<ObjectInfo> {
    await this.ensureContainer();
    const id = randomUUID();
    const written: Seg[] = [];
    let size = 0;
    try {
      for (let n = 0; ; n++) {
        const segKey = `${id}/${String(n).padStart(6, '0')}`;
        const first = n === 0 ? head : [];
        if (n > 0) {
          const peek = await source.next();
          if (!peek) break;
          first.push(peek);
        }
        const seg = replayable
          ? await this.putSegmentFromMemory(what, segKey, await source.take(this.segmentSize, first))
          : await this.putSegmentStream(what, segKey, source, first);
        written.push(seg);
        size += seg.size_bytes!;
        if (source.done) break;
      }
      const info = await this.putManifest(what, this.cfg.container, key, written);
      return { key, size, modified: info.modified };
    } catch (err) {
      source.close();
      // best effort: the segments of a put that did not happen
      await mapLimit(written, this.concurrency, (s) =>
        this.call(what, 'DELETE', { path: encodePath(s.path!.slice(1)), idempotent: true }).catch(() => undefined),
      );
      if (source.error !== undefined) throw source.error;
      throw err;
    }
  }

  private async putSegmentFromMemory(what: string, segKey: string, bytes: Buffer): Promise<Seg> {
    const etag = createHash('md5').update(bytes).digest('hex');
    const r = await this.write(what, 'PUT', {
      path: this.segmentPath(segKey),
      headers: { 'Content-Type': 'application/octet-stream', ETag: etag },
      body: bytes,
      idempotent: true,
    });
    if (r.status !== 201) throw this.fail(what, r);
    return { path: `/${this.segmentContainer}/${segKey}`, etag, size_bytes: bytes.length };
  }

  /**
   * One streamed segment PUT. A single attempt (the stream is consumed), except
   * that a 401 (expired or revoked token) arrives before much of the body is
   * read: the bytes sent so far are kept (up to MAX_REPLAY) and sent again
   * with a fresh token.
   */
  private async putSegmentStream(what: string, segKey: string, source: ChunkSource, first: Buffer[]): Promise<Seg> {
    const limit = this.segmentSize;
    let size = 0;
    const hash = createHash('md5');
    let replay: Buffer[] | undefined = [];
    let replayBytes = 0;
    let deadline: IdleDeadline | undefined;
    let generation = 0;
    const body = (): AsyncIterable<Uint8Array> => {
      const again = replay ? [...replay] : [];
      const mine = ++generation;
      return {
        async *[Symbol.asyncIterator]() {
          for (const b of again) {
            deadline?.touch();
            yield b;
          }
          // an abandoned attempt's body must not take chunks from the source
          while (size < limit && mine === generation) {
            const chunk = first.length ? first.shift()! : await source.next();
            if (!chunk) return;
            let piece = chunk;
            if (size + piece.length > limit) {
              source.unshift(piece.subarray(limit - size));
              piece = piece.subarray(0, limit - size);
            }
            size += piece.length;
            hash.update(piece);
            if (replay) {
              replayBytes += piece.length;
              if (replayBytes <= MAX_REPLAY) replay.push(piece);
              else replay = undefined;
            }
            deadline?.touch();
            yield piece;
          }
        },
      };
    };
    const r = await withRetries(
      what,
      this.policy,
      async (ctx) => {
        deadline = ctx.deadline;
        const res = await this.exchange(
          'PUT',
          {
            path: this.segmentPath(segKey),
            headers: { 'Content-Type': 'application/octet-stream' },
            body,
            canReplay: () => replay !== undefined,
            idempotent: false,
          },
          ctx,
        );
        replay = undefined;
        return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) } as Reply;
      },
      { idempotent: false },
    ).catch((err: unknown) => {
      throw source.error ?? err;
    });
    if (source.error !== undefined) throw source.error;
    if (r.status === 404) this.containerReady = undefined;
    if (r.status !== 201) throw this.fail(what, r);
    const etag = hash.digest('hex');
    const got = (r.headers.get('etag') ?? '').replace(/"/g, '');
    if (got && got !== etag) throw unavailable(what, new Error(`segment ETag ${got} != ${etag}`));
    return { path: `/${this.segmentContainer}/${segKey}`, etag, size_bytes: size };
  }

  async get(key: string): Promise<Buffer | null> {
    const r = await this.call(`swift get ${key}`, 'GET', { path: this.objectPath(key), idempotent: true });
    if (r.status === 404) return null;
    if (r.status !== 200) throw this.fail(`swift get ${key}`, r);
    return r.body;
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const what = `swift read ${key}`;
    const headers: Record<string, string> = {};
    if (range) {
      checkRange(range);
      if (range.end !== undefined && range.end < range.start) {
        const info = await this.stat(key);
        if (!info) throw new NotFoundError(key);
        throw new RangeNotSatisfiableError(key, info.size);
      }
      headers.Range = `bytes=${range.start}-${range.end ?? ''}`;
    }
    const r = await this.callStream(what, { path: this.objectPath(key), headers, idempotent: true });
    if ('stream' in r) {
      if (r.status === 200 || r.status === 206) return r.stream;
      r.stream.destroy();
      throw this.fail(what, { status: r.status });
    }
    if (r.status === 404) throw new NotFoundError(key);
    if (r.status === 416) {
      const total = /\/(\d+)\s*$/.exec(r.headers.get('content-range') ?? '');
      const size = total ? Number(total[1]) : ((await this.stat(key))?.size ?? 0);
      throw new RangeNotSatisfiableError(key, size);
    }
    if (r.status === 200 || r.status === 206) return Readable.from([r.body]);
    throw this.fail(what, r);
  }

  async delete(key: string): Promise<boolean> {
    const what = `swift delete ${key}`;
    const path = this.objectPath(key);
    const head = await this.call(what, 'HEAD', { path, idempotent: true });
    if (head.status === 404) return false;
    if (head.status >= 300) throw this.fail(what, head);
    if (isSlo(head.headers)) {
      // The manifest and its segments together (a bulk-delete style answer).
      const r = await this.call(what, 'DELETE', {
        path,
        query: { 'multipart-manifest': 'delete' },
        headers: { Accept: 'application/json' },
        idempotent: true,
      });
      if (r.status === 404) return false;
      if (r.status !== 200) throw this.fail(what, r);
      const result = JSON.parse(r.body.toString('utf8')) as {
        'Response Status'?: string;
        'Number Deleted'?: number;
        Errors?: unknown[];
      };
      const status = result['Response Status'] ?? '';
      if (!/^(200|204|404)/.test(status) || (result.Errors?.length ?? 0) > 0) {
        throw unavailable(what, new Error(`SLO delete: ${status} ${JSON.stringify(result.Errors ?? [])}`));
      }
      return (result['Number Deleted'] ?? 0) > 0;
    }
    const r = await this.call(what, 'DELETE', { path, idempotent: true });
    if (r.status === 404) return false;
    if (r.status !== 204 && r.status !== 200) throw this.fail(what, r);
    return true;
  }

  async move(from: string, to: string): Promise<void> {
    const what = `swift move ${from} -> ${to}`;
    if (from === to) {
      if (!(await this.stat(from))) throw new NotFoundError(from);
      return;
    }
    // Server-side copy; for an SLO the manifest is copied (no data), so the
    // source manifest must then go without its segments: a plain DELETE.
    const r = await this.write(what, 'PUT', {
      path: this.objectPath(to),
      query: { 'multipart-manifest': 'get' },
      headers: { 'X-Copy-From': `/${this.objectPath(from)}`, 'Content-Length': '0' },
      idempotent: true,
    });
    if (r.status === 404) throw new NotFoundError(from);
    if (r.status !== 201) throw this.fail(what, r);
    const d = await this.call(what, 'DELETE', { path: this.objectPath(from), idempotent: true });
    if (d.status !== 204 && d.status !== 200 && d.status !== 404) throw this.fail(what, d);
  }

  async concat(to: string, sources: string[]): Promise<ObjectInfo> {
    const what = `swift concat ${to}`;
    validateKey(to);
    // The segments each source consists of: a manifest's own segment list
    // (no data moves), or, for a plain object (small: below segmentThreshold),
    // a server-side copy of it into the segments container. Runs of several
    // plain sources are instead read and written back as segments of at least
    // COALESCE_BYTES: Swift's SLO middleware serves segments under 1 MiB at
    // one per second after the tenth (rate_limit_after_segment,
    // rate_limit_segments_per_sec, rate_limit_under_size), so a blob pushed
    // in 30 chunks of 64 KiB would otherwise take 20 s to download.
    type Source = { key: string; segs: Seg[] } | { key: string; plain: number };
    const found = await mapLimit(sources, this.concurrency, async (key): Promise<Source> => {
      const path = this.objectPath(key);
      const head = await this.call(what, 'HEAD', { path, idempotent: true });
      if (head.status === 404) throw new NotFoundError(key);
      if (head.status >= 300) throw this.fail(what, head);
      const size = Number(head.headers.get('content-length') ?? 0);
      if (size === 0) return { key, segs: [] };
      if (isSlo(head.headers)) {
        const r = await this.call(what, 'GET', { path, query: { 'multipart-manifest': 'get' }, idempotent: true });
        if (r.status === 404) throw new NotFoundError(key);
        if (r.status !== 200) throw this.fail(what, r);
        if (isSlo(r.headers)) {
          const stored = JSON.parse(r.body.toString('utf8')) as StoredSegment[];
          return { key, segs: stored.map(segFromStored) };
        }
      }
      return { key, plain: size };
    });
    const parts: Seg[][] = [];
    for (let i = 0; i < found.length; ) {
      const src = found[i]!;
      if ('segs' in src) {
        parts.push(src.segs);
        i++;
        continue;
      }
      const run: { key: string; plain: number }[] = [];
      for (; i < found.length; i++) {
        const f = found[i]!;
        if ('segs' in f) {
          if (f.segs.length === 0) continue; // empty sources do not end a run
          break;
        }
        run.push(f);
      }
      if (run.length === 1) parts.push([await this.copyToSegment(what, run[0]!.key)]);
      else parts.push(await this.coalesce(what, run));
    }
    const segments = parts.flat();
    if (segments.length === 0) return this.putPlain(what, to, new Uint8Array(0)).then((i) => ({ ...i, key: to }));
    const total = segments.reduce((n, s) => n + segLength(s), 0);
    await this.ensureContainer();
    let top = segments;
    while (top.length > this.maxSegments) {
      // Nest: sub-manifests of up to 1000 segments in the segments container.
      const id = randomUUID();
      const groups: Seg[][] = [];
      for (let i = 0; i < top.length; i += this.maxSegments) groups.push(top.slice(i, i + this.maxSegments));
      top = await mapLimit(groups, 2, async (group, i) => {
        const subKey = `${id}/sub-${String(i).padStart(6, '0')}`;
        const info = await this.putManifest(`${what} (sub-manifest)`, this.segmentContainer, subKey, group);
        return { path: `/${this.segmentContainer}/${subKey}`, size_bytes: info.size };
      });
    }
    const info = await this.putManifest(what, this.cfg.container, to, top);
    return { key: to, size: total, modified: info.modified };
  }

  /**
   * Consecutive small plain sources read and written back as segments of at
   * least COALESCE_BYTES (the last one may be smaller); at most about
   * COALESCE_BYTES + segmentThreshold bytes are in memory at once.
   */
  private async coalesce(what: string, run: { key: string; plain: number }[]): Promise<Seg[]> {
    const target = Math.max(COALESCE_BYTES, this.segmentThreshold);
    const id = randomUUID();
    const out: Seg[] = [];
    for (let i = 0; i < run.length; ) {
      const group: string[] = [];
      let bytes = 0;
      for (; i < run.length && bytes < target; i++) {
        group.push(run[i]!.key);
        bytes += run[i]!.plain;
      }
      const bodies = await mapLimit(group, this.concurrency, async (key) => {
        const b = await this.get(key);
        if (b === null) throw new NotFoundError(key);
        return b;
      });
      const segKey = `${id}/${String(out.length).padStart(6, '0')}`;
      out.push(await this.putSegmentFromMemory(what, segKey, Buffer.concat(bodies)));
    }
    return out;
  }

  /** Server-side copy of a plain object into a new segment (no bytes through this process). */
  private async copyToSegment(what: string, key: string): Promise<Seg> {
    const segKey = `${randomUUID()}/000000`;
    const r = await this.write(what, 'PUT', {
      path: this.segmentPath(segKey),
      headers: { 'X-Copy-From': `/${this.objectPath(key)}`, 'Content-Length': '0' },
      idempotent: true,
    });
    if (r.status === 404) throw new NotFoundError(key);
    if (r.status !== 201) throw this.fail(what, r);
    const head = await this.call(what, 'HEAD', { path: this.segmentPath(segKey), idempotent: true });
    if (head.status !== 200) throw this.fail(what, head);
    return {
      path: `/${this.segmentContainer}/${segKey}`,
      etag: (head.headers.get('etag') ?? '').replace(/"/g, '') || undefined,
      size_bytes: Number(head.headers.get('content-length') ?? 0),
    };
  }

  private async putManifest(what: string, container: string, key: string, segments: Seg[]): Promise<ObjectInfo> {
    const body = Buffer.from(JSON.stringify(segments));
    const path = container === this.cfg.container ? this.objectPath(key) : this.segmentPath(key);
    const r = await this.write(what, 'PUT', {
      path,
      query: { 'multipart-manifest': 'put' },
      headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json' },
      body,
      idempotent: true,
    });
    if (r.status === 400 && /404|Not Found/i.test(r.body.toString('utf8'))) {
      // A segment vanished between planning and publishing (a source deleted meanwhile).
      throw new NotFoundError(key);
    }
    if (r.status !== 201) throw this.fail(what, r);
    const size = segments.reduce((n, s) => n + segLength(s), 0);
    return { key, size, modified: headerDate(r.headers) };
  }

  /**
   * Remove the sources of a concat. A source's segments that the published
   * object `to` uses stay (only the source's manifest goes); anything `to`
   * does not use goes with its source. So this is also the way to remove the
   * chunks of an upload that never published (`to` missing): nothing of
   * them is kept. Call it before moving `to` elsewhere.
   */
  async deleteConcatSources(to: string, sources: string[]): Promise<void> {
    const what = `swift delete concat sources of ${to}`;
    const used = await this.segmentsUsedBy(what, to);
    await mapLimit(
      [...new Set(sources)].filter((k) => k !== to),
      this.concurrency,
      async (key) => {
        const path = this.objectPath(key);
        const head = await this.call(what, 'HEAD', { path, idempotent: true });
        if (head.status === 404) return;
        if (head.status >= 300) throw this.fail(what, head);
        let unused: string[] = [];
        if (isSlo(head.headers)) {
          const r = await this.call(what, 'GET', { path, query: { 'multipart-manifest': 'get' }, idempotent: true });
          if (r.status === 404) return;
          if (r.status !== 200) throw this.fail(what, r);
          if (isSlo(r.headers)) {
            unused = (JSON.parse(r.body.toString('utf8')) as StoredSegment[])
              .map((seg) => seg.name)
              .filter((name): name is string => !!name && !used.has(name));
          }
        }
        const d = await this.call(what, 'DELETE', { path, idempotent: true });
        if (d.status !== 204 && d.status !== 200 && d.status !== 404) throw this.fail(what, d);
        for (const name of unused) await this.deleteSegment(what, name);
      },
    );
  }

  /** Names ("/container/object") of every segment `key`'s manifest uses, nested ones included; empty when it is no SLO. */
  private async segmentsUsedBy(what: string, key: string): Promise<Set<string>> {
    const used = new Set<string>();
    const walk = async (path: string, depth: number): Promise<void> => {
      const r = await this.call(what, 'GET', { path, query: { 'multipart-manifest': 'get' }, idempotent: true });
      if (r.status === 404) return;
      if (r.status !== 200) throw this.fail(what, r);
      if (!isSlo(r.headers)) return;
      for (const seg of JSON.parse(r.body.toString('utf8')) as StoredSegment[]) {
        if (!seg.name) continue;
        used.add(seg.name);
        if (seg.sub_slo && depth < 10) await walk(encodePath(seg.name.slice(1)), depth + 1);
      }
    };
    await walk(this.objectPath(key), 0);
    return used;
  }

  /** Delete one segment (or nested manifest, with its segments) by its "/container/object" name. */
  private async deleteSegment(what: string, name: string): Promise<void> {
    const path = encodePath(name.slice(1));
    const head = await this.call(what, 'HEAD', { path, idempotent: true });
    if (head.status === 404) return;
    const r = await this.call(what, 'DELETE', {
      path,
      ...(isSlo(head.headers) ? { query: { 'multipart-manifest': 'delete' }, headers: { Accept: 'application/json' } } : {}),
      idempotent: true,
    });
    if (r.status >= 300 && r.status !== 404) throw this.fail(what, r);
  }

  async presignGet(key: string, expiresSeconds: number): Promise<string | null> {
    const secret = this.cfg.tempUrlKey;
    if (!secret) return null;
    if (!(await this.ensureTempUrlKey(secret))) return null;
    const session = await this.getSession();
    const expires = Math.floor(Date.now() / 1000) + Math.max(1, Math.floor(expiresSeconds));
    const base = new URL(session.storageUrl);
    // The signature covers the decoded path, as the tempurl middleware sees it.
    const signedPath = `${decodeURIComponent(base.pathname)}/${this.cfg.container}/${key}`;
    const sig = createHmac('sha256', secret).update(`GET\n${expires}\n${signedPath}`).digest('hex');
    return `${session.storageUrl}/${this.objectPath(key)}?temp_url_sig=${sig}&temp_url_expires=${expires}`;
  }

  /**
   * Make the key valid for TempURLs on the account: in X-Account-Meta-Temp-URL-Key
   * when that is empty (or already this key), else in ...-Key-2 likewise. A
   * key never replaces someone else's. Account keys, not container keys:
   * a container-scoped TempURL cannot read SLO segments in another container.
   * Resolves to false when both account slots hold other keys.
   */
  private ensureTempUrlKey(secret: string): Promise<boolean> {
    if (!this.tempUrlReady) {
      const what = 'swift set temp-url key';
      this.tempUrlReady = (async () => {
        const acct = await this.call(what, 'HEAD', { path: '', idempotent: true });
        if (acct.status >= 300) throw this.fail(what, acct);
        for (const header of ['X-Account-Meta-Temp-URL-Key', 'X-Account-Meta-Temp-URL-Key-2']) {
          const have = acct.headers.get(header);
          if (have === secret) return true;
          if (have) continue;
          const r = await this.call(what, 'POST', { path: '', headers: { [header]: secret }, idempotent: true });
          if (r.status !== 204 && r.status !== 200) throw this.fail(what, r);
          return true;
        }
        return false;
      })();
      this.tempUrlReady.catch(() => {
        this.tempUrlReady = undefined;
      });
    }
    return this.tempUrlReady;
  }

  async close(): Promise<void> {
    // fetch() uses the process-wide pool; nothing of our own to release.
  }

  // ------------------------------------------------------- test/ops helpers

  /** The current storage URL and token (authenticating if needed). */
  async authInfo(): Promise<{ storageUrl: string; token: string }> {
    const s = await this.getSession();
    return { storageUrl: s.storageUrl, token: s.token };
  }

  /** Delete every object and then the containers themselves (for tests and teardown). */
  async destroyContainer(): Promise<void> {
    for (const name of [this.cfg.container, this.segmentContainer]) {
      const what = `swift destroy container ${name}`;
      const cpath = encodeURIComponent(name);
      for (;;) {
        const r = await this.call(what, 'GET', { path: cpath, query: { format: 'json', limit: '1000' }, idempotent: true });
        if (r.status === 404) break;
        if (r.status >= 300) throw this.fail(what, r);
        const rows = r.status === 204 || !r.body.length ? [] : (JSON.parse(r.body.toString('utf8')) as { name: string }[]);
        if (rows.length === 0) break;
        await mapLimit(rows, this.concurrency, async (row) => {
          const d = await this.call(what, 'DELETE', { path: `${cpath}/${encodePath(row.name)}`, idempotent: true });
          if (d.status >= 300 && d.status !== 404) throw this.fail(what, d);
        });
      }
      const d = await this.call(what, 'DELETE', { path: cpath, idempotent: true });
      if (d.status >= 300 && d.status !== 404) throw this.fail(what, d);
    }
    this.containerReady = undefined;
  }
}

// ---------------------------------------------------------------- helpers

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64 });

/**
 * A request with a streamed body over node:http(s), honouring backpressure
 * (at most a socket buffer or so in flight). The answer comes back as a
 * fetch Response. An early answer (e.g. 401) stops the upload.
 */
function streamRequest(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const u = new URL(url);
    const isHttps = u.protocol === 'https:';
    let answered = false;
    let failed = false;
    const req = (isHttps ? httpsRequest : httpRequest)(u, {
      method,
      headers: { ...headers, 'Transfer-Encoding': 'chunked' },
      agent: isHttps ? httpsAgent : httpAgent,
    });
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        if (failed) return;
        signal.removeEventListener('abort', onAbort);
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        }
        const status = res.statusCode ?? 502;
        const nullBody = status === 204 || status === 205 || status === 304;
        // the upload may have been cut short by the answer: never reuse this socket
        if (!req.writableFinished) req.destroy();
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: h }));
      });
    });
    void (async () => {
      try {
        for await (const chunk of body) {
          if (answered || failed) return;
          if (!req.write(chunk)) {
            await new Promise<void>((r) => {
              const done = () => {
                req.off('drain', done);
                req.off('close', done);
                r();
              };
              req.on('drain', done);
              req.on('close', done);
            });
          }
        }
        if (!answered && !failed) req.end();
      } catch (err) {
        fail(err); // the body's source failed: the upload is abandoned (nothing is stored)
      }
    })();
  });
}

function stripSlash(u: string): string {
  return u.replace(/\/+$/, '');
}

function encodePath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function checkRange(range: ByteRange): void {
  if (
    !Number.isSafeInteger(range.start) ||
    range.start < 0 ||
    (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < 0))
  ) {
    throw new TypeError(`invalid byte range ${JSON.stringify(range)}`);
  }
}

function isSlo(h: Headers): boolean {
  return (h.get('x-static-large-object') ?? '').toLowerCase() === 'true';
}

/** Compare by UTF-8 bytes (the order Swift and S3 list in). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function parseSwiftDate(s: string | undefined): Date {
  if (!s) return new Date(0);
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
}

function headerDate(h: Headers): Date {
  const ts = Number(h.get('x-timestamp'));
  if (Number.isFinite(ts) && ts > 0) return new Date(Math.round(ts * 1000));
  const lm = h.get('last-modified');
  const d = lm ? new Date(lm) : new Date();
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

function guessAuthVersion(c: SwiftConfig): 1 | 3 {
  const v = c.authVersion === undefined ? undefined : String(c.authVersion).replace(/^v/, '');
  if (v === '1' || v === '1.0') return 1;
  if (v === '3') return 3;
  if (v !== undefined) throw new TypeError(`swift: unsupported authVersion ${c.authVersion} (1 or 3)`);
  const u = c.authUrl ?? '';
  if (/\/v3\/?$/.test(u) || /\/v3\//.test(u)) return 3;
  if (/\/(auth\/)?v1(\.0)?\/?$/.test(u)) return 1;
  return c.projectName || c.projectId ? 3 : 1;
}

// ------------------------------------------------------------ clouds.yaml

/** Where clouds.yaml is looked for (openstacksdk's order), first hit wins. */
export function cloudsYamlPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const paths: string[] = [];
  if (env.OS_CLIENT_CONFIG_FILE) paths.push(resolve(env.OS_CLIENT_CONFIG_FILE));
  paths.push(resolve('clouds.yaml'), join(homedir(), '.config', 'openstack', 'clouds.yaml'), '/etc/openstack/clouds.yaml');
  return paths;
}

function secureYamlPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const paths: string[] = [];
  if (env.OS_CLIENT_SECURE_FILE) paths.push(resolve(env.OS_CLIENT_SECURE_FILE));
  paths.push(resolve('secure.yaml'), join(homedir(), '.config', 'openstack', 'secure.yaml'), '/etc/openstack/secure.yaml');
  return paths;
}

function readFirst(paths: string[]): { path: string; data: Record<string, unknown> } | undefined {
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const data = parseYaml(text) as unknown;
    return { path, data: data && typeof data === 'object' ? (data as Record<string, unknown>) : {} };
  }
  return undefined;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      prev && v && typeof prev === 'object' && typeof v === 'object' && !Array.isArray(v)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Settings of cloud `name` from clouds.yaml (+ secure.yaml), as SwiftConfig fields. */
export function loadCloud(name: string, env: NodeJS.ProcessEnv = process.env): Partial<SwiftConfig> {
  const found = readFirst(cloudsYamlPaths(env));
  if (!found) throw new TypeError(`swift: cloud "${name}" requested but no clouds.yaml found in ${cloudsYamlPaths(env).join(', ')}`);
  const clouds = (found.data.clouds ?? {}) as Record<string, Record<string, unknown>>;
  let cloud = clouds[name];
  if (!cloud) throw new TypeError(`swift: no cloud "${name}" in ${found.path}`);
  const secure = readFirst(secureYamlPaths(env));
  const secureCloud = (secure?.data.clouds as Record<string, Record<string, unknown>> | undefined)?.[name];
  if (secureCloud) cloud = deepMerge(cloud, secureCloud);
  const auth = (cloud.auth ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const authType = str(cloud.auth_type) ?? '';
  const out: Partial<SwiftConfig> = {
    authUrl: str(auth.auth_url),
    username: str(auth.username),
    password: str(auth.password),
    projectName: str(auth.project_name ?? auth.tenant_name),
    projectId: str(auth.project_id ?? auth.tenant_id),
    projectDomainName: str(auth.project_domain_name ?? auth.domain_name),
    projectDomainId: str(auth.project_domain_id ?? auth.domain_id),
    userDomainName: str(auth.user_domain_name ?? auth.domain_name),
    userDomainId: str(auth.user_domain_id ?? auth.domain_id),
    region: str(cloud.region_name),
    interface: str(cloud.interface),
  };
  if (authType === 'v1password' || authType === 'v1') out.authVersion = 1;
  else if (authType === 'password' || authType === 'v3password' || str(cloud.identity_api_version) === '3') out.authVersion = 3;
  const osu = (cloud.object_store_endpoint_override ?? cloud.object_store_endpoint) as unknown;
  if (typeof osu === 'string') out.storageUrl = osu;
  return out;
}

function mergeCloud(config: SwiftConfig): SwiftConfig {
  const fromCloud = loadCloud(config.cloud!);
  const merged: Record<string, unknown> = { ...fromCloud };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) merged[k] = v;
  return merged as unknown as SwiftConfig;
}
