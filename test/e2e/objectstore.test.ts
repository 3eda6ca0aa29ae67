// `wharf serve` on Swift and on S3 (the Swift all-in-one's two APIs), started
// from a YAML file, with pull redirects on (`registry.storage.redirect: true`):
//   - a chunked push over HTTP, then HEAD answered directly, GET answered
//     307 to a time-limited store URL (Swift TempURL / S3 presigned) that
//     plain fetch follows to the right bytes, a Range GET served directly;
//   - skopeo copies an image in and back out (following the redirects), every
//     digest verified, and Wharf's log shows the blob GETs were redirects.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/objectstore.test.js
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createContainersEnv, readOciBlob, readOciLayout, requireTools, type ContainersEnv } from '../helpers/containers.js';
import { loggedRequests, OBJECT_STORES, objectStore, type ObjectStore } from '../helpers/objectstores.js';
import { OciClient, digestOf, randomBlob } from '../helpers/oci-client.js';
import { ensureSwift, type SwiftEnv } from '../helpers/swift.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

let containers: ContainersEnv | undefined;
after(async () => {
  await containers?.cleanup();
});

for (const kind of OBJECT_STORES) {
  describe(`wharf serve on ${kind} with pull redirects`, { timeout: 180_000 }, () => {
    let env: SwiftEnv;
    let store: ObjectStore;
    let wharf: WharfProcess;
    let client: OciClient;
    let setupError: unknown;
    const ready = () => {
      if (setupError) throw setupError;
    };

    before(async () => {
      try {
        env = await ensureSwift();
        store = objectStore(kind, env);
        wharf = await startWharf({ registry: { 'log-level': 'debug', storage: store.storage({ redirect: true, timeout: 10 }) } });
        client = new OciClient(wharf.url);
      } catch (err) {
        setupError = err;
      }
    });

    after(async () => {
      await wharf?.cleanup();
      await store?.destroy();
    });

    it('chunked push; HEAD direct, GET 307 to the store (fetch follows), Range served directly', async () => {
      ready();
      const repo = `objstore/${kind}-blob`;
      const data = randomBlob(3 * 1024 * 1024 + 12345); // > Swift's 1 MiB segment threshold, several S3 source chunks
      const digest = digestOf(data);
      assert.equal((await client.headBlob(repo, digest)).status, 404);
      assert.equal(await client.pushBlobChunked(repo, data, 1024 * 1024 + 7), digest);

      const head = await client.headBlob(repo, digest);
      assert.equal(head.status, 200, 'HEAD is answered by Wharf');
      assert.equal(head.header('content-length'), String(data.length));
      assert.equal(head.header('docker-content-digest'), digest);

      const get = await client.getBlob(repo, digest); // redirect: 'manual'
      assert.equal(get.status, 307, `GET redirects: ${get.text}`);
      const loc = new URL(get.header('location')!);
      assert.equal(loc.origin, new URL(kind === 'swift' ? env.storageUrl : env.s3Endpoint).origin, 'to the store');
      if (kind === 'swift') {
        assert.ok(loc.searchParams.get('temp_url_sig') && loc.searchParams.get('temp_url_expires'), `a TempURL: ${loc}`);
      } else {
        assert.ok(loc.searchParams.get('X-Amz-Signature') && loc.searchParams.get('X-Amz-Expires'), `a presigned URL: ${loc}`);
      }
      assert.equal(get.header('docker-content-digest'), digest);

      // plain fetch follows the redirect and gets the blob from the store
      const followed = await fetch(`${wharf.url}/v2/${repo}/blobs/${digest}`, { signal: AbortSignal.timeout(30_000) });
      assert.equal(followed.status, 200);
      assert.equal(new URL(followed.url).origin, loc.origin, 'the bytes came from the store');
      assert.equal(digestOf(Buffer.from(await followed.arrayBuffer())), digest);

      // a Range request is served by Wharf itself (no redirect)
      const ranged = await client.getBlob(repo, digest, 'bytes=1048570-1048599');
      assert.equal(ranged.status, 206);
      assert.equal(ranged.header('content-range'), `bytes 1048570-1048599/${data.length}`);
      assert.ok(ranged.body.equals(data.subarray(1048570, 1048600)));

      // the URL is bound to that object: another key with the same signature is refused
      const forged = new URL(loc);
      forged.pathname = forged.pathname.replace(/[0-9a-f]{64}/, '0'.repeat(64));
      const refused = await fetch(forged, { signal: AbortSignal.timeout(30_000) });
      await refused.arrayBuffer();
      assert.ok(refused.status === 401 || refused.status === 403, `forged URL: ${refused.status}`);
    });

    it('skopeo copies an image in and out through the redirects; digests verified', async () => {
      ready();
      requireTools(['skopeo', 'buildah', 'unshare']);
      containers ??= createContainersEnv();
      const img = await containers.buildImage({ format: 'oci', randomBytes: 256 * 1024 });
      const dest = `docker://${wharf.host}/objstore/${kind}-image:v1`;
      const df = join(containers.tmpDir, `digest-${kind}`);
      await containers.skopeo(['copy', '-q', '--dest-tls-verify=false', '--digestfile', df, `containers-storage:${img.ref}`, dest]);
      const pushed = readFileSync(df, 'utf8').trim();

      const before307 = loggedRequests(wharf.output()).filter((r) => r.status === 307).length;
      const layout = join(containers.tmpDir, `layout-${kind}`);
      await containers.skopeo(['copy', '-q', '--src-tls-verify=false', dest, `oci:${layout}:v1`]);
      const got = readOciLayout(layout, 'v1'); // verifies the manifest digest
      assert.equal(got.digest, pushed);
      assert.equal(got.json.config.digest, `sha256:${img.id}`);
      readOciBlob(layout, got.json.config.digest); // verify every blob's digest
      for (const l of got.json.layers) readOciBlob(layout, l.digest);

      // Wharf answered those blob GETs with redirects (config + layers). Access-log
      // lines are written asynchronously (in batches): wait a little for the last ones.
      const redirectedGets = () =>
        loggedRequests(wharf.output())
          .filter((r) => r.status === 307)
          .slice(before307)
          .filter((r) => r.method === 'GET' && r.url.includes(`/objstore/${kind}-image/blobs/`));
      const deadline = Date.now() + 5000;
      while (redirectedGets().length < 1 + got.json.layers.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const redirected = redirectedGets();
      assert.ok(redirected.length >= 1 + got.json.layers.length, `blob GETs redirected: ${JSON.stringify(redirected)}`);
    });
  });
}
