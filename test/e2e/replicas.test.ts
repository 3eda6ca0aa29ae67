// Stateless replicas: three `wharf serve` processes on one object store (the
// Swift API, then the S3 API of the Swift all-in-one) behind nginx doing
// plain round-robin (no sticky sessions; test/helpers/balancer.ts writes the
// nginx.conf). Nothing is shared between the processes but the store.
//   1. A blob pushed in many PATCH chunks: each replica's debug request log
//      shows which process took which chunk — consecutive chunks on
//      different processes, all three used — and the digest is right.
//   2. skopeo and podman push and pull images through the balancer (an
//      upload's POST/PATCH/PUT spread over replicas, per their logs).
//   3. kill -9 of the replica that is receiving a chunk, mid-body: the client
//      sees that one chunk fail, re-reads the upload status (another replica
//      answers from the store), resends from the offset and finishes through
//      the two survivors, with the right digest.
//   4. Everything pushed is pulled back through the balancer (and from each
//      survivor directly) with the same digests.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/replicas.test.js
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { portsConnectedFrom, startNginx, type Balancer } from '../helpers/balancer.js';
import { createContainersEnv, readDirTransport, requireTools, type ContainersEnv, type LocalImage } from '../helpers/containers.js';
import { loggedRequests, OBJECT_STORES, objectStore, type ObjectStore } from '../helpers/objectstores.js';
import { OciClient, digestOf, randomBlob } from '../helpers/oci-client.js';
import { ensureSwift } from '../helpers/swift.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const KiB = 1024;
const REPLICAS = 3;
const TLS = '--tls-verify=false';

// One image store for the whole file: two images, built once, pushed to both backends.
let images: Promise<{ env: ContainersEnv; forSkopeo: LocalImage; forPodman: LocalImage }> | undefined;
function testImages() {
  images ??= (async () => {
    requireTools(['skopeo', 'podman', 'buildah', 'unshare']);
    const env = createContainersEnv();
    // random layers of 1.5 MiB: above the Swift driver's segment threshold
    const forSkopeo = await env.buildImage({ format: 'oci', randomBytes: 1536 * KiB });
    const forPodman = await env.buildImage({ format: 'docker', randomBytes: 1536 * KiB });
    return { env, forSkopeo, forPodman };
  })();
  return images;
}
after(async () => {
  if (images) await (await images.catch(() => undefined))?.env.cleanup();
});

/** Which replica logged each `PATCH ...?chunk=<tag>` of one upload (waits for the log lines). */
async function chunkHandlers(replicas: WharfProcess[], uploadId: string, tags: string[]): Promise<Map<string, number[]>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const by = new Map<string, number[]>(tags.map((t) => [t, []]));
    replicas.forEach((w, i) => {
      for (const r of loggedRequests(w.output())) {
        if (r.method !== 'PATCH' || !r.url.includes(uploadId)) continue;
        const tag = new URL(r.url, 'http://x').searchParams.get('chunk');
        if (tag !== null && by.has(tag) && r.status === 202) by.get(tag)!.push(i);
      }
    });
    if ([...by.values()].every((v) => v.length > 0) || Date.now() > deadline) return by;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function withChunkTag(base: string, location: string, tag: string): string {
  const u = new URL(location, base);
  u.searchParams.set('chunk', tag);
  return u.toString();
}

/**
 * A PATCH sent through the balancer whose body pauses after `head` bytes;
 * `duringPause` runs then. Resolves with the status, or with the error the
 * connection failed with (a replica killed mid-request).
 */
function pausedPatch(
  url: string,
  data: Buffer,
  start: number,
  head: number,
  duringPause: () => Promise<void>,
): Promise<{ status?: number; error?: string; body: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (v: { status?: number; error?: string; body: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = httpRequest(url, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': data.length,
        'Content-Range': `${start}-${start + data.length - 1}`,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      settle({ error: 'no answer in 60 s (a hang)', body: '' });
    }, 60_000);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => settle({ status: res.statusCode, body }));
      res.on('error', (err) => settle({ status: res.statusCode, error: String(err), body }));
    });
    req.on('error', (err) => settle({ error: String(err), body: '' }));
    void (async () => {
      req.write(data.subarray(0, head));
      await duringPause();
      for (let off = head; off < data.length && !settled && !req.destroyed; off += 64 * KiB) {
        req.write(data.subarray(off, off + 64 * KiB));
        await new Promise((r) => setTimeout(r, 5));
      }
      if (!settled && !req.destroyed) req.end();
    })().catch((err: unknown) => settle({ error: String(err), body: '' }));
  });
}

