// The repository list addressed by path, /ui/r/<ns>, which the server renders
// (src/http/ui/first-page.ts), in a real Chromium:
// - the HTML itself holds the first 50 rows as escaped text (a browser with
//   JavaScript off shows them), with the page's strict CSP and no caching;
//   the app then takes the page over without asking the server for anything
//   (no /v2/_wharf/ request), links keep working, axe-core finds nothing;
// - only what an anonymous caller may see: with `anonymous-read` off the HTML
//   holds no repository name at all, whatever credentials the request sends,
//   and the app sends the visitor to the login form;
// - a logged-in tab ignores the anonymous view and shows its user's rows
//   from the API;
// - the storage calls a server-rendered page costs are bounded with 10,000
//   repositories.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/ui-first-page.test.js
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { configFromObject } from '../../src/config/config.js';
import { startServer, type WharfServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { layout } from '../../src/registry/layout.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { counting } from '../helpers/counting-driver.js';
import { axeViolations, launchBrowser, type Browser } from '../helpers/browser.js';

const N = 10_000;
const name = (i: number) => `group-${String(i % 100).padStart(2, '0')}/repo-${String(i).padStart(5, '0')}`;
/** Catalog order: the marker keys' order. */
const ordered = (names: string[]) =>
  [...names].sort((a, b) => (layout.catalogEntry('default', a) < layout.catalogEntry('default', b) ? -1 : 1));

async function seeded(names: string[]): Promise<MemoryDriver> {
  const d = new MemoryDriver();
  for (const n of names) await d.put(layout.catalogEntry('default', n), Buffer.alloc(0));
  return d;
}

async function start(registry: Record<string, unknown>, driver: StorageDriver): Promise<WharfServer> {
  const config = configFromObject({
    registry: { address: '127.0.0.1', port: 0, 'log-level': 'error', storage: { driver: 'memory' }, ...registry },
  });
  return startServer(config, driver, createLogger('error'));
}

/** The text of each row's first cell in the HTML as sent (no script run). */
function htmlRows(html: string): string[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr><td(?: elementtiming="[^"]*")?><a href="[^"]*">([^<]*)<\/a><\/td>/g)].map((m) => m[1]!);
}

