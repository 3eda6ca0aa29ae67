// The client's address: the TCP peer, or — when the peer is a trusted proxy
// (`registry.trusted-proxies`) — the address the proxies say they got the
// request from. The access log, the events and the login throttle all use it.
//
// X-Forwarded-For is read (else Forwarded, RFC 7239) from the right: each
// trusted proxy appends the address it received from, so the first address
// from the right that is not a trusted proxy is the client. Anything a client
// wrote itself sits further left and is never reached; a header from a peer
// that is not trusted is ignored.
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Cidr } from '../config/operations.js';

/** "::ffff:10.0.0.1" -> "10.0.0.1"; a zone ("fe80::1%eth0") is dropped. */
export function normalizeAddress(a: string): string {
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  if (a.length > 7 && a.slice(0, 7).toLowerCase() === '::ffff:' && isIP(a.slice(7)) === 4) return a.slice(7);
  return a;
}

/** One hop of a forwarding header as an address, or null: "1.2.3.4", "1.2.3.4:80", "[::1]:80", "::1". */
export function hopAddress(raw: string): string | null {
  let s = raw.trim();
  if (s.startsWith('"') && s.endsWith('"') && s.length >= 2) s = s.slice(1, -1);
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end === -1) return null;
    const rest = s.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
    s = s.slice(1, end);
  } else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}$/.test(s)) {
    s = s.slice(0, s.lastIndexOf(':'));
  }
  return isIP(s) === 0 ? null : normalizeAddress(s);
}

/** The `for=` values of a Forwarded header, left to right (null for a hop without a usable one). */
export function forwardedFor(header: string): (string | null)[] {
  const hops: (string | null)[] = [];
  // Elements are separated by commas outside quoted strings.
  for (const element of header.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    let addr: string | null = null;
    for (const pair of element.match(/(?:[^;"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      if (pair.slice(0, eq).trim().toLowerCase() === 'for') addr = hopAddress(pair.slice(eq + 1));
    }
    hops.push(addr);
  }
  return hops;
}

export class ClientAddresses {
  private readonly trusted: BlockList | null;

  constructor(cidrs: readonly Cidr[]) {
    if (cidrs.length === 0) {
      this.trusted = null;
      return;
    }
    this.trusted = new BlockList();
    for (const c of cidrs) this.trusted.addSubnet(c.address, c.prefix, c.family);
  }

  private isTrusted(address: string): boolean {
    const v = isIP(address);
    return v !== 0 && this.trusted!.check(address, v === 4 ? 'ipv4' : 'ipv6');
  }

  /** The client address of a request. */
  of(req: IncomingMessage): string {
    const peer = normalizeAddress(req.socket.remoteAddress ?? '');
    if (!this.trusted || !this.isTrusted(peer)) return peer;
    const xff = req.headers['x-forwarded-for'];
    const fwd = req.headers.forwarded;
    let hops: (string | null)[];
    if (xff !== undefined) hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map(hopAddress);
    else if (fwd !== undefined) hops = forwardedFor(fwd);
    else return peer;
    // From the right: skip trusted proxies; the first other address is the client.
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i];
      if (hop === null || hop === undefined) break; // a malformed hop ends what can be believed
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return client;
  }
}
