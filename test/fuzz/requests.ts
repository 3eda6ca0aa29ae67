// The fuzzer's requests: valid API requests built from what the registry
// holds (the world), mutations of every part of them (method, path, query,
// headers, ranges, body, transfer coding, chunked framing, the raw bytes),
// and their exact bytes on the wire.
import { createHash } from 'node:crypto';
import type { Rng } from './rng.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** What the fuzzer knows is in the registry (kept up to date from the answers it gets). */
export interface World {
  host: string;
  repos: string[];
  blobs: Array<{ repo: string; digest: string; size: number }>;
  manifests: Array<{ repo: string; digest: string; tag: string; body: Buffer; mediaType: string }>;
  /** Uploads the fuzzer started, with what it knows they hold (undefined once a mutated chunk may have landed). */
  uploads: Array<{ repo: string; path: string; offset: number; data?: Buffer }>;
  /** An Authorization header every request carries (a registry with users), unless the request has its own. */
  auth?: string;
  /** Buildset namespaces and promotion in the mix (a registry with `registry.buildsets`, `auth` an admin). */
  buildsets?: BuildsetWorld;
}

export interface BuildsetWorld {
  /** The names the fuzzer creates, extends, deletes, pushes into and promotes from and to. */
  names: string[];
  /** Basic credentials of the namespaces created so far (from their 201). */
  creds: Record<string, string>;
}

export interface FuzzRequest {
  method: string;
  /** Request target as sent (path and query). */
  target: string;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** How the body goes on the wire: Content-Length, chunked, or not at all. */
  framing: 'length' | 'chunked' | 'none';
  /** The chunked encoding as sent (built at serialization unless a mutation wrote it). */
  chunked?: Buffer;
  /** Which template it came from, and the mutations applied (for the report). */
  template: string;
  notes: string[];
  /** A mutation touched the wire format: the parser may refuse it with a bare 400 or a close. */
  protocol: boolean;
  /** The bytes as written form a complete request: it must be answered. */
  complete: boolean;
  /** The world entry this request continues, if any (an open upload). */
  upload?: World['uploads'][number];
}

function req(
  template: string,
  method: string,
  target: string,
  headers: Array<[string, string]> = [],
  body?: Buffer,
  framing?: 'length' | 'chunked',
): FuzzRequest {
  return {
    method,
    target,
    version: 'HTTP/1.1',
    headers,
    body: body ?? Buffer.alloc(0),
    framing: body === undefined ? 'none' : (framing ?? 'length'),
    template,
    notes: [],
    protocol: false,
    complete: true,
  };
}

function blobBody(rng: Rng): Buffer {
  return rng.weighted<Buffer>([
    [6, rng.bytes(rng.int(0, 64))],
    [4, rng.bytes(rng.int(64, 8 * 1024))],
    [1, rng.bytes(rng.int(8 * 1024, 256 * 1024))],
  ] as const);
}

function manifestFor(world: World, rng: Rng): { body: Buffer; mediaType: string } {
  const blobs = world.blobs.length > 0 ? world.blobs : [{ repo: 'x', digest: sha256('none'), size: 4 }];
  const cfg = rng.pick(blobs);
  const layers = Array.from({ length: rng.int(0, 3) }, () => rng.pick(blobs));
  const docker = rng.chance(0.3);
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: cfg.digest, size: cfg.size },
    layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
  };
  if (rng.chance(0.2) && world.manifests.length > 0) {
    const s = rng.pick(world.manifests);
    doc.subject = { mediaType: s.mediaType, digest: s.digest, size: s.body.length };
  }
  return { body: Buffer.from(JSON.stringify(doc)), mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST };
}

/** A valid request of a random kind, from what the world holds. */
export function template(world: World, rng: Rng): FuzzRequest {
  // The plain world (no buildsets, no users) draws exactly as before: its seeds replay.
  const r = world.buildsets && rng.chance(0.4) ? buildsetTemplate(world, world.buildsets, rng) : plainTemplate(world, rng);
  if (world.auth && !r.headers.some(([h]) => h.toLowerCase() === 'authorization')) r.headers.push(['Authorization', world.auth]);
  return r;
}

