// HTTP API against a listening `wharf serve` (filesystem storage): manifests
// of every supported type by tag and by digest, Accept negotiation, reference
// checks, tags and catalog with pagination, deletes, and the referrers API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWharf, stopCheckingLog, type WharfProcess } from '../helpers/wharf.js';
import {
  descriptor,
  digestOf,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  expectError,
  nextLink,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  OciClient,
  randomBlob,
  randomDigest,
  type PushedImage,
  type Resp,
} from '../helpers/oci-client.js';

let wharf: WharfProcess;
let c: OciClient;

before(async () => {
  wharf = await startWharf();
  c = new OciClient(wharf.url);
});

after(() => stopCheckingLog(wharf));

function assertManifestResponse(r: Resp, body: Buffer, mediaType: string, digest: string, what: string, head = false) {
  assert.equal(r.status, 200, `${what}: ${r.text}`);
  assert.equal(r.header('content-type'), mediaType, what);
  assert.equal(r.header('docker-content-digest'), digest, what);
  assert.equal(r.header('content-length'), String(body.length), what);
  if (head) assert.equal(r.body.length, 0, what);
  else assert.ok(r.body.equals(body), `${what}: body differs`);
}

async function assertAllReads(repo: string, tag: string, body: Buffer, mediaType: string, digest: string) {
  for (const ref of [tag, digest]) {
    assertManifestResponse(await c.getManifest(repo, ref), body, mediaType, digest, `GET ${ref}`);
    assertManifestResponse(await c.headManifest(repo, ref), body, mediaType, digest, `HEAD ${ref}`, true);
  }
}

