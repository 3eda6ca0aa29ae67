// The one typed, validated configuration object. The YAML file is laid out
// like zuul-registry's (top-level `registry:`), environment variables
// override file values, and any problem stops the start with one line that
// names the key.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { NamespaceRules } from '../registry/namespaces.js';
import { readMirrors } from './mirrors.js';
import { ConfigError, Reader } from './reader.js';
import { readPrune, type PruneConfig } from './prune.js';
import { readUi, type UiConfig } from './ui.js';
import { OPERATIONS_KEYS, readOperations, type OperationsConfig } from './operations.js';
import { readNotifications, type NotificationsConfig } from './notifications.js';
import { readStorage, type StorageConfig } from './storage.js';
import { readBuildsets, type BuildsetsConfig } from './buildsets.js';

export { ConfigError } from './reader.js';
export type { FilesystemStorage, MemoryStorage, S3Storage, StorageConfig, SwiftStorage } from './storage.js';

/** A user's rights everywhere (zuul-registry): read = pull, write = pull+push+delete, none = only what `access` rules grant. */
export type Access = 'read' | 'write' | 'none';
export interface UserConfig {
  name: string;
  /** Plain text (warned about at start), a bcrypt hash ($2a$/$2b$/$2y$) or an argon2 hash ($argon2id$...). */
  pass: string;
  access: Access;
  groups: string[];
  /** May use the admin API (/admin/v1/: buildset namespaces). */
  admin: boolean;
}

export type Action = 'pull' | 'push' | 'delete';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/** `access:` rule: who may do what on the repositories matching the globs (`*` matches any characters, `/` included). */
export interface AccessRule {
  namespace: string;
  repository: string;
  users: string[];
  groups: string[];
  actions: Action[];
}

export interface AuthSettings {
  /** Lifetime of an access token (s). */
  tokenExpirySeconds: number;
  /** Lifetime of a refresh token (OAuth2 `access_type=offline`, s). */
  refreshTokenExpirySeconds: number;
  /** PEM private key (RSA or EC) that signs tokens (RS256/ES256) instead of the HMAC `secret`. */
  tokenKey?: string;
  /** `service` of the challenge, audience and issuer of the tokens. */
  service: string;
  rules: AccessRule[];
  /** Failed logins per user+address before 429, within `windowSeconds`. */
  maxFailures: number;
  windowSeconds: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Limits {
  /** Largest manifest accepted (bytes). */
  manifestMaxBytes: number;
  /** Time to receive a request's headers (ms): slow clients cannot hold sockets. */
  headersTimeoutMs: number;
  /** A socket with no traffic for this long is closed (ms). */
  idleTimeoutMs: number;
  /** Largest request header section (bytes). */
  maxHeaderBytes: number;
}

export interface Config {
  address: string;
  port: number;
  publicUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  secret?: string;
  users: UserConfig[];
  anonymousRead: boolean;
  auth: AuthSettings;
  storage: StorageConfig;
  namespaces: NamespaceRules;
  limits: Limits;
  /** Whether DELETE of manifests, tags and blobs is allowed. */
  deleteEnabled: boolean;
  logLevel: LogLevel;
  /** `registry.prune`: prune settings and the schedule inside serve. */
  prune: PruneConfig;
  /** `registry.ui`: the web UI at /ui/ and its JSON endpoints under /v2/_wharf/. */
  ui: UiConfig;
  /** Admin listener, trusted proxies, read-only mode, access log, metrics, lifecycle (operations.ts). */
  ops: OperationsConfig;
  /** `registry.notifications`: webhook endpoints for registry events. */
  notifications: NotificationsConfig;
  /** `registry.buildsets`: namespaces created at run time through the admin API (absent: no admin API). */
  buildsets?: BuildsetsConfig;
}

export const ENV_PREFIX = 'WHARF_';

/**
 * Apply WHARF_* environment variables to the raw `registry:` mapping:
 * WHARF_PORT -> port, WHARF_PUBLIC_URL -> public-url, WHARF_STORAGE__ROOT ->
 * storage.root (double underscore descends; single underscore is '-').
 * Values are read as YAML scalars, so numbers and booleans work.
 */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, knownKeys: readonly string[]): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    // Only variables naming a known top-level key are configuration; others
    // (WHARF_CONFIG, WHARF_HASH_ENGINE, a test's own variables) are not.
    const top = name.slice(ENV_PREFIX.length).split('__')[0]!.toLowerCase().replaceAll('_', '-');
    if (!knownKeys.includes(top)) continue;
    const path = name
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((p) => p.toLowerCase().replaceAll('_', '-'));
    let node: Record<string, unknown> = raw;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(value);
    } catch {
      parsed = value;
    }
    node[path[path.length - 1]!] = parsed ?? value;
  }
}

