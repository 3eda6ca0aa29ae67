// The 401 challenge that sends Docker/OCI clients to the token endpoint:
// WWW-Authenticate: Bearer realm="<public-url>/auth/token",service="...",scope="..."
import type { IncomingMessage } from 'node:http';
import type { Config } from '../../config/config.js';
import { resolveNamespace } from '../../registry/namespaces.js';

export const TOKEN_PATH = '/auth/token';

function quoted(v: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it strips
  return `"${v.replace(/[\\"]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, '')}"`;
}

/**
 * The token endpoint's URL: `public-url` when configured, otherwise the
 * address the client used. When that address would select another namespace
 * than the request's, `ns=` is added so the token is for the right one.
 */
export function realmFor(config: Config, req: IncomingMessage, ns: string): string {
  let base = config.publicUrl;
  if (base === undefined) {
    const host = req.headers.host;
    const tls = config.tlsCert !== undefined;
    const safeHost =
      host !== undefined && /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/.test(host)
        ? host
        : `${config.address.includes(':') ? `[${config.address}]` : config.address}:${req.socket.localPort ?? config.port}`;
    base = `${tls ? 'https' : 'http'}://${safeHost}`;
  }
  const realm = new URL(`${base}${TOKEN_PATH}`);
  if (resolveNamespace(config.namespaces, realm.host, null) !== ns) realm.searchParams.set('ns', ns);
  return realm.toString();
}

export interface ChallengeOptions {
  realm: string;
  service: string;
  scope?: string;
  /** RFC 6750 error: invalid_token (expired/forged), insufficient_scope. */
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request';
}

export function bearerChallenge(o: ChallengeOptions): string {
  const parts = [`realm=${quoted(o.realm)}`, `service=${quoted(o.service)}`];
  if (o.scope) parts.push(`scope=${quoted(o.scope)}`);
  if (o.error) parts.push(`error=${quoted(o.error)}`);
  return `Bearer ${parts.join(',')}`;
}
