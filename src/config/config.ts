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

export { ConfigError } from './reader.js';

export type Access = 'read' | 'write';
export interface UserConfig {
  name: string;
  pass: string;
  access: Access;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface FilesystemStorage {
  driver: 'filesystem';
  root: string;
}
export interface MemoryStorage {
  driver: 'memory';
}
export interface SwiftStorage {
  driver: 'swift';
  authUrl?: string;
  username?: string;
  password?: string;
  container: string;
  authVersion?: string;
  projectName?: string;
  projectDomainName?: string;
  userDomainName?: string;
  region?: string;
  cloud?: string;
  tempUrlKey?: string;
}
export interface S3Storage {
  driver: 's3';
  endpoint?: string;
  region: string;
  bucket: string;
  accessKey?: string;
  secretKey?: string;
  forcePathStyle: boolean;
}
export type StorageConfig = (FilesystemStorage | MemoryStorage | SwiftStorage | S3Storage) & {
  /** Seconds after which a pushed manifest expires (prune removes it); unset = never. */
  expiration?: number;
  /** Answer blob GETs with a redirect to a time-limited store URL (Swift/S3). */
  redirect: boolean;
  /** Timeout of one backend call, ms. */
  timeoutMs: number;
};

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
  storage: StorageConfig;
  namespaces: NamespaceRules;
  limits: Limits;
  /** Whether DELETE of manifests, tags and blobs is allowed. */
  deleteEnabled: boolean;
  logLevel: LogLevel;
  /** `registry.prune`: prune settings and the schedule inside serve. */
  prune: PruneConfig;
}

export const ENV_PREFIX = 'WHARF_';

/**
 * Apply WHARF_* environment variables to the raw `registry:` mapping:
 * WHARF_PORT -> port, WHARF_PUBLIC_URL -> public-url, WHARF_STORAGE__ROOT ->
 * storage.root (double underscore descends; single underscore is '-').
 * Values are read as YAML scalars, so numbers and booleans work.
 */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined || name === 'WHARF_CONFIG') continue;
    if (name.startsWith('WHARF_HASH_')) continue; // engine selection, not configuration
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

function readStorage(r: Reader): StorageConfig {
  const driver = r.enumeration('driver', ['filesystem', 'memory', 'swift', 's3'] as const, 'filesystem');
  const common = {
    expiration: r.optionalInteger('expiration', 1),
    redirect: r.boolean('redirect', false),
    timeoutMs: r.integer('timeout', 30, 1, 3600) * 1000,
  };
  switch (driver) {
    case 'filesystem':
      r.only(['driver', 'root', 'expiration', 'redirect', 'timeout']);
      return { driver, root: r.string('root', './data'), ...common };
    case 'memory':
      r.only(['driver', 'expiration', 'redirect', 'timeout']);
      return { driver, ...common };
    case 'swift': {
      r.only([
        'driver', 'auth-url', 'username', 'password', 'container', 'auth-version', 'project-name',
        'project-domain-name', 'user-domain-name', 'region', 'cloud', 'temp-url-key', 'expiration', 'redirect', 'timeout',
      ]);
      const cloud = r.optionalString('cloud');
      const s: SwiftStorage = {
        driver,
        cloud,
        authUrl: cloud ? r.optionalString('auth-url') : r.string('auth-url'),
        username: cloud ? r.optionalString('username') : r.string('username'),
        password: cloud ? r.optionalString('password') : r.string('password'),
        container: r.string('container'),
        authVersion: r.optionalString('auth-version'),
        projectName: r.optionalString('project-name'),
        projectDomainName: r.optionalString('project-domain-name'),
        userDomainName: r.optionalString('user-domain-name'),
        region: r.optionalString('region'),
        tempUrlKey: r.optionalString('temp-url-key'),
      };
      return { ...s, ...common };
    }
    case 's3': {
      r.only([
        'driver', 'endpoint', 'region', 'bucket', 'access-key', 'secret-key', 'force-path-style', 'expiration', 'redirect', 'timeout',
      ]);
      const s: S3Storage = {
        driver,
        endpoint: r.optionalString('endpoint'),
        region: r.string('region', 'us-east-1'),
        bucket: r.string('bucket'),
        accessKey: r.optionalString('access-key'),
        secretKey: r.optionalString('secret-key'),
        forcePathStyle: r.boolean('force-path-style', false),
      };
      return { ...s, ...common };
    }
  }
}

function readUsers(r: Reader): UserConfig[] {
  return r.list('users').map((u) => {
    u.only(['name', 'pass', 'access']);
    return {
      name: u.string('name'),
      pass: u.string('pass'),
      access: u.enumeration('access', ['read', 'write'] as const, 'read'),
    };
  });
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
  applyEnv(registry, env);
  const r = new Reader(registry, 'registry');
  r.only([
    'address', 'port', 'public-url', 'tls-cert', 'tls-key', 'secret', 'users', 'anonymous-read', 'storage',
    'namespaces', 'limits', 'delete', 'log-level', 'prune',
  ]);
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
  return {
    address: r.string('address', '127.0.0.1'),
    port: r.integer('port', 5000, 0, 65535),
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    tlsCert,
    tlsKey,
    secret: r.optionalString('secret'),
    users: readUsers(r),
    anonymousRead: r.boolean('anonymous-read', false),
    storage: readStorage(r.child('storage')),
    namespaces: readNamespaces(r.child('namespaces')),
    limits: readLimits(r.child('limits')),
    deleteEnabled: r.boolean('delete', true),
    logLevel: r.enumeration('log-level', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    prune: readPrune(r.child('prune')),
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
