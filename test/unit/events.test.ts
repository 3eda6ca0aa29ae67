// Webhook endpoints against real HTTP receivers on loopback: the envelope as
// Distribution sends it, ordered delivery, retries with backoff, giving up,
// a bounded queue that drops (counted) instead of waiting, filters, and
// what is left at shutdown.
//   npm run build && node --test dist/test/unit/events.test.js
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { DEFAULT_EVENT_ACTIONS, type EndpointConfig, type EventAction } from '../../src/config/notifications.js';
import { EventEndpoint, type EventsObserver } from '../../src/events/endpoint.js';
import { EVENTS_MEDIA_TYPE, newEvent, type RegistryEvent } from '../../src/events/event.js';
import { Notifier } from '../../src/events/notifier.js';
import { createLogger } from '../../src/log/logger.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: { events: RegistryEvent[] };
  at: number;
}

/** A receiver whose answer to the n-th POST (0-based) `answer` decides. */
async function receiver(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void = (_n, _q, res) => res.end('ok')) {
  const got: Received[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), at: Date.now() });
      answer(n++, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function counter(): EventsObserver & { counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  const inc = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  return {
    counts,
    delivered: () => inc('delivered'),
    retried: () => inc('retried'),
    failed: () => inc('failed'),
    dropped: (_e, reason) => inc(`dropped:${reason}`),
  };
}

function endpoint(url: string, over: Partial<EndpointConfig> = {}): EndpointConfig {
  return {
    name: 'test',
    url,
    headers: {},
    timeoutMs: 2000,
    retries: 3,
    backoffMs: 20,
    queueSize: 100,
    actions: [...DEFAULT_EVENT_ACTIONS],
    mediaTypes: [],
    ignoredMediaTypes: [],
    ...over,
  };
}

function event(
  i: number,
  action: EventAction = 'push',
  mediaType: string | undefined = 'application/vnd.oci.image.manifest.v1+json',
): RegistryEvent {
  return newEvent(
    action,
    { mediaType, digest: `sha256:${String(i).padStart(64, '0')}`, size: i, length: i, repository: 'a/b', namespace: 'default' },
    { id: `req-${i}`, addr: '192.0.2.1', host: 'registry.test', method: 'PUT', useragent: 'test' },
    { name: 'ci' },
    { addr: 'host:5000', instanceID: 'i-1' },
  );
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const quiet = createLogger('error', () => undefined);
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

describe('webhook endpoints', () => {
  it('posts one envelope per event, in order, as Distribution does (media type, fields, configured headers)', async () => {
    const rx = await receiver();
    closers.push(rx.close);
    const obs = counter();
    const ep = new EventEndpoint(endpoint(rx.url, { headers: { Authorization: ['Bearer t0k'], 'X-Multi': ['1', '2'] } }), quiet, obs);
    for (let i = 0; i < 20; i++) ep.publish(event(i));
    await until(() => rx.got.length === 20 && obs.counts.delivered === 20);
    assert.deepEqual(
      rx.got.map((g) => g.body.events[0]!.request.id),
      Array.from({ length: 20 }, (_, i) => `req-${i}`),
      'in order',
    );
    const first = rx.got[0]!;
    assert.equal(first.headers['content-type'], EVENTS_MEDIA_TYPE);
    assert.equal(first.headers.authorization, 'Bearer t0k');
    assert.equal(first.headers['x-multi'], '1, 2');
    assert.equal(first.body.events.length, 1);
    const e = first.body.events[0]!;
    assert.deepEqual(Object.keys(e).sort(), ['action', 'actor', 'id', 'request', 'source', 'target', 'timestamp']);
    assert.match(e.id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
    assert.deepEqual(e.target, event(0).target);
    assert.deepEqual(Object.keys(e.request).sort(), ['addr', 'host', 'id', 'method', 'useragent']);
    assert.deepEqual(e.actor, { name: 'ci' });
    assert.deepEqual(e.source, { addr: 'host:5000', instanceID: 'i-1' });
    assert.equal(obs.counts.delivered, 20);
    await ep.close(1000);
  });

  it('a failed delivery is retried with growing backoff, and the order is kept', async () => {
    // The first two attempts get 500, then everything is accepted.
    const rx = await receiver((n, _req, res) => {
      res.statusCode = n < 2 ? 500 : 202;
      res.end();
    });
    closers.push(rx.close);
    const obs = counter();
    const ep = new EventEndpoint(endpoint(rx.url, { backoffMs: 100, retries: 5 }), quiet, obs);
    ep.publish(event(1));
    ep.publish(event(2));
    await until(() => obs.counts.delivered === 2);
    assert.deepEqual(
      rx.got.map((g) => g.body.events[0]!.request.id),
      ['req-1', 'req-1', 'req-1', 'req-2'],
    );
    assert.equal(obs.counts.retried, 2);
    const gap1 = rx.got[1]!.at - rx.got[0]!.at;
    const gap2 = rx.got[2]!.at - rx.got[1]!.at;
    assert.ok(gap1 >= 90, `first backoff ~100 ms, was ${gap1}`);
    assert.ok(gap2 >= 190, `second backoff ~200 ms, was ${gap2}`);
    await ep.close(1000);
  });

  it('gives an event up after the configured retries (counted) and goes on with the next', async () => {
    const rx = await receiver((n, _req, res) => {
      res.statusCode = n < 3 ? 503 : 200;
      res.end();
    });
    closers.push(rx.close);
    const obs = counter();
    const ep = new EventEndpoint(endpoint(rx.url, { retries: 2, backoffMs: 5 }), quiet, obs);
    ep.publish(event(1));
    ep.publish(event(2));
    await until(() => obs.counts.delivered === 1);
    assert.equal(obs.counts.failed, 1);
    assert.deepEqual(
      rx.got.map((g) => g.body.events[0]!.request.id),
      ['req-1', 'req-1', 'req-1', 'req-2'],
    );
    await ep.close(1000);
  });

  it('a receiver that never answers: publish never waits, attempts time out, the full queue drops new events (counted)', async () => {
    const rx = await receiver(() => undefined); // holds every request open
    closers.push(rx.close);
    const obs = counter();
    const ep = new EventEndpoint(endpoint(rx.url, { timeoutMs: 200, retries: 0, queueSize: 5 }), quiet, obs);
    // publish is synchronous: nothing to await, whatever the receiver does.
    for (let i = 0; i < 50; i++) assert.equal(ep.publish(event(i)) as unknown, undefined);
    // One in delivery, five waiting.
    assert.equal(obs.counts['dropped:queue-full'], 44);
    assert.equal(ep.length, 6);
    await until(() => obs.counts.failed === 1, 5000);
    assert.ok(rx.got.length >= 1);
    await ep.close(0);
    assert.equal(
      (obs.counts['dropped:shutdown'] ?? 0) + (obs.counts.failed ?? 0) + (obs.counts.delivered ?? 0),
      6,
      JSON.stringify(obs.counts),
    );
  });

  it('closing does not wait for a delivery in flight to time out: it is cut and counted as dropped at shutdown', async () => {
    const rx = await receiver(() => undefined);
    closers.push(rx.close);
    const obs = counter();
    const ep = new EventEndpoint(endpoint(rx.url, { timeoutMs: 60_000 }), quiet, obs);
    ep.publish(event(1));
    ep.publish(event(2));
    await until(() => rx.got.length === 1);
    const closed = ep.close(100).then(() => 'closed');
    const stuck = new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000).unref());
    assert.equal(await Promise.race([closed, stuck]), 'closed');
    assert.equal(obs.counts['dropped:shutdown'], 2, JSON.stringify(obs.counts));
    assert.equal(obs.counts.failed, undefined);
  });

  it('a receiver that is not there (connection refused) counts as a failed attempt', async () => {
    const rx = await receiver();
    const url = rx.url;
    await rx.close();
    const obs = counter();
    const ep = new EventEndpoint(endpoint(url, { retries: 1, backoffMs: 5 }), quiet, obs);
    ep.publish(event(1));
    await until(() => obs.counts.failed === 1);
    assert.equal(obs.counts.retried, 1);
    await ep.close(0);
  });

  it('filters: actions (pulls and mirror fills only when asked), media types, ignored media types; deletes have none', () => {
    const manifest = 'application/vnd.oci.image.manifest.v1+json';
    const blob = 'application/octet-stream';
    const def = new EventEndpoint(endpoint('http://127.0.0.1:1/'), quiet);
    assert.ok(def.accepts(event(1, 'push', manifest)));
    assert.ok(def.accepts(event(1, 'push', blob)));
    assert.ok(def.accepts(event(1, 'delete', undefined)));
    assert.ok(def.accepts(event(1, 'mount', blob)));
    assert.ok(!def.accepts(event(1, 'pull', manifest)));
    assert.ok(!def.accepts(event(1, 'mirror', manifest)));
    const manifestsOnly = new EventEndpoint(
      endpoint('http://127.0.0.1:1/', { mediaTypes: [manifest], actions: ['push', 'delete', 'pull'] }),
      quiet,
    );
    assert.ok(manifestsOnly.accepts(event(1, 'push', manifest)));
    assert.ok(manifestsOnly.accepts(event(1, 'pull', manifest)));
    assert.ok(!manifestsOnly.accepts(event(1, 'push', blob)));
    assert.ok(manifestsOnly.accepts(event(1, 'delete', undefined)));
    const noBlobs = new EventEndpoint(endpoint('http://127.0.0.1:1/', { ignoredMediaTypes: [blob] }), quiet);
    assert.ok(!noBlobs.accepts(event(1, 'push', blob)));
    assert.ok(noBlobs.accepts(event(1, 'push', manifest)));
  });

  it('the notifier fans out to every endpoint that wants the event, and says which actions anyone wants', async () => {
    const a = await receiver();
    const b = await receiver();
    closers.push(a.close, b.close);
    const n = new Notifier(
      { endpoints: [endpoint(a.url, { name: 'a' }), endpoint(b.url, { name: 'b', actions: ['pull'] })] },
      quiet,
      undefined,
      { addr: 'h:1', instanceID: 'x' },
    );
    assert.ok(n.wants('push') && n.wants('pull') && n.wants('delete'));
    assert.ok(!n.wants('mirror'));
    n.publish(event(1, 'push'));
    n.publish(event(2, 'pull'));
    await until(() => a.got.length === 1 && b.got.length === 1);
    assert.equal(a.got[0]!.body.events[0]!.action, 'push');
    assert.equal(b.got[0]!.body.events[0]!.action, 'pull');
    await n.close(1000);
    const none = new Notifier({ endpoints: [] }, quiet);
    assert.ok(!none.wants('push'));
  });
});
