// The S3 driver's own SigV4 signer (src/storage/s3/sigv4.ts) against the
// signed examples of the AWS S3 documentation ("Signature Calculations for
// the Authorization Header: Transferring Payload in a Single Chunk"):
// credentials AKIAIOSFODNN7EXAMPLE, us-east-1, 2013-05-24T00:00:00Z.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseListResult, s3Target } from '../../src/storage/s3/requests.js';
import { canonicalQuery, EMPTY_SHA256, encodePath, SigV4Signer, uriEncode } from '../../src/storage/s3/sigv4.js';

const creds = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const date = new Date('2013-05-24T00:00:00Z');
const host = 'examplebucket.s3.amazonaws.com';

function signature(h: Record<string, string>): string {
  return /Signature=([0-9a-f]{64})$/.exec(h.authorization ?? '')?.[1] ?? '';
}

describe('S3 SigV4 signer (AWS documentation examples)', () => {
  it('GET Object with a Range', () => {
    const h = new SigV4Signer().sign(
      { method: 'GET', host, path: '/test.txt', headers: { range: 'bytes=0-9' }, payloadHash: EMPTY_SHA256, region: 'us-east-1', date },
      creds,
    );
    assert.equal(signature(h), 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
    assert.match(
      h.authorization!,
      /Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/s3\/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,/,
    );
  });

  it('PUT Object (a key with $, a signed payload hash, extra headers)', () => {
    const h = new SigV4Signer().sign(
      {
        method: 'PUT',
        host,
        path: encodePath('/test$file.text'),
        headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
        payloadHash: '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        region: 'us-east-1',
        date,
      },
      creds,
    );
    assert.equal(signature(h), '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
  });

  it('GET Bucket lifecycle (a query flag without a value)', () => {
    const h = new SigV4Signer().sign(
      { method: 'GET', host, path: '/', query: { lifecycle: '' }, payloadHash: EMPTY_SHA256, region: 'us-east-1', date },
      creds,
    );
    assert.equal(signature(h), 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  });

  it('GET Bucket (list objects, query parameters sorted)', () => {
    const h = new SigV4Signer().sign(
      { method: 'GET', host, path: '/', query: { prefix: 'J', 'max-keys': '2' }, payloadHash: EMPTY_SHA256, region: 'us-east-1', date },
      creds,
    );
    assert.equal(signature(h), '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  });

  it('encodes as SigV4 wants (RFC 3986, slashes kept in paths only)', () => {
    assert.equal(uriEncode("a b!'()*~._-/"), 'a%20b%21%27%28%29%2A~._-%2F');
    assert.equal(encodePath('/bucket/ns/blobs/sha256/ab/x y+z/data'), '/bucket/ns/blobs/sha256/ab/x%20y%2Bz/data');
    assert.equal(canonicalQuery({ uploadId: 'a/b=c', partNumber: '2', uploads: '' }), 'partNumber=2&uploadId=a%2Fb%3Dc&uploads=');
  });

  it('session tokens are sent and signed', () => {
    const h = new SigV4Signer().sign(
      { method: 'HEAD', host, path: '/k', payloadHash: EMPTY_SHA256, region: 'us-east-1', date },
      { ...creds, sessionToken: 'tok' },
    );
    assert.equal(h['x-amz-security-token'], 'tok');
    assert.match(h.authorization!, /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
  });
});

describe('S3 ListObjectsV2 answers (parseListResult)', () => {
  it('reads objects, common prefixes, entities and the continuation token', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>a/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
<Contents><Key>a/x&amp;&lt;y&gt;&#39;</Key><LastModified>2026-12-05T18:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>a/z</Key><LastModified>2026-12-05T18:00:01.000Z</LastModified><Size>0</Size></Contents>
<CommonPrefixes><Prefix>a/d/</Prefix></CommonPrefixes><NextContinuationToken>tok&amp;1</NextContinuationToken></ListBucketResult>`;
    const r = parseListResult(xml);
    assert.deepEqual(
      r.contents.map((c) => [c.key, c.size, c.modified.toISOString()]),
      [
        ["a/x&<y>'", 12, '2026-12-05T18:00:00.000Z'],
        ['a/z', 0, '2026-12-05T18:00:01.000Z'],
      ],
    );
    assert.deepEqual(r.prefixes, ['a/d/']);
    assert.equal(r.truncated, true);
    assert.equal(r.next, 'tok&1');
    assert.deepEqual(parseListResult('<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>'), {
      contents: [],
      prefixes: [],
      truncated: false,
      next: undefined,
    });
  });
});

describe('S3 request targets (s3Target), as the SDK builds them', () => {
  const base = { region: 'eu-west-1', bucket: 'wharf' };
  it('an endpoint: path style by default, the bucket in the path', () => {
    assert.deepEqual(s3Target({ ...base, endpoint: 'http://127.0.0.1:8080' }), {
      https: false,
      hostname: '127.0.0.1',
      port: 8080,
      host: '127.0.0.1:8080',
      prefix: '/wharf/',
    });
  });
  it('an endpoint with force-path-style false: the bucket in the host name', () => {
    const t = s3Target({ ...base, endpoint: 'https://minio.example.com', forcePathStyle: false });
    assert.deepEqual(
      [t.https, t.hostname, t.port, t.host, t.prefix],
      [true, 'wharf.minio.example.com', 443, 'wharf.minio.example.com', '/'],
    );
  });
  it('AWS: the regional endpoint, virtual-hosted unless the name has dots', () => {
    assert.equal(s3Target(base).host, 'wharf.s3.eu-west-1.amazonaws.com');
    const dotted = s3Target({ ...base, bucket: 'my.bucket' });
    assert.deepEqual([dotted.host, dotted.prefix], ['s3.eu-west-1.amazonaws.com', '/my.bucket/']);
    assert.equal(s3Target({ ...base, forcePathStyle: true }).prefix, '/wharf/');
  });
});