/**
 * Buildset namespaces (admin API: create with a short TTL, extend, delete),
 * pushes and reads inside one (`?ns=`, with the admin's or the namespace's own
 * credential), and promotions between a buildset and the default namespace.
 */
function buildsetTemplate(world: World, bs: BuildsetWorld, rng: Rng): FuzzRequest {
  const name = rng.pick(bs.names);
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const ct: Array<[string, string]> = [['Content-Type', 'application/json']];
  const kind = rng.weighted<string>([
    [3, 'bs-create'],
    [2, 'bs-extend'],
    [1, 'bs-delete'],
    [8, 'bs-api'],
    [3, 'promote'],
  ] as const);
  switch (kind) {
    case 'bs-create':
      return req(kind, 'POST', '/admin/v1/namespaces', ct, json({ name, ttlSeconds: rng.int(1, 20) }));
    case 'bs-extend':
      return req(kind, 'PATCH', `/admin/v1/namespaces/${name}`, ct, json({ ttlSeconds: rng.int(1, 20) }));
    case 'bs-delete':
      return req(kind, 'DELETE', `/admin/v1/namespaces/${name}`);
    case 'promote': {
      const m = world.manifests.length > 0 ? rng.pick(world.manifests) : { repo: rng.pick(world.repos), tag: 'v0', digest: sha256('x') };
      const out = rng.chance(0.6); // out of the buildset (the gate), or into it
      const here = { repository: m.repo, reference: rng.chance(0.7) ? m.tag : m.digest };
      const to = { repository: m.repo, tag: `p${rng.int(0, 5)}` };
      const body = out
        ? { from: { namespace: name, ...here }, to }
        : { from: here, to: { namespace: name, ...to }, ...(rng.chance(0.3) ? { referrers: true } : {}) };
      return req(kind, 'POST', '/admin/v1/promote', ct, json(body));
    }
    default: {
      // An ordinary API request (not one continuing an upload of another namespace), in the buildset.
      let r = plainTemplate(world, rng);
      for (let i = 0; i < 4 && (r.upload || ['base', 'catalog', 'token'].includes(r.template)); i++) r = plainTemplate(world, rng);
      if (r.upload) return req('bs-create', 'POST', '/admin/v1/namespaces', ct, json({ name, ttlSeconds: rng.int(1, 20) }));
      r.target += `${r.target.includes('?') ? '&' : '?'}ns=${name}`;
      r.template = `bs:${r.template}`;
      const own = bs.creds[name];
      if (own && rng.chance(0.5)) r.headers.push(['Authorization', own]);
      return r;
    }
  }
}

