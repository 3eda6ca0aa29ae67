// The operator's endpoints: /healthz, /readyz and /metrics. Served by the
// admin listener when `registry.admin` is set, else by the main listener
// (before routing and authentication: probes carry no credentials).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Runtime } from './runtime.js';

export const ADMIN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** Serve one of ADMIN_PATHS. Never rejects. */
export async function serveAdmin(rt: Runtime, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  req.resume();
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') return plain(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
  const head = method === 'HEAD';
  try {
    switch (path) {
      case '/healthz':
        return rt.health.liveness(res, head);
      case '/readyz':
        return await rt.health.readiness(res, head);
      case '/metrics': {
        if (!rt.metrics) return plain(res, 404, 'metrics are off (registry.metrics: false)\n');
        const text = await rt.metrics.text();
        res.statusCode = 200;
        res.setHeader('Content-Type', rt.metrics.contentType);
        res.setHeader('Content-Length', Buffer.byteLength(text));
        res.end(head ? undefined : text);
        return;
      }
      default:
        return plain(res, 404, 'not found\n');
    }
  } catch (err) {
    rt.log.error('admin endpoint failed', { path, err: String((err as Error)?.stack ?? err) });
    if (!res.headersSent) plain(res, 500, 'internal error\n');
    else res.destroy();
  }
}

/** The admin listener's request handler: only the admin endpoints. */
export function adminHandler(rt: Runtime): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    void serveAdmin(rt, req, res, path);
  };
}
