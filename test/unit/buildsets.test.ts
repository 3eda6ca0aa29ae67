// The buildset namespace directory (src/registry/buildsets/directory.ts): what
// is cached and what is read from the store each time, so that replicas
// sharing only the store agree; the records' names and users; config checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configFromObject } from '../../src/config/config.js';
import { BuildsetDirectory, CACHE_MS } from '../../src/registry/buildsets/directory.js';
import { generateName, namespaceOfUser, usernameFor, type BuildsetRecord } from '../../src/registry/buildsets/record.js';
import { reapEnded } from '../../src/registry/buildsets/reap.js';
import { BuildsetStore } from '../../src/registry/buildsets/store.js';
import { MemoryDriver } from '../../src/storage/memory.js';

function record(name: string, expiresAt: number, extra: Partial<BuildsetRecord> = {}): BuildsetRecord {
  return {
    name,
    createdAt: new Date(0).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
    mirrors: [],
    parents: [],
    username: usernameFor(name),
    passwordHash: '$2b$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234',
    ...extra,
  };
}

describe('buildset directory', () => {
  it('a namespace created through another process is seen at once: "none" is never cached', async () => {
    const driver = new MemoryDriver();
    const now = 1_000_000;
    const here = new BuildsetDirectory(new BuildsetStore(driver), () => now);
    assert.equal((await here.lookup('a', false)).kind, 'none');
    await new BuildsetStore(driver).put(record('a', now + 60_000)); // another replica
    assert.equal((await here.lookup('a', false)).kind, 'live');
  });

  it('reads use the cache for CACHE_MS; fresh lookups (writes, logins) read the store every time', async () => {
    const driver = new MemoryDriver();
    let now = 1_000_000;
    const here = new BuildsetDirectory(new BuildsetStore(driver), () => now);
    const other = new BuildsetStore(driver);
    await other.put(record('a', now + 60_000));
    assert.equal((await here.lookup('a', false)).kind, 'live');
    await other.put(record('a', now + 60_000, { deletedAt: new Date(now).toISOString() })); // deleted on another replica
    assert.equal((await here.lookup('a', true)).kind, 'ended', 'a fresh lookup sees the delete at once');
    // The fresh lookup dropped the cached entry: reads see it too.
    assert.equal((await here.lookup('a', false)).kind, 'ended');

    await other.put(record('b', now + 60_000));
    assert.equal((await here.lookup('b', false)).kind, 'live');
    await other.remove('b');
    assert.equal((await here.lookup('b', false)).kind, 'live', 'a read within CACHE_MS may still see it');
    now += CACHE_MS;
    assert.equal((await here.lookup('b', false)).kind, 'none');
  });

  it('expiry is computed from expiresAt at each lookup, cached or not', async () => {
    const driver = new MemoryDriver();
    let now = 1_000_000;
    const here = new BuildsetDirectory(new BuildsetStore(driver), () => now);
    await new BuildsetStore(driver).put(record('a', now + 500));
    assert.equal((await here.lookup('a', false)).kind, 'live');
    now += 500;
    assert.equal((await here.lookup('a', false)).kind, 'ended');
  });

  it('reap: only ended namespaces past the grace period, never a protected one; the record goes once the prefix is empty', async () => {
    const driver = new MemoryDriver();
    const store = new BuildsetStore(driver);
    const now = Date.now();
    await store.put(record('old', now - 10_000));
    await store.put(record('young', now - 10));
    await store.put(record('live', now + 60_000));
    await store.put(record('default', now - 10_000));
    for (const ns of ['old', 'young', 'live', 'default']) await driver.put(`${ns}/blobs/sha256/ab`, Buffer.from('xyz'));
    const reaped = await reapEnded(driver, { graceMs: 1000, now, dryRun: false, protect: ['default'] });
    assert.deepEqual(
      reaped.map((r) => [r.name, r.objects, r.bytes, r.recordRemoved]),
      [['old', 1, 3, true]],
    );
    assert.equal(await driver.stat('old/blobs/sha256/ab'), null);
    for (const ns of ['young', 'live', 'default']) assert.ok(await driver.stat(`${ns}/blobs/sha256/ab`), ns);
    assert.equal(await store.get('old'), null);
  });

  it('names and users', () => {
    assert.match(generateName(), /^bs-[a-z2-7]{12}$/);
    assert.equal(namespaceOfUser('change-1@buildset'), 'change-1');
    assert.equal(namespaceOfUser('alice'), null);
    assert.equal(namespaceOfUser('Bad_Name@buildset'), null);
  });
});

describe('registry.buildsets configuration', () => {
  const users = [{ name: 'root', pass: 'x', admin: true }];
  it('needs an admin user; parents must be configured namespaces; the path prefix is not a mirror', () => {
    assert.throws(() => configFromObject({ registry: { users: [{ name: 'u', pass: 'x' }], buildsets: {} } }), /admin: true/);
    assert.throws(() => configFromObject({ registry: { users, buildsets: { parents: ['nope'] } } }), /not a configured namespace/);
    assert.throws(
      () => configFromObject({ registry: { users, namespaces: { mirrors: { ns: { upstream: 'https://x.example' } } }, buildsets: {} } }),
      /mirror namespace/,
    );
    assert.throws(() => configFromObject({ registry: { users: [{ name: 'x@buildset', pass: 'x' }] } }), /@buildset/);
    const c = configFromObject({ registry: { users, buildsets: { hosts: ['*.BS.example.com'] } } });
    assert.deepEqual(c.buildsets?.hostSuffixes, ['.bs.example.com']);
    assert.equal(c.buildsets?.pathPrefix, 'ns');
    assert.equal(configFromObject({ registry: {} }).buildsets, undefined);
  });
});
