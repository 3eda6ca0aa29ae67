// OpenStack Swift storage driver: the driver contract mapped onto the Swift
// API. Its parts: config.ts (settings), clouds.ts (clouds.yaml), auth.ts (v1
// and Keystone v3 tokens), transport.ts (requests, retries, streaming),
// containers.ts (the two containers and paths into them), segments.ts (SLO).
//
// Storage layout: `container` holds the keys. Objects below segmentThreshold
// (1 MiB) are plain objects. Larger ones (streamed chunks, blobs) are written
// as segments into `<container>_segments` (random names) plus a Static Large
// Object manifest at the key (segments.ts).
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
//   copy    server-side: a plain object by PUT with X-Copy-From; an SLO by a
//           server-side copy of each of its segments and a new manifest over
//           the copies (never the same segments: delete of an SLO removes
//           them, and promotion copies blobs out of namespaces that end).
//   list    GET container?format=json&prefix&delimiter&marker&limit
//   presignGet  TempURL (HMAC-SHA256) with the configured tempUrlKey.
// Overwriting a segmented object leaves its old segments behind (a reader
// may still be streaming them); they are garbage in the segments container.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ChunkSource } from '../chunk-source.js';
import type { ByteRange, ListEntry, ListOptions, ListPage, ObjectInfo, StorageDriver } from '../driver.js';
import { NotFoundError, RangeNotSatisfiableError } from '../errors.js';
import { checkBackendRange, checkKey as validateKey, checkPrefix, compareKeys, listLimit } from '../keys.js';
import { mapLimit } from '../../async/map-limit.js';
import { retryPolicy, unavailable, type RetryPolicy } from '../retry.js';
import { SwiftAuth } from './auth.js';
import { withCloud } from './clouds.js';
import { swiftSettings, type SwiftConfig, type SwiftSettings } from './config.js';
import { SwiftContainers } from './containers.js';
import { SegmentStore, isSlo, segFromStored, segLength, type Seg, type StoredSegment } from './segments.js';
import { SwiftTransport, headerDate } from './transport.js';

/** Least size of a segment made from several small concat sources (Swift rate-limits segments under 1 MiB). */
const COALESCE_BYTES = 4 * 1024 * 1024;

export class SwiftDriver implements StorageDriver {
  readonly name = 'swift';
  /** A concat result shares its sources' segments until deleteConcatSources (see there). */
  readonly concatKeepsSources = true;
  /** The config as given, with a named cloud's settings filled in. */
  private readonly cfg: SwiftConfig;
  private readonly settings: SwiftSettings;
  private readonly transport: SwiftTransport;
  private readonly containers: SwiftContainers;
  private readonly segments: SegmentStore;
  private tempUrlReady: Promise<boolean> | undefined;

  constructor(config: SwiftConfig) {
    const cfg = withCloud(config);
    this.cfg = cfg;
    this.settings = swiftSettings(cfg);
    const policy: RetryPolicy = retryPolicy(cfg);
    this.transport = new SwiftTransport(new SwiftAuth(cfg, this.settings.authVersion, policy.timeoutMs), policy);
    this.containers = new SwiftContainers(this.transport, this.settings.container, this.settings.segmentContainer);
    this.segments = new SegmentStore(this.transport, this.containers, this.settings);
  }

