// Events from the HTTP layer: built here, after the registry call that wrote
// (or read) the content has returned, and handed to the notifier, which
// queues them without waiting. Nothing is built when no endpoint wants the
// action.
import type { IncomingMessage } from 'node:http';
import type { EventAction } from '../config/notifications.js';
import { BLOB_EVENT_MEDIA_TYPE, newEvent, type EventTarget, type RequestRecord } from '../events/event.js';
import { location, type Context } from './context.js';
import { requestInfo } from './request-info.js';

export function requestRecord(req: IncomingMessage): RequestRecord {
  const info = requestInfo(req);
  return {
    id: info?.id ?? '',
    addr: info?.client ?? req.socket.remoteAddress,
    host: req.headers.host,
    method: req.method ?? '',
    useragent: req.headers['user-agent'] ?? '',
  };
}

/** The URL a client would fetch the content from. */
function contentUrl(ctx: Context, path: string): string {
  const base =
    ctx.config.publicUrl ??
    `${(ctx.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'}://${ctx.req.headers.host ?? 'localhost'}`;
  return base + location(ctx, path);
}

function publish(ctx: Context, action: EventAction, target: Omit<EventTarget, 'namespace'>): void {
  const n = ctx.events;
  if (!n?.wants(action)) return;
  const user = requestInfo(ctx.req)?.user;
  n.publish(newEvent(action, { ...target, namespace: ctx.scope.ns }, requestRecord(ctx.req), user ? { name: user } : {}, n.source));
}

export interface ManifestFacts {
  digest: string;
  mediaType: string;
  size: number;
  tag?: string;
}

/** A manifest pushed (push) or fetched (pull) — `wants` is checked first, so callers may pass facts cheaply. */
export function notifyManifest(ctx: Context, action: 'push' | 'pull' | 'mirror', repo: string, m: ManifestFacts): void {
  if (!ctx.events?.wants(action)) return;
  publish(ctx, action, {
    mediaType: m.mediaType,
    size: m.size,
    digest: m.digest,
    length: m.size,
    repository: repo,
    url: contentUrl(ctx, `/v2/${repo}/manifests/${m.digest}`),
    ...(m.tag !== undefined ? { tag: m.tag } : {}),
  });
}

/** A blob pushed, pulled, mounted (with the repository it came from) or filled from upstream. */
export function notifyBlob(
  ctx: Context,
  action: 'push' | 'pull' | 'mount' | 'mirror',
  repo: string,
  digest: string,
  size: number | undefined,
  from?: string,
): void {
  if (!ctx.events?.wants(action)) return;
  publish(ctx, action, {
    mediaType: BLOB_EVENT_MEDIA_TYPE,
    ...(size !== undefined ? { size, length: size } : {}),
    digest,
    repository: repo,
    ...(from !== undefined ? { fromRepository: from } : {}),
    url: contentUrl(ctx, `/v2/${repo}/blobs/${digest}`),
  });
}

/** A manifest deleted by digest, or a blob unlinked. */
export function notifyDeleteDigest(ctx: Context, repo: string, digest: string): void {
  publish(ctx, 'delete', { digest, repository: repo });
}

/** A tag deleted. */
export function notifyDeleteTag(ctx: Context, repo: string, tag: string): void {
  publish(ctx, 'delete', { repository: repo, tag });
}
