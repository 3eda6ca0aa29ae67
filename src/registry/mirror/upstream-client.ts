// An OCI Distribution client for a mirror's upstream registry: manifests,
// blobs and tag lists, with the Docker token flow (401 with
// `WWW-Authenticate: Bearer realm=…,service=…,scope=…` → GET a token from the
// realm, anonymously or with basic credentials → retry) and plain basic auth,
// redirects (Authorization is dropped when the origin changes, as CDNs and
// presigned URLs require), keep-alive sockets, and bounded timeouts: every
// exchange gets `timeoutMs` to connect and answer with headers, and a body
// may go silent for at most `timeoutMs` while its reader waits for it.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { IdleTimer, watchIdle } from '../../async/idle-timeout.js';
import { RegistryError, type ErrorCode } from '../errors.js';
import { MANIFEST_TYPES } from '../media-types.js';
import type { MirrorSettings } from './settings.js';

/** Why an upstream exchange failed. */
export type UpstreamFailure =
  /** No connection (refused, reset, DNS). */
  | 'unreachable'
  /** No answer, or a body that went silent, within the timeout. */
  | 'timeout'
  /** An answer that makes no sense: 5xx, unexpected status, malformed or mismatching content. */
  | 'bad-response'
  /** The upstream refused our (anonymous or configured) credentials. */
  | 'denied'
  /** 429 from the upstream. */
  | 'rate-limited';

const CODES: Record<UpstreamFailure, ErrorCode> = {
  unreachable: 'UNAVAILABLE',
  timeout: 'UNAVAILABLE',
  'bad-response': 'UNAVAILABLE',
  denied: 'DENIED',
  'rate-limited': 'TOOMANYREQUESTS',
};

export class UpstreamError extends RegistryError {
  readonly failure: UpstreamFailure;
  constructor(failure: UpstreamFailure, message: string, detail?: Record<string, unknown>) {
    super(CODES[failure], message, detail);
    this.name = 'UpstreamError';
    this.failure = failure;
  }
  /** Failures where serving what the cache holds is the right answer. */
  get transient(): boolean {
    return this.failure !== 'denied';
  }
}

