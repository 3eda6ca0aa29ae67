// The operations keys of the configuration: defaults, validation with the
// key named, environment overrides, the redacted view `wharf check-config`
// prints, and what a SIGHUP reload applies.
//   npm run build && node --test dist/test/unit/ops-config.test.js
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ConfigError, configFromObject } from '../../src/config/config.js';
import { effectiveConfig, REDACTED } from '../../src/config/effective.js';
import { reloadedConfig, restartKeys } from '../../src/cli/reload.js';

const cfg = (registry: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => configFromObject({ registry }, env);

function fails(registry: Record<string, unknown>, key: RegExp, problem?: RegExp): void {
  assert.throws(
    () => cfg(registry),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.key, key);
      if (problem) assert.match(err.message, problem);
      return true;
    },
  );
}

describe('operations configuration', () => {
  it('defaults: no admin listener, no trusted proxies, writable, access log and metrics on, drain 0 s, shutdown 30 s', () => {
    const c = cfg({});
    assert.deepEqual(c.ops, {
      admin: undefined,
      trustedProxies: [],
      readOnly: false,
      accessLog: true,
      metrics: true,
      drainDelayMs: 0,
      shutdownTimeoutMs: 30_000,
      readinessTimeoutMs: 2000,
    });
    assert.deepEqual(c.notifications, { endpoints: [] });
  });

  it('durations take seconds or Distribution-style strings', () => {
    const c = cfg({ 'drain-delay': '500ms', 'shutdown-timeout': 2.5, 'readiness-timeout': '1s' });
    assert.equal(c.ops.drainDelayMs, 500);
    assert.equal(c.ops.shutdownTimeoutMs, 2500);
    assert.equal(c.ops.readinessTimeoutMs, 1000);
    assert.equal(cfg({ 'shutdown-timeout': '2m' }).ops.shutdownTimeoutMs, 120_000);
    fails({ 'drain-delay': '5 parsecs' }, /^registry\.drain-delay$/, /duration/);
    fails({ 'shutdown-timeout': -1 }, /^registry\.shutdown-timeout$/);
  });

  it('admin listener, trusted proxies, read-only', () => {
    const c = cfg({ admin: { port: 0 }, 'trusted-proxies': ['10.0.0.0/8', '::1'], 'read-only': true });
    assert.deepEqual(c.ops.admin, { address: '127.0.0.1', port: 0 });
    assert.deepEqual(
      c.ops.trustedProxies.map((p) => `${p.address}/${p.prefix}`),
      ['10.0.0.0/8', '::1/128'],
    );
    assert.equal(c.ops.readOnly, true);
    fails({ 'trusted-proxies': ['10.0.0.0/40'] }, /^registry\.trusted-proxies$/, /CIDR/);
    fails({ 'trusted-proxies': '10.0.0.0/8' }, /^registry\.trusted-proxies$/, /list/);
    fails({ admin: { port: 70000 } }, /^registry\.admin\.port$/);
    fails({ admin: { host: 'x' } }, /^registry\.admin\.host$/, /unknown key/);
  });

  it('environment overrides reach the new keys (WHARF_READ_ONLY, WHARF_ACCESS_LOG, WHARF_ADMIN__PORT)', () => {
    const c = cfg({}, { WHARF_READ_ONLY: 'true', WHARF_ACCESS_LOG: 'false', WHARF_ADMIN__PORT: '9100' });
    assert.equal(c.ops.readOnly, true);
    assert.equal(c.ops.accessLog, false);
    assert.deepEqual(c.ops.admin, { address: '127.0.0.1', port: 9100 });
  });

  it('webhook endpoints: defaults, header values as string or list, filters; errors name the key', () => {
    const c = cfg({
      notifications: {
        endpoints: [
          { name: 'ci', url: 'http://127.0.0.1:1/hook', headers: { Authorization: 'Bearer t', 'X-Two': ['a', 'b'] } },
          {
            url: 'https://example.test/h',
            actions: ['pull', 'push'],
            'media-types': ['application/vnd.oci.image.manifest.v1+json'],
            backoff: '250ms',
          },
          { name: 'off', url: 'http://127.0.0.1:1/', disabled: true },
        ],
      },
    });
    const [a, b] = c.notifications.endpoints;
    assert.equal(c.notifications.endpoints.length, 2, 'disabled endpoints are left out');
    assert.deepEqual(a!.headers, { Authorization: ['Bearer t'], 'X-Two': ['a', 'b'] });
    assert.deepEqual(a!.actions, ['push', 'mount', 'delete'], 'pulls and mirror fills are opt-in');
    assert.equal(a!.timeoutMs, 5000);
    assert.equal(a!.retries, 5);
    assert.equal(a!.queueSize, 1000);
    assert.equal(b!.name, 'endpoint-2');
    assert.deepEqual(b!.actions, ['pull', 'push']);
    assert.equal(b!.backoffMs, 250);
    const e = (endpoint: Record<string, unknown>) => ({ notifications: { endpoints: [{ url: 'http://h/', ...endpoint }] } });
    fails(e({ url: 'ftp://h/' }), /endpoints\[0\]\.url$/, /http/);
    fails(e({ actions: ['push', 'explode'] }), /endpoints\[0\]\.actions$/, /explode/);
    fails(e({ headers: { 'Bad Header': 'x' } }), /headers\.Bad Header$/);
    fails(e({ headers: { X: 'a\r\nInjected: 1' } }), /headers\.X$/, /line breaks/);
    fails(e({ 'queue-size': 0 }), /queue-size$/);
    fails(e({ name: 'has space' }), /\.name$/);
    fails(
      {
        notifications: {
          endpoints: [
            { name: 'x', url: 'http://a/' },
            { name: 'x', url: 'http://b/' },
          ],
        },
      },
      /endpoints\[1\]\.name$/,
      /duplicate/,
    );
    fails({ notifications: { hooks: [] } }, /^registry\.notifications\.hooks$/);
  });
});