function plainTemplate(world: World, rng: Rng): FuzzRequest {
  const repo = rng.pick(world.repos);
  const blob = world.blobs.length > 0 ? rng.pick(world.blobs) : undefined;
  const manifest = world.manifests.length > 0 ? rng.pick(world.manifests) : undefined;
  const upload = world.uploads.length > 0 ? rng.pick(world.uploads) : undefined;
  const kind = rng.weighted<string>([
    [2, 'base'],
    [4, 'manifest-get'],
    [4, 'blob-get'],
    [2, 'tags'],
    [1, 'catalog'],
    [1, 'referrers'],
    [3, 'upload-start'],
    [5, 'upload-monolithic'],
    [2, 'upload-mount'],
    [5, 'upload-patch'],
    [3, 'upload-finish'],
    [2, 'upload-status'],
    [1, 'upload-cancel'],
    [3, 'manifest-put'],
    [1, 'manifest-delete'],
    [1, 'blob-delete'],
    [1, 'token'],
  ] as const);
  const accept: Array<[string, string]> = [['Accept', `${OCI_MANIFEST}, ${OCI_INDEX}, ${DOCKER_MANIFEST}`]];
  switch (kind) {
    case 'base':
      return req(kind, 'GET', '/v2/');
    case 'manifest-get': {
      const m = manifest ?? { repo, tag: 'latest', digest: sha256('x') };
      return req(kind, rng.pick(['GET', 'HEAD']), `/v2/${m.repo}/manifests/${rng.chance(0.5) ? m.tag : m.digest}`, accept);
    }
    case 'blob-get': {
      const b = blob ?? { repo, digest: sha256('x'), size: 1 };
      const h: Array<[string, string]> = rng.chance(0.4)
        ? [['Range', `bytes=${rng.int(0, b.size)}-${rng.chance(0.5) ? '' : rng.int(0, b.size + 2)}`]]
        : [];
      return req(kind, rng.pick(['GET', 'HEAD']), `/v2/${b.repo}/blobs/${b.digest}`, h);
    }
    case 'tags':
      return req(kind, 'GET', `/v2/${repo}/tags/list${rng.chance(0.5) ? `?n=${rng.int(0, 5)}` : ''}`);
    case 'catalog':
      return req(kind, 'GET', `/v2/_catalog${rng.chance(0.5) ? `?n=${rng.int(0, 5)}&last=${rng.pick(world.repos)}` : ''}`);
    case 'referrers': {
      const m = manifest ?? { repo, digest: sha256('x') };
      return req(
        kind,
        'GET',
        `/v2/${m.repo}/referrers/${m.digest}${rng.chance(0.3) ? `?artifactType=${encodeURIComponent(OCI_CONFIG)}` : ''}`,
      );
    }
    case 'upload-start':
      return req(kind, 'POST', `/v2/${repo}/blobs/uploads/`);
    case 'upload-monolithic': {
      const body = blobBody(rng);
      const framing = rng.chance(0.3) ? 'chunked' : 'length';
      return req(
        kind,
        'POST',
        `/v2/${repo}/blobs/uploads/?digest=${sha256(body)}`,
        [['Content-Type', 'application/octet-stream']],
        body,
        framing,
      );
    }
    case 'upload-mount': {
      const b = blob ?? { repo, digest: sha256('x') };
      return req(kind, 'POST', `/v2/${repo}/blobs/uploads/?mount=${b.digest}${rng.chance(0.7) ? `&from=${b.repo}` : ''}`);
    }
    case 'upload-patch': {
      if (!upload) return req('upload-start', 'POST', `/v2/${repo}/blobs/uploads/`);
      const body = blobBody(rng);
      const streamed = rng.chance(0.3);
      const h: Array<[string, string]> = [['Content-Type', 'application/octet-stream']];
      if (!streamed) h.push(['Content-Range', `${upload.offset}-${upload.offset + body.length - 1}`]);
      const r = req(kind, 'PATCH', upload.path, h, body, streamed ? 'chunked' : 'length');
      r.upload = upload;
      return r;
    }
    case 'upload-finish': {
      if (!upload) return req('upload-start', 'POST', `/v2/${repo}/blobs/uploads/`);
      const last = rng.chance(0.5) ? blobBody(rng) : undefined;
      const all = upload.data ? Buffer.concat([upload.data, last ?? Buffer.alloc(0)]) : rng.bytes(8);
      const sep = upload.path.includes('?') ? '&' : '?';
      const r = req(
        kind,
        'PUT',
        `${upload.path}${sep}digest=${sha256(all)}`,
        last ? [['Content-Type', 'application/octet-stream']] : [],
        last,
      );
      r.upload = upload;
      return r;
    }
    case 'upload-status':
      return req(kind, 'GET', upload ? upload.path : `/v2/${repo}/blobs/uploads/${rng.uuid()}`);
    case 'upload-cancel':
      return req(kind, 'DELETE', upload ? upload.path : `/v2/${repo}/blobs/uploads/${rng.uuid()}`);
    case 'manifest-put': {
      const m = manifestFor(world, rng);
      const ref = rng.chance(0.7) ? `t${rng.int(0, 20)}` : sha256(m.body);
      return req(
        kind,
        'PUT',
        `/v2/${repo}/manifests/${ref}`,
        [['Content-Type', m.mediaType]],
        m.body,
        rng.chance(0.2) ? 'chunked' : 'length',
      );
    }
    case 'manifest-delete': {
      const m = manifest ?? { repo, tag: 'latest', digest: sha256('x') };
      // Deleting the world's own images would leave little to read: mostly other tags.
      return req(kind, 'DELETE', `/v2/${m.repo}/manifests/${rng.chance(0.8) ? `t${rng.int(0, 20)}` : m.digest}`);
    }
    case 'blob-delete': {
      const b = blob ?? { repo, digest: sha256('x') };
      return req(kind, 'DELETE', `/v2/${rng.chance(0.8) ? repo : b.repo}/blobs/${rng.chance(0.8) ? sha256(rng.bytes(4)) : b.digest}`);
    }
    default:
      return req('token', 'GET', `/auth/token?service=wharf&scope=repository:${repo}:pull`);
  }
}

