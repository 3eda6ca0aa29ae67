// The configuration in force, laid out as the YAML file is (defaults filled
// in, durations in seconds), with every secret replaced by REDACTED: what
// `wharf check-config` prints.
import type { Config, StorageConfig } from './config.js';
import { showDriverKeys } from './storage.js';

export const REDACTED = '<redacted>';

const secret = (v: string | undefined) => (v === undefined ? undefined : REDACTED);
const seconds = (ms: number) => ms / 1000;

/** Drop undefined values, so the output shows only what is set. */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** A URL with any password in it replaced. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'REDACTED';
    return u.href;
  } catch {
    return url;
  }
}

function storage(s: StorageConfig): Record<string, unknown> {
  const common = { expiration: s.expiration, redirect: s.redirect, timeout: seconds(s.timeoutMs) };
  return compact({ driver: s.driver, ...showDriverKeys(s, secret), ...common });
}

export function effectiveConfig(c: Config): { registry: Record<string, unknown> } {
  const ns = c.namespaces;
  return {
    registry: compact({
      address: c.address,
      port: c.port,
      'public-url': c.publicUrl,
      'tls-cert': c.tlsCert,
      'tls-key': c.tlsKey,
      admin: c.ops.admin,
      'trusted-proxies': c.ops.trustedProxies.map((p) => `${p.address}/${p.prefix}`),
      'read-only': c.ops.readOnly,
      delete: c.deleteEnabled,
      'log-level': c.logLevel,
      'access-log': c.ops.accessLog,
      metrics: c.ops.metrics,
      'drain-delay': seconds(c.ops.drainDelayMs),
      'shutdown-timeout': seconds(c.ops.shutdownTimeoutMs),
      'readiness-timeout': seconds(c.ops.readinessTimeoutMs),
      secret: secret(c.secret),
      'token-key': c.auth.tokenKey,
      'token-expiry': c.auth.tokenExpirySeconds,
      'refresh-token-expiry': c.auth.refreshTokenExpirySeconds,
      service: c.auth.service,
      'anonymous-read': c.anonymousRead,
      users: c.users.map((u) =>
        compact({
          name: u.name,
          pass: REDACTED,
          access: u.access,
          groups: u.groups.length ? u.groups : undefined,
          admin: u.admin || undefined,
        }),
      ),
      access: c.auth.rules.map((r) =>
        compact({
          namespace: r.namespace,
          repository: r.repository,
          users: r.users.length ? r.users : undefined,
          groups: r.groups.length ? r.groups : undefined,
          actions: r.actions,
        }),
      ),
      'login-throttle': { 'max-failures': c.auth.maxFailures, window: c.auth.windowSeconds },
      storage: storage(c.storage),
      namespaces: compact({
        default: ns.default,
        hosts: ns.hosts,
        names: ns.known,
        dynamic: ns.dynamic,
        mirrors: Object.fromEntries(
          Object.entries(ns.mirrors ?? {}).map(([name, m]) => [
            name,
            compact({
              upstream: m.upstream,
              username: m.username,
              password: secret(m.password),
              'tag-ttl': seconds(m.tagTtlMs),
              timeout: seconds(m.timeoutMs),
            }),
          ]),
        ),
      }),
      buildsets: c.buildsets && {
        'max-namespaces': c.buildsets.maxNamespaces,
        'max-bytes': c.buildsets.maxBytes,
        'max-ttl': c.buildsets.maxTtlSeconds,
        hosts: c.buildsets.hostSuffixes.map((s) => `*${s}`),
        'path-prefix': c.buildsets.pathPrefix,
        parents: c.buildsets.parents,
        'credential-cost': c.buildsets.credentialCost,
      },
      ui: { enabled: c.ui.enabled, 'usage-max-age': c.ui.usageMaxAgeSeconds },
      limits: {
        'manifest-max-bytes': c.limits.manifestMaxBytes,
        'headers-timeout': seconds(c.limits.headersTimeoutMs),
        'idle-timeout': seconds(c.limits.idleTimeoutMs),
        'max-header-bytes': c.limits.maxHeaderBytes,
      },
      prune: compact({
        interval: c.prune.intervalSeconds,
        grace: c.prune.graceSeconds,
        'upload-age': c.prune.uploadAgeSeconds,
        retention: c.prune.retention.map((r) =>
          compact({
            namespace: r.namespace,
            repository: r.repository,
            'keep-last': r.keepLast,
            'keep-tags': r.keepTags,
            'delete-untagged-after': r.deleteUntaggedAfter,
          }),
        ),
      }),
      notifications: {
        endpoints: c.notifications.endpoints.map((e) => ({
          name: e.name,
          url: safeUrl(e.url),
          headers: Object.fromEntries(Object.keys(e.headers).map((k) => [k, REDACTED])),
          timeout: seconds(e.timeoutMs),
          retries: e.retries,
          backoff: seconds(e.backoffMs),
          'queue-size': e.queueSize,
          actions: e.actions,
          'media-types': e.mediaTypes,
          'ignored-media-types': e.ignoredMediaTypes,
        })),
      },
    }),
  };
}