describe('the configuration check-config prints', () => {
  it('shows defaults and every secret as <redacted>, never the secret itself', () => {
    const secrets = ['s3cr3t-signing', 'pw-of-ci', 'swift-pw', 'temp-url-k3y', 'mirror-pw', 'Bearer hook-t0ken'];
    const c = cfg({
      secret: secrets[0],
      users: [{ name: 'ci', pass: secrets[1], access: 'write' }],
      storage: {
        driver: 'swift',
        'auth-url': 'http://127.0.0.1:1/auth/v1.0',
        username: 'u',
        password: secrets[2],
        container: 'c',
        'temp-url-key': secrets[3],
      },
      namespaces: { mirrors: { 'docker.io': { upstream: 'https://registry-1.docker.io', username: 'bot', password: secrets[4] } } },
      notifications: { endpoints: [{ name: 'ci', url: 'http://user:urlpass@127.0.0.1:1/h', headers: { Authorization: secrets[5] } }] },
    });
    const text = stringify(effectiveConfig(c));
    for (const s of [...secrets, 'urlpass']) assert.ok(!text.includes(s), `${s} leaked:\n${text}`);
    const r = effectiveConfig(c).registry as any;
    assert.equal(r.secret, REDACTED);
    assert.equal(r.users[0].pass, REDACTED);
    assert.equal(r.storage.password, REDACTED);
    assert.equal(r.storage['temp-url-key'], REDACTED);
    assert.equal(r.namespaces.mirrors['docker.io'].password, REDACTED);
    assert.equal(r.notifications.endpoints[0].headers.Authorization, REDACTED);
    assert.equal(r['shutdown-timeout'], 30);
    assert.equal(r.storage.timeout, 30);
  });

  it('the printed configuration reads back as the same configuration (secrets aside)', () => {
    const c = cfg({
      port: 5005,
      'trusted-proxies': ['10.0.0.0/8'],
      'drain-delay': '1500ms',
      notifications: { endpoints: [{ url: 'http://h/' }] },
    });
    const again = configFromObject(effectiveConfig(c), {});
    assert.deepEqual(again.ops, c.ops);
    assert.deepEqual(again.notifications, c.notifications);
    assert.equal(again.port, 5005);
  });

  it('shows buildsets, the admin role and the UI, and reads them back the same', () => {
    const c = cfg({
      users: [{ name: 'root', pass: 'pw', access: 'write', admin: true }],
      namespaces: { names: ['intermediate'] },
      buildsets: { 'max-bytes': 4096, hosts: ['*.bs.example.com'], parents: ['intermediate'], 'path-prefix': 'b' },
      ui: { 'usage-max-age': 60 },
    });
    const r = effectiveConfig(c).registry as any;
    assert.equal(r.users[0].admin, true);
    assert.deepEqual(r.buildsets.hosts, ['*.bs.example.com']);
    assert.equal(r.buildsets['max-bytes'], 4096);
    assert.deepEqual(r.ui, { enabled: true, 'usage-max-age': 60 });
    const again = configFromObject(effectiveConfig(c), {});
    assert.deepEqual(again.buildsets, c.buildsets);
    assert.deepEqual(again.ui, c.ui);
    assert.equal(again.users[0]?.admin, true);
    assert.equal(effectiveConfig(cfg({})).registry.buildsets, undefined);
  });
});

describe('SIGHUP reload', () => {
  it('applies users, rules, webhooks, read-only, access log and log level; storage and listeners only at restart', () => {
    const before = cfg({ users: [{ name: 'a', pass: 'x' }], port: 5000, storage: { driver: 'memory' } });
    const next = cfg({
      users: [{ name: 'b', pass: 'y' }],
      port: 6000,
      storage: { driver: 'filesystem', root: '/tmp/x' },
      'read-only': true,
      'access-log': false,
      'log-level': 'warn',
      'drain-delay': 3,
      notifications: { endpoints: [{ url: 'http://h/' }] },
    });
    const merged = reloadedConfig(before, next);
    assert.deepEqual(
      merged.users.map((u) => u.name),
      ['b'],
    );
    assert.equal(merged.ops.readOnly, true);
    assert.equal(merged.ops.accessLog, false);
    assert.equal(merged.logLevel, 'warn');
    assert.equal(merged.notifications.endpoints.length, 1);
    assert.equal(merged.port, 5000, 'the listener stays');
    assert.equal(merged.storage.driver, 'memory', 'the store stays');
    assert.equal(merged.ops.drainDelayMs, 0);
    assert.deepEqual(restartKeys(before, next).sort(), ['drain-delay', 'port', 'storage']);
    assert.deepEqual(restartKeys(before, before), []);
  });
});