// ---- mutations ----

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'get',
  'Post',
  'FOO',
  'PROPFIND',
  'M-SEARCH',
  'CONNECT',
  'SEARCH',
];
/** Methods Node's parser (llhttp) reads as ordinary requests. */
const PARSER_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'M-SEARCH', 'SEARCH']);
const BAD_NAMES = [
  'UPPER/case',
  '..',
  '%2e%2e',
  '_under',
  'a//b',
  'a/../b',
  'x'.repeat(300),
  'ü',
  'a%00b',
  'a b',
  'a/',
  '-a',
  'a.-b',
  '.',
  '%2F',
  'a%2Fb',
  'a\\b',
  '',
];
const BAD_DIGESTS = [
  'sha256:zz',
  `sha256:${'a'.repeat(63)}`,
  `sha256:${'A'.repeat(64)}`,
  'md5:d41d8cd98f00b204e9800998ecf8427e',
  `sha512:${'0'.repeat(64)}`,
  'sha256',
  ':',
  'sha256:',
  `sha256:${'0'.repeat(64)}x`,
  `SHA256:${'0'.repeat(64)}`,
  `sha256+b64:${'A'.repeat(43)}=`,
  `sha384:${'0'.repeat(96)}`,
  '%73ha256:00',
];
const WEIRD_STRINGS = [
  '',
  ' ',
  '-1',
  '0',
  '1e3',
  '99999999999999999999',
  '0x10',
  'abc',
  '%00',
  '\u00ff',
  '*',
  '..',
  'a'.repeat(5000),
  '$' + '{x}', // a template placeholder, literally
  '"',
  "'",
  '<script>',
];
const QUERY_KEYS = ['ns', 'n', 'last', 'digest', 'mount', 'from', 'artifactType', 'service', 'scope', 'x'];
const TRANSFER_CODINGS = [
  'chunked',
  'gzip, chunked',
  'gzip',
  'chunked, chunked',
  'identity',
  '',
  'deflate, chunked',
  'Chunked',
  ', chunked',
  'chunked;x=1',
  'x-unknown, chunked',
  'chunked, gzip',
];
const CONTENT_RANGES = [
  '0-0',
  '0-9',
  'bytes 0-9/*',
  'bytes=0-9',
  '10-5',
  '-1-5',
  'abc',
  '0-99999999999999999999',
  '5-',
  '',
  'bytes */*',
  '0-0-0',
  ' 0-1',
  '9007199254740991-9007199254740992',
];
const RANGES = [
  'bytes=0-',
  'bytes=-0',
  'bytes=5-1',
  'bytes=0-0,2-3',
  'bytes=99999999999999999999-',
  'items=0-1',
  'bytes=-99999',
  'bytes=',
  'bytes=-',
  'bytes=0-0',
  'bytes=1-1',
  ' bytes=0-1 ',
  'bytes=00-01',
];
const CONTENT_TYPES = [
  '',
  'application/json',
  'text/plain',
  OCI_INDEX,
  'application/vnd.docker.distribution.manifest.v1+json',
  'a/b; charset=zz',
  'x'.repeat(3000),
  '*/*',
  'application/octet-stream',
];
const EXPECTS = ['100-continue', 'foo', '100-Continue', ''];

