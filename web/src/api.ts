// Talking to Wharf: the UI's JSON endpoints (/v2/_wharf/...) and the OCI API,
// with Wharf's own token endpoint for logins.
//
// Logging in posts the password once (OAuth2 password grant with
// access_type=offline) and keeps only the refresh token, in sessionStorage
// (this tab, until it closes); access tokens, one per namespace and scope,
// live in memory. Nothing is put in a cookie. Anonymous visitors send no
// credentials at all and see what anonymous pulls may see.

export interface ErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

import { REFRESH_KEY, USER_KEY } from './session-keys.js';
import { paths, withNs, type EarlyAnswers } from './urls.js';
// The server's own types (a type-only module: nothing of it goes into the bundle).
import type { ManifestDescription, TagRow } from '../../src/registry/described.js';

export type { Blob, TagRow } from '../../src/registry/described.js';

interface Token {
  token: string;
  expires: number;
}

type Listener = () => void;

function readStore(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStore(key: string, value: string | null): void {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    /* storage unavailable: the login lasts until the page is reloaded */
  }
}

async function errorOf(r: Response): Promise<ApiError> {
  let code = 'UNKNOWN';
  let message = `${r.status} ${r.statusText}`;
  try {
    const body = (await r.json()) as { errors?: ErrorBody[] };
    const e = body.errors?.[0];
    if (e && typeof e.code === 'string') {
      code = e.code;
      message = typeof e.message === 'string' ? e.message : message;
    }
  } catch {
    /* not an OCI error body */
  }
  const after = Number(r.headers.get('Retry-After'));
  return new ApiError(r.status, code, message, Number.isFinite(after) && after > 0 ? after : undefined);
}

function earlyAnswers(): EarlyAnswers | undefined {
  return (window as unknown as { wharfEarly?: EarlyAnswers }).wharfEarly;
}

/**
 * The answer to a request the boot script (boot.ts) started for `url`, taken
 * once; undefined when it started none.
 */
function takeEarly(url: string): Promise<Response> | undefined {
  const early = earlyAnswers();
  const e = early?.[url];
  if (e) delete early[url];
  return e?.response;
}

/** The body of a 200 the boot script already has for `url`, taken once (then no request is made). */
function takeEarlyBody(url: string): unknown {
  const early = earlyAnswers();
  const e = early?.[url];
  if (!e || e.body === undefined) return undefined;
  delete early[url];
  return e.body;
}

export class Session {
  private refreshToken: string | null = readStore(REFRESH_KEY);
  private memoryUser: string | null = readStore(USER_KEY);
  private readonly tokens = new Map<string, Token>();
  private readonly listeners = new Set<Listener>();
  /** The token service name (the `service` of Wharf's challenges). */
  service = '';

  get user(): string | null {
    return this.refreshToken ? this.memoryUser : null;
  }

  onChange(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private async tokenRequest(
    ns: string,
    form: Record<string, string>,
  ): Promise<{ token: string; expires_in?: number; refresh_token?: string }> {
    const body = new URLSearchParams(form);
    if (this.service) body.set('service', this.service);
    const r = await fetch(withNs('/auth/token', ns), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
      credentials: 'omit',
      cache: 'no-store',
    });
    if (!r.ok) throw await errorOf(r);
    return (await r.json()) as { token: string; expires_in?: number; refresh_token?: string };
  }

  /** Log in with a user name and password (in namespace `ns`, '' for this address's; the refresh token works in every namespace). */
  async login(ns: string, username: string, password: string): Promise<void> {
    const t = await this.tokenRequest(ns, {
      grant_type: 'password',
      username,
      password,
      access_type: 'offline',
      scope: 'registry:catalog:*',
    });
    if (!t.refresh_token) throw new ApiError(500, 'UNKNOWN', 'the token endpoint returned no refresh token');
    this.tokens.clear();
    this.refreshToken = t.refresh_token;
    this.memoryUser = username;
    writeStore(REFRESH_KEY, t.refresh_token);
    writeStore(USER_KEY, username);
    this.remember(ns, 'registry:catalog:*', t);
    this.changed();
  }

  logout(): void {
    this.tokens.clear();
    this.refreshToken = null;
    this.memoryUser = null;
    writeStore(REFRESH_KEY, null);
    writeStore(USER_KEY, null);
    this.changed();
  }

  private remember(ns: string, scope: string, t: { token: string; expires_in?: number }): string {
    // Renewed 10 s before it expires.
    this.tokens.set(`${ns} ${scope}`, { token: t.token, expires: Date.now() + ((t.expires_in ?? 60) - 10) * 1000 });
    return t.token;
  }

  /** An access token for `scope` in `ns`, or null when not logged in. */
  private async token(ns: string, scope: string): Promise<string | null> {
    if (!this.refreshToken) return null;
    const held = this.tokens.get(`${ns} ${scope}`);
    if (held && held.expires > Date.now()) return held.token;
    try {
      const t = await this.tokenRequest(ns, { grant_type: 'refresh_token', refresh_token: this.refreshToken, scope });
      return this.remember(ns, scope, t);
    } catch (err) {
      // The refresh token expired, or the user's password changed: log out.
      if (err instanceof ApiError && err.status === 401) this.logout();
      throw err;
    }
  }

