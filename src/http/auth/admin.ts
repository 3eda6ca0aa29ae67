// The admin role: who may call the admin API (/admin/v1/, admin-api.ts). A
// configured user with `admin: true`, by HTTP Basic credentials (throttled
// like every login). Never anonymous: no credentials get 401 with a Basic
// challenge, wrong ones 401, a user without the role (a buildset's own
// credential included) 403 DENIED.
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors.js';
import { clientAddress, noteUser } from '../request-info.js';
import { authScheme, parseBasic } from './basic.js';
import type { AuthCore } from './core.js';

const CHALLENGE = 'Basic realm="wharf admin", charset="UTF-8"';

function unauthorized(message: string): HttpError {
  return new HttpError('UNAUTHORIZED', message, undefined, { headers: { 'WWW-Authenticate': CHALLENGE } });
}

/** The admin user's name; throws 401/403/429 otherwise. */
export async function requireAdmin(core: AuthCore, req: IncomingMessage): Promise<string> {
  const header = req.headers.authorization;
  if (header === undefined) throw unauthorized('the admin API needs the credentials of a user with the admin role');
  if (authScheme(header) !== 'basic') throw unauthorized('the admin API takes Basic credentials');
  const creds = parseBasic(header);
  if (!creds) throw unauthorized('malformed Basic credentials');
  const address = clientAddress(req);
  const r = await core.users.login(creds.user, creds.pass, address);
  if (!r.ok) {
    if (r.reason === 'throttled') {
      core.observer?.throttled();
      throw new HttpError('TOOMANYREQUESTS', 'too many failed logins; retry later', undefined, {
        headers: { 'Retry-After': String(r.retryAfterSeconds) },
      });
    }
    core.observer?.failedLogin();
    core.log.info('failed login', { user: creds.user.slice(0, 100), address, api: 'admin' });
    throw unauthorized('invalid username or password');
  }
  noteUser(req, r.user.name);
  if (!r.user.admin) throw new HttpError('DENIED', 'the admin API needs the admin role (`admin: true` on the user)', { user: r.user.name });
  return r.user.name;
}
