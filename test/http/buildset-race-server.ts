// What the buildset race tests share (buildset-reap-race, buildset-end-races): a real
// server on a hookable driver with buildsets, an admin and prune grace 0, and the
// requests and latches they hold prune and handlers with.
import { configFromObject } from '../../src/config/config.js';
import { startServer, type WharfServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { basic } from '../helpers/auth.js';

export const ADMIN = basic('admin', 'admin-password-1234');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A promise and the function that resolves it. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A server over `driver` (static namespaces, buildsets on, prune grace 0) for the length of `fn`. */
export async function withServer(driver: StorageDriver, fn: (server: WharfServer) => Promise<void>): Promise<void> {
  const config = configFromObject({
    registry: {
      address: '127.0.0.1',
      port: 0,
      'log-level': 'error',
      storage: { driver: 'memory' },
      users: [{ name: 'admin', pass: 'admin-password-1234', access: 'write', admin: true }],
      namespaces: { dynamic: false },
      buildsets: { 'max-namespaces': 10, 'max-ttl': 7200, 'credential-cost': 4 },
      prune: { grace: 0 },
    },
  });
  const server = await startServer(config, driver, createLogger('error'));
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** One request with `auth`, a JSON body when given; the status and the whole answer. */
export async function call(server: WharfServer, method: string, path: string, auth: string, body?: unknown) {
  const r = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}
