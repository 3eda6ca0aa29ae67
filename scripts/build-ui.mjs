// Builds the web UI (web/) into dist/ui/: one bundled, minified script
// (Preact included), its stylesheet, index.html and the icon. Run by
// `npm run build`; `wharf serve` serves these files from memory under /ui/.
// Nothing is loaded from anywhere else at run time.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const out = join(root, 'dist', 'ui');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(web, 'src', 'main.tsx')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
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
for (const f of ['index.html', 'favicon.svg']) copyFileSync(join(web, f), join(out, f));
const size = (f) => statSync(join(out, f)).size;
console.log(`web UI: dist/ui/ (app.js ${size('app.js')} B, app.css ${size('app.css')} B)`);
