// registry.namespaces.mirrors: namespaces that mirror an upstream registry
// (src/registry/mirror/). Each entry is validated here, naming the key.
import { MIRROR_DEFAULTS, type MirrorSettings } from '../registry/mirror/settings.js';
import type { Reader } from './reader.js';

const NAMESPACE_RE = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$/;

function readMirror(r: Reader): MirrorSettings {
  r.only(['upstream', 'username', 'password', 'tag-ttl', 'timeout']);
  const upstream = r.string('upstream');
  let u: URL | undefined;
  try {
    u = new URL(upstream);
  } catch {
    /* reported below */
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:'))
    r.fail('upstream', `must be an http(s) URL (got ${JSON.stringify(upstream)})`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    r.fail('upstream', 'must be the registry origin only, e.g. https://registry-1.docker.io (no path, query or credentials)');
  }
  const username = r.optionalString('username');
  const password = r.optionalString('password');
  if ((username === undefined) !== (password === undefined)) {
    r.fail(username === undefined ? 'username' : 'password', 'username and password must be set together');
  }
  return {
    upstream: u.origin,
    username,
    password,
    tagTtlMs: r.integer('tag-ttl', MIRROR_DEFAULTS.tagTtlSeconds, 0, 365 * 86400) * 1000,
    timeoutMs: r.integer('timeout', MIRROR_DEFAULTS.timeoutSeconds, 1, 600) * 1000,
  };
}

/** `mirrors:` of `registry.namespaces`: namespace name -> mirror settings. */
export function readMirrors(namespaces: Reader): Record<string, MirrorSettings> {
  const r = namespaces.child('mirrors');
  const out: Record<string, MirrorSettings> = {};
  for (const name of r.keys()) {
    if (!NAMESPACE_RE.test(name))
      r.fail(name, 'a mirror name must be a namespace name (lower-case letters, digits, dots, dashes, optional :port)');
    out[name] = readMirror(r.child(name));
  }
  return out;
}