for (const kind of OBJECT_STORES) {
  describe(`${REPLICAS} wharf replicas on ${kind} behind nginx round-robin`, { timeout: 300_000 }, () => {
    let store: ObjectStore | undefined;
    let replicas: WharfProcess[] = [];
    let lb: Balancer | undefined;
    let client: OciClient;
    let pullEnv: ContainersEnv | undefined;
    /** Blobs pushed by the tests, to pull back at the end. */
    const blobs: { repo: string; digest: string; size: number }[] = [];
    /** Image tags pushed by the tests and the manifest digest the pushing tool reported. */
    const pushedImages: { repo: string; tag: string; digest: string; configDigest: string }[] = [];
    let victim = -1;
    let setupError: unknown;
    const ready = () => {
      if (setupError) throw setupError;
    };

    before(async () => {
      try {
        const env = await ensureSwift();
        store = objectStore(kind, env, 'wharf-replicas');
        const registry = { 'log-level': 'debug', storage: store.storage({ timeout: 15 }) };
        replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startWharf({ registry })));
        lb = await startNginx(replicas.map((r) => r.port));
        client = new OciClient(lb.url);
      } catch (err) {
        setupError = err;
      }
    });

    after(async () => {
      await lb?.stop();
      await Promise.all(replicas.map((r) => r.cleanup()));
      await pullEnv?.cleanup();
      await store?.destroy();
    });

    const survivors = () => replicas.filter((_, i) => i !== victim);

    it('a blob in many PATCH chunks: consecutive chunks on different replicas (their logs); right digest', async () => {
      ready();
      const repo = `replicas/${kind}-chunks`;
      const CHUNK = 64 * KiB + 3;
      const COUNT = 30;
      const data = randomBlob(CHUNK * COUNT - 1000);
      const digest = digestOf(data);
      const start = await client.startUpload(repo);
      let location = start.location;
      const tags: string[] = [];
      for (let i = 0, off = 0; off < data.length; i++, off += CHUNK) {
        tags.push(String(i));
        const r = await client.patch(withChunkTag(lb!.url, location, String(i)), data.subarray(off, off + CHUNK), { start: off });
        assert.equal(r.status, 202, `chunk ${i}: ${r.text}`);
        assert.equal(r.header('range'), `0-${Math.min(off + CHUNK, data.length) - 1}`);
        location = r.header('location')!;
      }
      const fin = await client.finish(location, digest);
      assert.equal(fin.status, 201, fin.text);
      assert.equal(fin.header('docker-content-digest'), digest);
      blobs.push({ repo, digest, size: data.length });

      const by = await chunkHandlers(replicas, start.uuid, tags);
      const handler = tags.map((t) => {
        const who = by.get(t)!;
        assert.equal(who.length, 1, `chunk ${t} logged by exactly one replica (got ${JSON.stringify(who)})`);
        return who[0]!;
      });
      for (let i = 1; i < handler.length; i++) {
        assert.notEqual(handler[i], handler[i - 1], `chunks ${i - 1} and ${i} on different replicas: ${handler.join('')}`);
      }
      assert.equal(new Set(handler).size, REPLICAS, `every replica took chunks: ${handler.join('')}`);

      const got = await client.getBlob(repo, digest);
      assert.equal(got.status, 200);
      assert.equal(digestOf(got.body), digest);
    });

    it('skopeo and podman push and pull images through the balancer', async () => {
      ready();
      const { env, forSkopeo, forPodman } = await testImages();
      env.failureContext = () =>
        replicas.map((r, i) => `replica ${i}:\n${r.output().slice(-3000)}`).join('\n') + `\nnginx:\n${lb!.output()}`;
      pullEnv ??= createContainersEnv();
      pullEnv.failureContext = env.failureContext;
      const name = (repo: string, tag: string) => `${lb!.host}/${repo}:${tag}`;

      // skopeo push
      const skRepo = `replicas/${kind}-skopeo`;
      const df1 = join(env.tmpDir, `digest-${kind}-skopeo`);
      await env.skopeo([
        'copy',
        '-q',
        '--dest-tls-verify=false',
        '--digestfile',
        df1,
        `containers-storage:${forSkopeo.ref}`,
        `docker://${name(skRepo, 'v1')}`,
      ]);
      pushedImages.push({ repo: skRepo, tag: 'v1', digest: readFileSync(df1, 'utf8').trim(), configDigest: `sha256:${forSkopeo.id}` });

      // podman push
      const pdRepo = `replicas/${kind}-podman`;
      const df2 = join(env.tmpDir, `digest-${kind}-podman`);
      await env.podman(['push', '-q', TLS, '--digestfile', df2, forPodman.ref, name(pdRepo, 'v1')]);
      pushedImages.push({ repo: pdRepo, tag: 'v1', digest: readFileSync(df2, 'utf8').trim(), configDigest: `sha256:${forPodman.id}` });

      // podman pull (into an empty store) of what skopeo pushed: same image id
      const pulled = await pullEnv.podman(['pull', TLS, name(skRepo, 'v1')]);
      assert.equal(pulled.stdout.trim().split('\n').pop(), forSkopeo.id);
      // skopeo pull of what podman pushed: manifest and every blob verified
      // (dir: keeps the Docker manifest and config as served; oci: would convert them)
      const dir = join(env.tmpDir, `pulled-${kind}-podman`);
      await env.skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${name(pdRepo, 'v1')}`, `dir:${dir}`]);
      const got = readDirTransport(dir);
      assert.equal(digestOf(got.raw), pushedImages[1]!.digest);
      assert.equal(got.json.config.digest, `sha256:${forPodman.id}`);
      for (const d of [got.json.config, ...got.json.layers]) assert.equal(digestOf(got.blob(d.digest)), d.digest);

      // the uploads of those pushes were spread over the replicas
      const uploadsBy = new Map<string, Set<number>>();
      replicas.forEach((w, i) => {
        for (const r of loggedRequests(w.output())) {
          const id = /\/replicas\/[^/]+-(?:skopeo|podman)\/blobs\/uploads\/([^/?]+)/.exec(r.url)?.[1];
          if (id) uploadsBy.set(id, (uploadsBy.get(id) ?? new Set()).add(i));
        }
      });
      const spread = [...uploadsBy.values()].filter((s) => s.size >= 2).length;
      assert.ok(spread >= 1, `some upload went through several replicas: ${JSON.stringify([...uploadsBy].map(([k, v]) => [k, [...v]]))}`);
    });

    it('kill -9 of the replica receiving a chunk: the client re-reads the status, resends, and finishes through the others', async (t) => {
      ready();
      const repo = `replicas/${kind}-kill`;
      const CHUNK = 1536 * KiB;
      const COUNT = 7;
      const data = randomBlob(CHUNK * COUNT + 4321);
      const digest = digestOf(data);
      const chunk = (off: number) => data.subarray(off, off + CHUNK);
      const start = await client.startUpload(repo);
      let location = start.location;
      const KILL_AT = 3;
      for (let i = 0; i < KILL_AT; i++) {
        const r = await client.patch(withChunkTag(lb!.url, location, String(i)), chunk(i * CHUNK), { start: i * CHUNK });
        assert.equal(r.status, 202, r.text);
        location = r.header('location')!;
      }

      // Chunk KILL_AT: once its body is half sent, kill the replica nginx is streaming it to.
      const ports = replicas.map((r) => r.port);
      const failed = await pausedPatch(
        withChunkTag(lb!.url, location, `${KILL_AT}`),
        chunk(KILL_AT * CHUNK),
        KILL_AT * CHUNK,
        700 * KiB,
        async () => {
          // nginx has opened its upstream connection (and closed the previous request's) by now
          await new Promise((r) => setTimeout(r, 300));
          const deadline = Date.now() + 10_000;
          let busy: number[] = [];
          let previous = '';
          while (Date.now() < deadline) {
            busy = portsConnectedFrom(ports);
            if (busy.length === 1 && previous === String(busy)) break; // the same one twice in a row
            previous = String(busy);
            await new Promise((r) => setTimeout(r, 50));
          }
          assert.equal(busy.length, 1, `one replica is receiving the chunk (connected: ${busy})`);
          victim = ports.indexOf(busy[0]!);
          await new Promise((r) => setTimeout(r, 200)); // it is mid-body, streaming into the store
          await replicas[victim]!.kill();
        },
      );
      // (if the wrong process had been killed, this chunk would have succeeded)
      assert.ok(failed.error !== undefined || (failed.status ?? 0) >= 500, `the in-flight chunk failed: ${JSON.stringify(failed)}`);
      t.diagnostic(`killed replica ${victim} mid-chunk; the client saw ${failed.status ?? failed.error}`);

      // The client re-reads the status (another replica answers, from the store) and resends.
      const st = await client.uploadStatus(location);
      assert.equal(st.status, 204, st.text);
      const offset = Number(/^0-(\d+)$/.exec(st.header('range') ?? '')?.[1]) + 1;
      assert.equal(offset, KILL_AT * CHUNK, `nothing of the killed chunk was recorded (Range ${st.header('range')})`);
      location = st.header('location')!;
      const tags: string[] = [];
      for (let off = offset, i = KILL_AT; off < data.length; off += CHUNK, i++) {
        const tag = i === KILL_AT ? `${i}-resent` : String(i);
        tags.push(tag);
        const r = await client.patch(withChunkTag(lb!.url, location, tag), chunk(off), { start: off });
        assert.equal(r.status, 202, `chunk ${tag}: ${r.text}`);
        location = r.header('location')!;
      }
      assert.equal((await client.headBlob(repo, digest)).status, 404, 'not visible before the final PUT');
      const fin = await client.finish(location, digest);
      assert.equal(fin.status, 201, fin.text);
      assert.equal(fin.header('docker-content-digest'), digest);
      blobs.push({ repo, digest, size: data.length });

      // Who did what: the victim had taken part of this upload before it died;
      // everything after the kill went to the survivors.
      const before = await chunkHandlers(replicas, start.uuid, ['0', '1', '2']);
      assert.ok(
        [...before.values()].some((who) => who.includes(victim)),
        `the killed replica took earlier chunks: ${JSON.stringify([...before])}`,
      );
      const afterKill = await chunkHandlers(replicas, start.uuid, tags);
      for (const [tag, who] of afterKill) {
        assert.equal(who.length, 1, `chunk ${tag} logged once (${JSON.stringify(who)})`);
        assert.notEqual(who[0], victim, `chunk ${tag} went to a survivor`);
      }
      assert.equal(new Set([...afterKill.values()].flat()).size, REPLICAS - 1, 'both survivors took chunks');

      const got = await client.getBlob(repo, digest);
      assert.equal(got.status, 200);
      assert.equal(digestOf(got.body), digest);
    });

    it('everything is pulled back with the same digests, through the balancer and from each survivor', async () => {
      ready();
      assert.ok(blobs.length >= 2 && pushedImages.length >= 2, 'the earlier tests pushed');
      for (const base of [lb!.url, ...survivors().map((r) => r.url)]) {
        const c = new OciClient(base);
        for (const b of blobs) {
          const r = await c.getBlob(b.repo, b.digest);
          assert.equal(r.status, 200, `${base} ${b.repo}@${b.digest}`);
          assert.equal(r.body.length, b.size);
          assert.equal(digestOf(r.body), b.digest);
        }
        for (const img of pushedImages) {
          const m = await c.getManifest(img.repo, img.tag);
          assert.equal(m.status, 200);
          assert.equal(digestOf(m.body), img.digest, `${base} ${img.repo}:${img.tag}`);
          const json = m.json();
          assert.equal(json.config.digest, img.configDigest);
          for (const d of [json.config, ...json.layers]) {
            const blob = await c.getBlob(img.repo, d.digest);
            assert.equal(blob.status, 200);
            assert.equal(digestOf(blob.body), d.digest);
          }
        }
      }
      // and a real tool pulls each image through the balancer after the kill
      const { env } = await testImages();
      for (const img of pushedImages) {
        // dir: keeps the manifest as served (no conversion), so its digest must match
        const dir = join(env.tmpDir, `final-${kind}-${img.repo.replace(/\W/g, '_')}`);
        await env.skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${lb!.host}/${img.repo}:${img.tag}`, `dir:${dir}`]);
        const got = readDirTransport(dir);
        assert.equal(digestOf(got.raw), img.digest, `${img.repo}: same manifest digest`);
        for (const d of [got.json.config, ...got.json.layers]) assert.equal(digestOf(got.blob(d.digest)), d.digest);
      }
    });
  });
}
