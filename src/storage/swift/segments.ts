// Static Large Objects (SLO): how the driver stores large objects. The bytes
// go into segment objects (random names) in the segments container, and an
// SLO manifest at the key lists them. That is what makes concat and move
// cheap without tying a published object to the caller's source keys: both
// write manifests only. A manifest of more than maxSegments entries nests
// (sub-manifests in the segments container).
import { createHash, randomUUID } from 'node:crypto';
import type { ChunkSource } from '../chunk-source.js';
import type { ObjectInfo } from '../driver.js';
import { NotFoundError } from '../errors.js';
import { encodeKeyPath } from '../keys.js';
import { mapLimit } from '../../async/map-limit.js';
import { unavailable, withRetries, type IdleDeadline } from '../retry.js';
import type { SwiftSettings } from './config.js';
import type { SwiftContainers } from './containers.js';
import { headerDate, type Reply, type SwiftTransport } from './transport.js';

/** Bytes of a streamed body kept to send it again after a 401. */
const MAX_REPLAY = 8 * 1024 * 1024;

/** Static Large Object manifest entry as stored (?multipart-manifest=get). */
export interface StoredSegment {
  name?: string;
  bytes?: number;
  hash?: string;
  range?: string;
  sub_slo?: boolean;
  data?: string;
}

/** Static Large Object manifest entry as put (?multipart-manifest=put). */
export interface Seg {
  path?: string;
  etag?: string;
  size_bytes?: number;
  range?: string;
  data?: string;
}

export function segFromStored(s: StoredSegment): Seg {
  if (s.data !== undefined) return { data: s.data };
  return {
    path: s.name,
    size_bytes: s.bytes,
    ...(s.sub_slo || !s.hash ? {} : { etag: s.hash }),
    ...(s.range ? { range: s.range } : {}),
  };
}

/** Bytes a manifest entry contributes. */
export function segLength(s: Seg): number {
  if (s.data !== undefined) return Buffer.from(s.data, 'base64').length;
  const m = s.range ? /^(\d+)-(\d+)$/.exec(s.range) : null;
  if (m) return Number(m[2]) - Number(m[1]) + 1;
  return s.size_bytes ?? 0;
}

/** Does this answer come from an SLO manifest? */
export function isSlo(h: Headers): boolean {
  return (h.get('x-static-large-object') ?? '').toLowerCase() === 'true';
}

/** Writes, reads and deletes segments and SLO manifests. */
export class SegmentStore {
  constructor(
    private readonly transport: SwiftTransport,
    private readonly containers: SwiftContainers,
    private readonly settings: SwiftSettings,
  ) {}