  async list(options: ListOptions): Promise<ListPage> {
    checkPrefix(options.prefix ?? '');
    const limit = listLimit(options.limit);
    const delimiter = options.delimiter || undefined;
    if (delimiter && delimiter.length !== 1) throw new TypeError('swift: the list delimiter must be one character');
    const entries: ListEntry[] = [];
    let marker = options.startAfter;
    for (;;) {
      const want = limit - entries.length;
      const r = await this.transport.call(`swift list ${options.prefix}`, 'GET', {
        path: this.containers.containerPath(),
        query: { format: 'json', prefix: options.prefix || undefined, delimiter, marker: marker || undefined, limit: String(want + 1) },
        idempotent: true,
      });
      if (r.status === 404) return { entries };
      if (r.status !== 200 && r.status !== 204) throw this.transport.fail('swift list', r);
      type Row = { name?: string; subdir?: string; bytes?: number; last_modified?: string };
      const rows = r.status === 204 || r.body.length === 0 ? [] : (JSON.parse(r.body.toString('utf8')) as Row[]);
      let lastSeen: string | undefined;
      for (const row of rows.slice(0, want + 1)) {
        const key = row.subdir ?? row.name ?? '';
        lastSeen = key;
        // Swift may repeat a prefix that equals the marker; the contract wants strictly after.
        if (options.startAfter !== undefined && compareKeys(key, options.startAfter) <= 0) continue;
        if (entries.length === limit) return { entries, next: entries[entries.length - 1]!.key };
        entries.push(
          row.subdir !== undefined
            ? { key, prefix: true }
            : { key, prefix: false, size: row.bytes ?? 0, modified: parseSwiftDate(row.last_modified) },
        );
      }
      if (rows.length <= want || lastSeen === undefined) return { entries };
      // Everything in this batch was skipped or consumed: read on (never in place).
      marker = marker !== undefined && compareKeys(lastSeen, marker) <= 0 ? `${marker}\u{10FFFF}` : lastSeen;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const r = await this.transport.call(`swift stat ${key}`, 'HEAD', { path: this.containers.objectPath(key), idempotent: true });
    if (r.status === 404) return null;
    if (r.status !== 200 && r.status !== 204) throw this.transport.fail(`swift stat ${key}`, r);
    return { key, size: Number(r.headers.get('content-length') ?? 0), modified: headerDate(r.headers) };
  }

  async put(key: string, body: Uint8Array | Readable): Promise<ObjectInfo> {
    const what = `swift put ${key}`;
    validateKey(key);
    const threshold = this.settings.segmentThreshold;
    if (body instanceof Uint8Array) {
      if (body.byteLength < threshold) return this.putPlain(what, key, body);
      return this.segments.putSegmented(what, key, new ChunkSource(Readable.from([Buffer.from(body)])), [], true);
    }
    // Read ahead up to the threshold: a short stream becomes a plain (retryable) put.
    const source = new ChunkSource(body);
    const head: Buffer[] = [];
    let headLen = 0;
    try {
      while (headLen < threshold) {
        const chunk = await source.next();
        if (!chunk) return await this.putPlain(what, key, Buffer.concat(head, headLen));
        head.push(chunk);
        headLen += chunk.length;
      }
    } catch (err) {
      source.close();
      throw err; // the caller's stream failed: not a backend fault
    }
    return this.segments.putSegmented(what, key, source, head, false);
  }

  /** One plain object: ETag-checked, retried. */
  private async putPlain(what: string, key: string, bytes: Uint8Array): Promise<ObjectInfo> {
    const headers = {
      'Content-Type': 'application/octet-stream',
      ETag: createHash('md5').update(bytes).digest('hex'),
    };
    const r = await this.containers.write(what, 'PUT', { path: this.containers.objectPath(key), headers, body: bytes, idempotent: true });
    if (r.status !== 201) throw this.transport.fail(what, r);
    return { key, size: bytes.byteLength, modified: headerDate(r.headers) };
  }

  async get(key: string): Promise<Buffer | null> {
    const r = await this.transport.call(`swift get ${key}`, 'GET', { path: this.containers.objectPath(key), idempotent: true });
    if (r.status === 404) return null;
    if (r.status !== 200) throw this.transport.fail(`swift get ${key}`, r);
    return r.body;
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const what = `swift read ${key}`;
    const headers: Record<string, string> = {};
    if (range) {
      await checkBackendRange(key, range, (k) => this.stat(k));
      headers.Range = `bytes=${range.start}-${range.end ?? ''}`;
    }
    const r = await this.transport.callStream(what, { path: this.containers.objectPath(key), headers, idempotent: true });
    if ('stream' in r) {
      if (r.status === 200 || r.status === 206) return r.stream;
      r.stream.destroy();
      throw this.transport.fail(what, { status: r.status });
    }
    if (r.status === 404) throw new NotFoundError(key);
    if (r.status === 416) {
      const total = /\/(\d+)\s*$/.exec(r.headers.get('content-range') ?? '');
      const size = total ? Number(total[1]) : ((await this.stat(key))?.size ?? 0);
      throw new RangeNotSatisfiableError(key, size);
    }
    if (r.status === 200 || r.status === 206) return Readable.from([r.body]);
    throw this.transport.fail(what, r);
  }

  async delete(key: string): Promise<boolean> {
    const what = `swift delete ${key}`;
    const path = this.containers.objectPath(key);
    const head = await this.transport.call(what, 'HEAD', { path, idempotent: true });
    if (head.status === 404) return false;
    if (head.status >= 300) throw this.transport.fail(what, head);
    if (isSlo(head.headers)) {
      // The manifest and its segments together (a bulk-delete style answer).
      const r = await this.transport.call(what, 'DELETE', {
        path,
        query: { 'multipart-manifest': 'delete' },
        headers: { Accept: 'application/json' },
        idempotent: true,
      });
      if (r.status === 404) return false;
      if (r.status !== 200) throw this.transport.fail(what, r);
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
    const r = await this.transport.call(what, 'DELETE', { path, idempotent: true });
    if (r.status === 404) return false;
    if (r.status !== 204 && r.status !== 200) throw this.transport.fail(what, r);
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
    const r = await this.containers.write(what, 'PUT', {
      path: this.containers.objectPath(to),
      query: { 'multipart-manifest': 'get' },
      headers: { 'X-Copy-From': `/${this.containers.objectPath(from)}`, 'Content-Length': '0' },
      idempotent: true,
    });
    if (r.status === 404) throw new NotFoundError(from);
    if (r.status !== 201) throw this.transport.fail(what, r);
    const d = await this.transport.call(what, 'DELETE', { path: this.containers.objectPath(from), idempotent: true });
    if (d.status !== 204 && d.status !== 200 && d.status !== 404) throw this.transport.fail(what, d);
  }

  async copy(from: string, to: string): Promise<ObjectInfo> {
    const what = `swift copy ${from} -> ${to}`;
    validateKey(to);
    const path = this.containers.objectPath(from);
    const head = await this.transport.call(what, 'HEAD', { path, idempotent: true });
    if (head.status === 404) throw new NotFoundError(from);
    if (head.status >= 300) throw this.transport.fail(what, head);
    const size = Number(head.headers.get('content-length') ?? 0);
    if (from === to) return { key: to, size, modified: headerDate(head.headers) };
    const entries = isSlo(head.headers) ? await this.segments.flatEntries(what, path, from) : null;
    if (!entries) {
      const r = await this.containers.write(what, 'PUT', {
        path: this.containers.objectPath(to),
        headers: { 'X-Copy-From': `/${path}`, 'Content-Length': '0' },
        idempotent: true,
      });
      if (r.status === 404) throw new NotFoundError(from);
      if (r.status !== 201) throw this.transport.fail(what, r);
      return { key: to, size, modified: headerDate(r.headers) };
    }
    const copies: Seg[] = [];
    try {
      await mapLimit(entries, this.settings.concurrency, async (entry, i) => {
        copies[i] = entry.data !== undefined || !entry.name ? segFromStored(entry) : await this.segments.copySegment(what, entry);
      });
      const info = await this.segments.publish(what, to, copies);
      return { key: to, size: copies.reduce((n, s) => n + segLength(s), 0), modified: info.modified };
    } catch (err) {
      // best effort: the copied segments of a copy that did not happen
      const made = copies.filter((s) => s?.path !== undefined);
      await mapLimit(made, this.settings.concurrency, (s) => this.segments.deleteSegment(what, s.path!).catch(() => undefined));
      throw err;
    }
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
    const found = await mapLimit(sources, this.settings.concurrency, async (key): Promise<Source> => {
      const path = this.containers.objectPath(key);
      const head = await this.transport.call(what, 'HEAD', { path, idempotent: true });
      if (head.status === 404) throw new NotFoundError(key);
      if (head.status >= 300) throw this.transport.fail(what, head);
      const size = Number(head.headers.get('content-length') ?? 0);
      if (size === 0) return { key, segs: [] };
      if (isSlo(head.headers)) {
        const r = await this.transport.call(what, 'GET', { path, query: { 'multipart-manifest': 'get' }, idempotent: true });
        if (r.status === 404) throw new NotFoundError(key);
        if (r.status !== 200) throw this.transport.fail(what, r);
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
      if (run.length === 1) parts.push([await this.segments.copyToSegment(what, run[0]!.key)]);
      else parts.push(await this.coalesce(what, run));
    }
    const segments = parts.flat();
    if (segments.length === 0) return this.putPlain(what, to, new Uint8Array(0)).then((i) => ({ ...i, key: to }));
    const total = segments.reduce((n, s) => n + segLength(s), 0);
    const info = await this.segments.publish(what, to, segments);
    return { key: to, size: total, modified: info.modified };
  }

  /**
   * Consecutive small plain sources read and written back as segments of at
   * least COALESCE_BYTES (the last one may be smaller); at most about
   * COALESCE_BYTES + segmentThreshold bytes are in memory at once.
   */
  private async coalesce(what: string, run: { key: string; plain: number }[]): Promise<Seg[]> {
    const target = Math.max(COALESCE_BYTES, this.settings.segmentThreshold);
    const id = randomUUID();
    const out: Seg[] = [];
    for (let i = 0; i < run.length; ) {
      const group: string[] = [];
      let bytes = 0;
      for (; i < run.length && bytes < target; i++) {
        group.push(run[i]!.key);
        bytes += run[i]!.plain;
      }
      const bodies = await mapLimit(group, this.settings.concurrency, async (key) => {
        const b = await this.get(key);
        if (b === null) throw new NotFoundError(key);
        return b;
      });
      const segKey = `${id}/${String(out.length).padStart(6, '0')}`;
      out.push(await this.segments.putFromMemory(what, segKey, Buffer.concat(bodies)));
    }
    return out;
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
    const used = await this.segments.usedBy(what, to);
    await mapLimit(
      [...new Set(sources)].filter((k) => k !== to),
      this.settings.concurrency,
      async (key) => {
        const path = this.containers.objectPath(key);
        const head = await this.transport.call(what, 'HEAD', { path, idempotent: true });
        if (head.status === 404) return;
        if (head.status >= 300) throw this.transport.fail(what, head);
        let unused: string[] = [];
        if (isSlo(head.headers)) {
          const r = await this.transport.call(what, 'GET', { path, query: { 'multipart-manifest': 'get' }, idempotent: true });
          if (r.status === 404) return;
          if (r.status !== 200) throw this.transport.fail(what, r);
          if (isSlo(r.headers)) {
            unused = (JSON.parse(r.body.toString('utf8')) as StoredSegment[])
              .map((seg) => seg.name)
              .filter((name): name is string => !!name && !used.has(name));
          }
        }
        const d = await this.transport.call(what, 'DELETE', { path, idempotent: true });
        if (d.status !== 204 && d.status !== 200 && d.status !== 404) throw this.transport.fail(what, d);
        for (const name of unused) await this.segments.deleteSegment(what, name);
      },
    );
  }

  async presignGet(key: string, expiresSeconds: number): Promise<string | null> {
    const secret = this.cfg.tempUrlKey;
    if (!secret) return null;
    if (!(await this.ensureTempUrlKey(secret))) return null;
    const session = await this.transport.auth.get();
    const expires = Math.floor(Date.now() / 1000) + Math.max(1, Math.floor(expiresSeconds));
    const base = new URL(session.storageUrl);
    // The signature covers the decoded path, as the tempurl middleware sees it.
    const signedPath = `${decodeURIComponent(base.pathname)}/${this.settings.container}/${key}`;
    const sig = createHmac('sha256', secret).update(`GET\n${expires}\n${signedPath}`).digest('hex');
    return `${session.storageUrl}/${this.containers.objectPath(key)}?temp_url_sig=${sig}&temp_url_expires=${expires}`;
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
        const acct = await this.transport.call(what, 'HEAD', { path: '', idempotent: true });
        if (acct.status >= 300) throw this.transport.fail(what, acct);
        for (const header of ['X-Account-Meta-Temp-URL-Key', 'X-Account-Meta-Temp-URL-Key-2']) {
          const have = acct.headers.get(header);
          if (have === secret) return true;
          if (have) continue;
          const r = await this.transport.call(what, 'POST', { path: '', headers: { [header]: secret }, idempotent: true });
          if (r.status !== 204 && r.status !== 200) throw this.transport.fail(what, r);
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
}

function parseSwiftDate(s: string | undefined): Date {
  if (!s) return new Date(0);
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
}
