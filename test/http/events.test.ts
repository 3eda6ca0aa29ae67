// Webhook events from a live server to real HTTP receivers: what each push,
// mount, pull and delete sends (Distribution's envelope and fields), in
// order; a receiver that hangs or answers 500 never slows a push, and what it
// cannot take shows in the metrics; mirror namespaces announce cache fills.
//   npm run build && node --test --test-concurrency=1 dist/test/http/events.test.js
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { sample, startReceiver, waitFor, type Receiver } from '../helpers/ops.js';
import { OCI_MANIFEST, OciClient, digestOf, randomBlob } from '../helpers/oci-client.js';

const EVENTS_TYPE = 'application/vnd.docker.distribution.events.v1+json';

async function metrics(w: WharfProcess): Promise<string> {
  return (await fetch(`${w.url}/metrics`)).text();
}

describe('events of pushes, mounts, pulls and deletes', () => {
  let w: WharfProcess;
  let all: Receiver;
  let pulls: Receiver;
  let manifests: Receiver;
  before(async () => {
    all = await startReceiver();
    pulls = await startReceiver();
    manifests = await startReceiver();
    w = await startWharf({
      registry: {
        notifications: {
          endpoints: [
            { name: 'all', url: all.url, headers: { Authorization: 'Bearer sekret' } },
            { name: 'pulls', url: pulls.url, actions: ['pull'] },
            { name: 'manifests', url: manifests.url, actions: ['push', 'delete'], 'ignored-media-types': ['application/octet-stream'] },
          ],
        },
      },
    });
  });
  after(async () => {
    await w?.cleanup();
    for (const r of [all, pulls, manifests]) await r?.close();
  });

  it("a push: each blob, then the manifest with its tag, in order; Distribution's envelope and fields", async () => {
    const c = new OciClient(w.url);
    const img = await c.pushImage('ev/app', 'v1');
    const want = [img.config.digest, img.layers[0]!.digest, img.digest];
    const got = await waitFor('three push events', () => (all.events().length >= 3 ? all.events() : null));
    assert.deepEqual(
      got.map((e) => [e.action, e.target.digest]),
      want.map((d) => ['push', d]),
    );
    const d = all.deliveries[0]!;
    assert.equal(d.headers['content-type'], EVENTS_TYPE);
    assert.equal(d.headers.authorization, 'Bearer sekret');
    const m = got[2]!;
    assert.equal(m.target.mediaType, OCI_MANIFEST);
    assert.equal(m.target.size, img.body.length);
    assert.equal(m.target.length, img.body.length);
    assert.equal(m.target.repository, 'ev/app');
    assert.equal(m.target.tag, 'v1');
    assert.equal(m.target.namespace, 'default');
    assert.equal(m.target.url, `${w.url}/v2/ev/app/manifests/${img.digest}`);
    assert.equal(m.request.method, 'PUT');
    assert.equal(m.request.addr, '127.0.0.1');
    assert.equal(m.request.host, w.host);
    assert.match(m.request.id, /^[0-9a-f-]{36}$/);
    assert.equal(typeof m.request.useragent, 'string');
    assert.deepEqual(m.actor, {}, 'no users configured: no actor name');
    assert.match(m.source.addr!, new RegExp(`:${w.port}$`));
    assert.match(m.source.instanceID!, /^[0-9a-f-]{36}$/);
    const blob = got[0]!;
    assert.equal(blob.target.mediaType, 'application/octet-stream');
    assert.equal(blob.target.url, `${w.url}/v2/ev/app/blobs/${img.config.digest}`);
    // The manifests-only endpoint ignored the blob events.
    const onlyManifest = await waitFor('the manifest event', () => manifests.events()[0]);
    assert.equal(onlyManifest.target.digest, img.digest);
  });

  it('a mount, pulls (opt-in endpoint only), and deletes of a tag, a manifest and a blob', async () => {
    const c = new OciClient(w.url);
    const img = await c.pushImage('ev/src', 'v1');
    const layer = img.layers[0]!.digest;
    const mount = await c.request('POST', '/v2/ev/dst/blobs/uploads/', { query: { mount: layer, from: 'ev/src' } });
    assert.equal(mount.status, 201);
    assert.equal((await c.getManifest('ev/src', 'v1')).status, 200);
    assert.equal((await c.getBlob('ev/src', layer)).status, 200);
    assert.equal((await c.headManifest('ev/src', 'v1')).status, 200, 'HEAD is not a pull');
    assert.equal((await c.deleteManifest('ev/src', 'v1')).status, 202);
    assert.equal((await c.deleteManifest('ev/src', img.digest)).status, 202);
    assert.equal((await c.deleteBlob('ev/dst', layer)).status, 202);
    const others = () => all.events().filter((e) => e.action !== 'push');
    const got = await waitFor('mount and delete events', () => (others().length >= 4 ? others() : null));
    assert.deepEqual(
      got.map((e) => [e.action, e.target.repository, e.target.digest ?? null, e.target.tag ?? null, e.target.fromRepository ?? null]),
      [
        ['mount', 'ev/dst', layer, null, 'ev/src'],
        ['delete', 'ev/src', null, 'v1', null],
        ['delete', 'ev/src', img.digest, null, null],
        ['delete', 'ev/dst', layer, null, null],
      ],
    );
    assert.ok(!all.events().some((e) => e.action === 'pull'), 'pulls only go to endpoints that ask for them');
    const pulled = await waitFor('two pull events', () => (pulls.events().length >= 2 ? pulls.events() : null));
    assert.deepEqual(
      pulled.map((e) => [e.action, e.target.digest, e.target.tag ?? null]),
      [
        ['pull', img.digest, 'v1'],
        ['pull', layer, null],
      ],
    );
  });
});

