// SIGHUP reloads users, access rules, webhooks, read-only mode and the log
// settings from the configuration file — all or nothing: an invalid file (or
// users that do not load) keeps the old configuration and logs why. Settings
// only a restart applies are named in the log. Read-only mode refuses every
// write with a clear error while pulls go on.
//   npm run build && node --test --test-concurrency=1 dist/test/http/reload.test.js
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { logLines, sample, startReceiver, waitFor, type Receiver } from '../helpers/ops.js';
import { OciClient, digestOf, randomBlob } from '../helpers/oci-client.js';

const basic = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  await r.arrayBuffer();
  return r.status;
}

const docs = new WeakMap<WharfProcess, { registry: Record<string, any> }>();

/** Rewrite the process's config file (`change` edits `registry:`) and send SIGHUP; wait for the outcome in the log. */
async function reloadWith(w: WharfProcess, change: (registry: Record<string, any>) => unknown): Promise<Record<string, any>> {
  const before = logLines(w.output()).length;
  // Edits apply to the last valid document (the file may hold a broken one from the previous step).
  const doc = docs.get(w) ?? (parse(readFileSync(w.configPath, 'utf8')) as { registry: Record<string, any> });
  docs.set(w, doc);
  const raw = change(doc.registry);
  writeFileSync(w.configPath, typeof raw === 'string' ? raw : stringify(doc));
  w.child.kill('SIGHUP');
  return waitFor('the reload outcome in the log', () =>
    logLines(w.output())
      .slice(before)
      .find((l) => l.msg === 'configuration reloaded' || String(l.msg).startsWith('configuration reload failed')),
  );
}