function setHeader(r: FuzzRequest, name: string, value: string): void {
  r.headers = r.headers.filter(([k]) => k.toLowerCase() !== name.toLowerCase());
  r.headers.push([name, value]);
}

function removeHeader(r: FuzzRequest, name: string): void {
  r.headers = r.headers.filter(([k]) => k.toLowerCase() !== name.toLowerCase());
}

function splitTarget(target: string): { path: string; query: string } {
  const i = target.indexOf('?');
  return i < 0 ? { path: target, query: '' } : { path: target.slice(0, i), query: target.slice(i + 1) };
}

type Mutation = (r: FuzzRequest, rng: Rng, world: World) => void;

const MUTATIONS: ReadonlyArray<readonly [number, string, Mutation]> = [
  [
    3,
    'method',
    (r, rng) => {
      r.method = rng.pick(METHODS);
      // CONNECT asks for a tunnel; the others are not methods Node's parser knows.
      if (!PARSER_METHODS.has(r.method)) r.protocol = true;
    },
  ],
  [
    4,
    'path-segment',
    (r, rng) => {
      const { path, query } = splitTarget(r.target);
      const segs = path.split('/');
      const i = rng.int(1, Math.max(1, segs.length - 1));
      segs[i] = rng.weighted<string>([
        [3, rng.pick(BAD_NAMES)],
        [2, rng.pick(BAD_DIGESTS)],
        [1, rng.uuid()],
        [1, rng.pick(WEIRD_STRINGS)],
        [1, encodeURIComponent(segs[i] ?? '')],
      ] as const);
      r.target = segs.join('/') + (query ? `?${query}` : '');
    },
  ],
  [
    2,
    'path-shape',
    (r, rng) => {
      const { path, query } = splitTarget(r.target);
      const shapes = [
        () => path.replace(/\/v2\//, '/v2//'),
        () => `${path}/`,
        () => path.replace(/\/[^/]+$/, ''),
        () => `${path}/extra`,
        () => path.replace('/v2/', '/v3/'),
        () => `http://${'wharf.example'}${path}`,
        () => path.replace(/\//g, '%2F'),
        () => '*',
        () => path.toUpperCase(),
        () => `/v2/${'a/'.repeat(rng.int(10, 200))}manifests/x`,
        () => `${path}#frag`,
        () => path.replace('/v2/', '/v2/./'),
      ];
      r.target = rng.pick(shapes)() + (query ? `?${query}` : '');
    },
  ],
  [
    3,
    'query',
    (r, rng, world) => {
      const { path, query } = splitTarget(r.target);
      const params = new URLSearchParams(query);
      const n = rng.int(1, 3);
      for (let i = 0; i < n; i++) {
        const k = rng.pick(QUERY_KEYS);
        const v = rng.weighted<string>([
          [2, rng.pick(WEIRD_STRINGS)],
          [1, rng.pick(BAD_DIGESTS)],
          [1, world.blobs.length > 0 ? rng.pick(world.blobs).digest : sha256('q')],
          [1, rng.pick(world.repos)],
          [1, rng.pick(BAD_NAMES)],
          [1, rng.pick(['default', 'other', 'Bad_NS', 'x'.repeat(300), 'a:99999'])],
        ] as const);
        if (rng.chance(0.3)) params.append(k, v);
        else if (rng.chance(0.2)) params.delete(k);
        else params.set(k, v);
      }
      const q = params.toString();
      r.target = path + (q ? `?${q}` : '');
    },
  ],
  [
    3,
    'content-length',
    (r, rng) => {
      const len = r.framing === 'chunked' ? 0 : r.body.length;
      const v = rng.pick([
        String(len + rng.int(1, 100)),
        String(Math.max(0, len - rng.int(1, 100))),
        '-1',
        'abc',
        '1e3',
        ` ${len}`,
        '99999999999999999999',
        '',
        `${len}, ${len}`,
        `${len}, ${len + 1}`,
      ]);
      setHeader(r, 'Content-Length', v);
      if (r.framing === 'length') r.framing = 'none'; // the header as set is what frames it now
      r.notes.push(`Content-Length: ${v}`);
      r.protocol = true;
      r.complete = false;
    },
  ],
  [
    3,
    'transfer-encoding',
    (r, rng) => {
      const te = rng.pick(TRANSFER_CODINGS);
      setHeader(r, 'Transfer-Encoding', te);
      removeHeader(r, 'Content-Length');
      r.framing = 'chunked';
      r.notes.push(`Transfer-Encoding: ${te}`);
      r.protocol = true;
      // gzip etc. before chunked: still framed by the chunks (the server must refuse, not hang).
      if (!/chunked\s*$/i.test(te)) r.complete = false;
    },
  ],
  [
    3,
    'chunked-framing',
    (r, rng) => {
      removeHeader(r, 'Content-Length');
      if (!r.headers.some(([k]) => k.toLowerCase() === 'transfer-encoding')) r.headers.push(['Transfer-Encoding', 'chunked']);
      r.framing = 'chunked';
      const body = r.body.length > 0 ? r.body : rng.bytes(rng.int(1, 100));
      const piece = body.subarray(0, Math.min(body.length, rng.int(1, 50)));
      const size = piece.length.toString(16);
      const bad = rng.pick([
        `zz\r\n${piece.toString('latin1')}\r\n0\r\n\r\n`,
        `-5\r\n${piece.toString('latin1')}\r\n0\r\n\r\n`,
        `${'f'.repeat(24)}\r\n${piece.toString('latin1')}\r\n0\r\n\r\n`,
        `${size}\r\n${piece.toString('latin1')}0\r\n\r\n`, // missing CRLF after data
        `${size}\n${piece.toString('latin1')}\n0\n\n`, // bare LF
        `${(piece.length + 5).toString(16)}\r\n${piece.toString('latin1')}\r\n0\r\n\r\n`, // size too large
        `${size};ext=1\r\n${piece.toString('latin1')}\r\n0\r\n\r\n`, // extension (valid)
        `${size}\r\n${piece.toString('latin1')}\r\n0\r\nX-Trailer: 1\r\n\r\n`, // trailer (valid)
        `${size}\r\n${piece.toString('latin1')}\r\n`, // no last chunk
        `${size} \r\n${piece.toString('latin1')}\r\n0\r\n\r\n`,
        `0x${size}\r\n${piece.toString('latin1')}\r\n0\r\n\r\n`,
        `${size}\r\n${piece.toString('latin1')}\r\n0\r\n`, // no final CRLF
      ]);
      r.chunked = Buffer.from(bad, 'latin1');
      r.notes.push(`chunked body ${JSON.stringify(bad.slice(0, 60))}`);
      r.protocol = true;
      r.complete = false;
    },
  ],
  [
    2,
    'content-range',
    (r, rng) => {
      const v = rng.chance(0.5) ? rng.pick(CONTENT_RANGES) : `${rng.int(0, 2000)}-${rng.int(0, 2000)}`;
      setHeader(r, 'Content-Range', v);
      r.notes.push(`Content-Range: ${v}`);
    },
  ],
  [
    2,
    'range',
    (r, rng) => {
      const v = rng.pick(RANGES);
      setHeader(r, 'Range', v);
      r.notes.push(`Range: ${v}`);
    },
  ],
  [
    1,
    'content-type',
    (r, rng) => {
      const v = rng.pick(CONTENT_TYPES);
      setHeader(r, 'Content-Type', v);
      r.notes.push(`Content-Type: ${v.slice(0, 60)}`);
    },
  ],
  [
    1,
    'accept',
    (r, rng) => {
      const v = rng.pick([
        '',
        '*/*',
        'text/html',
        'application/vnd.oci.image.index.v1+json;q=0',
        `${OCI_MANIFEST}, `.repeat(200),
        'a/b, c/d;q=x',
        DOCKER_MANIFEST,
      ]);
      setHeader(r, 'Accept', v);
    },
  ],
  [
    1,
    'host',
    (r, rng) => {
      const v = rng.pick(['', 'a b', 'x'.repeat(2000), 'other.example', '127.0.0.1:1', '[::1]', 'évil']);
      if (rng.chance(0.3)) removeHeader(r, 'Host');
      else setHeader(r, 'Host', v);
      r.notes.push('Host header');
      r.protocol = true; // no Host, or one Node's parser refuses
    },
  ],
  [
    1,
    'expect',
    (r, rng) => {
      const v = rng.pick(EXPECTS);
      setHeader(r, 'Expect', v);
      r.notes.push(`Expect: ${v}`);
    },
  ],
  [
    1,
    'connection',
    (r, rng) => {
      const v = rng.pick(['close', 'keep-alive', 'upgrade', 'close, close', 'x']);
      setHeader(r, 'Connection', v);
      if (v === 'upgrade') r.headers.push(['Upgrade', rng.pick(['websocket', 'h2c', 'x'])]);
      r.notes.push(`Connection: ${v}`);
    },
  ],
  [
    1,
    'auth',
    (r, rng) => {
      setHeader(
        r,
        'Authorization',
        rng.pick([
          'Basic ' + Buffer.from('a:b').toString('base64'),
          'Basic !!!',
          'Bearer x.y.z',
          'Bearer ',
          'Digest x',
          'Basic ' + 'A'.repeat(3000),
        ]),
      );
    },
  ],
  [
    2,
    'junk-header',
    (r, rng) => {
      const name = rng.pick(['X-Junk', 'x-ünicode', 'Bad Header', 'X\u0001', 'Content-Length ', ':authority', 'X-Long']);
      const value = rng.pick(['v', '\u0001', 'é', 'a'.repeat(rng.int(100, 20_000)), ' lead', 'trail ', 'x\r\n folded']);
      r.headers.push([name, value]);
      r.notes.push(`header ${JSON.stringify(name)}`);
      r.protocol = true;
    },
  ],
  [
    1,
    'many-headers',
    (r, rng) => {
      const n = rng.int(50, 400);
      for (let i = 0; i < n; i++) r.headers.push([`X-H${i}`, 'v']);
      r.notes.push(`${n} extra headers`);
      r.protocol = true;
    },
  ],
  [
    1,
    'version',
    (r, rng) => {
      r.version = rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2', 'http/1.1', 'HTTP/1.1 ', '']);
      r.notes.push(`version ${JSON.stringify(r.version)}`);
      r.protocol = true;
      r.complete = false;
    },
  ],
  [
    4,
    'body',
    (r, rng) => {
      const b = r.body.length > 0 ? Buffer.from(r.body) : rng.bytes(rng.int(1, 64));
      const op = rng.pick(['flip', 'truncate', 'extend', 'replace', 'empty', 'json']);
      if (op === 'flip') for (let i = rng.int(1, 4); i > 0; i--) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
      r.body =
        op === 'truncate'
          ? b.subarray(0, rng.int(0, b.length - 1))
          : op === 'extend'
            ? Buffer.concat([b, rng.bytes(rng.int(1, 1000))])
            : op === 'replace'
              ? rng.bytes(rng.int(0, 4096))
              : op === 'empty'
                ? Buffer.alloc(0)
                : op === 'json'
                  ? Buffer.from(mutateJson(b, rng))
                  : b;
      if (r.framing === 'none') r.framing = 'length';
      r.notes.push(`body ${op}`);
    },
  ],
];

/** A manifest-like JSON document bent out of shape. */
function mutateJson(b: Buffer, rng: Rng): string {
  let doc: any;
  try {
    // A body bent before (say 20,000-deep arrays) parses, but would not stringify again.
    doc = b.length > 64 * 1024 ? undefined : JSON.parse(b.toString('utf8'));
    JSON.stringify(doc);
  } catch {
    doc = undefined;
  }
  doc ??= { schemaVersion: 2, mediaType: OCI_MANIFEST, config: {}, layers: [] };
  if (typeof doc !== 'object' || doc === null) doc = {};
  const keys = ['schemaVersion', 'mediaType', 'config', 'layers', 'manifests', 'subject', 'annotations', 'artifactType'];
  const values = [
    null,
    1,
    -1,
    1e308,
    'x',
    [],
    {},
    [1, 2],
    { digest: 'sha256:zz' },
    { mediaType: OCI_LAYER, digest: sha256('u'), size: -5 },
    'a'.repeat(10_000),
    true,
  ];
  switch (rng.int(0, 4)) {
    case 0:
      delete doc[rng.pick(keys)];
      return JSON.stringify(doc);
    case 1:
      doc[rng.pick(keys)] = rng.pick(values);
      return JSON.stringify(doc);
    case 2: {
      // Deeply nested arrays (written out: JSON.stringify itself would run out of stack).
      const depth = rng.int(100, 20_000);
      doc.layers = '@';
      return JSON.stringify(doc).replace('"@"', '['.repeat(depth) + ']'.repeat(depth));
    }
    case 3:
      return JSON.stringify(doc).slice(0, rng.int(0, 50));
    default:
      return JSON.stringify(doc) + rng.pick(['', ' ', 'x', '\u0000', '}']);
  }
}

/** Apply `count` random mutations. */
export function mutate(r: FuzzRequest, rng: Rng, world: World, count: number): FuzzRequest {
  for (let i = 0; i < count; i++) {
    const [, name, fn] = rng.weighted(MUTATIONS.map((m) => [m[0], m] as const));
    fn(r, rng, world);
    r.notes.push(`~${name}`);
  }
  // A target that is not printable ASCII, or neither a path, absolute URL nor '*', breaks the request line.
  if (!/^[\x21-\x7e]+$/.test(r.target) || !/^(\/|\*$|https?:\/\/)/.test(r.target)) {
    r.protocol = true;
    r.notes.push('request line');
  }
  return r;
}

/** The request's exact bytes. */
export function serialize(r: FuzzRequest, rng: Rng): Buffer {
  const headers: Array<[string, string]> = [];
  const has = (n: string) => r.headers.some(([k]) => k.toLowerCase() === n);
  if (!r.notes.includes('Host header') && !has('host')) headers.push(['Host', 'fuzz.invalid']);
  headers.push(...r.headers);
  let body: Buffer = Buffer.alloc(0);
  if (r.framing === 'length') {
    if (!has('content-length')) headers.push(['Content-Length', String(r.body.length)]);
    body = r.body;
  } else if (r.framing === 'chunked') {
    if (!has('transfer-encoding')) headers.push(['Transfer-Encoding', 'chunked']);
    body = r.chunked ?? chunk(r.body, rng);
  } else if (has('content-length') || has('transfer-encoding')) {
    body = r.body; // a mutated framing header: send the body raw and let the parser decide
  }
  const head = `${r.method} ${r.target}${r.version ? ` ${r.version}` : ''}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** `body` as chunks of random sizes. */
function chunk(body: Buffer, rng: Rng): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const n = Math.min(
      body.length - i,
      rng.weighted([
        [3, rng.int(1, 64)],
        [3, rng.int(64, 16 * 1024)],
        [1, body.length],
      ] as const),
    );
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(i, i + n), Buffer.from('\r\n'));
    i += n;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}
