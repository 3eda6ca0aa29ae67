// What the access log, the metrics and the events know about a request beyond
// the request itself: its id, the client address, who it was (once the
// authorizer or the token endpoint knows), and what it did.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface RequestInfo {
  /** X-Request-Id: the client's (when well formed) or generated. Always returned in the response. */
  id: string;
  /** The client address (client-address.ts). */
  client: string;
  /** The user name once authenticated. */
  user?: string;
  /** OCI error code of an error answer. */
  error?: string;
}

const infos = new WeakMap<IncomingMessage, RequestInfo>();

/** A client's X-Request-Id is used when it is 1-128 of these characters (a UUID, hex, base64...); else one is made. */
const REQUEST_ID_RE = /^[A-Za-z0-9._:+/=@-]{1,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID_RE.test(header) ? header : randomUUID();
}

export function attachRequestInfo(req: IncomingMessage, info: RequestInfo): void {
  infos.set(req, info);
}

export function requestInfo(req: IncomingMessage): RequestInfo | undefined {
  return infos.get(req);
}

/** The client address (the TCP peer when the dispatcher has not set one, e.g. in unit tests). */
export function clientAddress(req: IncomingMessage): string {
  return infos.get(req)?.client ?? req.socket.remoteAddress ?? '';
}

/** Record who made the request (access log, events). */
export function noteUser(req: IncomingMessage, name: string | null): void {
  const info = infos.get(req);
  if (info && name) info.user = name;
}