describe('SIGHUP reload', () => {
  let w: WharfProcess;
  let rx: Receiver;
  before(async () => {
    rx = await startReceiver();
    w = await startWharf({ registry: { users: [{ name: 'alice', pass: 'alice-pw', access: 'write' }] } });
  });
  after(async () => {
    await w?.cleanup();
    await rx?.close();
  });

  it('new users and access rules take effect; removed users are refused', async () => {
    assert.equal(await status(`${w.url}/v2/`, { headers: basic('alice', 'alice-pw') }), 200);
    assert.equal(await status(`${w.url}/v2/`, { headers: basic('bob', 'bob-pw') }), 401);
    const l = await reloadWith(w, (r) => {
      r.users = [{ name: 'bob', pass: 'bob-pw', access: 'none', groups: ['team'] }];
      r.access = [{ repository: 'team/*', groups: ['team'], actions: ['pull'] }];
    });
    assert.equal(l.msg, 'configuration reloaded', JSON.stringify(l));
    assert.equal(l.users, 1);
    assert.equal(l.accessRules, 1);
    assert.equal(await status(`${w.url}/v2/`, { headers: basic('bob', 'bob-pw') }), 200);
    assert.equal(await status(`${w.url}/v2/`, { headers: basic('alice', 'alice-pw') }), 401);
    assert.equal(
      await status(`${w.url}/v2/team/x/tags/list`, { headers: basic('bob', 'bob-pw') }),
      404,
      'pull on team/* is granted (the repository does not exist)',
    );
    assert.equal(await status(`${w.url}/v2/other/x/tags/list`, { headers: basic('bob', 'bob-pw') }), 403);
  });

  it('an invalid file keeps the old configuration and logs why', async () => {
    const bad = await reloadWith(w, () => 'registry:\n  users: [unclosed\n');
    assert.match(bad.msg, /reload failed/);
    assert.match(bad.error, /not valid YAML/);
    assert.equal(await status(`${w.url}/v2/`, { headers: basic('bob', 'bob-pw') }), 200, 'bob still works');

    const unknownKey = await reloadWith(w, (r) => {
      r.users = [{ name: 'carol', pass: 'carol-pw', access: 'write', groups: ['team'] }];
      r['read-onyl'] = true;
    });
    assert.match(unknownKey.error, /registry\.read-onyl: unknown key/);
    assert.equal(await status(`${w.url}/v2/`, { headers: basic('carol', 'carol-pw') }), 401, 'nothing of that file applied');

    const badHash = await reloadWith(w, (r) => {
      delete r['read-onyl'];
      r.users = [{ name: 'carol', pass: '$2b$12$tooshort', access: 'write', groups: ['team'] }];
    });
    assert.match(badHash.msg, /reload failed/);
    assert.match(badHash.error, /users\[0\]\.pass/);
    assert.equal(await status(`${w.url}/v2/`, { headers: basic('bob', 'bob-pw') }), 200);
  });

  it('webhooks are added; settings that need a restart are named', async () => {
    const l = await reloadWith(w, (r) => {
      r.users = [{ name: 'alice', pass: 'alice-pw', access: 'write' }];
      delete r.access;
      r.notifications = { endpoints: [{ name: 'added', url: rx.url }] };
      r.limits = { 'idle-timeout': 60 };
    });
    assert.equal(l.msg, 'configuration reloaded');
    assert.deepEqual(l.webhooks, ['added']);
    assert.deepEqual(l.needRestart, ['limits']);
    const blob = randomBlob(100);
    const digest = digestOf(blob);
    assert.equal(
      await status(`${w.url}/v2/hooked/repo/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        body: new Uint8Array(blob),
        headers: basic('alice', 'alice-pw'),
      }),
      201,
    );
    const e = await waitFor('the push event at the new endpoint', () => rx.events().find((x) => x.target.digest === digest));
    assert.equal(e.action, 'push');
    assert.equal(e.target.repository, 'hooked/repo');
    assert.equal(e.actor.name, 'alice');
  });
});

describe('read-only mode', () => {
  let w: WharfProcess;
  let pushed: { digest: string };
  before(async () => {
    w = await startWharf();
    pushed = await new OciClient(w.url).pushImage('ro/app', 'v1');
    const l = await reloadWith(w, (r) => {
      r['read-only'] = true;
    });
    assert.equal(l.readOnly, true);
  });
  after(() => w?.cleanup());

  it('pulls go on; every write gets 405 UNSUPPORTED saying the registry is read-only; nothing is written', async () => {
    const c = new OciClient(w.url);
    assert.equal((await c.getManifest('ro/app', 'v1')).status, 200);
    assert.equal((await c.headManifest('ro/app', pushed.digest)).status, 200);
    assert.equal((await c.tags('ro/app')).status, 200);
    const blob = randomBlob(1000);
    const writes = [
      await c.request('POST', '/v2/ro/app/blobs/uploads/'),
      await c.request('POST', `/v2/ro/app/blobs/uploads/?digest=${digestOf(blob)}`, { body: blob }),
      await c.request('PUT', '/v2/ro/app/manifests/v2', {
        body: '{}',
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      }),
      await c.request('DELETE', `/v2/ro/app/manifests/${pushed.digest}`),
      await c.request('DELETE', '/v2/ro/app/manifests/v1'),
      await c.request('PATCH', '/v2/ro/app/blobs/uploads/some-id', { body: blob }),
    ];
    for (const r of writes) {
      assert.equal(r.status, 405, r.text);
      const err = r.json().errors[0];
      assert.equal(err.code, 'UNSUPPORTED');
      assert.match(err.message, /read-only/);
    }
    assert.equal((await c.getManifest('ro/app', 'v1')).status, 200, 'the tag is still there');
    assert.equal((await c.headBlob('ro/app', digestOf(blob))).status, 404, 'the blob was not stored');
    const text = await (await fetch(`${w.url}/metrics`)).text();
    assert.equal(sample(text, 'wharf_read_only'), 1);
  });

  it('SIGHUP turns it off again: pushes work', async () => {
    await reloadWith(w, (r) => {
      r['read-only'] = false;
    });
    const c = new OciClient(w.url);
    await c.pushImage('ro/app', 'v2');
    assert.equal((await c.getManifest('ro/app', 'v2')).status, 200);
  });
});