describe('manifest types by tag and by digest', () => {
  it('OCI image manifest: PUT 201 (Location, Docker-Content-Digest), HEAD/GET by tag and digest', async () => {
    const img = await c.pushImage('types/oci', 'v1', { layers: [randomBlob(100), randomBlob(200)] });
    assert.equal(img.response.header('location'), `/v2/types/oci/manifests/${img.digest}`);
    assert.equal(img.response.header('docker-content-digest'), img.digest);
    assert.equal(img.response.header('oci-subject'), null);
    await assertAllReads('types/oci', 'v1', img.body, OCI_MANIFEST, img.digest);
  });

  it('Docker schema2 manifest', async () => {
    const img = await c.pushImage('types/docker', 'v1', { mediaType: DOCKER_MANIFEST });
    await assertAllReads('types/docker', 'v1', img.body, DOCKER_MANIFEST, img.digest);
    assert.equal((await c.deleteManifest('types/docker', img.digest)).status, 202);
    expectError(await c.getManifest('types/docker', 'v1'), 404, 'MANIFEST_UNKNOWN');
    expectError(await c.getManifest('types/docker', img.digest), 404, 'MANIFEST_UNKNOWN');
  });

  it('OCI index and Docker manifest list', async () => {
    for (const [repo, listType, imgType] of [
      ['types/ociindex', OCI_INDEX, OCI_MANIFEST],
      ['types/dockerlist', DOCKER_LIST, DOCKER_MANIFEST],
    ] as const) {
      const a = await c.pushImage(repo, undefined, { mediaType: imgType, platform: { os: 'linux', architecture: 'arm64' } });
      const b = await c.pushImage(repo, undefined, { mediaType: imgType, platform: { os: 'linux', architecture: 'amd64' } });
      const idx = await c.pushIndex(repo, 'multi', [a.descriptor, b.descriptor], listType);
      await assertAllReads(repo, 'multi', idx.body, listType, idx.digest);
      // The children are readable by digest.
      assertManifestResponse(await c.getManifest(repo, a.digest), a.body, imgType, a.digest, 'child');
      // DELETE by digest takes the index and its tag; the children stay.
      assert.equal((await c.deleteManifest(repo, idx.digest)).status, 202);
      expectError(await c.getManifest(repo, 'multi'), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await c.headManifest(repo, idx.digest)).status, 404);
      assert.equal((await c.getManifest(repo, b.digest)).status, 200);
    }
  });

  it('PUT by digest stores an untagged manifest; a manifest without mediaType is accepted as OCI', async () => {
    const repo = 'types/bydigest';
    const cfg = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBlob(50);
    await c.pushBlob(repo, cfg);
    await c.pushBlob(repo, layer);
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, config: descriptor(OCI_CONFIG, cfg), layers: [descriptor(OCI_LAYER, layer)] }),
    );
    const d = digestOf(body);
    const r = await c.putManifest(repo, d, body, OCI_MANIFEST);
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), `/v2/${repo}/manifests/${d}`);
    assertManifestResponse(await c.getManifest(repo, d), body, OCI_MANIFEST, d, 'by digest');
    const t = await c.tags(repo);
    assert.deepEqual(t.json().tags, []);
  });

  it('re-tagging moves the tag; both manifests stay readable by digest', async () => {
    const repo = 'types/retag';
    const a = await c.pushImage(repo, 'latest');
    const b = await c.pushImage(repo, 'latest');
    assert.equal((await c.getManifest(repo, 'latest')).header('docker-content-digest'), b.digest);
    assert.equal((await c.getManifest(repo, a.digest)).status, 200);
  });

  it('unknown manifest: GET 404 MANIFEST_UNKNOWN by tag and digest; HEAD 404 without body', async () => {
    expectError(await c.getManifest('types/oci', 'nope'), 404, 'MANIFEST_UNKNOWN');
    expectError(await c.getManifest('types/oci', randomDigest()), 404, 'MANIFEST_UNKNOWN');
    const h = await c.headManifest('types/oci', 'nope');
    assert.equal(h.status, 404);
    assert.equal(h.body.length, 0);
    // A manifest of another repository is not visible here.
    const img = await c.pushImage('types/elsewhere', 'x');
    expectError(await c.getManifest('types/oci', img.digest), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('Accept negotiation', () => {
  const repo = 'neg/multi';
  let arm: PushedImage;
  let amd: PushedImage;
  let idx: { body: Buffer; digest: string };

  before(async () => {
    arm = await c.pushImage(repo, undefined, { platform: { os: 'linux', architecture: 'arm64' } });
    amd = await c.pushImage(repo, undefined, { platform: { os: 'linux', architecture: 'amd64' } });
    // amd64 deliberately second: chosen by platform, not position.
    idx = await c.pushIndex(repo, 'latest', [arm.descriptor, amd.descriptor]);
  });

  it('a client accepting the index gets the index', async () => {
    const r = await c.getManifest(repo, 'latest', [OCI_MANIFEST, OCI_INDEX]);
    assertManifestResponse(r, idx.body, OCI_INDEX, idx.digest, 'index');
  });

  it('a client not accepting an index gets the linux/amd64 child (GET and HEAD)', async () => {
    const r = await c.getManifest(repo, 'latest', OCI_MANIFEST);
    assertManifestResponse(r, amd.body, OCI_MANIFEST, amd.digest, 'GET child');
    const h = await c.headManifest(repo, 'latest', `${OCI_MANIFEST};q=0.9, ${DOCKER_MANIFEST}`);
    assertManifestResponse(h, amd.body, OCI_MANIFEST, amd.digest, 'HEAD child', true);
  });

  it('a client accepting none of the stored types gets 404 MANIFEST_UNKNOWN', async () => {
    expectError(await c.getManifest(repo, 'latest', DOCKER_MANIFEST), 404, 'MANIFEST_UNKNOWN');
    const img = await c.pushImage('neg/single', 'v1');
    expectError(await c.getManifest('neg/single', 'v1', [DOCKER_MANIFEST, DOCKER_LIST]), 404, 'MANIFEST_UNKNOWN');
    const h = await c.headManifest('neg/single', 'v1', DOCKER_MANIFEST);
    assert.equal(h.status, 404);
    // */* accepts anything.
    assertManifestResponse(await c.getManifest('neg/single', 'v1', '*/*'), img.body, OCI_MANIFEST, img.digest, '*/*');
  });

  it('a Docker manifest list gives its amd64 schema2 child to a schema2-only client', async () => {
    const r2 = 'neg/dockerlist';
    const a = await c.pushImage(r2, undefined, { mediaType: DOCKER_MANIFEST, platform: { os: 'linux', architecture: 's390x' } });
    const b = await c.pushImage(r2, undefined, { mediaType: DOCKER_MANIFEST, platform: { os: 'linux', architecture: 'amd64' } });
    await c.pushIndex(r2, 'latest', [a.descriptor, b.descriptor], DOCKER_LIST);
    assertManifestResponse(await c.getManifest(r2, 'latest', DOCKER_MANIFEST), b.body, DOCKER_MANIFEST, b.digest, 'child');
  });
});

describe('manifest references must exist', () => {
  const repo = 'refs/check';

  it('missing config and layers: 400 MANIFEST_BLOB_UNKNOWN listing every missing digest, nothing stored', async () => {
    const cfg = Buffer.from('{"os":"linux","architecture":"amd64"}');
    const present = randomBlob(10);
    const missing1 = randomBlob(11);
    const missing2 = randomBlob(12);
    await c.pushBlob(repo, present);
    const body = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptor(OCI_CONFIG, cfg),
      layers: [descriptor(OCI_LAYER, present), descriptor(OCI_LAYER, missing1), descriptor(OCI_LAYER, missing2)],
    };
    const r = await c.putManifest(repo, 'broken', body, OCI_MANIFEST);
    const e = expectError(r, 400, 'MANIFEST_BLOB_UNKNOWN');
    const listed = JSON.stringify(e.detail);
    for (const d of [digestOf(cfg), digestOf(missing1), digestOf(missing2)]) assert.ok(listed.includes(d), `${d} in ${listed}`);
    assert.ok(!listed.includes(digestOf(present)));
    expectError(await c.getManifest(repo, 'broken'), 404, 'MANIFEST_UNKNOWN');
    expectError(await c.getManifest(repo, digestOf(JSON.stringify(body))), 404, 'MANIFEST_UNKNOWN');
  });

  it('a blob that exists only in another repository does not count', async () => {
    const layer = randomBlob(33);
    const cfg = randomBlob(20);
    await c.pushBlob('refs/other', layer);
    await c.pushBlob(repo, cfg);
    const body = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, cfg), layers: [descriptor(OCI_LAYER, layer)] };
    const e = expectError(await c.putManifest(repo, 'x', body, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.ok(JSON.stringify(e.detail).includes(digestOf(layer)));
  });

  it('an index whose child manifest is missing: MANIFEST_BLOB_UNKNOWN naming the child', async () => {
    const img = await c.pushImage(repo, undefined);
    const ghost = { mediaType: OCI_MANIFEST, digest: randomDigest(), size: 123, platform: { os: 'linux', architecture: 'arm64' } };
    const body = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [img.descriptor, ghost] };
    const e = expectError(await c.putManifest(repo, 'idx', body, OCI_INDEX), 400, 'MANIFEST_BLOB_UNKNOWN');
    const listed = JSON.stringify(e.detail);
    assert.ok(listed.includes(ghost.digest));
    assert.ok(!listed.includes(img.digest));
    expectError(await c.getManifest(repo, 'idx'), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('tags list', () => {
  const repo = 'list/tags';
  const names = ['a', 'b', 'c', 'v1.0', 'v1.1', 'v2', 'z_last'];

  before(async () => {
    const img = await c.pushImage(repo, names[0]);
    for (const t of names.slice(1)) assert.equal((await c.putManifest(repo, t, img.body, OCI_MANIFEST)).status, 201);
  });

  it('lists all tags in lexical order', async () => {
    const r = await c.tags(repo);
    assert.equal(r.status, 200);
    assert.match(r.header('content-type')!, /^application\/json/);
    assert.deepEqual(r.json(), { name: repo, tags: [...names].sort() });
    assert.equal(r.header('link'), null);
  });

  it('n and last paginate with Link: <...>; rel="next"', async () => {
    const seen: string[] = [];
    let r = await c.tags(repo, { n: '3' });
    for (let pages = 0; ; pages++) {
      assert.equal(r.status, 200);
      const page = r.json().tags as string[];
      assert.ok(page.length <= 3);
      seen.push(...page);
      const link = nextLink(r);
      if (!link) break;
      assert.ok(link.startsWith(`/v2/${repo}/tags/list?`), link);
      const q = new URL(link, 'http://x').searchParams;
      assert.equal(q.get('n'), '3');
      assert.equal(q.get('last'), page[page.length - 1]);
      assert.ok(pages < 10);
      r = await c.request('GET', link);
    }
    assert.deepEqual(seen, [...names].sort());
    const after = await c.tags(repo, { last: 'v1.0' });
    assert.deepEqual(after.json().tags, ['v1.1', 'v2', 'z_last']);
    const firstTwo = await c.tags(repo, { n: '2', last: 'a' });
    assert.deepEqual(firstTwo.json().tags, ['b', 'c']);
    assert.ok(nextLink(firstTwo));
    const exact = await c.tags(repo, { n: String(names.length) });
    assert.equal(exact.json().tags.length, names.length);
    assert.equal(exact.header('link'), null, 'no Link when nothing follows');
  });

  it('unknown repository: 404 NAME_UNKNOWN', async () => {
    expectError(await c.tags('list/none'), 404, 'NAME_UNKNOWN');
  });
});

describe('catalog', () => {
  it('lists the repositories of the namespace with n/last pagination', async () => {
    const cc = c.withNs('catalogtest');
    const repos = ['alpha', 'beta/one', 'beta/two', 'gamma', 'zeta/x/y'];
    for (const r of repos) await cc.pushImage(r, 'latest');
    const all = await cc.catalog();
    assert.equal(all.status, 200);
    const full = all.json().repositories as string[];
    assert.deepEqual([...full].sort(), [...repos].sort());
    const seen: string[] = [];
    let r = await cc.catalog({ n: '2' });
    for (let pages = 0; ; pages++) {
      const page = r.json().repositories as string[];
      assert.ok(page.length <= 2);
      seen.push(...page);
      const link = nextLink(r);
      if (!link) break;
      assert.ok(link.startsWith('/v2/_catalog?'), link);
      assert.equal(new URL(link, 'http://x').searchParams.get('ns'), 'catalogtest', 'Link keeps the namespace');
      assert.ok(pages < 10);
      r = await cc.request('GET', link);
    }
    assert.deepEqual(seen, full, 'pages concatenate to the full listing');
    const afterFirst = await cc.catalog({ last: full[0]! });
    assert.deepEqual(afterFirst.json().repositories, full.slice(1));
  });
});

describe('deletes', () => {
  it('DELETE of a tag removes only that tag', async () => {
    const repo = 'del/tag';
    const img = await c.pushImage(repo, 't1');
    assert.equal((await c.putManifest(repo, 't2', img.body, OCI_MANIFEST)).status, 201);
    const r = await c.deleteManifest(repo, 't1');
    assert.equal(r.status, 202);
    expectError(await c.getManifest(repo, 't1'), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await c.getManifest(repo, 't2')).status, 200);
    assert.equal((await c.getManifest(repo, img.digest)).status, 200);
    assert.deepEqual((await c.tags(repo)).json().tags, ['t2']);
    expectError(await c.deleteManifest(repo, 't1'), 404, 'MANIFEST_UNKNOWN');
  });

  it('DELETE of a manifest by digest removes it and its tags', async () => {
    const repo = 'del/digest';
    const keep = await c.pushImage(repo, 'keep');
    const img = await c.pushImage(repo, 'a');
    assert.equal((await c.putManifest(repo, 'b', img.body, OCI_MANIFEST)).status, 201);
    const r = await c.deleteManifest(repo, img.digest);
    assert.equal(r.status, 202);
    for (const ref of ['a', 'b', img.digest]) {
      expectError(await c.getManifest(repo, ref), 404, 'MANIFEST_UNKNOWN', ref);
      assert.equal((await c.headManifest(repo, ref)).status, 404, ref);
    }
    assert.deepEqual((await c.tags(repo)).json().tags, ['keep']);
    assert.equal((await c.getManifest(repo, keep.digest)).status, 200);
    expectError(await c.deleteManifest(repo, img.digest), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('referrers', () => {
  const repo = 'ref/app';
  const empty = Buffer.from('{}');
  let subject: PushedImage;

  async function pushArtifact(artifactType: string | undefined, configType: string, annotations: Record<string, string>) {
    return c.pushImage(repo, undefined, {
      config: empty,
      configMediaType: configType,
      artifactType,
      layers: [randomBlob(40)],
      subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.body.length },
      annotations,
    });
  }

  before(async () => {
    subject = await c.pushImage(repo, 'v1');
  });

  it('PUT with a subject answers OCI-Subject; the referrers index lists descriptors; filter; removal', async () => {
    const sbom = await pushArtifact('application/vnd.example.sbom.v1', OCI_EMPTY, { 'org.example.kind': 'sbom' });
    assert.equal(sbom.response.header('oci-subject'), subject.digest);
    // No artifactType field: the config media type is the artifact type.
    const sig = await pushArtifact(undefined, 'application/vnd.example.signature.v1', { 'org.example.kind': 'sig' });
    assert.equal(sig.response.header('oci-subject'), subject.digest);

    const r = await c.referrers(repo, subject.digest);
    assert.equal(r.status, 200);
    assert.equal(r.header('content-type'), OCI_INDEX);
    assert.equal(r.header('oci-filters-applied'), null);
    const idx = r.json();
    assert.equal(idx.schemaVersion, 2);
    assert.equal(idx.mediaType, OCI_INDEX);
    const byDigest = new Map((idx.manifests as any[]).map((m) => [m.digest, m]));
    assert.equal(byDigest.size, 2);
    assert.deepEqual(byDigest.get(sbom.digest), {
      mediaType: OCI_MANIFEST,
      digest: sbom.digest,
      size: sbom.body.length,
      artifactType: 'application/vnd.example.sbom.v1',
      annotations: { 'org.example.kind': 'sbom' },
    });
    assert.deepEqual(byDigest.get(sig.digest), {
      mediaType: OCI_MANIFEST,
      digest: sig.digest,
      size: sig.body.length,
      artifactType: 'application/vnd.example.signature.v1',
      annotations: { 'org.example.kind': 'sig' },
    });

    const f = await c.referrers(repo, subject.digest, 'application/vnd.example.sbom.v1');
    assert.equal(f.status, 200);
    assert.equal(f.header('oci-filters-applied'), 'artifactType');
    assert.deepEqual(
      (f.json().manifests as any[]).map((m) => m.digest),
      [sbom.digest],
    );
    const none = await c.referrers(repo, subject.digest, 'application/vnd.example.none');
    assert.deepEqual(none.json().manifests, []);

    assert.equal((await c.deleteManifest(repo, sbom.digest)).status, 202);
    const after = await c.referrers(repo, subject.digest);
    assert.deepEqual(
      (after.json().manifests as any[]).map((m) => m.digest),
      [sig.digest],
    );
  });

  it('an unknown subject gives an empty index', async () => {
    const r = await c.referrers(repo, randomDigest());
    assert.equal(r.status, 200);
    assert.equal(r.header('content-type'), OCI_INDEX);
    assert.deepEqual(r.json(), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    const r2 = await c.referrers('ref/never-pushed', randomDigest());
    assert.equal(r2.status, 200);
    assert.deepEqual(r2.json().manifests, []);
  });

  it('a referrer may be pushed before its subject exists', async () => {
    const later = randomDigest();
    const art = await c.pushImage(repo, undefined, {
      config: empty,
      configMediaType: OCI_EMPTY,
      artifactType: 'application/vnd.example.early',
      subject: { mediaType: OCI_MANIFEST, digest: later, size: 10 },
    });
    assert.equal(art.response.header('oci-subject'), later);
    const r = await c.referrers(repo, later);
    assert.deepEqual(
      (r.json().manifests as any[]).map((m) => m.digest),
      [art.digest],
    );
  });
});
