// The token endpoint (Docker token authentication):
//   GET  /auth/token?service=..&scope=..[&offline_token=true]   Basic auth, or none for an anonymous token
//   POST /auth/token  (OAuth2 form) grant_type=password (username, password[, access_type=offline])
//                                   grant_type=refresh_token (refresh_token)
// The token grants the requested scopes as far as the caller may have them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../errors.js';
import { readSmallBody } from '../headers.js';
import { ANONYMOUS, type Subject } from './access.js';
import { authScheme, parseBasic } from './basic.js';
import { grant, namesBuildset, type AuthCore } from './core.js';
import { parseScopes } from './scopes.js';
import { TokenError } from './tokens.js';
import { clientAddress, noteUser } from '../request-info.js';

const MAX_FORM_BYTES = 64 * 1024;

export interface TokenRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  ns: string;
}

function unauthorized(message: string): HttpError {
  // No Basic challenge here: a browser prompt is not wanted, the clients know the flow.
  return new HttpError('UNAUTHORIZED', message);
}

/**
 * A malformed token request. The token endpoint follows OAuth 2.0 (RFC 6749
 * §5.2), where a request the server cannot use is a 400 — not the registry
 * API's 405 for UNSUPPORTED — so this is the one place that overrides it.
 */
function badTokenRequest(message: string): HttpError {
  return new HttpError('UNSUPPORTED', message, undefined, { status: 400 });
}

function throttled(retryAfterSeconds: number): HttpError {
  return new HttpError('TOOMANYREQUESTS', 'too many failed logins; retry later', undefined, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

async function login(core: AuthCore, t: TokenRequest, user: string, pass: string): Promise<Subject & { pass: string }> {
  const address = clientAddress(t.req);
  const r = await core.users.login(user, pass, address);
  if (r.ok) {
    noteUser(t.req, r.user.name);
    return { ...core.policy.subject(r.user.name), pass: r.user.pass };
  }
  if (r.reason === 'throttled') {
    core.observer?.throttled();
    throw throttled(r.retryAfterSeconds);
  }
  core.observer?.failedLogin();
  core.log.info('failed login', { user: user.slice(0, 100), address });
  throw unauthorized('invalid username or password');
}

function reply(t: TokenRequest, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  t.res.statusCode = 200;
  t.res.setHeader('Content-Type', 'application/json; charset=utf-8');
  t.res.setHeader('Cache-Control', 'no-store');
  t.res.setHeader('Pragma', 'no-cache');
  t.res.setHeader('Content-Length', Buffer.byteLength(text));
  t.res.end(text);
}

async function issue(core: AuthCore, t: TokenRequest, who: Subject & { pass?: string }, scopes: string[], offline: boolean) {
  let requested = parseScopes(scopes);
  if (who.name === null && core.policy.anonymousRead) {
    // `anonymous-read` does not reach buildset namespaces (authorize.ts): an anonymous token leaves
    // their scopes out, as it does any scope the caller may not have.
    const reachable = await Promise.all(
      requested.map(async (r) => !(await namesBuildset(core, t.ns, r.type === 'repository' ? r.name : null))),
    );
    requested = requested.filter((_, i) => reachable[i]);
  }
  const access = grant(core, who, t.ns, requested);
  const issued = await core.tokens.issueAccess(who.name ?? '', t.ns, access);
  const body: Record<string, unknown> = {
    token: issued.token,
    access_token: issued.token,
    expires_in: issued.expiresIn,
    issued_at: issued.issuedAt,
    scope: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' '),
  };
  if (offline && who.name !== null && who.pass !== undefined) {
    body.refresh_token = await core.tokens.issueRefresh(who.name, core.tokens.passwordFingerprint(who.pass));
  }
  reply(t, body);
}

export async function handleTokenRequest(core: AuthCore, t: TokenRequest): Promise<void> {
  const method = t.req.method ?? 'GET';
  if (method === 'GET') {
    t.req.resume();
    const q = t.url.searchParams;
    const header = t.req.headers.authorization;
    let who: Subject & { pass?: string } = ANONYMOUS;
    if (header !== undefined) {
      if (authScheme(header) !== 'basic') throw unauthorized('the token endpoint takes Basic credentials');
      const creds = parseBasic(header);
      if (!creds) throw unauthorized('malformed Basic credentials');
      who = await login(core, t, creds.user, creds.pass);
    }
    await issue(core, t, who, q.getAll('scope'), q.get('offline_token') === 'true');
    return;
  }
  if (method === 'POST') {
    const type = (t.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      t.req.resume();
      throw badTokenRequest('expected an application/x-www-form-urlencoded body');
    }
    const raw = await readSmallBody(t.req, MAX_FORM_BYTES, () => new HttpError('TOO_LARGE', 'form too large'));
    const form = new URLSearchParams(raw.toString('utf8'));
    const scopes = form.getAll('scope');
    switch (form.get('grant_type')) {
      case 'password': {
        const user = form.get('username');
        const pass = form.get('password');
        if (!user || pass === null) throw badTokenRequest('username and password are required');
        const who = await login(core, t, user, pass);
        await issue(core, t, who, scopes, form.get('access_type') === 'offline');
        return;
      }
      case 'refresh_token': {
        const token = form.get('refresh_token');
        if (!token) throw badTokenRequest('refresh_token is required');
        let sub: string;
        try {
          const r = await core.tokens.verifyRefresh(token);
          const user = core.users.get(r.sub);
          // A removed user, or a changed password, ends the refresh token.
          if (!user || core.tokens.passwordFingerprint(user.pass) !== r.pwf) throw new TokenError('refresh token revoked');
          sub = user.name;
          noteUser(t.req, sub);
        } catch (err) {
          if (err instanceof TokenError) throw unauthorized(err.message);
          throw err;
        }
        const user = core.users.get(sub)!;
        // The same refresh token is returned: it stays valid until it expires.
        const who = { ...core.policy.subject(sub), pass: user.pass };
        const access = grant(core, who, t.ns, parseScopes(scopes));
        const issued = await core.tokens.issueAccess(sub, t.ns, access);
        reply(t, {
          token: issued.token,
          access_token: issued.token,
          expires_in: issued.expiresIn,
          issued_at: issued.issuedAt,
          scope: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' '),
          refresh_token: token,
        });
        return;
      }
      default:
        throw badTokenRequest('grant_type must be password or refresh_token');
    }
  }
  throw new HttpError('UNSUPPORTED', 'method not allowed for this endpoint', undefined, { headers: { Allow: 'GET, POST' } });
}
