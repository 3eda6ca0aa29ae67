// Namespaces on a listening `wharf serve`: the same repository name in two
// namespaces (`?ns=`) is two unrelated repositories, and a configured Host
// header selects a namespace.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { digestOf, exactRequest, expectError, OCI_MANIFEST, OciClient, randomBlob } from '../helpers/oci-client.js';

let wharf: WharfProcess;
let root: OciClient;
let a: OciClient;
let b: OciClient;

before(async () => {
  wharf = await startWharf({ registry: { namespaces: { hosts: { 'mirror.example': 'mirror', 'other.example:8443': 'porthost' } } } });
  root = new OciClient(wharf.url);
  a = root.withNs('team-a');
  b = root.withNs('team-b');
});

after(async () => {
  const out = wharf.output();
  await wharf.cleanup();
  assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
});

describe('?ns= isolation', () => {
  const repo = 'shared/name';

  it('a blob pushed in one namespace is unknown in another and in the default namespace', async () => {
    const data = randomBlob(300);
    const d = await a.pushBlob(repo, data);
    assert.ok((await a.getBlob(repo, d)).body.equals(data));
    expectError(await b.getBlob(repo, d), 404, 'BLOB_UNKNOWN');
    assert.equal((await b.headBlob(repo, d)).status, 404);
    expectError(await root.getBlob(repo, d), 404, 'BLOB_UNKNOWN');
    // Nor can it be mounted across namespaces, even with the right repo name.
    const m = await b.request('POST', `/v2/${repo}/blobs/uploads/`, { query: { mount: d, from: repo } });
    assert.equal(m.status, 202);
    const m2 = await b.request('POST', `/v2/${repo}/blobs/uploads/`, { query: { mount: d } });
    assert.equal(m2.status, 202);
    expectError(await b.getBlob(repo, d), 404, 'BLOB_UNKNOWN');
  });

  it('upload Locations keep the namespace; an upload id of one namespace is unknown in another', async () => {
    const { location, uuid } = await a.startUpload(repo);
    assert.equal(location, `/v2/${repo}/blobs/uploads/${uuid}?ns=team-a`);
    const data = randomBlob(100);
    const p = await a.patch(location, data.subarray(0, 50));
    assert.equal(p.status, 202);
    assert.equal(p.header('location'), location);
    const inB = `/v2/${repo}/blobs/uploads/${uuid}?ns=team-b`;
    expectError(await root.request('GET', inB), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await root.patch(inB, data.subarray(50), { start: 50 }), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await root.finish(inB, digestOf(data), data.subarray(50)), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await root.request('DELETE', inB), 404, 'BLOB_UPLOAD_UNKNOWN');
    const inDefault = `/v2/${repo}/blobs/uploads/${uuid}`;
    expectError(await root.request('GET', inDefault), 404, 'BLOB_UPLOAD_UNKNOWN');
    // Untouched in its own namespace.
    const st = await a.uploadStatus(location);
    assert.equal(st.header('range'), '0-49');
    const fin = await a.finish(location, digestOf(data), data.subarray(50));
    assert.equal(fin.status, 201);
    assert.equal(fin.header('location'), `/v2/${repo}/blobs/${digestOf(data)}?ns=team-a`);
    expectError(await b.getBlob(repo, digestOf(data)), 404, 'BLOB_UNKNOWN');
  });

  it('manifests, tags and catalogs are per namespace', async () => {
    const img = await a.pushImage(repo, 'v1');
    assert.equal(img.response.header('location'), `/v2/${repo}/manifests/${img.digest}?ns=team-a`);
    expectError(await b.getManifest(repo, 'v1'), 404, 'MANIFEST_UNKNOWN');
    expectError(await b.getManifest(repo, img.digest), 404, 'MANIFEST_UNKNOWN');
    expectError(await b.tags(repo), 404, 'NAME_UNKNOWN');
    // Pushing the same manifest in b needs b's own blobs.
    expectError(await b.putManifest(repo, 'v1', img.body, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
    const other = await b.pushImage('only/in-b', 'x');
    assert.ok(other.digest);
    assert.deepEqual((await a.catalog()).json().repositories, [repo]);
    assert.deepEqual((await b.catalog()).json().repositories, ['only/in-b']);
    assert.deepEqual((await root.catalog()).json().repositories, []);
    // ns=default is the default namespace.
    assert.deepEqual((await root.withNs('default').catalog()).json().repositories, []);
  });
});

describe('Host -> namespace mapping (namespaces.hosts)', () => {
  it('a request for a mapped Host lands in its namespace', async () => {
    const data = randomBlob(222);
    const d = digestOf(data);
    const repo = 'via/host';
    const r = await exactRequest(wharf.port, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, {
      headers: { Host: 'mirror.example:5000', 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) },
      body: data,
    });
    assert.equal(r.status, 201, r.text);
    // Visible in namespace "mirror", by Host or by ?ns=, and nowhere else.
    const h = await exactRequest(wharf.port, 'HEAD', `/v2/${repo}/blobs/${d}`, { headers: { Host: 'MIRROR.example' } });
    assert.equal(h.status, 200);
    assert.ok((await root.withNs('mirror').getBlob(repo, d)).body.equals(data));
    expectError(await root.getBlob(repo, d), 404, 'BLOB_UNKNOWN');
    const unmapped = await exactRequest(wharf.port, 'HEAD', `/v2/${repo}/blobs/${d}`, { headers: { Host: 'unmapped.example' } });
    assert.equal(unmapped.status, 404);
    // A host mapped with its port.
    const p = await exactRequest(wharf.port, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, {
      headers: { Host: 'other.example:8443', 'Content-Length': String(data.length) },
      body: data,
    });
    assert.equal(p.status, 201);
    assert.equal((await root.withNs('porthost').headBlob(repo, d)).status, 200);
    const q = await exactRequest(wharf.port, 'HEAD', `/v2/${repo}/blobs/${d}`, { headers: { Host: 'other.example:9999' } });
    assert.equal(q.status, 404, 'the mapping names that port only');
  });

  it('?ns= wins over the Host mapping', async () => {
    const data = randomBlob(10);
    const d = digestOf(data);
    const r = await exactRequest(wharf.port, 'POST', `/v2/x/blobs/uploads/?digest=${d}&ns=team-b`, {
      headers: { Host: 'mirror.example', 'Content-Length': String(data.length) },
      body: data,
    });
    assert.equal(r.status, 201);
    assert.equal((await b.headBlob('x', d)).status, 200);
    assert.equal((await root.withNs('mirror').headBlob('x', d)).status, 404);
  });
});
