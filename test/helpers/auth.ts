// Helpers for the authentication tests: raw HTTP requests (with a chosen
// source address, any header), Basic/Bearer headers, tokens from the token
// endpoint, small pushes, forged JWTs, and a throw-away CA + server
// certificates made with openssl.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = any>(): T;
  header(name: string): string | undefined;
}

export interface RawOptions {
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
  /** Source address on loopback, e.g. 127.0.0.2 (another client for the throttle). */
  localAddress?: string;
  /** CA for https URLs. */
  ca?: Buffer;
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
}

export function raw(base: string, method: string, path: string, opts: RawOptions = {}): Promise<Reply> {
  const u = new URL(path, base);
  const doRequest = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = doRequest(
      u,
      {
        method,
        headers: { ...opts.headers, ...(opts.body !== undefined ? { 'content-length': Buffer.byteLength(opts.body) } : {}) },
        localAddress: opts.localAddress,
        agent: false,
        ...(opts.ca ? { ca: opts.ca } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(parts);
          const text = body.toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text,
            json: () => JSON.parse(text),
            header: (n) => {
              const v = res.headers[n.toLowerCase()];
              return Array.isArray(v) ? v.join(', ') : v;
            },
          });
        });
      },
    );
    req.on('error', reject);
    // A hung request fails the test instead of hanging the run.
    req.setTimeout(opts.timeoutMs ?? 20_000, () =>
      req.destroy(new Error(`${method} ${path}: no response in ${opts.timeoutMs ?? 20_000} ms`)),
    );
    req.end(opts.body);
  });
}

export function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** GET /auth/token with optional Basic credentials; returns the reply (token in .json().token). */
export function tokenRequest(
  base: string,
  scopes: string[],
  creds?: { user: string; pass: string },
  extra: Record<string, string> = {},
  opts: RawOptions = {},
): Promise<Reply> {
  const q = new URLSearchParams({ service: 'wharf', ...extra });
  for (const s of scopes) q.append('scope', s);
  return raw(base, 'GET', `/auth/token?${q}`, {
    ...opts,
    headers: { ...opts.headers, ...(creds ? { authorization: basic(creds.user, creds.pass) } : {}) },
  });
}

export async function token(
  base: string,
  scopes: string[],
  creds?: { user: string; pass: string },
  extra: Record<string, string> = {},
): Promise<string> {
  const r = await tokenRequest(base, scopes, creds, extra);
  if (r.status !== 200) throw new Error(`token request failed: ${r.status} ${r.text}`);
  return r.json().token as string;
}

export function digestOf(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Monolithic blob push (POST ?digest=); returns the digest. Throws unless 201. */
export async function pushBlob(base: string, repo: string, data: Buffer, authorization: string, ns?: string): Promise<string> {
  const d = digestOf(data);
  const q = new URLSearchParams({ digest: d });
  if (ns) q.set('ns', ns);
  const r = await raw(base, 'POST', `/v2/${repo}/blobs/uploads/?${q}`, {
    headers: { authorization, 'content-type': 'application/octet-stream' },
    body: data,
  });
  if (r.status !== 201) throw new Error(`blob push to ${repo} failed: ${r.status} ${r.text}`);
  return d;
}

/** The OCI image manifest of `config` and one `layer` (the blobs pushed separately). */
export function oneLayerManifest(config: Buffer, layer: Buffer): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }],
    }),
  );
}

/** Pushes a config + one layer + an OCI manifest under `tag`; returns the manifest digest and layer digest. */
export async function pushImage(
  base: string,
  repo: string,
  tag: string,
  authorization: string,
): Promise<{ manifest: string; layer: string; config: string; body: Buffer }> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, r: randomBytes(8).toString('hex') }),
  );
  const layer = randomBytes(512);
  const cd = await pushBlob(base, repo, config, authorization);
  const ld = await pushBlob(base, repo, layer, authorization);
  const body = oneLayerManifest(config, layer);
  const r = await raw(base, 'PUT', `/v2/${repo}/manifests/${tag}`, {
    headers: { authorization, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body,
  });
  if (r.status !== 201) throw new Error(`manifest push to ${repo}:${tag} failed: ${r.status} ${r.text}`);
  return { manifest: digestOf(body), layer: ld, config: cd, body };
}

/** Parses `Bearer realm="..",service="..",scope=".."`. */
export function parseChallenge(h: string | undefined): Record<string, string> & { scheme: string } {
  if (!h) throw new Error('no WWW-Authenticate header');
  const [scheme, ...rest] = h.split(' ');
  const params: Record<string, string> = {};
  for (const m of rest.join(' ').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) params[m[1]!] = m[2]!;
  return { scheme: scheme!, ...params };
}

export function b64url(v: unknown): string {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

/** A JWT the way an attacker writes one: any header, any claims, any signature. */
export function rawJwt(header: object, claims: object, signature = ''): string {
  return `${b64url(header)}.${b64url(claims)}.${signature}`;
}

export function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface Certs {
  dir: string;
  ca: string;
  caKey: string;
}

/** A self-signed CA in `dir` (ca.crt, ca.key). */
export function makeCa(dir: string): Certs {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=Wharf Test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { dir, ca: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key') };
}

/** A server certificate for 127.0.0.1/localhost signed by the CA: `<name>.crt`, `<name>.key`. */
export function makeServerCert(c: Certs, name: string, cn = 'wharf-test'): { cert: string; key: string } {
  const ext = join(c.dir, `${name}.ext`);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], c.dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      ext,
    ],
    c.dir,
  );
  return { cert: join(c.dir, `${name}.crt`), key: join(c.dir, `${name}.key`) };
}
