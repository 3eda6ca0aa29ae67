// Builds the web UI (web/) into dist/ui/: one bundled, minified script
// (Preact included), its stylesheet, index.html and the tab icon (a PNG). Run by
// `npm run build`; `wharf serve` serves these files from memory under /ui/.
// Nothing is loaded from anywhere else at run time.
//
// index.html gets the stylesheet inline, and the boot script (web/src/boot.ts: it starts the first
// screen's requests before the bundle arrives) inline, in place of
// `<script src="boot.js">` — before the stylesheet, since an inline script
// after it would wait for it; the server puts its hash in the
// Content-Security-Policy — and addresses the other files with
// their content hash (`/ui/app.js?h=<hash>`), which the server answers as
// cacheable for good (src/http/ui/static.ts computes the same hash).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { faviconPng } from './favicon-png.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const out = join(root, 'dist', 'ui');
const target = ['es2022', 'chrome110', 'firefox110', 'safari16'];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// The header's icon, inline in the page (the app's and the server-rendered one's): an SVG
// *image* makes the renderer build a separate SVG document for it (4–6 ms of main-thread CPU
// in a trace, on the way to the first frame, and a repaint when it arrives); an inline <svg>
// is three elements. Written out as brand.svg for the server (src/http/ui/static.ts), and
// into the bundle.
const brandIcon = readFileSync(join(web, 'favicon.svg'), 'utf8')
  .trim()
  .replace(/<title>[^<]*<\/title>/, '')
  .replace(/^<svg /, '<svg class="icon" width="24" height="24" aria-hidden="true" focusable="false" ');
if (!/^<svg [^>]*>(<(rect|path) [^<>]*\/>)+<\/svg>$/.test(brandIcon)) throw new Error(`web/favicon.svg is not plain shapes: ${brandIcon}`);
writeFileSync(join(out, 'brand.svg'), brandIcon);
await build({
  entryPoints: [join(web, 'src', 'main.tsx')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { WHARF_BRAND_ICON: JSON.stringify(brandIcon) },
  legalComments: 'none',
  logLevel: 'warning',
});
await build({
  entryPoints: [join(web, 'app.css')],
  outfile: join(out, 'app.css'),
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
// The tab icon, as a PNG made from the same SVG (scripts/favicon-png.mjs says why).
writeFileSync(join(out, 'favicon.png'), faviconPng(readFileSync(join(web, 'favicon.svg'), 'utf8')));

const boot = await build({
  entryPoints: [join(web, 'src', 'boot.ts')],
  write: false,
  bundle: true,
  minify: true,
  format: 'iife',
  target,
  legalComments: 'none',
  logLevel: 'warning',
});
const bootCode = boot.outputFiles[0].text.trim();
if (/<\/script|<!--/i.test(bootCode)) throw new Error('the boot script cannot be inlined: it contains </script or <!--');

/** The content hash in a file's address: what static.ts computes for `?h=`. */
const contentHash = (name) =>
  createHash('sha256')
    .update(readFileSync(join(out, name)))
    .digest('hex')
    .slice(0, 16);
let html = readFileSync(join(web, 'index.html'), 'utf8');
const replace = (from, to) => {
  if (!html.includes(from)) throw new Error(`web/index.html has no ${from}`);
  html = html.replace(from, to);
};
replace('<script src="boot.js"></script>', `<script>${bootCode}</script>`);
// The stylesheet inline (its hash in style-src too): a render-blocking request less before the first paint.
const css = readFileSync(join(out, 'app.css'), 'utf8').trim();
if (/<\/style|<!--/i.test(css)) throw new Error('the stylesheet cannot be inlined: it contains </style or <!--');
replace('<link rel="stylesheet" href="app.css">', `<style>${css}</style>`);
for (const [attr, name] of [
  ['href', 'favicon.png'],
  ['src', 'app.js'],
]) {
  // Absolute: the same index.html is the page at /ui/ and at /ui/r/<ns> (src/http/ui/first-page.ts).
  replace(`${attr}="${name}"`, `${attr}="/ui/${name}?h=${contentHash(name)}"`);
}
writeFileSync(join(out, 'index.html'), html);
const size = (f) => statSync(join(out, f)).size;
console.log(
  `web UI: dist/ui/ (app.js ${size('app.js')} B, app.css ${size('app.css')} B, boot script ${Buffer.byteLength(bootCode)} B inline)`,
);