export function isUpstreamError(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, guarded by the idle timeout. Consume or destroy it. */
  body: Readable;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (first challenge only). */
export function parseChallenge(header: string | string[] | undefined): Challenge | null {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) return null;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(text);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** Read a whole (small) body, refusing more than `max` bytes. */
export async function readAll(body: Readable, max: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  try {
    for await (const piece of body) {
      total += (piece as Buffer).length;
      if (total > max) {
        body.destroy();
        throw new UpstreamError('bad-response', `upstream ${what} is larger than ${max} bytes`);
      }
      parts.push(piece as Buffer);
    }
  } catch (err) {
    throw asUpstreamError(err, what);
  }
  return Buffer.concat(parts, total);
}

function asUpstreamError(err: unknown, what: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const reason = code ?? (err as Error)?.message ?? String(err);
  return new UpstreamError('unreachable', `upstream connection failed while reading ${what}: ${reason}`, { reason });
}

function drain(body: Readable): void {
  body.on('error', () => undefined);
  body.resume();
}

const USER_AGENT = 'wharf-mirror/0.1';
const MAX_REDIRECTS = 5;
const TOKEN_MAX_BYTES = 1 << 20;
/** A token is not reused in its last seconds. */
const TOKEN_MARGIN_MS = 10_000;
const MAX_TAG_PAGES = 100;

/** The Accept header for manifests: every type Wharf can store (the index, not a platform pick). */
export const MANIFEST_ACCEPT = MANIFEST_TYPES.join(', ');

export interface ManifestAnswer {
  mediaType: string;
  /** Docker-Content-Digest, when the upstream sent it. */
  digest?: string;
  size?: number;
  /** Absent for HEAD. */
  body?: Buffer;
}

export interface BlobAnswer {
  /** Content-Length, when sent. */
  size?: number;
  /** Absent for HEAD. */
  body?: Readable;
}

export class UpstreamClient {
  readonly origin: string;
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly basic?: string;
  /** Bearer tokens by scope, with their expiry (ms since epoch). */
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  /** The upstream asked for basic auth once: send it up front from then on. */
  private basicFirst = false;
  /** Upstream exchanges started (tests count them). */
  requests = 0;

  constructor(private readonly settings: MirrorSettings) {
    this.base = new URL(settings.upstream);
    this.origin = this.base.origin;
    const agentOptions = { keepAlive: true, maxSockets: 32, maxFreeSockets: 8 };
    this.agent = this.base.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    if (settings.username !== undefined) {
      this.basic = `Basic ${Buffer.from(`${settings.username}:${settings.password ?? ''}`).toString('base64')}`;
    }
  }

  close(): void {
    this.agent.destroy();
  }

  // -------------------------------------------------------------------------
  // Typed calls

  /** GET or HEAD a manifest; null when the upstream does not have it. */
  async manifest(repo: string, reference: string, method: 'GET' | 'HEAD', maxBytes: number): Promise<ManifestAnswer | null> {
    const what = `manifest ${repo}:${reference}`;
    const res = await this.send(method, `/v2/${repo}/manifests/${reference}`, repo, { Accept: MANIFEST_ACCEPT });
    if (!(await this.expectOk(res, what))) return null;
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    const digest = headerString(res.headers['docker-content-digest']);
    const length = headerInt(res.headers['content-length']);
    if (length !== undefined && length > maxBytes) {
      res.body.destroy();
      throw new UpstreamError('bad-response', `upstream ${what} is larger than ${maxBytes} bytes`);
    }
    if (method === 'HEAD') {
      drain(res.body);
      return { mediaType, digest, size: length };
    }
    const body = await readAll(res.body, maxBytes, what);
    return { mediaType, digest, size: body.length, body };
  }

  /** GET (streamed) or HEAD a blob; null when the upstream does not have it. */
  async blob(repo: string, digest: string, method: 'GET' | 'HEAD'): Promise<BlobAnswer | null> {
    const res = await this.send(method, `/v2/${repo}/blobs/${digest}`, repo, {});
    if (!(await this.expectOk(res, `blob ${digest} of ${repo}`))) return null;
    const size = headerInt(res.headers['content-length']);
    if (method === 'HEAD') {
      drain(res.body);
      return { size };
    }
    return { size, body: res.body };
  }

  /** Every tag of a repository (following `Link` pages); null when the upstream does not know it. */
  async tags(repo: string): Promise<string[] | null> {
    const all: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list?n=1000`;
    for (let page = 0; path && page < MAX_TAG_PAGES; page++) {
      const res = await this.send('GET', path, repo, { Accept: 'application/json' });
      if (!(await this.expectOk(res, `tag list of ${repo}`))) return page === 0 ? null : all;
      const body = await readAll(res.body, 16 << 20, `tag list of ${repo}`);
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      } catch {
        throw new UpstreamError('bad-response', `upstream tag list of ${repo} is not JSON`);
      }
      if (Array.isArray(doc.tags)) for (const t of doc.tags) if (typeof t === 'string') all.push(t);
      path = nextPage(res.headers.link, this.base);
    }
    return all;
  }

  /** 200 → true; 404 → false (body drained); anything else → UpstreamError. */
  private async expectOk(res: UpstreamResponse, what: string): Promise<boolean> {
    if (res.status === 200) return true;
    drain(res.body);
    if (res.status === 404) return false;
    const detail = { upstream: this.origin, status: res.status };
    if (res.status === 401 || res.status === 403) {
      throw new UpstreamError('denied', `upstream ${this.origin} denied access to ${what} (${res.status})`, detail);
    }
    if (res.status === 429) throw new UpstreamError('rate-limited', `upstream ${this.origin} is rate-limiting requests`, detail);
    throw new UpstreamError('bad-response', `upstream ${this.origin} answered ${res.status} for ${what}`, detail);
  }

  // -------------------------------------------------------------------------
  // Authentication

  /** One request with whatever credentials we hold, then the auth dance on a 401. */
  async send(method: string, path: string, repo: string, headers: Record<string, string>): Promise<UpstreamResponse> {
    const scope = `repository:${repo}:pull`;
    const url = new URL(path, this.base);
    let res = await this.exchange(method, url, { ...headers, ...this.authHeader(scope) });
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers['www-authenticate']);
    drain(res.body);
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      await this.fetchToken(challenge.params, scope);
    } else if (challenge?.scheme === 'basic' && this.basic && !this.basicFirst) {
      this.basicFirst = true;
    } else {
      return res;
    }
    res = await this.exchange(method, url, { ...headers, ...this.authHeader(scope) });
    return res;
  }

  private authHeader(scope: string): Record<string, string> {
    const t = this.tokens.get(scope);
    if (t && t.expires > Date.now()) return { Authorization: `Bearer ${t.token}` };
    if (this.basicFirst && this.basic) return { Authorization: this.basic };
    return {};
  }

  private async fetchToken(params: Record<string, string>, scope: string): Promise<void> {
    let realm: URL;
    try {
      realm = new URL(params.realm!);
    } catch {
      throw new UpstreamError('bad-response', `upstream ${this.origin} sent a token realm that is not a URL`);
    }
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? scope);
    const res = await this.exchange('GET', realm, this.basic ? { Authorization: this.basic } : {});
    if (res.status === 401 || res.status === 403) {
      drain(res.body);
      throw new UpstreamError(
        'denied',
        `token service ${realm.origin} of upstream ${this.origin} refused the credentials (${res.status})`,
        {
          upstream: this.origin,
          status: res.status,
        },
      );
    }
    if (res.status !== 200) {
      drain(res.body);
      throw new UpstreamError('bad-response', `token service ${realm.origin} of upstream ${this.origin} answered ${res.status}`);
    }
    const body = await readAll(res.body, TOKEN_MAX_BYTES, 'token');
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      throw new UpstreamError('bad-response', `token service ${realm.origin} did not answer JSON`);
    }
    const token = typeof doc.token === 'string' ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (!token) throw new UpstreamError('bad-response', `token service ${realm.origin} answered without a token`);
    const seconds = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    this.tokens.set(scope, { token, expires: Date.now() + seconds * 1000 - TOKEN_MARGIN_MS });
  }

  // -------------------------------------------------------------------------
  // Transport

  /** One exchange, following redirects (Authorization only to the original origin). */
  private async exchange(method: string, url: URL, headers: Record<string, string>): Promise<UpstreamResponse> {
    let current = url;
    let h = headers;
    for (let hop = 0; ; hop++) {
      const res = await this.once(method, current, h);
      const location = headerString(res.headers.location);
      if (![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
      drain(res.body);
      if (hop >= MAX_REDIRECTS) throw new UpstreamError('bad-response', `upstream ${this.origin} redirected too often`);
      const next = new URL(location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new UpstreamError('bad-response', `upstream ${this.origin} redirected to a non-HTTP URL`);
      }
      if (next.origin !== current.origin) {
        const { Authorization: _drop, ...rest } = h;
        h = rest;
      }
      current = next;
    }
  }

  private async once(method: string, url: URL, headers: Record<string, string>): Promise<UpstreamResponse> {
    try {
      return await this.attempt(method, url, headers);
    } catch (err) {
      // A kept-alive socket the upstream had closed: one fresh attempt.
      if ((err as { reused?: boolean }).reused) return this.attempt(method, url, headers);
      throw err;
    }
  }

  private attempt(method: string, url: URL, headers: Record<string, string>): Promise<UpstreamResponse> {
    const ms = this.settings.timeoutMs;
    const sameOrigin = url.origin === this.origin;
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    this.requests++;
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let answered = false;
      const timeout = () =>
        new UpstreamError('timeout', `upstream ${url.origin} did not answer within ${ms / 1000} s`, { upstream: url.origin });
      const req = request(
        url,
        {
          method,
          headers: { 'User-Agent': USER_AGENT, ...headers },
          // Sockets are pooled for the upstream only; redirect targets (CDNs) get fresh ones.
          agent: sameOrigin ? this.agent : undefined,
          timeout: ms,
        },
        (res: IncomingMessage) => {
          answered = true;
          clearTimeout(headerTimer);
          req.setTimeout(0);
          // The upstream may go silent for `ms` while the reader waits; time the reader spends not reading does not count.
          const idle = new IdleTimer(ms, () => new UpstreamError('timeout', `upstream ${url.origin} stopped sending for ${ms / 1000} s`));
          const body = watchIdle(res, idle, (reason) => (reason instanceof Error ? reason : new Error(String(reason))));
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        },
      );
      const headerTimer = setTimeout(() => req.destroy(timeout()), ms);
      headerTimer.unref();
      req.on('timeout', () => req.destroy(timeout()));
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(headerTimer);
        if (answered) return; // the body carries it
        if (err instanceof UpstreamError) return reject(err);
        const reused = req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        const reason = err.code ?? err.message;
        reject(
          Object.assign(
            new UpstreamError('unreachable', `upstream ${url.origin} unreachable: ${reason}`, { upstream: url.origin, reason }),
            {
              reused,
            },
          ),
        );
      });
      req.end();
    });
  }
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function headerInt(v: string | string[] | undefined): number | undefined {
  const s = headerString(v);
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The path of a `Link: <…>; rel="next"` header, on the upstream's origin only. */
function nextPage(link: string | string[] | undefined, base: URL): string | undefined {
  const text = headerString(link);
  if (!text) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(text);
  if (!m) return undefined;
  const u = new URL(m[1]!, base);
  if (u.origin !== base.origin) return undefined;
  return u.pathname + u.search;
}