/** zuul-registry's `%(VAR)` substitution in string values. */
function substituteEnv(v: unknown, env: NodeJS.ProcessEnv, where: string): unknown {
  if (typeof v === 'string') {
    return v.replace(/%\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_m, name: string) => {
      const value = env[name];
      if (value === undefined) throw new ConfigError(where, `environment variable ${name} is not set`);
      return value;
    });
  }
  if (Array.isArray(v)) return v.map((x, i) => substituteEnv(x, env, `${where}[${i}]`));
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substituteEnv(x, env, `${where}.${k}`)]));
  }
  return v;
}

function readUsers(r: Reader): UserConfig[] {
  const seen = new Set<string>();
  return r.list('users').map((u, i) => {
    u.only(['name', 'pass', 'access', 'groups', 'admin']);
    const name = u.string('name');
    // Basic auth splits "user:pass" at the first colon; '*' means "any user" in rules.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
    if (name.includes(':') || name === '*' || /[\s\x00-\x1f]/.test(name))
      u.fail('name', 'must not contain ":", spaces or control characters, nor be "*"');
    // Buildset namespaces' generated users are "<namespace>@buildset".
    if (name.endsWith('@buildset')) u.fail('name', 'must not end with "@buildset" (the names of buildset credentials)');
    if (seen.has(name)) r.fail(`users[${i}].name`, `duplicate user "${name}"`);
    seen.add(name);
    return {
      name,
      pass: u.string('pass'),
      access: u.enumeration('access', ['read', 'write', 'none'] as const, 'read'),
      groups: u.stringList('groups'),
      admin: u.boolean('admin', false),
    };
  });
}

function readAccessRules(r: Reader, users: UserConfig[]): AccessRule[] {
  const names = new Set(users.map((u) => u.name));
  const groups = new Set(users.flatMap((u) => u.groups));
  return r.list('access').map((a) => {
    a.only(['namespace', 'repository', 'users', 'groups', 'actions']);
    const rule: AccessRule = {
      namespace: a.string('namespace', '*'),
      repository: a.string('repository', '*'),
      users: a.stringList('users'),
      groups: a.stringList('groups'),
      actions: a.stringList('actions').map((x) => x.toLowerCase()) as Action[],
    };
    if (rule.users.length === 0 && rule.groups.length === 0) a.fail('users', 'a rule needs users or groups ("*" = any authenticated user)');
    for (const n of rule.users) if (n !== '*' && !names.has(n)) a.fail('users', `unknown user "${n}"`);
    for (const g of rule.groups) if (!groups.has(g)) a.fail('groups', `no user is in group "${g}"`);
    if (rule.actions.length === 0) a.fail('actions', `must list some of ${ACTIONS.join(', ')}`);
    for (const x of rule.actions)
      if (!ACTIONS.includes(x) && (x as string) !== '*') a.fail('actions', `unknown action "${x}" (known: ${ACTIONS.join(', ')}, *)`);
    if ((rule.actions as string[]).includes('*')) rule.actions = [...ACTIONS];
    return rule;
  });
}

function readAuth(r: Reader, users: UserConfig[], publicUrl: string | undefined): AuthSettings {
  const t = r.child('login-throttle');
  t.only(['max-failures', 'window']);
  return {
    tokenExpirySeconds: r.integer('token-expiry', 300, 10, 86400),
    refreshTokenExpirySeconds: r.integer('refresh-token-expiry', 7 * 86400, 60, 365 * 86400),
    tokenKey: r.optionalString('token-key'),
    service: r.string('service', publicUrl ? new URL(publicUrl).host : 'wharf'),
    rules: readAccessRules(r, users),
    maxFailures: t.integer('max-failures', 5, 1, 1000),
    windowSeconds: t.integer('window', 300, 1, 86400),
  };
}

