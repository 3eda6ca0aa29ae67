// What is known about a request when its response ends: one access-log line
// (info level, `registry.access-log`) and the request metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Runtime } from './runtime.js';
import { requestInfo } from './request-info.js';
import { bytesSentPastNode } from './sendfile.js';

/** What the dispatcher learned while routing. */
export interface RequestFacts {
  started: bigint;
  /** Route kind: base, catalog, tags, manifest, blob, upload, referrers, token, health, metrics, unknown. */
  route: string;
  namespace: string;
  repository?: string;
  /** Tag or digest of a manifest request. */
  reference?: string;
  /** Digest of a blob or referrers request. */
  digest?: string;
  /** Upload session id. */
  upload?: string;
}

/**
 * Socket byte counters when the connection's previous request ended: a
 * request's bytes are what the connection carried since (its headers and
 * body, which may all have arrived before the request event).
 */
const lastCounts = new WeakMap<Socket, { read: number; written: number }>();

function bytesOf(socket: Socket): { bytesIn: number; bytesOut: number } {
  const last = lastCounts.get(socket);
  const read = socket.bytesRead;
  const written = socket.bytesWritten + bytesSentPastNode(socket);
  lastCounts.set(socket, { read, written });
  return { bytesIn: Math.max(0, read - (last?.read ?? 0)), bytesOut: Math.max(0, written - (last?.written ?? 0)) };
}

export function requestEnded(rt: Runtime, req: IncomingMessage, res: ServerResponse, f: RequestFacts): void {
  const seconds = Number(process.hrtime.bigint() - f.started) / 1e9;
  const { bytesIn, bytesOut } = bytesOf(req.socket);
  // A response cut short (client gone, or a stream that failed mid-way) is logged with the status it started with.
  const status = res.statusCode;
  const method = req.method ?? '';
  rt.metrics?.request({ method, route: f.route, status, namespace: f.namespace, seconds, bytesIn, bytesOut });
  // Probes and scrapes come every few seconds: counted, not logged.
  if (f.route === 'health' || f.route === 'metrics') return;
  if (!rt.config.ops.accessLog || !rt.log.enabled('info')) return;
  const info = requestInfo(req);
  rt.log.flat('info', 'request', {
    id: info?.id,
    client: info?.client,
    user: info?.user,
    method,
    url: req.url,
    route: f.route,
    namespace: f.namespace,
    repository: f.repository,
    reference: f.reference,
    digest: f.digest,
    upload: f.upload,
    status,
    error: info?.error,
    complete: res.writableFinished,
    bytesIn,
    bytesOut,
    ms: Math.round(seconds * 10000) / 10,
    userAgent: req.headers['user-agent'],
  });
}
