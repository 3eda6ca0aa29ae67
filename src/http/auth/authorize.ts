// The check in front of every API route: who is calling (anonymous, Basic
// credentials, or a bearer token), what the route needs (GET/HEAD -> pull,
// POST/PATCH/PUT -> push, DELETE -> delete; the catalog needs
// registry:catalog:*), and whether the caller has it. Answers 401 with a
// Bearer challenge (so clients fetch a token for the scope), 403 when the
// caller is known and lacks the right, 429 when logins are throttled.
import type { IncomingMessage } from 'node:http';
import type { Action } from '../../config/config.js';
import { HttpError } from '../errors.js';
import type { Route } from '../router.js';
import type { Subject } from './access.js';
import { ANONYMOUS } from './access.js';
import { authScheme, parseBasic, parseBearer } from './basic.js';
import { bearerChallenge, realmFor, type ChallengeOptions } from './challenge.js';
import { namesBuildset, type AuthCore } from './core.js';
import { formatScope } from './scopes.js';
import { TokenError, type AccessToken } from './tokens.js';
import { clientAddress, noteUser } from '../request-info.js';

export type Need = { kind: 'login' } | { kind: 'catalog' } | { kind: 'repository'; repo: string; action: Action };

/** What a route needs, by method. Unknown routes need nothing (they are 404 anyway). */
export function needFor(route: Route, method: string): Need | null {
  const m = method === 'HEAD' ? 'GET' : method;
  switch (route.kind) {
    case 'base':
      return { kind: 'login' };
    case 'catalog':
      return { kind: 'catalog' };
    case 'uploads':
    case 'upload':
      // Every upload operation (status, chunk, finish, cancel) is part of a push.
      return { kind: 'repository', repo: route.repo, action: 'push' };
    case 'tags':
    case 'referrers':
    case 'manifest':
    case 'blob':
      return {
        kind: 'repository',
        repo: route.repo,
        action: m === 'GET' ? 'pull' : m === 'DELETE' ? 'delete' : 'push',
      };
    case 'unknown':
      return null;
  }
}

export interface Caller {
  via: 'anonymous' | 'basic' | 'token';
  subject: Subject;
  token?: AccessToken;
}

/** What a handler may ask after the check (the catalog filters with it). */
export interface Authorization {
  caller: Caller;
  canPull(repo: string): boolean;
  /**
   * May the caller do `action` on `repo` (by its token, or by the rules when
   * it holds a token: a client asks for a token with that scope first)? The
   * web UI offers an action only when this says yes.
   */
  may(repo: string, action: Action): boolean;
  /** May the caller pull anything in namespace `ns` by the rules (the web UI's list of namespaces)? */
  mayBrowse(ns: string): boolean;
}

function challengeScope(need: Need): string | undefined {
  if (need.kind === 'catalog') return 'registry:catalog:*';
  if (need.kind === 'repository') {
    // As Distribution does: a push also asks for pull (clients HEAD before they push).
    const actions = need.action === 'push' ? ['pull', 'push'] : [need.action];
    return formatScope({ type: 'repository', name: need.repo, actions });
  }
  return undefined;
}

export class Authorizer {
  constructor(private readonly core: AuthCore) {}

  private challenge(req: IncomingMessage, ns: string, need: Need | null, error?: ChallengeOptions['error']) {
    return bearerChallenge({
      realm: realmFor(this.core.config, req, ns),
      service: this.core.tokens.service,
      scope: need ? challengeScope(need) : undefined,
      error,
    });
  }

  private unauthorized(req: IncomingMessage, ns: string, need: Need | null, message: string, error?: ChallengeOptions['error']) {
    const scope = need ? challengeScope(need) : undefined;
    return new HttpError('UNAUTHORIZED', message, scope ? { scope } : undefined, {
      headers: { 'WWW-Authenticate': this.challenge(req, ns, need, error) },
    });
  }