  /** A request to Wharf with the token `scope` needs; throws ApiError for any error answer. */
  async request(method: string, path: string, ns: string, scope: string): Promise<Response> {
    const url = withNs(path, ns);
    const send = async () => {
      const token = await this.token(ns, scope);
      return fetch(url, {
        method,
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        credentials: 'omit',
        cache: 'no-store',
      });
    };
    // Started by the boot script with no credentials: the same request, when not logged in.
    const early = method === 'GET' && !this.refreshToken ? takeEarly(url) : undefined;
    let r = early ? await early.catch(send) : await send();
    if (r.status === 401 && this.refreshToken) {
      // The token may have just expired: once more with a new one.
      this.tokens.delete(`${ns} ${scope}`);
      r = await send();
    }
    if (!r.ok) {
      const challenge = r.headers.get('WWW-Authenticate');
      const service = challenge && /service="([^"]*)"/.exec(challenge);
      if (service) this.service = service[1]!;
      throw await errorOf(r);
    }
    return r;
  }

  /** An answer already here for a GET of `path` (from the boot script), when not logged in; taken once. */
  ready<T>(path: string, ns: string): T | undefined {
    return this.refreshToken ? undefined : (takeEarlyBody(withNs(path, ns)) as T | undefined);
  }

  async json<T>(path: string, ns: string, scope: string): Promise<T> {
    const r = await this.request('GET', path, ns, scope);
    return (await r.json()) as T;
  }
}

export const session = new Session();

const q = encodeURIComponent;
const pull = (repo: string) => `repository:${repo}:pull`;
const CATALOG = 'registry:catalog:*';

// ---------------------------------------------------------------------------
// The shapes of the UI endpoints (src/http/ui/api.ts).

export interface UsageHeader {
  computedAt: number;
  tookMs: number;
  stored: { blobs: number; bytes: number };
  referencedBytes: number;
  unreferencedBytes: number;
  repositories: number;
}

export interface NamespaceInfo {
  name: string;
  default: boolean;
  hosts: string[];
  mirror?: { upstream: string };
  /** A buildset namespace (created through the admin API), listed until it expires or is deleted. */
  buildset?: { expiresAt: string };
  usage: UsageHeader | null;
  computing: boolean;
}

export interface NamespacesAnswer {
  current: string;
  session: { authEnabled: boolean; user: string | null; anonymousRead: boolean; deleteEnabled: boolean; service: string };
  namespaces: NamespaceInfo[];
}

export interface RepoUsage {
  unique: number;
  shared: number;
  blobs: number;
}

export interface RepositoriesAnswer {
  namespace: string;
  repositories: Array<{ name: string; usage?: RepoUsage }>;
  next?: string;
  usage: UsageHeader | null;
  computing: boolean;
}

export interface RepositoryAnswer {
  name: string;
  namespace: string;
  mirror?: { upstream: string };
  usage: RepoUsage | null;
  usageAsOf: number | null;
  computing: boolean;
  actions: { pull: boolean; push: boolean; delete: boolean };
}

export interface TagsAnswer {
  name: string;
  namespace: string;
  sort: 'name' | 'pushed';
  tags: TagRow[];
  next?: string;
}

/** What /v2/_wharf/manifest answers: the server's description of the manifest, and where it is. */
export interface ManifestAnswer extends ManifestDescription {
  name: string;
  namespace: string;
}

export const api = {
  namespaces: (ns: string) => session.json<NamespacesAnswer>(paths.namespaces(), ns, CATALOG),
  repositories: (ns: string, o: { prefix?: string; after?: string; n?: number }) =>
    session.json<RepositoriesAnswer>(paths.repositories(o), ns, CATALOG),
  /** The first screen's answers when the boot script already has them (else undefined: load them). */
  ready: {
    namespaces: (ns: string) => session.ready<NamespacesAnswer>(paths.namespaces(), ns),
    repositories: (ns: string, o: { prefix?: string; after?: string; n?: number }) =>
      session.ready<RepositoriesAnswer>(paths.repositories(o), ns),
  },
  repository: (ns: string, repo: string) => session.json<RepositoryAnswer>(`/v2/_wharf/repository?name=${q(repo)}`, ns, pull(repo)),
  tags: (ns: string, repo: string, o: { sort: 'name' | 'pushed'; after?: string; n?: number }) =>
    session.json<TagsAnswer>(
      `/v2/_wharf/tags?name=${q(repo)}&sort=${o.sort}&n=${o.n ?? 50}${o.after ? `&after=${q(o.after)}` : ''}`,
      ns,
      pull(repo),
    ),
  manifest: (ns: string, repo: string, reference: string) =>
    session.json<ManifestAnswer>(`/v2/_wharf/manifest?name=${q(repo)}&reference=${q(reference)}`, ns, pull(repo)),
  /** DELETE /v2/<repo>/manifests/<reference>: a tag (only the tag goes) or a digest (the manifest and its tags go). */
  deleteManifest: async (ns: string, repo: string, reference: string) => {
    await session.request('DELETE', `/v2/${repo}/manifests/${q(reference)}`, ns, `repository:${repo}:delete`);
  },
};
