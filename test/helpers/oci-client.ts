// A small typed OCI Distribution client for the HTTP API tests: blob pushes
// (monolithic, chunked, streamed), manifest pushes, reads and listings over
// Node's global fetch, plus raw-socket and node:http helpers for requests fetch
// cannot make (malformed framing, a custom Host header, unnormalised paths).
//
// Every response that goes through `request()` is checked for the invariants
// the API promises on all responses: the API version header, no 5xx, an OCI
// error body on every error, and no stack trace or file path anywhere.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Upper bound for any single request of the tests. */
export const REQUEST_TIMEOUT_MS = 30_000;

export type Algorithm = 'sha256' | 'sha512';

export function digestOf(data: Uint8Array | string, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function randomBlob(size: number): Buffer {
  return randomBytes(size);
}

/** A digest that is well-formed but (almost surely) of nothing stored. */
export function randomDigest(algorithm: Algorithm = 'sha256'): string {
  return digestOf(randomBytes(32), algorithm);
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export function descriptor(mediaType: string, data: Uint8Array | string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: digestOf(data), size: Buffer.byteLength(data), ...extra };
}

export interface Resp {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
  header(name: string): string | null;
  json<T = any>(): T;
}

// A stack frame ("    at fn (file:line:col)"), a source location or an
// absolute path of this machine would betray internals.
const LEAK_RE =
  /(^|\n)\s+at [^\n]*[(:]|\bat (?:file|node):|[\w/.-]+\.(?:ts|js|mjs):\d+|\/work\/|\/tmp\/|node_modules|node:internal|Error: [^\n]*\n\s+at /;

export function assertNoLeak(text: string, what: string): void {
  assert.doesNotMatch(text, LEAK_RE, `${what} leaks internals: ${text.slice(0, 500)}`);
}

/** Checks every API response must pass. */
export function checkResponse(method: string, url: string, r: Resp, opts: { allow5xx?: boolean } = {}): void {
  const what = `${method} ${url} -> ${r.status}`;
  assert.equal(r.header('docker-distribution-api-version'), 'registry/2.0', `${what}: API version header`);
  if (!opts.allow5xx) assert.ok(r.status < 500, `${what}: server error for a client request: ${r.text.slice(0, 300)}`);
  for (const [k, v] of r.headers) assertNoLeak(`${k}: ${v}`, `${what} header`);
  const ct = r.header('content-type') ?? '';
  if (r.status >= 400 && method !== 'HEAD') {
    assert.match(ct, /^application\/json/, `${what}: error content type`);
    assertErrorBody(r.text, what);
  }
  if (/json|text/.test(ct) || r.status >= 400) assertNoLeak(r.text, `${what} body`);
}

export function assertErrorBody(text: string, what = 'error body'): { code: string; message: string; detail?: unknown }[] {
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    assert.fail(`${what}: error body is not JSON: ${text.slice(0, 200)}`);
  }
  assert.ok(doc && Array.isArray(doc.errors) && doc.errors.length > 0, `${what}: no errors list: ${text.slice(0, 200)}`);
  for (const e of doc.errors) {
    assert.equal(typeof e.code, 'string', `${what}: error code`);
    assert.match(e.code, /^[A-Z_]+$/, `${what}: error code shape`);
    assert.equal(typeof e.message, 'string', `${what}: error message`);
  }
  return doc.errors;
}

/** Assert an OCI error response with this status and code; returns the first error. */
export function expectError(r: Resp, status: number, code: string, what = ''): { code: string; message: string; detail?: any } {
  assert.equal(r.status, status, `${what} status (body ${r.text.slice(0, 300)})`);
  const errors = assertErrorBody(r.text, what);
  assert.equal(errors[0]!.code, code, `${what} code`);
  return errors[0]!;
}

export interface RequestInit {
  headers?: Record<string, string>;
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  query?: Record<string, string>;
  /** Skip the response invariants (for tests that look at a failure on purpose). */
  allow5xx?: boolean;
}

export interface ImageOptions {
  mediaType?: typeof OCI_MANIFEST | typeof DOCKER_MANIFEST;
  layers?: Buffer[];
  config?: Buffer;
  configMediaType?: string;
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}

export interface PushedImage {
  /** Manifest bytes as pushed. */
  body: Buffer;
  digest: string;
  mediaType: string;
  descriptor: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  response: Resp;
}

export class OciClient {
  constructor(
    readonly base: string,
    readonly ns?: string,
  ) {}

  /** The same registry, another namespace (`?ns=`). */
  withNs(ns: string | undefined): OciClient {
    return new OciClient(this.base, ns);
  }

  /** Absolute URL for an API path or a Location header value, with `ns` and extra query parameters. */
  url(pathOrUrl: string, query: Record<string, string> = {}): string {
    const u = new URL(pathOrUrl, this.base);
    if (this.ns !== undefined && !u.searchParams.has('ns')) u.searchParams.set('ns', this.ns);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u.toString();
  }

  async request(method: string, pathOrUrl: string, init: RequestInit = {}): Promise<Resp> {
    const url = this.url(pathOrUrl, init.query);
    const streamed = init.body !== undefined && typeof init.body !== 'string' && !(init.body instanceof Uint8Array);
    const res = await fetch(url, {
      method,
      headers: init.headers,
      body: init.body as any,
      ...(streamed ? { duplex: 'half' } : {}),
      redirect: 'manual',
      // No request may hang a test run: a stuck server fails the test instead.
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    } as any);
    const body = Buffer.from(await res.arrayBuffer());
    const r: Resp = {
      status: res.status,
      headers: res.headers,
      body,
      text: body.toString('utf8'),
      header: (name) => res.headers.get(name),
      json: () => JSON.parse(body.toString('utf8')),
    };
    checkResponse(method, url, r, { allow5xx: init.allow5xx });
    return r;
  }

  // ---- blobs ----

  headBlob(repo: string, digest: string): Promise<Resp> {
    return this.request('HEAD', `/v2/${repo}/blobs/${digest}`);
  }

  getBlob(repo: string, digest: string, range?: string): Promise<Resp> {
    return this.request('GET', `/v2/${repo}/blobs/${digest}`, { headers: range ? { Range: range } : {} });
  }

  deleteBlob(repo: string, digest: string): Promise<Resp> {
    return this.request('DELETE', `/v2/${repo}/blobs/${digest}`);
  }

  /** POST to start an upload; asserts 202 and returns the Location. */
  async startUpload(repo: string): Promise<{ location: string; uuid: string; response: Resp }> {
    const r = await this.request('POST', `/v2/${repo}/blobs/uploads/`);
    assert.equal(r.status, 202, `start upload: ${r.text}`);
    const location = r.header('location');
    const uuid = r.header('docker-upload-uuid');
    assert.ok(location && uuid, 'upload Location and Docker-Upload-UUID');
    return { location, uuid, response: r };
  }

  /** PATCH one chunk. `range` false sends no Content-Range (streamed style). */
  patch(
    location: string,
    data: Uint8Array,
    opts: { start?: number; range?: boolean; headers?: Record<string, string> } = {},
  ): Promise<Resp> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', ...opts.headers };
    if (opts.range !== false) headers['Content-Range'] = `${opts.start ?? 0}-${(opts.start ?? 0) + data.length - 1}`;
    return this.request('PATCH', location, { headers, body: data });
  }

  /** PATCH with a chunked-transfer-encoded body (no Content-Length, no Content-Range). */
  patchStream(location: string, pieces: Uint8Array[]): Promise<Resp> {
    async function* gen() {
      for (const p of pieces) {
        yield p;
        await new Promise((r) => setImmediate(r));
      }
    }
    return this.request('PATCH', location, { headers: { 'Content-Type': 'application/octet-stream' }, body: gen() });
  }

  uploadStatus(location: string): Promise<Resp> {
    return this.request('GET', location);
  }

  /** PUT ?digest= to finish, with an optional last chunk. */
  finish(location: string, digest: string, data?: Uint8Array): Promise<Resp> {
    return this.request('PUT', location, {
      query: { digest },
      headers: data ? { 'Content-Type': 'application/octet-stream' } : {},
      body: data,
    });
  }

  /** Monolithic POST ?digest=. */
  postMonolithic(repo: string, data: Uint8Array, digest = digestOf(data)): Promise<Resp> {
    return this.request('POST', `/v2/${repo}/blobs/uploads/`, {
      query: { digest },
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    });
  }

  /** Push a blob in one POST; asserts 201 and returns its digest. */
  async pushBlob(repo: string, data: Uint8Array, algorithm: Algorithm = 'sha256'): Promise<string> {
    const digest = digestOf(data, algorithm);
    const r = await this.postMonolithic(repo, data, digest);
    assert.equal(r.status, 201, `push blob: ${r.text}`);
    assert.equal(r.header('docker-content-digest'), digest);
    return digest;
  }

  /** Push a blob in Content-Range chunks of `chunkSize` and a bodiless PUT. */
  async pushBlobChunked(repo: string, data: Buffer, chunkSize: number, algorithm: Algorithm = 'sha256'): Promise<string> {
    const digest = digestOf(data, algorithm);
    let { location } = await this.startUpload(repo);
    for (let off = 0; off < data.length; off += chunkSize) {
      const r = await this.patch(location, data.subarray(off, off + chunkSize), { start: off });
      assert.equal(r.status, 202, `patch: ${r.text}`);
      assert.equal(r.header('range'), `0-${Math.min(off + chunkSize, data.length) - 1}`);
      location = r.header('location')!;
    }
    const r = await this.finish(location, digest);
    assert.equal(r.status, 201, `finish: ${r.text}`);
    return digest;
  }

  // ---- manifests ----

  putManifest(repo: string, reference: string, body: Buffer | string | object, mediaType?: string): Promise<Resp> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return this.request('PUT', `/v2/${repo}/manifests/${reference}`, {
      headers: mediaType ? { 'Content-Type': mediaType } : {},
      body: bytes,
    });
  }

  getManifest(repo: string, reference: string, accept?: string | string[]): Promise<Resp> {
    const a = accept === undefined ? ALL_MANIFEST_TYPES : Array.isArray(accept) ? accept.join(', ') : accept;
    return this.request('GET', `/v2/${repo}/manifests/${reference}`, { headers: { Accept: a } });
  }

  headManifest(repo: string, reference: string, accept?: string | string[]): Promise<Resp> {
    const a = accept === undefined ? ALL_MANIFEST_TYPES : Array.isArray(accept) ? accept.join(', ') : accept;
    return this.request('HEAD', `/v2/${repo}/manifests/${reference}`, { headers: { Accept: a } });
  }

  deleteManifest(repo: string, reference: string): Promise<Resp> {
    return this.request('DELETE', `/v2/${repo}/manifests/${reference}`);
  }

  /** Push config + layers + an image manifest (OCI or Docker schema2). */
  async pushImage(repo: string, reference: string | undefined, opts: ImageOptions = {}): Promise<PushedImage> {
    const mediaType = opts.mediaType ?? OCI_MANIFEST;
    const docker = mediaType === DOCKER_MANIFEST;
    const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
    const configBytes =
      opts.config ??
      Buffer.from(JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
    const configType = opts.configMediaType ?? (docker ? DOCKER_CONFIG : OCI_CONFIG);
    const layerBytes = opts.layers ?? [randomBlob(300)];
    await this.pushBlob(repo, configBytes);
    for (const l of layerBytes) await this.pushBlob(repo, l);
    const config = descriptor(configType, configBytes);
    const layers = layerBytes.map((l) => descriptor(docker ? DOCKER_LAYER : OCI_LAYER, l));
    const doc: Record<string, unknown> = { schemaVersion: 2, mediaType };
    if (opts.artifactType) doc.artifactType = opts.artifactType;
    doc.config = config;
    doc.layers = layers;
    if (opts.subject) doc.subject = opts.subject;
    if (opts.annotations) doc.annotations = opts.annotations;
    const body = Buffer.from(JSON.stringify(doc));
    const digest = digestOf(body);
    const response = await this.putManifest(repo, reference ?? digest, body, mediaType);
    assert.equal(response.status, 201, `push manifest: ${response.text}`);
    assert.equal(response.header('docker-content-digest'), digest);
    return {
      body,
      digest,
      mediaType,
      descriptor: { mediaType, digest, size: body.length, platform: { ...platform } },
      config,
      layers,
      response,
    };
  }

  /** Push an index (OCI) or manifest list (Docker) of already pushed manifests. */
  async pushIndex(
    repo: string,
    reference: string | undefined,
    children: Descriptor[],
    mediaType: typeof OCI_INDEX | typeof DOCKER_LIST = OCI_INDEX,
  ): Promise<{ body: Buffer; digest: string; response: Resp }> {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: children }));
    const digest = digestOf(body);
    const response = await this.putManifest(repo, reference ?? digest, body, mediaType);
    assert.equal(response.status, 201, `push index: ${response.text}`);
    return { body, digest, response };
  }

  // ---- listings ----

  tags(repo: string, query: Record<string, string> = {}): Promise<Resp> {
    return this.request('GET', `/v2/${repo}/tags/list`, { query });
  }

  catalog(query: Record<string, string> = {}): Promise<Resp> {
    return this.request('GET', '/v2/_catalog', { query });
  }

  referrers(repo: string, digest: string, artifactType?: string): Promise<Resp> {
    return this.request('GET', `/v2/${repo}/referrers/${digest}`, { query: artifactType ? { artifactType } : {} });
  }
}