describe('e2e: /ui/r/<ns>, the repository list the server renders', () => {
  let server: WharfServer;
  let browser: Browser;
  const store = counting(new MemoryDriver());
  const all = ordered(Array.from({ length: N }, (_, i) => name(i)));
  before(async () => {
    for (let i = 0; i < N; i++) await store.driver.put(layout.catalogEntry('default', name(i)), Buffer.alloc(0));
    server = await start({}, store.driver);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the HTML holds the first 50 rows as text, with the UI CSP and no caching', async () => {
    const r = await fetch(`${server.url}/ui/r/default`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const index = await fetch(`${server.url}/ui/`);
    assert.equal(r.headers.get('content-security-policy'), index.headers.get('content-security-policy'));
    assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self' 'sha256-[^']+'; /);
    const html = await r.text();
    assert.deepEqual(htmlRows(html), all.slice(0, 50));
    // The data block the boot script hands to the app: not a script that runs.
    assert.match(html, /<script type="application\/json" id="wharf-first">\{/);
    // Assets by absolute address: the same page works at /ui/r/<ns>/. The bundle is preloaded,
    // not run by the page: the boot script runs it once the rows are painted.
    assert.match(html, /<link rel="modulepreload" href="\/ui\/app\.js\?h=[0-9a-f]{16}">/);
    assert.doesNotMatch(html, /<script type="module"/);
    // The stylesheet is inline, allowed by its hash and nothing else (no style attributes).
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
    assert.match(style, /\.table-wrap/);
    assert.equal(
      /style-src ([^;]*)/.exec(r.headers.get('content-security-policy') ?? '')?.[1],
      `'self' 'sha256-${createHash('sha256').update(style).digest('base64')}'`,
    );
    assert.deepEqual(htmlRows(await (await fetch(`${server.url}/ui/r/default/`)).text()), all.slice(0, 50));
    // HEAD: the headers only; other methods: 405.
    const head = await fetch(`${server.url}/ui/r/default`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const post = await fetch(`${server.url}/ui/r/default`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
  });

  it('a browser with JavaScript off shows the rows from the HTML alone', async () => {
    const ctx = await browser.context.browser()!.newContext({ javaScriptEnabled: false });
    try {
      const page = await ctx.newPage();
      await page.goto(`${server.url}/ui/r/default`);
      const names = await page.locator('#app tbody tr td:first-child').allTextContents();
      assert.deepEqual(names, all.slice(0, 50));
      assert.equal(await page.getByRole('heading', { name: 'Repositories in default' }).count(), 1);
    } finally {
      await ctx.close();
    }
  });

  it('the app runs only once the frame with the rows is on screen', async () => {
    const p = await browser.page();
    // When the page's last element (the pager) was painted and presented, by the browser's own clock.
    await p.page.addInitScript(() => {
      const w = window as unknown as { __onScreen?: number };
      new PerformanceObserver((l) => {
        for (const e of l.getEntries() as Array<PerformanceEntry & { identifier: string; renderTime: number }>)
          if (e.identifier === 'wharf-first-painted') w.__onScreen = e.renderTime;
      }).observe({ type: 'element', buffered: true });
    });
    await p.page.goto(`${server.url}/ui/r/default`);
    await p.page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    const t = await p.page.evaluate(() => ({
      onScreen: (window as unknown as { __onScreen?: number }).__onScreen ?? -1,
      seen: performance.getEntriesByName('wharf:first-on-screen')[0]?.startTime ?? -1,
      app: performance.getEntriesByName('wharf:app')[0]?.startTime ?? -1,
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
      bundle: (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).find((e) => e.name.includes('/ui/app.js'))
        ?.startTime,
    }));
    assert.ok(t.onScreen > 0, `the rows' frame was reported on screen (${JSON.stringify(t)})`);
    assert.ok(t.seen >= t.onScreen, `the boot script saw it after it was on screen (${JSON.stringify(t)})`);
    // The bundle, fetched early (modulepreload), is evaluated only after that frame was presented.
    assert.ok(t.app > t.onScreen, `the app ran after the rows were on screen (${JSON.stringify(t)})`);
    assert.ok(t.bundle !== undefined && t.bundle < t.onScreen, `the bundle was fetched before (${JSON.stringify(t)})`);
    assert.deepEqual(p.errors, []);
    await p.page.close();
  });

  it('the header icon is inline SVG: the page loads no image', async () => {
    const p = await browser.page();
    const images: string[] = [];
    p.page.on('request', (req) => {
      if (req.resourceType() === 'image') images.push(req.url());
    });
    await p.page.goto(`${server.url}/ui/r/default`);
    assert.equal(await p.page.locator('header .brand svg[aria-hidden="true"]').count(), 1);
    await p.page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    // And so does the app's header, which replaced it.
    assert.equal(await p.page.locator('[data-first]').count(), 0);
    assert.equal(await p.page.locator('header .brand svg[aria-hidden="true"]').count(), 1);
    assert.equal(await p.page.locator('header img').count(), 0);
    // (An SVG image costs the renderer a separate SVG document on the way to the first frame.)
    assert.deepEqual(images, []);
    assert.deepEqual(p.errors, []);
    await p.page.close();
  });

  it('the tab icon is a small PNG, cached for good (not an SVG document to build after each load)', async () => {
    const html = await (await fetch(`${server.url}/ui/r/default`)).text();
    const links = [...html.matchAll(/<link rel="icon" href="([^"]+)" type="([^"]+)">/g)];
    assert.equal(links.length, 1, 'one icon link');
    const [, href, type] = links[0]!;
    assert.equal(type, 'image/png');
    assert.match(href!, /^\/ui\/favicon\.png\?h=[0-9a-f]{16}$/);
    const r = await fetch(`${server.url}${href}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.match(r.headers.get('cache-control') ?? '', /immutable/);
    const png = Buffer.from(await r.arrayBuffer());
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    assert.equal(png.subarray(12, 16).toString('ascii'), 'IHDR');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [32, 32]);
    // The browser decodes it: its pixels are the icon's (the corner is transparent, the middle of the hull white).
    const p = await browser.page();
    await p.page.goto(`${server.url}/ui/r/default`);
    const pixels = await p.page.evaluate(async (url) => {
      const img = await createImageBitmap(await (await fetch(url)).blob());
      const c = new OffscreenCanvas(img.width, img.height);
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      return { size: [img.width, img.height], corner: [...g.getImageData(0, 0, 1, 1).data], hull: [...g.getImageData(16, 22, 1, 1).data] };
    }, href!);
    assert.deepEqual(pixels, { size: [32, 32], corner: [0, 0, 0, 0], hull: [255, 255, 255, 255] });
    assert.deepEqual(p.errors, []);
    await p.page.close();
  });

  it('no page of the UI listens for unload or beforeunload (leaving it costs nothing, and it stays back/forward-cacheable)', async () => {
    const p = await browser.page();
    const cdp = await p.page.context().newCDPSession(p.page);
    const windowListeners = async () => {
      const { result } = await cdp.send('Runtime.evaluate', { expression: 'window' });
      const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: result.objectId! });
      return listeners.map((l) => l.type);
    };
    // The namespaces page (the app running: the page a warm-tab navigation leaves) and the list, once the app took it over.
    for (const address of ['/ui/#/', '/ui/r/default']) {
      await p.page.goto(`${server.url}${address}`);
      await p.page.waitForFunction(() => document.activeElement?.tagName === 'H1');
      const types = await windowListeners();
      for (const t of ['unload', 'beforeunload']) assert.ok(!types.includes(t), `${address}: a ${t} listener (${types.join(', ')})`);
    }
    await cdp.detach();
    assert.deepEqual(p.errors, []);
    await p.page.close();
  });

  it('the list lays out from its header row: the same fixed column widths on the rendered page and in the app', async () => {
    const p = await browser.page();
    const columns = () =>
      p.page.evaluate(() => {
        const table = document.querySelector<HTMLTableElement>('#app table.repos')!;
        return {
          layout: getComputedStyle(table).tableLayout,
          widths: [...table.querySelectorAll('thead th')].map((th) => Math.round(th.getBoundingClientRect().width)),
        };
      });
    const ctx = await browser.context.browser()!.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    try {
      // The server's page, as painted before any script.
      const page = await ctx.newPage();
      await page.goto(`${server.url}/ui/r/default`);
      const rendered = await page.evaluate(() => {
        const table = document.querySelector<HTMLTableElement>('#app table.repos')!;
        return {
          layout: getComputedStyle(table).tableLayout,
          widths: [...table.querySelectorAll('thead th')].map((th) => Math.round(th.getBoundingClientRect().width)),
        };
      });
      assert.equal(rendered.layout, 'fixed');
      // The numbers' columns are narrow and equal; the names take the rest.
      assert.equal(rendered.widths[1], rendered.widths[2]);
      assert.ok(rendered.widths[0]! > 3 * rendered.widths[1]!, JSON.stringify(rendered));
      await p.page.goto(`${server.url}/ui/r/default`);
      await p.page.waitForFunction(() => document.activeElement?.tagName === 'H1');
      assert.equal(await p.page.locator('[data-first]').count(), 0, 'the app took the page over');
      assert.deepEqual(await columns(), rendered, 'the app shows the same columns');
    } finally {
      await ctx.close();
    }
    assert.deepEqual(p.errors, []);
    await p.page.close();
  });

  it('in a browser without Element Timing the app still runs, after the load event', async () => {
    const p = await browser.page();
    await p.page.addInitScript(() => {
      Object.defineProperty(PerformanceObserver, 'supportedEntryTypes', { get: () => ['mark', 'measure', 'navigation', 'resource'] });
    });
    await p.page.goto(`${server.url}/ui/r/default`);
    await p.page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    const t = await p.page.evaluate(() => ({
      app: performance.getEntriesByName('wharf:app')[0]?.startTime ?? -1,
      load: (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).loadEventEnd,
      seen: performance.getEntriesByName('wharf:first-on-screen').length,
    }));
    assert.equal(t.seen, 0);
    assert.ok(t.app >= t.load, JSON.stringify(t));
    assert.equal(await p.page.locator('[data-first]').count(), 0, 'the rendered page was replaced by the app');
    assert.deepEqual(p.errors, []);
    await p.page.close();
  });

  it('the app takes the page over without asking the server, and its links work', async () => {
    const p = await browser.page();
    const asked: string[] = [];
    p.page.on('request', (req) => {
      if (new URL(req.url()).pathname.startsWith('/v2/')) asked.push(req.url());
    });
    store.reset();
    await p.page.goto(`${server.url}/ui/r/default`);
    // The app has run when the heading has the focus (it focuses the page's heading).
    await p.page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    const calls = store.calls;
    assert.deepEqual(asked, [], 'the first screen needs no API request');
    // namespaces: a listing of the store root + one stat; repositories: one catalog listing + one stat.
    assert.ok(calls <= 4, `the page cost ${calls} storage calls`);
    const names = await p.page.locator('#app tbody tr td:first-child').allTextContents();
    assert.deepEqual(names, all.slice(0, 50));
    assert.equal(await p.page.locator('[data-first]').count(), 0, 'the rendered page was replaced by the app');
    noViolations(await axeViolations(p.page));
    // The next page and a filter come from the API, as on /ui/#/default.
    await p.page.getByRole('button', { name: 'Next page' }).click();
    await p.page.locator('tbody tr', { hasText: all[50]! }).waitFor();
    await p.page.getByLabel('Name starts with').fill('group-42/');
    await p.page.getByRole('button', { name: 'Filter' }).click();
    await p.page.locator('tbody tr', { hasText: 'group-42/repo-00042' }).waitFor();
    // A row's link opens the repository page (a fragment: the app routes it).
    await p.page.getByRole('link', { name: 'group-42/repo-00042' }).click();
    await p.page.getByRole('heading', { name: 'group-42/repo-00042' }).waitFor();
    assert.match(p.page.url(), /\/ui\/r\/default#\/default\/group-42\/repo-00042$/);
    assert.deepEqual(p.errors, []);
    await p.page.close();
  });
});

function noViolations(violations: Awaited<ReturnType<typeof axeViolations>>) {
  assert.deepEqual(
    violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    'axe-core on /ui/r/default',
  );
}

describe('e2e: /ui/r/<ns> holds only what anonymous callers may see', () => {
  const USER = { user: 'alice', pass: 'alice-password-1234' };
  const names = ['public/app', 'secret/plans', 'team/tool'];
  let closed: WharfServer;
  let open: WharfServer;
  let browser: Browser;
  before(async () => {
    const users = [{ name: USER.user, pass: bcrypt.hashSync(USER.pass, 4), access: 'read' }];
    const secret = 'ui-first-page-secret-0123456789abcdef0123';
    closed = await start({ secret, users }, await seeded(names));
    open = await start({ secret, users, 'anonymous-read': true }, await seeded(names));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await closed?.close();
    await open?.close();
  });

  it('anonymous-read off: no repository name in the HTML, even with valid credentials sent', async () => {
    const basic = `Basic ${Buffer.from(`${USER.user}:${USER.pass}`).toString('base64')}`;
    for (const headers of [{}, { Authorization: basic }] as Array<Record<string, string>>) {
      const r = await fetch(`${closed.url}/ui/r/default`, { headers });
      assert.equal(r.status, 200);
      const html = await r.text();
      for (const n of names) assert.ok(!html.includes(n), `${n} is in the HTML`);
      assert.ok(!html.includes('id="wharf-first"'), 'no data block');
      assert.match(html, /Wharf is loading/);
    }
    // The app, asking the API as an anonymous caller, sends the visitor to the login form.
    const p = await browser.page();
    await p.page.goto(`${closed.url}/ui/r/default`);
    await p.page.getByRole('heading', { name: 'Log in' }).waitFor();
    // And back to the list after logging in, now from the API with the user's token.
    await p.page.getByLabel('User name').fill(USER.user);
    await p.page.getByLabel('Password').fill(USER.pass);
    await p.page.getByRole('button', { name: 'Log in' }).click();
    await p.page.getByRole('heading', { name: 'Repositories in default' }).waitFor();
    await p.page.locator('tbody tr').nth(2).waitFor();
    assert.deepEqual(await p.page.locator('tbody tr td:first-child').allTextContents(), names);
    await p.page.close();
  });

  it('anonymous-read on: the rows anonymous callers may pull are in the HTML', async () => {
    const html = await (await fetch(`${open.url}/ui/r/default`)).text();
    assert.deepEqual(htmlRows(html), names);
    // Logged out, the account area offers the login, as the app's does.
    assert.match(html, /<span class="muted">Anonymous<\/span><a class="button small" href="#\/login\?back=%23%2Fdefault">Log in<\/a>/);
  });

  it('a logged-in tab does not show the anonymous view: its rows come from the API with its token', async () => {
    const p = await browser.page();
    await p.page.goto(`${open.url}/ui/#/login`);
    await p.page.getByLabel('User name').fill(USER.user);
    await p.page.getByLabel('Password').fill(USER.pass);
    await p.page.getByRole('button', { name: 'Log in' }).click();
    await p.page.getByText(`Logged in as ${USER.user}`).first().waitFor();
    const asked: string[] = [];
    p.page.on('request', (req) => {
      if (req.url().includes('/v2/_wharf/repositories')) asked.push(req.headers().authorization ?? 'none');
    });
    await p.page.goto(`${open.url}/ui/r/default`);
    await p.page.getByText(`Logged in as ${USER.user}`).first().waitFor();
    await p.page.locator('tbody tr').nth(2).waitFor();
    assert.deepEqual(await p.page.locator('tbody tr td:first-child').allTextContents(), names);
    assert.equal(asked.length, 1);
    assert.match(asked[0]!, /^Bearer /);
    assert.deepEqual(
      p.errors.filter((e) => !/status of 40[13]/.test(e)),
      [],
    );
    await p.page.close();
  });
});