function readNamespaces(r: Reader): NamespaceRules {
  r.only(['default', 'hosts', 'names', 'dynamic', 'mirrors']);
  const nsPattern = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$/;
  const def = r.string('default', 'default');
  if (!nsPattern.test(def)) r.fail('default', 'must be a namespace name (lower-case letters, digits, dots, dashes)');
  const hosts = r.stringMap('hosts');
  for (const [host, ns] of Object.entries(hosts)) {
    if (!nsPattern.test(ns)) r.fail(`hosts.${host}`, 'must be a namespace name');
  }
  const known = r.stringList('names');
  for (const ns of known) if (!nsPattern.test(ns)) r.fail('names', `"${ns}" is not a valid namespace name`);
  const mirrors = readMirrors(r);
  return {
    default: def,
    hosts: Object.fromEntries(Object.entries(hosts).map(([h, ns]) => [h.toLowerCase(), ns])),
    known: [...new Set([def, ...known, ...Object.values(hosts), ...Object.keys(mirrors)])],
    dynamic: r.boolean('dynamic', true),
    mirrors,
  };
}

function readLimits(r: Reader): Limits {
  r.only(['manifest-max-bytes', 'headers-timeout', 'idle-timeout', 'max-header-bytes']);
  return {
    manifestMaxBytes: r.integer('manifest-max-bytes', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    headersTimeoutMs: r.integer('headers-timeout', 30, 1, 3600) * 1000,
    idleTimeoutMs: r.integer('idle-timeout', 120, 1, 86400) * 1000,
    maxHeaderBytes: r.integer('max-header-bytes', 16384, 1024, 1024 * 1024),
  };
}

/** Build the Config from a parsed YAML document (or null for all defaults). */
export function configFromObject(doc: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
    throw new ConfigError('(top level)', 'must be a mapping with a `registry:` key');
  }
  const top = (doc ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'registry') throw new ConfigError(k, 'unknown key (expected only `registry:`)');
  const rawRegistry = top.registry ?? {};
  if (typeof rawRegistry !== 'object' || rawRegistry === null || Array.isArray(rawRegistry)) {
    throw new ConfigError('registry', 'must be a mapping');
  }
  const registry = substituteEnv(structuredClone(rawRegistry), env, 'registry') as Record<string, unknown>;
  const keys = [
    'address',
    'port',
    'public-url',
    'tls-cert',
    'tls-key',
    'secret',
    'users',
    'anonymous-read',
    'storage',
    'namespaces',
    'limits',
    'delete',
    'log-level',
    'prune',
    'ui',
    'token-expiry',
    'refresh-token-expiry',
    'token-key',
    'service',
    'access',
    'login-throttle',
    'notifications',
    'buildsets',
    ...OPERATIONS_KEYS,
  ];
  applyEnv(registry, env, keys);
  const r = new Reader(registry, 'registry');
  r.only(keys);
  const publicUrl = r.optionalString('public-url');
  if (publicUrl !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(publicUrl);
    } catch {
      /* reported below */
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) r.fail('public-url', 'must be an http(s) URL');
  }
  const tlsCert = r.optionalString('tls-cert');
  const tlsKey = r.optionalString('tls-key');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    r.fail(tlsCert === undefined ? 'tls-cert' : 'tls-key', 'tls-cert and tls-key must be set together');
  }
  const users = readUsers(r);
  const namespaces = readNamespaces(r.child('namespaces'));
  const buildsets = readBuildsets(r, registry.buildsets, namespaces.known);
  if (buildsets) {
    if (!users.some((u) => u.admin)) r.fail('buildsets', 'needs a user with `admin: true` (the admin API is never anonymous)');
    if (Object.hasOwn(namespaces.mirrors ?? {}, buildsets.pathPrefix))
      r.fail('buildsets.path-prefix', `"${buildsets.pathPrefix}" is a mirror namespace`);
  }
  return {
    address: r.string('address', '127.0.0.1'),
    port: r.integer('port', 5000, 0, 65535),
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    tlsCert,
    tlsKey,
    secret: r.optionalString('secret'),
    users,
    anonymousRead: r.boolean('anonymous-read', false),
    auth: readAuth(r, users, publicUrl),
    storage: readStorage(r.child('storage')),
    namespaces,
    limits: readLimits(r.child('limits')),
    deleteEnabled: r.boolean('delete', true),
    logLevel: r.enumeration('log-level', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    prune: readPrune(r.child('prune')),
    ui: readUi(r, registry.ui),
    ops: readOperations(r),
    notifications: readNotifications(r.child('notifications')),
    buildsets,
  };
}

/** Load the config file (or defaults when `path` is undefined). Throws ConfigError. */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  if (path === undefined) return configFromObject(null, env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    throw new ConfigError(path, `not valid YAML: ${msg}`);
  }
  return configFromObject(doc, env);
}
