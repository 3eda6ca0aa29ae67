// Access control for the HTTP layer. With no users configured the registry is
// open (every caller may do everything); otherwise every route is checked
// before its handler (authorize.ts) and /auth/token issues tokens.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import { HttpError } from '../errors.js';
import type { Route } from '../router.js';
import { Authorizer, type Authorization } from './authorize.js';
import { createAuthCore, type AuthObserver } from './core.js';
import { handleTokenRequest } from './token-endpoint.js';
import { requireAdmin } from './admin.js';
import type { BuildsetDirectory } from '../../registry/buildsets/directory.js';

export { TOKEN_PATH } from './challenge.js';
export type { Authorization } from './authorize.js';
export type { AuthObserver } from './core.js';

export interface Auth {
  /** False when no users are configured: no checks at all. */
  readonly enabled: boolean;
  /** Check a request before its handler; throws an HttpError (401/403/429) when refused. */
  authorize(req: IncomingMessage, url: URL, ns: string, route: Route, method: string): Promise<Authorization | undefined>;
  /** Serve GET/POST /auth/token. */
  token(req: IncomingMessage, res: ServerResponse, url: URL, ns: string): Promise<void>;
  /** The admin API's check (auth/admin.ts): the admin user's name, or throws 401/403/429. */
  admin(req: IncomingMessage): Promise<string>;
}

export async function createAuth(config: Config, log: Logger, observer?: AuthObserver, buildsets?: BuildsetDirectory): Promise<Auth> {
  if (config.users.length === 0) {
    if (config.auth.rules.length > 0) log.warn('`access` rules are ignored: no users are configured, the registry is open');
    return {
      enabled: false,
      authorize: async () => undefined,
      token: async (req) => {
        req.resume();
        throw new HttpError('NOT_FOUND', 'authentication is not enabled on this registry (no users configured)');
      },
      admin: async () => {
        throw new HttpError('DENIED', 'the admin API needs a configured user with `admin: true`');
      },
    };
  }
  const core = await createAuthCore(config, log, observer, buildsets);
  const authorizer = new Authorizer(core);
  log.info('authentication enabled', {
    users: config.users.length,
    rules: config.auth.rules.length,
    anonymousRead: config.anonymousRead,
    tokenAlgorithm: core.tokens.algorithm,
  });
  return {
    enabled: true,
    authorize: (req, url, ns, route, method) => authorizer.authorize(req, url, ns, route, method),
    token: (req, res, url, ns) => handleTokenRequest(core, { req, res, url, ns }),
    admin: (req) => requireAdmin(core, req),
  };
}