describe('a receiver that hangs or fails never slows a push', () => {
  let w: WharfProcess;
  let hang: Receiver;
  let fail: Receiver;
  before(async () => {
    hang = await startReceiver('hang');
    fail = await startReceiver('error');
    w = await startWharf({
      registry: {
        notifications: {
          endpoints: [
            // Waiting for these would take minutes per event.
            { name: 'hang', url: hang.url, timeout: 60, retries: 5, 'queue-size': 2 },
            { name: 'fail', url: fail.url, timeout: 60, retries: 1, backoff: '10ms' },
          ],
        },
      },
    });
  });
  after(async () => {
    await w?.cleanup();
    await hang?.close();
    await fail?.close();
  });

  it('10 images pushed while the receivers misbehave; drops and failures are counted', async () => {
    const c = new OciClient(w.url);
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) await c.pushImage(`slow/app${i}`, 'v1', { layers: [randomBlob(1000)] });
    const took = Date.now() - t0;
    // 30 events; one delivery attempt to `hang` alone would take 60 s if a push waited for it.
    assert.ok(took < 30_000, `the pushes took ${took} ms`);
    const text = await waitFor(
      'the failure count',
      async () => {
        const t = await metrics(w);
        return (sample(t, 'wharf_events_failed_total', { endpoint: 'fail' }) ?? 0) >= 30 ? t : null;
      },
      30_000,
      200,
    );
    // `hang`: one event stuck in delivery, two queued, the rest dropped.
    assert.equal(sample(text, 'wharf_events_dropped_total', { endpoint: 'hang', reason: 'queue-full' }), 27);
    assert.equal(sample(text, 'wharf_events_queue_length', { endpoint: 'hang' }), 3);
    assert.equal(sample(text, 'wharf_events_delivered_total', { endpoint: 'hang' }) ?? 0, 0);
    // `fail`: every event tried twice (one retry), then given up.
    assert.equal(sample(text, 'wharf_events_failed_total', { endpoint: 'fail' }), 30);
    assert.equal(sample(text, 'wharf_events_retries_total', { endpoint: 'fail' }), 30);
    assert.equal(fail.attempts, 60);
    assert.match(w.output(), /"msg":"event dropped: the endpoint queue is full"|event dropped: the endpoint queue is full/);
    assert.match(w.output(), /event not delivered; given up/);
  });
});

describe('mirror namespaces announce cache fills (opt-in action "mirror")', () => {
  let upstream: WharfProcess;
  let w: WharfProcess;
  let rx: Receiver;
  before(async () => {
    rx = await startReceiver();
    upstream = await startWharf();
    w = await startWharf({
      registry: {
        namespaces: { mirrors: { 'up.test': { upstream: upstream.url } } },
        notifications: { endpoints: [{ name: 'fills', url: rx.url, actions: ['mirror'] }] },
      },
    });
  });
  after(async () => {
    await w?.cleanup();
    await upstream?.cleanup();
    await rx?.close();
  });

  it('a pull through the mirror sends one "mirror" event per manifest and blob stored, and counts hits and misses', async () => {
    const img = await new OciClient(upstream.url).pushImage('lib/tool', 'v1');
    const m = new OciClient(w.url, 'up.test');
    assert.equal((await m.getManifest('lib/tool', 'v1')).status, 200);
    const blob = await m.getBlob('lib/tool', img.layers[0]!.digest);
    assert.equal(blob.status, 200);
    assert.equal(digestOf(blob.body), img.layers[0]!.digest);
    assert.equal((await m.getManifest('lib/tool', 'v1')).status, 200, 'the second read is a hit');
    const got = await waitFor('two fill events', () => (rx.events().length >= 2 ? rx.events() : null));
    assert.deepEqual(
      got.map((e) => [e.action, e.target.namespace, e.target.repository, e.target.digest]),
      [
        ['mirror', 'up.test', 'lib/tool', img.digest],
        ['mirror', 'up.test', 'lib/tool', img.layers[0]!.digest],
      ],
    );
    assert.equal(got[0]!.target.mediaType, OCI_MANIFEST);
    assert.match(got[0]!.target.url!, /\?ns=up\.test$/);
    const text = await metrics(w);
    assert.equal(sample(text, 'wharf_mirror_fills_total', { namespace: 'up.test' }), 2);
    assert.equal(sample(text, 'wharf_mirror_cache_requests_total', { namespace: 'up.test', kind: 'manifest', result: 'miss' }), 1);
    assert.ok((sample(text, 'wharf_mirror_cache_requests_total', { namespace: 'up.test', kind: 'manifest', result: 'hit' }) ?? 0) >= 1);
    assert.ok((sample(text, 'wharf_mirror_upstream_requests_total', { namespace: 'up.test', kind: 'blob', outcome: 'ok' }) ?? 0) >= 1);
  });
});
