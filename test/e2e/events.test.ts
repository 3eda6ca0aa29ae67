// A real HTTP receiver gets the events of a podman push and of a delete, in
// order, with the right digests and repository, in Distribution's envelope —
// and a receiver that hangs does not slow podman's push.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/events.test.js
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createContainersEnv, requireTools, type ContainersEnv } from '../helpers/containers.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { sample, startReceiver, waitFor, type Receiver } from '../helpers/ops.js';

const TLS = '--tls-verify=false';

describe('webhook events of podman push and skopeo delete', { timeout: 300_000 }, () => {
  let env: ContainersEnv | undefined;
  let w: WharfProcess | undefined;
  let rx: Receiver | undefined;
  let stuck: Receiver | undefined;

  before(async () => {
    requireTools(['podman', 'buildah', 'skopeo', 'unshare']);
    rx = await startReceiver();
    stuck = await startReceiver('hang');
    w = await startWharf({
      registry: {
        notifications: {
          endpoints: [
            { name: 'ci', url: rx.url },
            { name: 'stuck', url: stuck.url, timeout: 120, retries: 10, 'queue-size': 1 },
          ],
        },
      },
    });
    env = createContainersEnv();
  });

  after(async () => {
    await w?.cleanup();
    await rx?.close();
    await stuck?.close();
    await env?.cleanup();
  });

  it('blob pushes, then the manifest with its tag; then the delete of that manifest', async () => {
    const img = await env!.buildImage({ format: 'oci' });
    const repo = 'e2e/events';
    const df = join(env!.tmpDir, 'digest-events');
    await env!.podman(['push', '-q', TLS, '--digestfile', df, img.ref, `${w!.host}/${repo}:v1`]);
    const pushed = readFileSync(df, 'utf8').trim();
    const manifest = JSON.parse((await env!.skopeo(['inspect', '--raw', TLS, `docker://${w!.host}/${repo}:v1`])).stdout) as {
      config: { digest: string; size: number };
      layers: { digest: string; size: number }[];
    };
    const blobs = [manifest.config, ...manifest.layers];

    const pushes = await waitFor('the manifest push event', () => {
      const ev = rx!.events();
      return ev.some((e) => e.target.digest === pushed) ? ev : null;
    });
    // Every blob of the image was announced, each before the manifest.
    const at = (d: string) => pushes.findIndex((e) => e.action === 'push' && e.target.digest === d);
    const manifestAt = at(pushed);
    for (const b of blobs) {
      const i = at(b.digest);
      assert.ok(
        i !== -1 && i < manifestAt,
        `blob ${b.digest} announced before the manifest: ${JSON.stringify(pushes.map((e) => [e.action, e.target.digest]))}`,
      );
      assert.equal(pushes[i]!.target.size, b.size);
      assert.equal(pushes[i]!.target.repository, repo);
      assert.equal(pushes[i]!.target.mediaType, 'application/octet-stream');
    }
    const m = pushes[manifestAt]!;
    assert.equal(m.action, 'push');
    assert.equal(m.target.repository, repo);
    assert.equal(m.target.tag, 'v1');
    assert.equal(m.target.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.target.url, `http://${w!.host}/v2/${repo}/manifests/${pushed}`);
    assert.match(m.request.useragent, /containers|podman|Go-http-client/i);
    assert.equal(rx!.deliveries[0]!.headers['content-type'], 'application/vnd.docker.distribution.events.v1+json');

    // skopeo delete removes the manifest by digest.
    await env!.skopeo(['delete', TLS, `docker://${w!.host}/${repo}:v1`]);
    const del = await waitFor('the delete event', () => rx!.events().find((e) => e.action === 'delete'));
    assert.equal(del.target.repository, repo);
    assert.equal(del.target.digest, pushed);
    assert.equal(del.request.method, 'DELETE');
    const all = rx!.events();
    assert.ok(all.indexOf(del) > manifestAt, 'the delete comes after the push');

    // The stuck endpoint held one event and dropped the rest; podman did not wait for it.
    const text = await (await fetch(`${w!.url}/metrics`)).text();
    assert.ok((sample(text, 'wharf_events_dropped_total', { endpoint: 'stuck', reason: 'queue-full' }) ?? 0) >= blobs.length - 1, text);
    assert.equal(sample(text, 'wharf_events_delivered_total', { endpoint: 'ci' }), all.length);
  });
});
