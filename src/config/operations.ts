// The keys that run Wharf in production: the admin listener, trusted proxies,
// read-only mode, the access log and metrics switches, the SIGTERM lifecycle
// and the readiness check. (Webhook endpoints: notifications.ts.)
//
//   admin: {address: 127.0.0.1, port: 5001}   # /healthz, /readyz, /metrics only there
//   trusted-proxies: [10.0.0.0/8, "::1"]       # peers whose X-Forwarded-For / Forwarded is believed
//   read-only: false                           # refuse every write (storage migrations)
//   access-log: true                           # one JSON line per request at info level
//   metrics: true                              # Prometheus text at /metrics
//   drain-delay: 0                             # s after SIGTERM before new connections stop
//   shutdown-timeout: 30                       # s requests in flight then get before the exit
//   readiness-timeout: 2                       # s the storage check of /readyz may take
import { isIP } from 'node:net';
import type { Reader } from './reader.js';

export interface AdminListener {
  address: string;
  port: number;
}

/** One `trusted-proxies` entry: an address block. */
export interface Cidr {
  /** Address as written (IPv4 dotted quad or IPv6). */
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export interface OperationsConfig {
  admin?: AdminListener;
  trustedProxies: Cidr[];
  readOnly: boolean;
  accessLog: boolean;
  metrics: boolean;
  /** After SIGTERM: readiness is 503 at once; new connections stop after this long (ms). */
  drainDelayMs: number;
  /** Then requests in flight get at most this long before the process exits (ms). */
  shutdownTimeoutMs: number;
  /** Longest the storage check behind /readyz may take (ms). */
  readinessTimeoutMs: number;
}

export const OPERATIONS_KEYS = [
  'admin',
  'trusted-proxies',
  'read-only',
  'access-log',
  'metrics',
  'drain-delay',
  'shutdown-timeout',
  'readiness-timeout',
] as const;

/** "10.0.0.0/8", "2001:db8::/32" or a bare address (a block of one). */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = (slash === -1 ? text : text.slice(0, slash)).trim();
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return null;
    prefix = Number(p);
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function readOperations(r: Reader): OperationsConfig {
  let admin: AdminListener | undefined;
  if (r.keys().includes('admin')) {
    const a = r.child('admin');
    a.only(['address', 'port']);
    admin = { address: a.string('address', '127.0.0.1'), port: a.integer('port', 5001, 0, 65535) };
  }
  const trustedProxies = r.stringList('trusted-proxies').map((text) => {
    const c = parseCidr(text);
    if (!c) r.fail('trusted-proxies', `${JSON.stringify(text)} is not an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8, 127.0.0.1)`);
    return c;
  });
  return {
    admin,
    trustedProxies,
    readOnly: r.boolean('read-only', false),
    accessLog: r.boolean('access-log', true),
    metrics: r.boolean('metrics', true),
    drainDelayMs: r.seconds('drain-delay', 0, 0, 3600),
    shutdownTimeoutMs: r.seconds('shutdown-timeout', 30, 0, 86400),
    readinessTimeoutMs: r.seconds('readiness-timeout', 2, 0.05, 60),
  };
}
