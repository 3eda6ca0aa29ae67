// Blob bodies over TLS are streamed, never sent with sendfile (the bytes must
// be encrypted in user space): whole and ranged bodies come out right from a
// server that has the sendfile addon.
// Not in test:quick: needs openssl (a Debian package).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCa, makeServerCert } from '../helpers/auth.js';
import { randomBlob } from '../helpers/oci-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const MIB = 1024 * 1024;
const REPO = 'sendfile/blob';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('blob bodies over TLS are streamed', () => {
  let dir: string;
  let w: WharfProcess;
  let ca: Buffer;
  const data = randomBlob(3 * MIB + 7);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-sendfile-tls-'));
    const c = makeCa(dir);
    ca = readFileSync(c.ca);
    const cert = makeServerCert(c, 'one', 'wharf-one');
    w = await startWharf({ registry: { 'tls-cert': cert.cert, 'tls-key': cert.key } });
  });
  after(async () => {
    await w?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('whole and ranged bodies are right', async () => {
    const https = (method: string, path: string, headers: Record<string, string>, body?: Buffer) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const r = httpsRequest(`${w.url}${path}`, { method, headers, ca, agent: false }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
          res.on('error', reject);
        });
        r.on('error', reject);
        r.end(body);
      });
    const digest = `sha256:${sha(data)}`;
    const put = await https('POST', `/v2/${REPO}/blobs/uploads/?digest=${digest}`, { 'content-length': String(data.length) }, data);
    assert.equal(put.status, 201);
    const whole = await https('GET', `/v2/${REPO}/blobs/${digest}`, {});
    assert.equal(whole.status, 200);
    assert.equal(sha(whole.body), sha(data));
    const part = await https('GET', `/v2/${REPO}/blobs/${digest}`, { range: 'bytes=1000-2999999' });
    assert.equal(part.status, 206);
    assert.equal(sha(part.body), sha(data.subarray(1000, 3_000_000)));
    assert.match(w.output(), /"blobBodies":"sendfile"/); // the addon is there: TLS alone chose the stream
  });
});
