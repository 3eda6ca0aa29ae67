// A lean registry client for the benchmark: undici with a keep-alive pool,
// streaming request bodies, and checks on every answer (status, Location,
// Docker-Content-Digest) so that a broken upload fails the run instead of
// being measured.
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { type Payload, sha256, type SmallBlob } from './payload.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ACCEPT_MANIFESTS = [
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** undici also streams async iterables (its types only list Readable). */
type Body = Dispatcher.DispatchOptions['body'] | AsyncIterable<Uint8Array>;
type Headers = Record<string, string>;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export type { Body };

export class BenchHttpError extends Error {}

export class RegistryClient {
  readonly pool: Pool;

  constructor(
    readonly origin: string,
    connections = 16,
  ) {
    this.pool = new Pool(origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 600_000,
      bodyTimeout: 600_000,
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** One request; the body is consumed (discarded) unless `keepBody`. Throws on an unexpected status. */
  async call(
    method: Dispatcher.HttpMethod,
    path: string,
    expect: number[],
    headers: Headers = {},
    body?: Body,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text?: string }> {
    const res = await this.pool.request({ method, path, headers, body: body as Dispatcher.DispatchOptions['body'] });
    if (!expect.includes(res.statusCode)) {
      const text = await res.body.text().catch(() => '');
      throw new BenchHttpError(`${method} ${path}: HTTP ${res.statusCode} (expected ${expect.join('/')}): ${text.slice(0, 300)}`);
    }
    await res.body.dump({ limit: Infinity });
    return { status: res.statusCode, headers: res.headers };
  }

  /** Location header as a path on this origin. */
  private location(method: string, path: string, h: Record<string, string | string[] | undefined>): string {
    const loc = header(h, 'location');
    if (!loc) throw new BenchHttpError(`${method} ${path}: no Location header`);
    const u = new URL(loc, this.origin);
    return u.pathname + u.search;
  }

  async ping(): Promise<void> {
    await this.call('GET', '/v2/', [200]);
  }

  async headBlob(repo: string, digest: string): Promise<number> {
    return (await this.call('HEAD', `/v2/${repo}/blobs/${digest}`, [200, 404])).status;
  }

  /** After a push: the blob must be there, with its size. */
  async checkStored(repo: string, digest: string, size: number): Promise<void> {
    const r = await this.call('HEAD', `/v2/${repo}/blobs/${digest}`, [200]);
    const len = Number(header(r.headers, 'content-length'));
    if (len !== size) throw new BenchHttpError(`HEAD ${repo}@${digest}: size ${len}, pushed ${size}`);
  }

  /** POST /v2/<repo>/blobs/uploads/ → the upload's location. */
  async startUpload(repo: string): Promise<string> {
    const path = `/v2/${repo}/blobs/uploads/`;
    const r = await this.call('POST', path, [202], { 'content-length': '0' });
    return this.location('POST', path, r.headers);
  }

  /** PATCH one chunk; `range` sends Content-Range (chunked protocol). Returns the next location. */
  async patch(loc: string, body: Body, length: number, range?: { start: number }): Promise<string> {
    const headers: Headers = { 'content-type': 'application/octet-stream', 'content-length': String(length) };
    if (range) headers['content-range'] = `${range.start}-${range.start + length - 1}`;
    const r = await this.call('PATCH', loc, [202], headers, body);
    return this.location('PATCH', loc, r.headers);
  }

  /** PUT <loc>?digest= with an optional last chunk; checks the digest the registry reports. */
  async finish(loc: string, digest: string, body?: Body, length = 0): Promise<void> {
    const path = `${loc}${loc.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
    const headers: Headers = { 'content-length': String(length) };
    if (length > 0) headers['content-type'] = 'application/octet-stream';
    const r = await this.call('PUT', path, [201], headers, length > 0 ? body : undefined);
    const got = header(r.headers, 'docker-content-digest');
    if (got !== undefined && got !== digest) throw new BenchHttpError(`PUT ${path}: registry reports digest ${got}`);
  }

  /** Push a big payload in one streamed PATCH (POST, PATCH, PUT). */
  async pushSinglePatch(repo: string, p: Payload): Promise<void> {
    const loc = await this.startUpload(repo);
    const next = await this.patch(loc, p.body(), p.size);
    await this.finish(next, p.digest);
  }

  /** POST, then PUT ?digest= carrying the whole body. */
  async pushMonolithic(repo: string, p: Payload): Promise<void> {
    const loc = await this.startUpload(repo);
    await this.finish(loc, p.digest, p.body(), p.size);
  }

  /** POST, PATCHes of `chunk` bytes with Content-Range, then PUT ?digest=. */
  async pushChunked(repo: string, p: Payload, chunk: number): Promise<number> {
    let loc = await this.startUpload(repo);
    let n = 0;
    for (let start = 0; start < p.size; start += chunk) {
      const end = Math.min(p.size, start + chunk);
      loc = await this.patch(loc, p.body(start, end), end - start, { start });
      n++;
    }
    await this.finish(loc, p.digest);
    return n;
  }

  /** A small blob the way clients push small layers: POST, then PUT ?digest= with the body. */
  async pushSmall(repo: string, b: SmallBlob): Promise<void> {
    const loc = await this.startUpload(repo);
    await this.finish(loc, b.digest, b.data, b.data.length);
  }

  /** What docker/containerd do per layer: HEAD (404) → POST → PATCH → PUT ?digest=. */
  async pushLayerLikeAClient(repo: string, digest: string, body: Body, size: number): Promise<void> {
    if ((await this.headBlob(repo, digest)) === 200) return;
    const loc = await this.startUpload(repo);
    const next = await this.patch(loc, body, size);
    await this.finish(next, digest);
  }

  async putManifest(repo: string, ref: string, manifest: Buffer, mediaType = OCI_MANIFEST): Promise<string> {
    const digest = sha256(manifest);
    const path = `/v2/${repo}/manifests/${ref}`;
    const r = await this.call('PUT', path, [201], { 'content-type': mediaType, 'content-length': String(manifest.length) }, manifest);
    const got = header(r.headers, 'docker-content-digest');
    if (got !== undefined && got !== digest) throw new BenchHttpError(`PUT ${path}: registry reports digest ${got}, expected ${digest}`);
    return digest;
  }

  async getManifest(repo: string, ref: string): Promise<Buffer> {
    const path = `/v2/${repo}/manifests/${ref}`;
    const res = await this.pool.request({ method: 'GET', path, headers: { accept: ACCEPT_MANIFESTS } });
    const buf = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new BenchHttpError(`GET ${path}: HTTP ${res.statusCode}: ${buf.toString().slice(0, 300)}`);
    return buf;
  }

  /** GET a blob into memory and check its digest. */
  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const path = `/v2/${repo}/blobs/${digest}`;
    const res = await this.pool.request({ method: 'GET', path });
    const buf = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new BenchHttpError(`GET ${path}: HTTP ${res.statusCode}: ${buf.toString().slice(0, 300)}`);
    if (sha256(buf) !== digest) throw new BenchHttpError(`GET ${path}: content does not match its digest`);
    return buf;
  }

  /** Stream a big blob and compare every byte with the payload's pattern. */
  async pullVerify(repo: string, p: Payload): Promise<void> {
    const path = `/v2/${repo}/blobs/${p.digest}`;
    const res = await this.pool.request({ method: 'GET', path });
    if (res.statusCode !== 200) {
      const t = await res.body.text().catch(() => '');
      throw new BenchHttpError(`GET ${path}: HTTP ${res.statusCode}: ${t.slice(0, 300)}`);
    }
    const v = p.verifier();
    for await (const chunk of res.body) v.update(chunk as Buffer);
    v.done();
  }
}

/** An OCI image manifest for a config and layers. */
export function imageManifest(config: Descriptor, layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
}
