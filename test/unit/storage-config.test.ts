// Storage configuration passthrough: every Swift and S3 key a user writes in
// the YAML file (docs/object-stores.md)
// reaches the driver through config.ts -> cli/open-storage.ts, with the
// validation errors an operator should see at start instead of at the first
// request. No server is needed: the drivers are only constructed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openStorage } from '../../src/cli/open-storage.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import type { SwiftDriver } from '../../src/storage/swift.js';
import { swiftParts } from '../helpers/swift-driver.js';

const tmp = mkdtempSync(join(tmpdir(), 'wharf-storage-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function yamlFile(text: string): string {
  const p = join(tmp, `wharf-${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

/** The driver's effective settings (private field `cfg` of both drivers). */
function cfgOf(d: StorageDriver): Record<string, unknown> {
  return (d as unknown as { cfg: Record<string, unknown> }).cfg;
}

async function open(text: string, env: NodeJS.ProcessEnv = {}): Promise<StorageDriver> {
  const config = loadConfig(yamlFile(text), env);
  return openStorage(config.storage);
}

function configError(text: string, key: RegExp): void {
  assert.throws(
    () => loadConfig(yamlFile(text), {}),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
      assert.match(err.key, key);
      return true;
    },
  );
}

describe('swift storage config', () => {
  it('auth v1: every key reaches the driver', async () => {
    const d = await open(`
registry:
  storage:
    driver: swift
    auth-url: http://127.0.0.1:8080/auth/v1.0
    username: test:tester
    password: testing
    container: wharf
    auth-version: 1
    temp-url-key: k3y
    redirect: true
    timeout: 7
`);
    assert.equal(d.name, 'swift');
    const c = cfgOf(d);
    assert.equal(c.authUrl, 'http://127.0.0.1:8080/auth/v1.0');
    assert.equal(c.username, 'test:tester');
    assert.equal(c.password, 'testing');
    assert.equal(c.container, 'wharf');
    assert.equal(c.authVersion, '1');
    assert.equal(c.tempUrlKey, 'k3y');
    assert.equal(c.timeoutMs, 7000);
    await d.close?.();
  });

  it('Keystone v3: project, domain, region and interface keys reach the driver', async () => {
    const d = await open(`
registry:
  storage:
    driver: swift
    auth-url: https://keystone.example.com:5000/v3
    auth-version: v3
    username: alice
    password: secret
    container: registry
    project-name: wharf
    project-id: p-123
    project-domain-name: Default
    project-domain-id: pd-1
    user-domain-name: Users
    user-domain-id: ud-1
    region: RegionTwo
    interface: internal
`);
    const c = cfgOf(d);
    assert.deepEqual(
      [
        c.authVersion,
        c.projectName,
        c.projectId,
        c.projectDomainName,
        c.projectDomainId,
        c.userDomainName,
        c.userDomainId,
        c.region,
        c.interface,
      ],
      ['3', 'wharf', 'p-123', 'Default', 'pd-1', 'Users', 'ud-1', 'RegionTwo', 'internal'],
    );
    assert.equal(swiftParts(d as SwiftDriver).settings.authVersion, 3);
  });

  it('cloud: clouds.yaml fills in what the file leaves out; file keys win', async () => {
    const clouds = join(tmp, 'clouds.yaml');
    writeFileSync(
      clouds,
      `
clouds:
  mycloud:
    auth_type: password
    auth:
      auth_url: https://keystone.example.com/v3
      username: bob
      password: from-clouds
      project_name: proj
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`,
    );
    const saved = process.env.OS_CLIENT_CONFIG_FILE;
    process.env.OS_CLIENT_CONFIG_FILE = clouds;
    try {
      const d = await open(`
registry:
  storage:
    driver: swift
    cloud: mycloud
    container: wharf
    password: from-wharf-yaml
`);
      const c = cfgOf(d);
      assert.equal(c.cloud, 'mycloud');
      assert.equal(c.authUrl, 'https://keystone.example.com/v3');
      assert.equal(c.username, 'bob');
      assert.equal(c.password, 'from-wharf-yaml');
      assert.equal(c.projectName, 'proj');
      assert.equal(c.region, 'RegionOne');
      assert.equal(swiftParts(d as SwiftDriver).settings.authVersion, 3);
    } finally {
      if (saved === undefined) delete process.env.OS_CLIENT_CONFIG_FILE;
      else process.env.OS_CLIENT_CONFIG_FILE = saved;
    }
  });

  it('environment variables override storage keys (WHARF_STORAGE__TEMP_URL_KEY, ...)', async () => {
    const d = await open(
      `
registry:
  storage: {driver: swift, auth-url: "http://127.0.0.1:8080/auth/v1.0", username: u, password: p, container: c}
`,
      { WHARF_STORAGE__TEMP_URL_KEY: 'from-env', WHARF_STORAGE__CONTAINER: 'env-container', WHARF_STORAGE__REDIRECT: 'true' },
    );
    assert.equal(cfgOf(d).tempUrlKey, 'from-env');
    assert.equal(cfgOf(d).container, 'env-container');
  });

  it('refuses at start: missing auth keys, bad auth-version/interface, redirect without temp-url-key', () => {
    configError('registry: {storage: {driver: swift, container: c, username: u, password: p}}', /storage\.auth-url$/);
    configError('registry: {storage: {driver: swift, auth-url: "http://h/auth/v1.0", username: u, password: p}}', /storage\.container$/);
    configError(
      'registry: {storage: {driver: swift, auth-url: "http://h/v3", username: u, password: p, container: c, auth-version: 2}}',
      /auth-version$/,
    );
    configError(
      'registry: {storage: {driver: swift, auth-url: "http://h/v3", username: u, password: p, container: c, interface: private}}',
      /interface$/,
    );
    configError(
      'registry: {storage: {driver: swift, auth-url: "http://h/auth/v1.0", username: u, password: p, container: c, redirect: true}}',
      /redirect$/,
    );
    configError(
      'registry: {storage: {driver: swift, auth-url: "http://h/auth/v1.0", username: u, password: p, container: c, bucket: b}}',
      /storage\.bucket$/,
    );
  });
});

describe('s3 storage config', () => {
  it('every key reaches the driver and the S3 client', async () => {
    const d = await open(`
registry:
  storage:
    driver: s3
    endpoint: http://127.0.0.1:8080
    region: eu-west-3
    bucket: wharf
    access-key: "test:tester"
    secret-key: testing
    force-path-style: true
    redirect: true
    timeout: 9
`);
    assert.equal(d.name, 's3');
    const c = cfgOf(d);
    assert.deepEqual(
      [c.endpoint, c.region, c.bucket, c.accessKey, c.secretKey, c.forcePathStyle, c.timeoutMs],
      ['http://127.0.0.1:8080', 'eu-west-3', 'wharf', 'test:tester', 'testing', true, 9000],
    );
    const client = (d as unknown as { client: { config: any } }).client;
    assert.equal(await client.config.region(), 'eu-west-3');
    assert.equal(client.config.forcePathStyle, true);
    const creds = await client.config.credentials();
    assert.equal(creds.accessKeyId, 'test:tester');
    assert.equal(creds.secretAccessKey, 'testing');
    // a presigned URL is path-style on the endpoint
    assert.match((await d.presignGet!('a/b', 60))!, /^http:\/\/127\.0\.0\.1:8080\/wharf\/a\/b\?/);
    await d.close?.();
  });

  it('force-path-style: unset means path style with an endpoint (S3-compatible stores), false is kept', async () => {
    const base = 'registry: {storage: {driver: s3, endpoint: "http://127.0.0.1:8080", bucket: b, access-key: a, secret-key: s';
    const unset = await open(`${base}}}`);
    assert.equal((unset as any).client.config.forcePathStyle, true);
    assert.match((await unset.presignGet!('k', 60))!, /^http:\/\/127\.0\.0\.1:8080\/b\/k\?/);
    await unset.close?.();
    const off = await open(`${base}, force-path-style: false}}`);
    assert.equal((off as any).client.config.forcePathStyle, false);
    await off.close?.();
    // region defaults to us-east-1
    assert.equal(cfgOf(unset).region, 'us-east-1');
  });

  it('no access-key/secret-key: the SDK default credential chain (AWS_* variables) is used', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-env';
    try {
      const d = await open('registry: {storage: {driver: s3, bucket: b, region: us-east-2}}');
      const creds = await (d as any).client.config.credentials();
      assert.equal(creds.accessKeyId, 'AKIDFROMENV');
      assert.equal(creds.secretAccessKey, 'secret-from-env');
      await d.close?.();
    } finally {
      for (const [k, v] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('refuses at start: missing bucket, half a key pair, Swift keys, a bad boolean', () => {
    configError('registry: {storage: {driver: s3, region: us-east-1}}', /storage\.bucket$/);
    configError('registry: {storage: {driver: s3, bucket: b, access-key: a}}', /secret-key$/);
    configError('registry: {storage: {driver: s3, bucket: b, secret-key: s}}', /access-key$/);
    configError('registry: {storage: {driver: s3, bucket: b, container: c}}', /storage\.container$/);
    configError('registry: {storage: {driver: s3, bucket: b, force-path-style: yes-please}}', /force-path-style$/);
  });
});

describe('redirect on local stores', () => {
  it('is refused: only Swift and S3 can hand out time-limited URLs', () => {
    configError('registry: {storage: {driver: filesystem, redirect: true}}', /redirect$/);
    configError('registry: {storage: {driver: memory, redirect: true}}', /redirect$/);
  });
});