  /**
   * Data into fresh segment objects (at most segmentSize bytes each) in the
   * segments container, then an SLO manifest at `key`: atomic (readers see
   * the old manifest until the new one is in place) and cheap to concat and
   * move later. `replayable`: the source is in memory, so segment PUTs may be retried.
   */
  async putSegmented(what: string, key: string, source: ChunkSource, head: Buffer[], replayable: boolean): Promise<ObjectInfo> {
    await this.containers.ensure();
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
          ? await this.putFromMemory(what, segKey, await source.take(this.settings.segmentSize, first))
          : await this.putStream(what, segKey, source, first);
        written.push(seg);
        size += seg.size_bytes!;
        if (source.done) break;
      }
      const info = await this.putManifest(what, this.containers.objects, key, written);
      return { key, size, modified: info.modified };
    } catch (err) {
      source.close();
      // best effort: the segments of a put that did not happen
      await mapLimit(written, this.settings.concurrency, (s) =>
        this.transport.call(what, 'DELETE', { path: encodeKeyPath(s.path!.slice(1)), idempotent: true }).catch(() => undefined),
      );
      if (source.error !== undefined) throw source.error;
      throw err;
    }
  }

  /** One segment from bytes in memory: ETag-checked, retried. */
  async putFromMemory(what: string, segKey: string, bytes: Buffer): Promise<Seg> {
    const etag = createHash('md5').update(bytes).digest('hex');
    const r = await this.containers.write(what, 'PUT', {
      path: this.containers.segmentPath(segKey),
      headers: { 'Content-Type': 'application/octet-stream', ETag: etag },
      body: bytes,
      idempotent: true,
    });
    if (r.status !== 201) throw this.transport.fail(what, r);
    return { path: `/${this.containers.segments}/${segKey}`, etag, size_bytes: bytes.length };
  }

  /**
   * One streamed segment PUT. A single attempt (the stream is consumed), except
   * that a 401 (expired or revoked token) arrives before much of the body is
   * read: the bytes sent so far are kept (up to MAX_REPLAY) and sent again
   * with a fresh token.
   */
  private async putStream(what: string, segKey: string, source: ChunkSource, first: Buffer[]): Promise<Seg> {
    const limit = this.settings.segmentSize;
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
      this.transport.policy,
      async (ctx) => {
        deadline = ctx.deadline;
        const res = await this.transport.exchange(
          'PUT',
          {
            path: this.containers.segmentPath(segKey),
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
    if (r.status === 404) this.containers.ready = undefined;
    if (r.status !== 201) throw this.transport.fail(what, r);
    const etag = hash.digest('hex');
    const got = (r.headers.get('etag') ?? '').replace(/"/g, '');
    if (got && got !== etag) throw unavailable(what, new Error(`segment ETag ${got} != ${etag}`));
    return { path: `/${this.containers.segments}/${segKey}`, etag, size_bytes: size };
  }

  /** Server-side copy of a plain object into a new segment (no bytes through this process). */
  copyToSegment(what: string, key: string): Promise<Seg> {
    return this.copyIntoSegment(what, `/${this.containers.objectPath(key)}`, key);
  }

  /**
   * Server-side copy of the segment `name` ("/container/object", as a stored
   * manifest names it) into a new segment of its own, keeping the entry's
   * range and etag: an object copied this way shares no segment with its
   * source, so deleting either (which deletes an SLO's segments) leaves the
   * other whole.
   */
  async copySegment(what: string, entry: StoredSegment): Promise<Seg> {
    const copied = await this.copyIntoSegment(what, `/${encodeKeyPath(entry.name!.slice(1))}`, entry.name!);
    return { ...segFromStored(entry), path: copied.path, size_bytes: copied.size_bytes };
  }

  /**
   * The stored entries of the SLO manifest at `path` with nested manifests
   * expanded (their entries in place), or null when the object there is no
   * SLO. NotFoundError (`key`) when it is gone.
   */
  async flatEntries(what: string, path: string, key: string, depth = 0): Promise<StoredSegment[] | null> {
    const r = await this.transport.call(what, 'GET', { path, query: { 'multipart-manifest': 'get' }, idempotent: true });
    if (r.status === 404) throw new NotFoundError(key);
    if (r.status !== 200) throw this.transport.fail(what, r);
    if (!isSlo(r.headers)) return null;
    const out: StoredSegment[] = [];
    for (const entry of JSON.parse(r.body.toString('utf8')) as StoredSegment[]) {
      if (entry.sub_slo && entry.name && depth < 10 && !entry.range) {
        const nested = await this.flatEntries(what, encodeKeyPath(entry.name.slice(1)), key, depth + 1);
        if (nested) {
          out.push(...nested);
          continue;
        }
      }
      out.push(entry);
    }
    return out;
  }

  private async copyIntoSegment(what: string, copyFrom: string, key: string): Promise<Seg> {
    const segKey = `${randomUUID()}/000000`;
    const r = await this.containers.write(what, 'PUT', {
      path: this.containers.segmentPath(segKey),
      headers: { 'X-Copy-From': copyFrom, 'Content-Length': '0' },
      idempotent: true,
    });
    if (r.status === 404) throw new NotFoundError(key);
    if (r.status !== 201) throw this.transport.fail(what, r);
    const head = await this.transport.call(what, 'HEAD', { path: this.containers.segmentPath(segKey), idempotent: true });
    if (head.status !== 200) throw this.transport.fail(what, head);
    return {
      path: `/${this.containers.segments}/${segKey}`,
      etag: (head.headers.get('etag') ?? '').replace(/"/g, '') || undefined,
      size_bytes: Number(head.headers.get('content-length') ?? 0),
    };
  }

  /** A manifest of `segments` at `key` in the objects container, nested when longer than maxSegments. */
  async publish(what: string, key: string, segments: Seg[]): Promise<ObjectInfo> {
    await this.containers.ensure();
    let top = segments;
    while (top.length > this.settings.maxSegments) {
      // Nest: sub-manifests of up to 1000 segments in the segments container.
      const id = randomUUID();
      const groups: Seg[][] = [];
      for (let i = 0; i < top.length; i += this.settings.maxSegments) groups.push(top.slice(i, i + this.settings.maxSegments));
      top = await mapLimit(groups, 2, async (group, i) => {
        const subKey = `${id}/sub-${String(i).padStart(6, '0')}`;
        const info = await this.putManifest(`${what} (sub-manifest)`, this.containers.segments, subKey, group);
        return { path: `/${this.containers.segments}/${subKey}`, size_bytes: info.size };
      });
    }
    return this.putManifest(what, this.containers.objects, key, top);
  }

  private async putManifest(what: string, container: string, key: string, segments: Seg[]): Promise<ObjectInfo> {
    const body = Buffer.from(JSON.stringify(segments));
    const path = container === this.containers.objects ? this.containers.objectPath(key) : this.containers.segmentPath(key);
    const r = await this.containers.write(what, 'PUT', {
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
    if (r.status !== 201) throw this.transport.fail(what, r);
    const size = segments.reduce((n, s) => n + segLength(s), 0);
    return { key, size, modified: headerDate(r.headers) };
  }

  /** Names ("/container/object") of every segment `key`'s manifest uses, nested ones included; empty when it is no SLO. */
  async usedBy(what: string, key: string): Promise<Set<string>> {
    const used = new Set<string>();
    const walk = async (path: string, depth: number): Promise<void> => {
      const r = await this.transport.call(what, 'GET', { path, query: { 'multipart-manifest': 'get' }, idempotent: true });
      if (r.status === 404) return;
      if (r.status !== 200) throw this.transport.fail(what, r);
      if (!isSlo(r.headers)) return;
      for (const seg of JSON.parse(r.body.toString('utf8')) as StoredSegment[]) {
        if (!seg.name) continue;
        used.add(seg.name);
        if (seg.sub_slo && depth < 10) await walk(encodeKeyPath(seg.name.slice(1)), depth + 1);
      }
    };
    await walk(this.containers.objectPath(key), 0);
    return used;
  }

  /** Delete one segment (or nested manifest, with its segments) by its "/container/object" name. */
  async deleteSegment(what: string, name: string): Promise<void> {
    const path = encodeKeyPath(name.slice(1));
    const head = await this.transport.call(what, 'HEAD', { path, idempotent: true });
    if (head.status === 404) return;
    const r = await this.transport.call(what, 'DELETE', {
      path,
      ...(isSlo(head.headers) ? { query: { 'multipart-manifest': 'delete' }, headers: { Accept: 'application/json' } } : {}),
      idempotent: true,
    });
    if (r.status >= 300 && r.status !== 404) throw this.transport.fail(what, r);
  }
}
