// The status, code and headers of the error replies whose throw sites pass a
// status override or headers (the rest take the catalogue's status, which the
// unit tests check): the token endpoint's OAuth 2.0 400s and its 413 for a
// large form, a manifest over the size limit, a disabled delete, a range
// past the end of a blob, and a method an endpoint does not serve.
//   npm run build && node --test --test-concurrency=1 dist/test/http/error-replies.test.js
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { basic, pushBlob, raw, type Reply } from '../helpers/auth.js';

const CI = { user: 'ci', pass: 'ci-password' };
const MANIFEST_MAX = 2048;

function expectError(r: Reply, status: number, code: string, message?: string): { detail?: unknown } {
  assert.equal(r.status, status, r.text);
  const body = r.json<{ errors: { code: string; message: string; detail?: unknown }[] }>();
  assert.equal(body.errors.length, 1, r.text);
  assert.equal(body.errors[0]!.code, code, r.text);
  if (message !== undefined) assert.equal(body.errors[0]!.message, message);
  return body.errors[0]!;
}

describe('error replies: status overrides and headers', () => {
  let w: WharfProcess;
  const auth = basic(CI.user, CI.pass);
  const form = (body: string, type = 'application/x-www-form-urlencoded') =>
    raw(w.url, 'POST', '/auth/token', { headers: { 'content-type': type }, body });

  before(async () => {
    w = await startWharf({
      registry: {
        secret: 'test-secret-0123456789abcdef0123456789',
        users: [{ name: CI.user, pass: CI.pass, access: 'write' }],
        limits: { 'manifest-max-bytes': MANIFEST_MAX },
        delete: false,
      },
    });
  });
  after(async () => {
    const out = w.output();
    await w.cleanup();
    assert.doesNotMatch(out, /request failed/, out);
  });

  it('token endpoint: a malformed request is 400 UNSUPPORTED (OAuth 2.0), not 405', async () => {
    expectError(await form('grant_type=password', 'text/plain'), 400, 'UNSUPPORTED', 'expected an application/x-www-form-urlencoded body');
    expectError(await form('grant_type=password&password=x'), 400, 'UNSUPPORTED', 'username and password are required');
    expectError(await form('grant_type=refresh_token'), 400, 'UNSUPPORTED', 'refresh_token is required');
    expectError(await form('grant_type=client_credentials'), 400, 'UNSUPPORTED', 'grant_type must be password or refresh_token');
  });

  it('token endpoint: a form over 64 KiB is 413 TOO_LARGE; another method is 405 with Allow', async () => {
    expectError(await form(`grant_type=password&username=${'u'.repeat(70 * 1024)}`), 413, 'TOO_LARGE', 'form too large');
    const put = await raw(w.url, 'PUT', '/auth/token', { body: '' });
    expectError(put, 405, 'UNSUPPORTED');
    assert.equal(put.header('allow'), 'GET, POST');
  });

  it('a manifest over limits.manifest-max-bytes is 413 MANIFEST_INVALID with the limit in the detail', async () => {
    const body = JSON.stringify({ schemaVersion: 2, pad: 'x'.repeat(MANIFEST_MAX) });
    const r = await raw(w.url, 'PUT', '/v2/ci/app/manifests/big', {
      headers: { authorization: auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body,
    });
    const e = expectError(r, 413, 'MANIFEST_INVALID', `manifest larger than ${MANIFEST_MAX} bytes`);
    assert.deepEqual(e.detail, { size: Buffer.byteLength(body), max: MANIFEST_MAX });
  });

  it('a delete while deletes are disabled is 405 UNSUPPORTED; a range past the end is 416 with Content-Range', async () => {
    const data = Buffer.from('ten bytes!');
    const digest = await pushBlob(w.url, 'ci/app', data, auth);
    const del = await raw(w.url, 'DELETE', `/v2/ci/app/blobs/${digest}`, { headers: { authorization: auth } });
    expectError(del, 405, 'UNSUPPORTED', 'deletes are disabled on this registry');
    const past = await raw(w.url, 'GET', `/v2/ci/app/blobs/${digest}`, { headers: { authorization: auth, range: 'bytes=10-' } });
    expectError(past, 416, 'RANGE_INVALID');
    assert.equal(past.header('content-range'), `bytes */${data.length}`);
  });
});