export const ALL_MANIFEST_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');

/** The `<...>` target of a `Link: <url>; rel="next"` header. */
export function nextLink(r: Resp): string | null {
  const link = r.header('link');
  if (!link) return null;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  assert.ok(m, `malformed Link header: ${link}`);
  return m[1]!;
}

// ---- below fetch: node:http with an exact path / Host, and raw sockets ----

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

/**
 * node:http request that sends `path` exactly as given (no URL normalisation)
 * and lets the Host header be set. Response invariants are checked.
 */
export function exactRequest(
  port: number,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: opts.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(parts);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        const out: RawResponse = { status: res.statusCode ?? 0, headers, body, text: body.toString('utf8') };
        try {
          const h = new Headers(headers);
          checkResponse(method, path, { ...out, headers: h, header: (n) => h.get(n), json: () => JSON.parse(out.text) });
        } catch (err) {
          reject(err);
          return;
        }
        resolve(out);
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${path}: no response in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Parse one HTTP/1.1 response (Content-Length framed) from raw bytes. */
export function parseRawResponse(raw: Buffer): RawResponse & { rest: Buffer } {
  const sep = raw.indexOf('\r\n\r\n');
  assert.ok(sep >= 0, `no complete response head in: ${raw.toString('latin1').slice(0, 300)}`);
  const head = raw.subarray(0, sep).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]!);
  assert.ok(m, `bad status line: ${head[0]}`);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const len = Number(headers['content-length'] ?? 0);
  const body = raw.subarray(sep + 4, sep + 4 + len);
  return { status: Number(m[1]), headers, body, text: body.toString('utf8'), rest: raw.subarray(sep + 4 + len) };
}

