// The web UI's files (built by `npm run build` into dist/ui/, shipped in the
// package): read once at start, served from memory under /ui/ with a strict
// Content-Security-Policy. Nothing is fetched from anywhere else at run time.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve } from 'node:path';
import { RegistryError } from '../../registry/errors.js';
import { HttpError } from '../errors.js';

export const UI_PATH = '/ui/';

/** dist/ui, next to the compiled server (dist/src/http/ui/). */
export const UI_FILES_DIR = resolve(import.meta.dirname, '..', '..', '..', 'ui');

/**
 * Scripts, styles, images and connections only from this origin — plus the
 * inline scripts of index.html, by their hash (the boot script; no other
 * inline script can run) —; no inline style, no plugins, no framing, no form
 * posts elsewhere.
 */
export function contentSecurityPolicy(inlineScriptHashes: readonly string[] = [], inlineStyleHashes: readonly string[] = []): string {
  return [
    "default-src 'none'",
    ["script-src 'self'", ...inlineScriptHashes.map((h) => `'${h}'`)].join(' '),
    ["style-src 'self'", ...inlineStyleHashes.map((h) => `'${h}'`)].join(' '),
    "img-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** `sha256-<base64>` of each inline `<script>` of an HTML page (what a CSP hash source names). */
export function inlineScriptHashes(html: string): string[] {
  const out: string[] = [];
  for (const m of html.matchAll(/<script(\s[^>]*)?>([\s\S]*?)<\/script>/gi)) {
    if (/\ssrc\s*=/i.test(m[1] ?? '')) continue;
    out.push(`sha256-${createHash('sha256').update(m[2]!, 'utf8').digest('base64')}`);
  }
  return out;
}

/** `sha256-<base64>` of each `<style>` element of an HTML page (the inlined stylesheet); style attributes stay refused. */
export function inlineStyleHashes(html: string): string[] {
  return [...html.matchAll(/<style>([\s\S]*?)<\/style>/gi)].map(
    (m) => `sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}`,
  );
}

/** A file's content hash as index.html names it (`app.js?h=<hash>`, scripts/build-ui.mjs). */
export function contentHash(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

interface UiFile {
  body: Buffer;
  type: string;
  etag: string;
  /** What `?h=` must say for the answer to be cacheable for good. */
  hash: string;
}

export interface StaticFiles {
  /** Serve GET/HEAD of a path under /ui (or /ui itself). */
  serve(req: IncomingMessage, res: ServerResponse, url: URL): void;
  /** index.html as built (undefined when the UI is not built): the template of a server-rendered page. */
  readonly index: string | undefined;
  /** The header's icon as inline SVG markup (dist/ui/brand.svg, made by the build from web/favicon.svg); '' when not built. */
  readonly brandIcon: string;
  /** The headers every UI page is served with (its Content-Security-Policy among them). */
  readonly pageHeaders: Readonly<Record<string, string>>;
}

/** Where the app's pages are also addressed by path (`/ui/r/<ns>`: a namespace's repositories), so the server knows the page. */
export const PAGE_PATH = `${UI_PATH}r/`;

export function isUiPath(pathname: string): boolean {
  return pathname === '/ui' || pathname.startsWith(UI_PATH);
}

function load(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    files.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      hash: contentHash(body),
    });
  }
  return files;
}

export function createStaticFiles(dir = UI_FILES_DIR): StaticFiles {
  const files = load(dir);
  const index = files.get('index.html');
  const html = index?.body.toString('utf8') ?? '';
  const csp = contentSecurityPolicy(inlineScriptHashes(html), inlineStyleHashes(html));
  const pageHeaders = {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
  return {
    index: index ? html : undefined,
    brandIcon: files.get('brand.svg')?.body.toString('utf8') ?? '',
    pageHeaders,
    serve(req, res, url) {
      req.resume();
      const method = req.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') {
        throw new HttpError('UNSUPPORTED', 'method not allowed for this endpoint', undefined, { headers: { Allow: 'GET, HEAD' } });
      }
      if (url.pathname === '/ui') {
        res.writeHead(308, { Location: `${UI_PATH}${url.search}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      const name = url.pathname === UI_PATH ? 'index.html' : url.pathname.slice(UI_PATH.length);
      const file = files.get(name);
      if (!file) {
        if (files.size === 0) throw new RegistryError('NOT_FOUND', 'the web UI is not built: run `npm run build`');
        throw new RegistryError('NOT_FOUND', 'no such file');
      }
      const headers: Record<string, string | number> = {
        'Content-Type': file.type,
        'Content-Length': file.body.length,
        ETag: file.etag,
        // Addressed by its content hash (index.html does): the same address is always
        // the same bytes, so it is never asked for again. Otherwise (index.html itself)
        // revalidated on every load (a cheap 304), so an upgrade is seen at once.
        'Cache-Control': url.searchParams.get('h') === file.hash ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...pageHeaders,
      };
      if (req.headers['if-none-match'] === file.etag) {
        delete headers['Content-Length'];
        res.writeHead(304, headers);
        res.end();
        return;
      }
      res.writeHead(200, headers);
      res.end(method === 'HEAD' ? undefined : file.body);
    },
  };
}
