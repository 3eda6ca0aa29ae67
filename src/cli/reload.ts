// SIGHUP: read the configuration file again and apply what can change while
// running — users, access rules and the other auth settings, webhook
// endpoints, TLS certificate and key, read-only mode, the access log switch
// and the log level. Everything is checked first; an invalid file (or users,
// keys or certificate that do not load) changes nothing and is logged.
// Other changed keys (storage, listeners, namespaces, ...) are named in the
// log: they take a restart.
import { createSecureContext } from 'node:tls';
import { readFileSync } from 'node:fs';
import { loadConfig, type Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { Runtime } from '../http/runtime.js';
import type { WharfServer } from '../http/server.js';

/** Keys a reload does not apply, and how to read each from a Config. */
const RESTART_KEYS: [string, (c: Config) => unknown][] = [
  ['address', (c) => c.address],
  ['port', (c) => c.port],
  ['public-url', (c) => c.publicUrl],
  ['storage', (c) => c.storage],
  ['namespaces', (c) => c.namespaces],
  ['limits', (c) => c.limits],
  ['delete', (c) => c.deleteEnabled],
  ['prune', (c) => c.prune],
  ['buildsets', (c) => c.buildsets],
  ['admin', (c) => c.ops.admin],
  ['trusted-proxies', (c) => c.ops.trustedProxies],
  ['metrics', (c) => c.ops.metrics],
  ['drain-delay', (c) => c.ops.drainDelayMs],
  ['shutdown-timeout', (c) => c.ops.shutdownTimeoutMs],
  ['readiness-timeout', (c) => c.ops.readinessTimeoutMs],
  ['tls (on/off)', (c) => c.tlsCert !== undefined],
];

/** The running configuration with the reloadable parts of `next`. */
export function reloadedConfig(current: Config, next: Config): Config {
  const tls = current.tlsCert !== undefined && next.tlsCert !== undefined;
  return {
    ...current,
    users: next.users,
    anonymousRead: next.anonymousRead,
    auth: next.auth,
    secret: next.secret,
    tlsCert: tls ? next.tlsCert : current.tlsCert,
    tlsKey: tls ? next.tlsKey : current.tlsKey,
    notifications: next.notifications,
    logLevel: next.logLevel,
    ops: { ...current.ops, readOnly: next.ops.readOnly, accessLog: next.ops.accessLog },
  };
}

export function restartKeys(current: Config, next: Config): string[] {
  return RESTART_KEYS.filter(([, get]) => JSON.stringify(get(current)) !== JSON.stringify(get(next))).map(([k]) => k);
}

export async function reload(
  path: string | undefined,
  rt: Runtime,
  server: WharfServer,
  log: Logger,
  metrics: Metrics | undefined,
): Promise<boolean> {
  const current = rt.config;
  let merged: Config;
  let parts;
  try {
    const next = loadConfig(path);
    merged = reloadedConfig(current, next);
    if (merged.tlsCert !== undefined) {
      // Check the pair loads before anything changes.
      try {
        createSecureContext({ cert: readFileSync(merged.tlsCert), key: readFileSync(merged.tlsKey!) });
      } catch (err) {
        throw new Error(`TLS reload failed; keeping the old certificate: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    parts = await Runtime.reloadable(merged, log, metrics, rt.buildsets);
    const restart = restartKeys(current, next);
    if (merged.tlsCert !== undefined) log.info('TLS certificate reloaded', { cert: merged.tlsCert });
    server.reloadTls(merged);
    rt.replace(parts);
    log.setLevel(merged.logLevel);
    log.info('configuration reloaded', {
      file: path,
      users: merged.users.length,
      accessRules: merged.auth.rules.length,
      webhooks: merged.notifications.endpoints.map((e) => e.name),
      readOnly: merged.ops.readOnly,
      accessLog: merged.ops.accessLog,
      logLevel: merged.logLevel,
      tls: merged.tlsCert !== undefined,
      ...(restart.length > 0 ? { needRestart: restart } : {}),
    });
    if (restart.length > 0) log.warn('changed settings that only a restart applies', { keys: restart });
    return true;
  } catch (err) {
    log.error('configuration reload failed; the old configuration stays in force', {
      file: path,
      error: err instanceof Error ? err.message : String(err),
    });
    return false;
  }
}