/**
 * Write `parts` to a fresh socket (with `gapMs` between them), then either
 * half-close and collect everything the server sends until it closes
 * (`mode: 'read'`), or destroy the socket abruptly (`mode: 'abort'`).
 */
export function rawExchange(
  port: number,
  parts: Array<string | Buffer>,
  opts: { mode?: 'read' | 'abort'; gapMs?: number; timeoutMs?: number; halfClose?: boolean } = {},
): Promise<Buffer> {
  const mode = opts.mode ?? 'read';
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      if (mode === 'read') resolve(Buffer.concat(got));
    }, opts.timeoutMs ?? 5000);
    sock.on('data', (d) => got.push(d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      if (mode === 'abort') resolve(Buffer.concat(got));
      else if (got.length > 0) resolve(Buffer.concat(got));
      else reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
    sock.on('connect', async () => {
      for (const p of parts) {
        sock.write(p);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      if (mode === 'abort') {
        // Let the bytes reach the server before the connection drops.
        await new Promise((r) => setTimeout(r, opts.gapMs ?? 100));
        sock.destroy();
      } else if (opts.halfClose !== false) {
        sock.end();
      }
    });
  });
}

// ---- storage inspection (filesystem driver) ----

/** Every file under `dir` (relative path -> size), for "nothing was written" checks. */
export function snapshotFiles(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p, `${rel}${n}/`);
      else out.set(`${rel}${n}`, st.size);
    }
  };
  walk(dir, '');
  return out;
}

/** The differences between two snapshots, as readable lines ('+' added, '-' removed, '~' resized). */
export function diffSnapshots(before: Map<string, number>, after: Map<string, number>): string[] {
  const lines: string[] = [];
  for (const [k, v] of after) {
    if (!before.has(k)) lines.push(`+ ${k} (${v})`);
    else if (before.get(k) !== v) lines.push(`~ ${k} (${before.get(k)} -> ${v})`);
  }
  for (const k of before.keys()) if (!after.has(k)) lines.push(`- ${k}`);
  return lines.sort();
}
