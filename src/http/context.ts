// What a handler gets: the request, the response, the parsed URL, the
// namespace's storage scope, and the server's settings.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Scope } from '../registry/scope.js';
import type { Authorization } from './auth/index.js';
import type { Notifier } from '../events/notifier.js';

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  scope: Scope;
  config: Config;
  log: Logger;
  /** Mirror namespace named by the path's first component (handlers/mirror.ts): kept in the paths we hand out. */
  pathPrefix?: string;
  /** The caller's authorization (absent when authentication is off): e.g. the catalog shows only what it may pull. */
  auth?: Authorization;
  /** Webhook events (notify.ts). */
  events?: Notifier;
  /** A push refused by a buildset namespace's limit (metrics). */
  onBuildsetDenied?: (reason: 'bytes') => void;
}

/** A path on this registry, keeping the `ns` parameter so follow-up requests stay in the namespace. */
export function location(ctx: Context, path: string): string {
  if (ctx.pathPrefix && path.startsWith('/v2/')) path = `/v2/${ctx.pathPrefix}/${path.slice(4)}`;
  const ns = ctx.url.searchParams.get('ns');
  return ns === null ? path : `${path}?ns=${encodeURIComponent(ns)}`;
}

export function send(ctx: Context, status: number, headers: Record<string, string | number>, body?: Buffer | string): void {
  const { res } = ctx;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined) {
    if (!res.hasHeader('Content-Length')) res.setHeader('Content-Length', 0);
    res.end();
    return;
  }
  if (!res.hasHeader('Content-Length')) res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(ctx.req.method === 'HEAD' ? undefined : body);
}

export function sendJson(ctx: Context, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(ctx, status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(value));
}
