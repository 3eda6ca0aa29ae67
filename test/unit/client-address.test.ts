// Client addresses through trusted proxies, and request ids: what the access
// log, the events and the login throttle see as "the client".
//   npm run build && node --test dist/test/unit/client-address.test.js
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { parseCidr } from '../../src/config/operations.js';
import { ClientAddresses, forwardedFor, hopAddress, normalizeAddress } from '../../src/http/client-address.js';
import { requestIdFrom } from '../../src/http/request-info.js';

function req(peer: string, headers: Record<string, string> = {}): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage;
}

function resolver(...cidrs: string[]): ClientAddresses {
  return new ClientAddresses(cidrs.map((c) => parseCidr(c)!));
}

describe('client address', () => {
  it('without trusted proxies: always the TCP peer, whatever the headers say', () => {
    const r = resolver();
    assert.equal(r.of(req('203.0.113.7', { 'x-forwarded-for': '1.2.3.4' })), '203.0.113.7');
    assert.equal(r.of(req('::ffff:203.0.113.7')), '203.0.113.7', 'IPv4-mapped peers are shown as IPv4');
  });

  it('a forged X-Forwarded-For from a peer that is not trusted is ignored', () => {
    const r = resolver('10.0.0.0/8');
    assert.equal(r.of(req('198.51.100.9', { 'x-forwarded-for': '10.0.0.5, 1.2.3.4' })), '198.51.100.9');
    assert.equal(r.of(req('198.51.100.9', { forwarded: 'for=1.2.3.4' })), '198.51.100.9');
  });

  it('from a trusted proxy: the first address from the right that is not a trusted proxy', () => {
    const r = resolver('10.0.0.0/8', '127.0.0.1');
    assert.equal(r.of(req('127.0.0.1', { 'x-forwarded-for': '192.0.2.44' })), '192.0.2.44');
    // A client that writes its own header cannot choose its address: the proxy appends the real one.
    assert.equal(r.of(req('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 192.0.2.44' })), '192.0.2.44');
    // Two trusted proxies in a row are skipped.
    assert.equal(r.of(req('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 192.0.2.44, 10.1.2.3' })), '192.0.2.44');
    // Every hop trusted: the leftmost.
    assert.equal(r.of(req('127.0.0.1', { 'x-forwarded-for': '10.9.9.9, 10.1.2.3' })), '10.9.9.9');
    // No header: the proxy itself.
    assert.equal(r.of(req('::ffff:127.0.0.1')), '127.0.0.1');
  });

  it('a malformed hop ends what can be believed: the last address before it', () => {
    const r = resolver('10.0.0.0/8');
    assert.equal(r.of(req('10.0.0.1', { 'x-forwarded-for': '192.0.2.44, garbage' })), '10.0.0.1');
    assert.equal(r.of(req('10.0.0.1', { 'x-forwarded-for': 'garbage, 10.0.0.7' })), '10.0.0.7');
    assert.equal(r.of(req('10.0.0.1', { 'x-forwarded-for': '' })), '10.0.0.1');
  });

  it('Forwarded (RFC 7239) when there is no X-Forwarded-For: quoted, IPv6 in brackets, ports', () => {
    const r = resolver('10.0.0.0/8', 'fd00::/8');
    assert.equal(r.of(req('10.0.0.1', { forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43' })), '192.0.2.60');
    assert.equal(r.of(req('fd00::1', { forwarded: 'for="[2001:db8:cafe::17]:4711", for=10.2.2.2' })), '2001:db8:cafe::17');
    assert.equal(r.of(req('10.0.0.1', { forwarded: 'for=unknown' })), '10.0.0.1');
    // X-Forwarded-For wins when both are there.
    assert.equal(r.of(req('10.0.0.1', { 'x-forwarded-for': '192.0.2.1', forwarded: 'for=192.0.2.2' })), '192.0.2.1');
  });

  it('hop and address parsing', () => {
    assert.equal(hopAddress(' 192.0.2.1:8080 '), '192.0.2.1');
    assert.equal(hopAddress('[::1]:80'), '::1');
    assert.equal(hopAddress('::1'), '::1');
    assert.equal(hopAddress('[::1'), null);
    assert.equal(hopAddress('example.com'), null);
    assert.equal(normalizeAddress('fe80::1%eth0'), 'fe80::1');
    assert.deepEqual(forwardedFor('for=1.2.3.4;by=x, for="[::2]"'), ['1.2.3.4', '::2']);
  });

  it('CIDR parsing', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0/8', 'host.example', '10.0.0.0/x', '']) assert.equal(parseCidr(bad), null, bad);
  });
});

describe('request id', () => {
  it('a well-formed X-Request-Id is kept; anything else is replaced by a fresh UUID', () => {
    assert.equal(requestIdFrom('build-1234:step.5'), 'build-1234:step.5');
    assert.equal(requestIdFrom('9f1c2d3e-0000-4000-8000-123456789abc'), '9f1c2d3e-0000-4000-8000-123456789abc');
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'new\nline', '<script>', 'é', ['a', 'b']]) {
      assert.match(requestIdFrom(bad as string | undefined), uuid, JSON.stringify(bad));
    }
    assert.notEqual(requestIdFrom(undefined), requestIdFrom(undefined));
  });
});
