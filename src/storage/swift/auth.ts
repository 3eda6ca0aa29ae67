// Swift authentication: a token and the account's storage URL (a Session),
// from v1 auth (tempauth/swauth: X-Auth-User/X-Auth-Key) or Keystone v3
// password auth (the object-store endpoint from the catalog). One session
// serves every request; it is renewed a minute before it expires, and
// dropped when the backend answers 401 to it.
import { StorageUnavailableError } from '../errors.js';
import { BackendHttpError } from '../retry.js';
import type { SwiftConfig } from './config.js';

export interface Session {
  token: string;
  storageUrl: string;
  /** ms since epoch; refresh a minute before. */
  expiresAt?: number;
}

export class SwiftAuth {
  private session: Session | undefined;
  private pending: Promise<Session> | undefined;

  constructor(
    private readonly cfg: SwiftConfig,
    private readonly authVersion: 1 | 3,
    /** Time limit of one auth request, ms. */
    private readonly timeoutMs: number,
  ) {
    if (cfg.token && cfg.storageUrl) this.session = { token: cfg.token, storageUrl: stripSlash(cfg.storageUrl) };
  }

  /** The session in use, if any (no request). */
  get current(): Session | undefined {
    return this.session;
  }

  /** A valid session: the current one, or a fresh one (one auth request at a time). */
  async get(): Promise<Session> {
    const s = this.session;
    if (s && (!s.expiresAt || s.expiresAt - Date.now() > 60_000)) return s;
    if (!this.pending) {
      this.pending = this.authenticate().then(
        (fresh) => {
          this.session = fresh;
          this.pending = undefined;
          return fresh;
        },
        (err) => {
          this.pending = undefined;
          throw err;
        },
      );
    }
    return this.pending;
  }

  /** Drop `stale` (the backend said 401 to it), unless someone already replaced it. */
  forget(stale: Session): void {
    if (this.session === stale) this.session = undefined;
  }

  private async authenticate(): Promise<Session> {
    const { authUrl, username, password } = this.cfg;
    if (!authUrl || username === undefined || password === undefined) {
      throw new StorageUnavailableError('swift: token rejected and no credentials (authUrl, username, password) to get another');
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    if (this.authVersion === 1) return authenticateV1(this.cfg, authUrl, username, password, signal);
    return authenticateV3(this.cfg, authUrl, username, password, signal);
  }
}

async function authenticateV1(c: SwiftConfig, authUrl: string, username: string, password: string, signal: AbortSignal): Promise<Session> {
  const res = await fetch(authUrl, {
    headers: { 'X-Auth-User': username, 'X-Auth-Key': password },
    signal,
  });
  await res.arrayBuffer();
  if (res.status >= 300) throw new BackendHttpError(`swift auth v1 at ${authUrl} answered ${res.status}`, res.status);
  const token = res.headers.get('x-auth-token');
  const storageUrl = c.storageUrl ?? res.headers.get('x-storage-url');
  if (!token || !storageUrl) throw new StorageUnavailableError(`swift auth v1 at ${authUrl}: no X-Auth-Token/X-Storage-Url`);
  const ttl = Number(res.headers.get('x-auth-token-expires'));
  return {
    token,
    storageUrl: stripSlash(storageUrl),
    expiresAt: Number.isFinite(ttl) && ttl > 0 ? Date.now() + ttl * 1000 : undefined,
  };
}

async function authenticateV3(c: SwiftConfig, authUrl: string, username: string, password: string, signal: AbortSignal): Promise<Session> {
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

function stripSlash(u: string): string {
  return u.replace(/\/+$/, '');
}
