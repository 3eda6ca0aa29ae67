// The admin API: JSON under /admin/v1/, outside /v2/, on the main listener,
// every call authorized by the admin role first (auth/admin.ts). Errors are
// OCI-style bodies, like the registry API's (the dispatcher answers them).
//
//   POST   /admin/v1/namespaces            create a buildset namespace   (handlers/namespaces.ts)
//   GET    /admin/v1/namespaces            list (?n=&last=)
//   GET    /admin/v1/namespaces/{name}     show
//   PATCH  /admin/v1/namespaces/{name}     extend the TTL
//   DELETE /admin/v1/namespaces/{name}     end it
//   POST   /admin/v1/promote               promotion (handlers/promote.ts): routed by dispatch.ts before
//                                           this table, authorized by the registry's rules (pull the
//                                           source, push the target), not the admin role
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { BuildsetDirectory } from '../registry/buildsets/directory.js';
import type { StorageDriver } from '../storage/driver.js';
import { HttpError } from './errors.js';
import { createNamespace, deleteNamespace, extendNamespace, listNamespaces, showNamespace } from './handlers/namespaces.js';

export const ADMIN_API_PREFIX = '/admin/v1/';

/** What an admin handler gets. */
export interface AdminContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  config: Config;
  log: Logger;
  driver: StorageDriver;
  buildsets: BuildsetDirectory;
  /** The admin user's name (already authorized). */
  admin: string;
  /** Metrics hooks. */
  onCreated?: () => void;
  onDeleted?: () => void;
  onDenied?: (reason: 'namespaces' | 'bytes' | 'ttl') => void;
}

export type AdminHandler = (ctx: AdminContext) => Promise<void>;

/** Further admin routes, by exact path then method. */
const EXTRA_ROUTES: Record<string, Record<string, AdminHandler>> = {};

const NAMESPACE_PATH_RE = /^\/admin\/v1\/namespaces\/([^/]+)$/;

function methods(table: Record<string, AdminHandler>, method: string): AdminHandler {
  const h = table[method];
  if (!h) {
    throw new HttpError('UNSUPPORTED', 'method not allowed for this endpoint', undefined, {
      headers: { Allow: Object.keys(table).join(', ') },
    });
  }
  return h;
}

/** The handler for an admin API request (throws 404/405 for what is not one). */
export function adminRoute(method: string, path: string): AdminHandler {
  if (path === '/admin/v1/namespaces') return methods({ GET: listNamespaces, POST: createNamespace }, method);
  const m = NAMESPACE_PATH_RE.exec(path);
  if (m) {
    const name = decodeURIComponent(m[1]!);
    return methods(
      {
        GET: (ctx) => showNamespace(ctx, name),
        PATCH: (ctx) => extendNamespace(ctx, name),
        DELETE: (ctx) => deleteNamespace(ctx, name),
      },
      method,
    );
  }
  const extra = EXTRA_ROUTES[path];
  if (extra) return methods(extra, method);
  throw new HttpError('NOT_FOUND', 'no such admin endpoint');
}

export function sendAdminJson(ctx: AdminContext, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  ctx.res.statusCode = status;
  ctx.res.setHeader('Content-Type', 'application/json; charset=utf-8');
  ctx.res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) ctx.res.setHeader(k, v);
  ctx.res.setHeader('Content-Length', Buffer.byteLength(text));
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : text);
}