  /** Who is calling: anonymous, a Basic-authenticated user, or a token holder. Throws 401/429. */
  async identify(req: IncomingMessage, ns: string, need: Need | null): Promise<Caller> {
    const header = req.headers.authorization;
    if (header === undefined) return { via: 'anonymous', subject: ANONYMOUS };
    const scheme = authScheme(header);
    if (scheme === 'basic') {
      const creds = parseBasic(header);
      if (!creds) throw this.unauthorized(req, ns, need, 'malformed Basic credentials');
      const address = clientAddress(req);
      const r = await this.core.users.login(creds.user, creds.pass, address);
      if (!r.ok) {
        if (r.reason === 'throttled') {
          this.core.observer?.throttled();
          throw new HttpError('TOOMANYREQUESTS', 'too many failed logins; retry later', undefined, {
            headers: { 'Retry-After': String(r.retryAfterSeconds) },
          });
        }
        this.core.observer?.failedLogin();
        this.core.log.info('failed login', { user: creds.user.slice(0, 100), address });
        throw this.unauthorized(req, ns, need, 'invalid username or password');
      }
      return { via: 'basic', subject: this.core.policy.subject(r.user.name) };
    }
    if (scheme === 'bearer') {
      const raw = parseBearer(header);
      if (!raw) throw this.unauthorized(req, ns, need, 'malformed bearer token', 'invalid_token');
      let token: AccessToken;
      try {
        token = await this.core.tokens.verifyAccess(raw);
      } catch (err) {
        if (err instanceof TokenError) throw this.unauthorized(req, ns, need, err.message, 'invalid_token');
        throw err;
      }
      if (token.ns !== ns) throw this.unauthorized(req, ns, need, 'token is for another namespace', 'invalid_token');
      if (token.sub !== '' && !this.core.policy.isUser(token.sub)) {
        throw this.unauthorized(req, ns, need, 'token subject is no longer a user', 'invalid_token');
      }
      return { via: 'token', subject: this.core.policy.subject(token.sub === '' ? null : token.sub), token };
    }
    throw this.unauthorized(req, ns, need, 'unsupported authorization scheme');
  }

  /** Does the caller hold `action` on `repo` right now (by its token, or by the rules)? */
  private holds(c: Caller, ns: string, repo: string, action: Action): boolean {
    if (c.token) {
      return c.token.access.some(
        (a) => a.type === 'repository' && a.name === repo && (a.actions.includes(action) || a.actions.includes('*')),
      );
    }
    return this.core.policy.can(c.subject, ns, repo, action);
  }

  private holdsCatalog(c: Caller): boolean {
    if (c.token) return c.token.access.some((a) => a.type === 'registry' && a.name === 'catalog' && a.actions.includes('*'));
    return this.core.policy.canCatalog(c.subject);
  }

  /**
   * Check the request; returns what the handler may use. `url` may be
   * changed: a cross-repository mount whose source the caller may not pull
   * (or a mount without `from`) is turned into an ordinary upload.
   */
  async authorize(req: IncomingMessage, url: URL, ns: string, route: Route, method: string): Promise<Authorization> {
    const need = needFor(route, method);
    const caller = await this.identify(req, ns, need);
    noteUser(req, caller.subject.name);
    if (
      caller.subject.name === null &&
      need &&
      this.core.policy.anonymousRead &&
      (await namesBuildset(this.core, ns, need.kind === 'repository' ? need.repo : null))
    ) {
      // A buildset namespace is one CI run's private registry: `anonymous-read` does not reach it.
      throw this.unauthorized(req, ns, need, 'authentication required');
    }
    const allowedByRules = (repo: string, action: Action) => this.core.policy.can(caller.subject, ns, repo, action);
    const deny = (message: string, detail: Record<string, string>): never => {
      // Anonymous callers (with or without an anonymous token), and tokens that
      // lack a scope the rules would grant, are sent for a (new) token.
      if (caller.subject.name === null) throw this.unauthorized(req, ns, need, 'authentication required');
      if (caller.via === 'token' && detail.ruleAllows === 'yes') {
        throw this.unauthorized(req, ns, need, 'token does not grant this access', 'insufficient_scope');
      }
      const { ruleAllows: _omit, ...shown } = detail;
      throw new HttpError('DENIED', message, shown);
    };
    if (need?.kind === 'login') {
      if (caller.via === 'anonymous') throw this.unauthorized(req, ns, need, 'authentication required');
    } else if (need?.kind === 'catalog') {
      if (!this.holdsCatalog(caller)) {
        deny('catalog access denied', { ruleAllows: this.core.policy.canCatalog(caller.subject) ? 'yes' : 'no' });
      }
    } else if (need?.kind === 'repository') {
      if (!this.holds(caller, ns, need.repo, need.action)) {
        deny(`requested access to the resource is denied`, {
          repository: need.repo,
          action: need.action,
          ruleAllows: allowedByRules(need.repo, need.action) ? 'yes' : 'no',
        });
      }
      if (route.kind === 'uploads' && url.searchParams.has('mount')) {
        const from = url.searchParams.get('from');
        // Mount needs pull on the source; without `from` the source is unknown, so no mount at all.
        if (from === null || !this.holds(caller, ns, from, 'pull')) {
          url.searchParams.delete('mount');
          url.searchParams.delete('from');
        }
      }
    }
    const may = (repo: string, action: Action) =>
      this.holds(caller, ns, repo, action) || (caller.token !== undefined && allowedByRules(repo, action));
    return {
      caller,
      canPull: (repo) => may(repo, 'pull'),
      may,
      mayBrowse: (other) => this.core.policy.mayPullIn(caller.subject, other),
    };
  }
}
