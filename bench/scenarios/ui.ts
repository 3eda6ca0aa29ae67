// Scenario `ui`: the web UI's repository list with 10,000 repositories, in
// the real Chromium (Debian's, driven by playwright-core as in the e2e tests).
// Wharf only — Distribution has no UI, so that column stays empty.
//
// Each round seeds a fresh Wharf with the repositories, opens the list once
// until the storage-use count has been made (the first visit starts it), and
// then measures N rounds of four navigations to /ui/r/default (the list's
// address by path, which the server renders; WHARF_BENCH_UI_ADDRESS='#/default'
// measures the fragment address the app renders alone instead):
// - a first visit, in a new browser context (a new renderer process, an empty
//   cache): what the browser's own start costs is in it;
// - in that same tab, now showing the UI's namespaces page, a navigation to
//   the list (`location.assign`, as a link followed): a warm tab, what a user
//   moving around the UI sees;
// - a reload of it;
// - a repeat visit in a new tab of the same context (what the cache keeps).
// Per navigation, from the page's own clocks: the time the document's last
// byte arrived (server and network), the page's first script ran (the boot
// mark), first contentful paint (when that frame was on screen) and when the
// renderer's main thread had painted it (the paint entry's `paintTime`: the
// rest is raster and display, on other threads and processes), when the first
// page of rows (50) is in the DOM (a MutationObserver installed before any
// page script runs) and when those rows were painted (Element Timing on the
// first row's first cell); from the DevTools protocol: requests, bytes on the
// wire (headers included) and the page's script time; from Wharf's /metrics:
// storage calls. The round's metrics are medians and p90 over its
// navigations; the table shows their medians over rounds. The request
// waterfall of each kind's median navigation goes to the log.
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { layout } from '../../src/registry/layout.js';
import { defineScenario } from '../scenario.js';
import { median, percentile } from '../stats.js';

const NS = 'default';
const PAGE_ROWS = 50;
/** The address measured, under /ui/. */
const ADDRESS = process.env.WHARF_BENCH_UI_ADDRESS ?? `r/${NS}`;

/** Installed before the page's scripts: when the rows are in the DOM, and their paint (Element Timing). */
const INIT_SCRIPT = `(() => {
  const b = (window.__bench = { rows: -1, rowsPaint: -1, lcp: -1 });
  const mo = new MutationObserver(() => {
    if (b.rows >= 0) return;
    const rows = document.querySelectorAll('#app tbody tr');
    if (rows.length < ${PAGE_ROWS}) return;
    b.rows = performance.now();
    // The app's rows (at #/<ns>) carry no elementtiming: marked here, before the frame that paints
    // them (on the cell: Chromium reports a text's paint for its block, not an inline link). The
    // server's rows carry their own (wharf-first-row): an attribute set while the parser is still
    // in the document is not reported.
    const cell = rows[0].querySelector('td');
    if (cell && !cell.hasAttribute('elementtiming')) cell.setAttribute('elementtiming', 'bench-row');
    mo.disconnect();
  });
  mo.observe(document, { childList: true, subtree: true });
  new PerformanceObserver((l) => {
    for (const e of l.getEntries())
      if (b.rowsPaint < 0 && (e.identifier === 'bench-row' || e.identifier === 'wharf-first-row')) b.rowsPaint = e.renderTime || e.loadTime;
  }).observe({ type: 'element', buffered: true });
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) b.lcp = e.renderTime || e.startTime;
  }).observe({ type: 'largest-contentful-paint', buffered: true });
})();`;

interface Request {
  url: string;
  status: number;
  bytes: number;
  fromCache: boolean;
}

interface Visit {
  /** The document's responseEnd: what the HTML costs (server and network). */
  doc: number;
  /** The boot script's mark: when the page's first script ran. */
  boot: number;
  /** First contentful paint: when the frame was presented (on screen). */
  fcp: number;
  /** When the renderer's main thread painted that frame (the paint entry's paintTime); fcp - paint is raster and display. */
  paint: number;
  rows: number;
  rowsPaint: number;
  requests: number;
  /** Requests answered by the network (not the memory or disk cache). */
  network: number;
  bytes: number;
  scriptMs: number;
  storageCalls: number;
  waterfall: string[];
}

async function storageCalls(url: string): Promise<number> {
  const r = await fetch(`${url}/metrics`);
  const text = await r.text();
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${text.slice(0, 200)}`);
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('wharf_storage_operations_total{')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

/** Records what the page asks the network for, through the DevTools protocol. */
async function watchNetwork(ctx: BrowserContext, page: Page) {
  const cdp: CDPSession = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Performance.enable');
  const reqs = new Map<string, Request>();
  let inflight = 0;
  let lastChange = performance.now();
  const done = (id: string, bytes: number) => {
    const r = reqs.get(id);
    if (!r) return;
    r.bytes = bytes;
    inflight--;
    lastChange = performance.now();
  };
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.url.startsWith('data:') || reqs.has(e.requestId)) return;
    reqs.set(e.requestId, { url: e.request.url, status: 0, bytes: 0, fromCache: false });
    inflight++;
    lastChange = performance.now();
  });
  cdp.on('Network.requestServedFromCache', (e) => {
    const r = reqs.get(e.requestId);
    if (r) r.fromCache = true;
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = reqs.get(e.requestId);
    if (!r) return;
    r.status = e.response.status;
    if (e.response.fromDiskCache || e.response.fromPrefetchCache) r.fromCache = true;
  });
  cdp.on('Network.loadingFinished', (e) => done(e.requestId, e.encodedDataLength));
  cdp.on('Network.loadingFailed', (e) => done(e.requestId, 0));
  // The page's lifecycle as the browser reports it: when the next document's first contentful
  // paint has been reported, without running anything in the page (see measure()).
  await cdp.send('Page.enable');
  await cdp.send('Page.setLifecycleEventsEnabled', { enabled: true });
  let onFcp: (() => void) | undefined;
  let loader: string | undefined;
  cdp.on('Page.lifecycleEvent', (e) => {
    if (!onFcp) return;
    if (e.name === 'init') loader = e.loaderId;
    else if (e.name === 'firstContentfulPaint' && e.loaderId === loader) {
      onFcp();
      onFcp = undefined;
    }
  });
  return {
    cdp,
    /** Resolves when the next document (a navigation started after this call) reports its first contentful paint. */
    nextFcp(timeoutMs = 10_000): Promise<boolean> {
      loader = undefined;
      return new Promise<boolean>((resolve) => {
        const t = setTimeout(() => {
          onFcp = undefined;
          resolve(false);
        }, timeoutMs);
        onFcp = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
    },
    requests: () => [...reqs.values()],
    /** Forget the requests so far (the next navigation's are counted alone). */
    reset: () => reqs.clear(),
    /** Until no request has been in flight for `quietMs`. */
    async idle(quietMs = 150, timeoutMs = 10_000): Promise<void> {
      const end = performance.now() + timeoutMs;
      while (inflight > 0 || performance.now() - lastChange < quietMs) {
        if (performance.now() > end) throw new Error(`network not idle after ${timeoutMs} ms (${inflight} in flight)`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

type Watched = { page: Page; net: Awaited<ReturnType<typeof watchNetwork>> };

async function watchedPage(ctx: BrowserContext): Promise<Watched> {
  const page = await ctx.newPage();
  await page.addInitScript(INIT_SCRIPT);
  return { page, net: await watchNetwork(ctx, page) };
}

/** One navigation of `w.page` (`go` starts it), measured until the rows are in and painted and the network is quiet. */
async function measure(w: Watched, url: string, go: () => Promise<unknown>): Promise<Visit> {
  const { page, net } = w;
  net.reset();
  const scriptBefore = await scriptSeconds(net.cdp);
  const calls0 = await storageCalls(url);
  const fcp = net.nextFcp();
  await go();
  // Nothing of the bench runs in the page until its first contentful paint is reported: Playwright's
  // waitForFunction below evaluates its own injected script in the new document (~11 ms of the
  // renderer's main-thread CPU in a trace), which a user's page does not have, and which otherwise
  // ran while the first frame was parsed, rastered and drawn.
  await fcp;
  await page.waitForFunction(() => ((window as unknown as { __bench?: { rows: number } }).__bench?.rows ?? -1) >= 0, undefined, {
    timeout: 30_000,
    polling: 20,
  });
  await net.idle();
  // Element Timing and the paint entries report a frame once it is presented.
  await page
    .waitForFunction(
      () =>
        (window as unknown as { __bench: { rowsPaint: number } }).__bench.rowsPaint >= 0 &&
        performance.getEntriesByName('first-contentful-paint').length > 0,
      undefined,
      { timeout: 2000 },
    )
    .catch(() => undefined);
  const calls = (await storageCalls(url)) - calls0;
  const inPage = await page.evaluate(() => {
    const b = (window as unknown as { __bench: { rows: number; rowsPaint: number; lcp: number } }).__bench;
    const fcpEntry = performance.getEntriesByName('first-contentful-paint')[0] as (PerformanceEntry & { paintTime?: number }) | undefined;
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
    const boot = performance.getEntriesByName('wharf:boot')[0]?.startTime ?? -1;
    const entries = [
      ...performance.getEntriesByType('navigation'),
      ...performance.getEntriesByType('resource'),
    ] as PerformanceResourceTiming[];
    const marks = performance.getEntriesByType('mark').map((m) => `${m.name} ${m.startTime.toFixed(0)}`);
    return {
      ...b,
      fcp: fcpEntry?.startTime ?? -1,
      paint: fcpEntry?.paintTime ?? -1,
      doc: nav?.responseEnd ?? -1,
      domInteractive: nav?.domInteractive ?? -1,
      type: nav?.type ?? '?',
      boot,
      marks,
      waterfall: entries.map(
        (e) =>
          `${new URL(e.name).pathname.replace('/ui/', '') + new URL(e.name).search}`.padEnd(48) +
          ` start ${e.startTime.toFixed(0).padStart(4)}  request ${e.requestStart.toFixed(0).padStart(4)}` +
          `  first byte ${e.responseStart.toFixed(0).padStart(4)}  end ${e.responseEnd.toFixed(0).padStart(4)}` +
          `  ${String(e.transferSize).padStart(6)} B on the wire`,
      ),
    };
  });
  const script = (await scriptSeconds(net.cdp)) - scriptBefore;
  const reqs = net.requests();
  const network = reqs.filter((r) => !r.fromCache);
  return {
    doc: inPage.doc,
    boot: inPage.boot,
    fcp: inPage.fcp,
    paint: inPage.paint,
    rows: inPage.rows,
    rowsPaint: inPage.rowsPaint,
    requests: reqs.length,
    network: network.length,
    bytes: network.reduce((a, r) => a + r.bytes, 0),
    scriptMs: script * 1000,
    storageCalls: calls,
    waterfall: [
      `(${inPage.type})`,
      ...inPage.waterfall,
      ...inPage.marks.map((m) => `mark ${m}`),
      `document ${inPage.doc.toFixed(0)}  boot script ${inPage.boot.toFixed(0)}  DOM interactive ${inPage.domInteractive.toFixed(0)}  rows in DOM ${inPage.rows.toFixed(0)}` +
        `  first paint: painted ${inPage.paint.toFixed(0)}, on screen (FCP) ${inPage.fcp.toFixed(0)}  rows painted ${inPage.rowsPaint.toFixed(0)}` +
        `  LCP ${inPage.lcp.toFixed(0)}  script ${(script * 1000).toFixed(0)} ms`,
      ...reqs.map((r) => `  ${r.status} ${r.fromCache ? 'cache' : `${r.bytes} B`} ${r.url}`),
    ],
  };
}

async function scriptSeconds(cdp: CDPSession): Promise<number> {
  const perf = (await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> };
  return perf.metrics.find((m) => m.name === 'ScriptDuration')?.value ?? NaN;
}

/**
 * Waits until the browser's own processes are quiet: their CPU, summed, under 10 % of one core
 * over 250 ms (at most `maxMs`). A new browser context opens a new window, and Chromium then
 * loads that window's own WebUI (its omnibox popup, chrome://omnibox-popup.top-chrome: 60–250 ms
 * of CPU in a renderer of its own, in traces) in the background; in a tab of a window the user
 * has been using, that is long done. Returns the ms waited.
 */
async function settle(browserCdp: CDPSession, maxMs = 5000): Promise<number> {
  const cpu = async () => {
    const info = (await browserCdp.send('SystemInfo.getProcessInfo')) as { processInfo: Array<{ cpuTime: number }> };
    return info.processInfo.reduce((a, p) => a + p.cpuTime, 0);
  };
  const t0 = performance.now();
  let before = await cpu();
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await cpu();
    if (now - before < 0.025 || performance.now() - t0 > maxMs) return performance.now() - t0;
    before = now;
  }
}

/** Opens the list until the storage-use line shows a finished count (the first visit starts it). */
async function warmUp(browser: Browser, url: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${url}/ui/${ADDRESS}`);
      const done = await page
        .getByText(/Storage use as of/)
        .waitFor({ timeout: 2000 })
        .then(
          () => true,
          () => false,
        );
      if (done) return;
    } finally {
      await ctx.close();
    }
  }
  throw new Error('the storage-use count did not finish');
}

/** Writes `repositories` catalog entries into the store at `dataDir` (also used by bench/experiments/ui-trace.mjs). */
export async function seed(dataDir: string, repositories: number): Promise<void> {
  const driver = new FilesystemDriver({ root: dataDir, fsync: false, sweepTemp: false });
  const names = Array.from(
    { length: repositories },
    (_, i) => `group-${String(i % 100).padStart(2, '0')}/repo-${String(i).padStart(5, '0')}`,
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < names.length) await driver.put(layout.catalogEntry(NS, names[next++]!), Buffer.alloc(0));
    }),
  );
}

const stat = (xs: number[], p: 50 | 90) => (p === 50 ? median(xs) : percentile(xs, 90));

export const ui = defineScenario<null>({
  name: 'ui',
  title: 'Web UI repository list (Wharf only)',
  titleFor: (s) => `Web UI repository list, ${s.uiRepositories.toLocaleString('en-US')} repositories (Wharf only)`,
  wharfOnly: true,
  describe: (s) =>
    `${s.uiNavigations} first visits of /ui/${ADDRESS} in Chromium (a new browser context each), each followed in the same tab by a ` +
    `navigation to it from the UI and a reload, and by a repeat visit in a new tab; ` +
    `${s.uiRepositories} repositories, 50 rows a page; times in ms from navigation start`,
  metrics: [
    { key: 'doc', label: 'document loaded p50 ms', unit: 'ms', better: 'lower' },
    { key: 'boot', label: 'first page script runs p50 ms', unit: 'ms', better: 'lower' },
    { key: 'paint', label: 'first paint painted by the renderer p50 ms', unit: 'ms', better: 'lower' },
    { key: 'fcp', label: 'first contentful paint p50 ms', unit: 'ms', better: 'lower' },
    { key: 'fcpP90', label: 'first contentful paint p90 ms', unit: 'ms', better: 'lower' },
    { key: 'rows', label: '50 rows in the DOM p50 ms', unit: 'ms', better: 'lower' },
    { key: 'rowsP90', label: '50 rows in the DOM p90 ms', unit: 'ms', better: 'lower' },
    { key: 'rowsPaint', label: 'rows painted p50 ms', unit: 'ms', better: 'lower' },
    { key: 'rowsPaintP90', label: 'rows painted p90 ms', unit: 'ms', better: 'lower' },
    { key: 'requests', label: 'requests', unit: '', better: 'lower' },
    { key: 'kb', label: 'kB on the wire', unit: 'kB', better: 'lower', digits: 1 },
    { key: 'scriptMs', label: 'page script ms', unit: 'ms', better: 'lower' },
    { key: 'storageCalls', label: 'storage calls', unit: '', better: 'lower' },
    {
      key: 'navFcp',
      label: 'warm tab, navigation: first contentful paint p50 ms',
      unit: 'ms',
      better: 'lower',
      target: { kind: 'wharf-max', value: 200, text: '< 200 ms' },
    },
    { key: 'navFcpP90', label: 'warm tab, navigation: first contentful paint p90 ms', unit: 'ms', better: 'lower' },
    { key: 'navPaint', label: 'warm tab, navigation: first paint painted by the renderer p50 ms', unit: 'ms', better: 'lower' },
    { key: 'navRows', label: 'warm tab, navigation: rows in the DOM p50 ms', unit: 'ms', better: 'lower' },
    { key: 'navRowsPaint', label: 'warm tab, navigation: rows painted p50 ms', unit: 'ms', better: 'lower' },
    {
      key: 'reloadFcp',
      label: 'warm tab, reload: first contentful paint p50 ms',
      unit: 'ms',
      better: 'lower',
      target: { kind: 'wharf-max', value: 200, text: '< 200 ms' },
    },
    { key: 'reloadFcpP90', label: 'warm tab, reload: first contentful paint p90 ms', unit: 'ms', better: 'lower' },
    { key: 'reloadRows', label: 'warm tab, reload: rows in the DOM p50 ms', unit: 'ms', better: 'lower' },
    { key: 'warmBoot', label: 'repeat visit: first page script runs p50 ms', unit: 'ms', better: 'lower' },
    { key: 'warmFcp', label: 'repeat visit: first contentful paint p50 ms', unit: 'ms', better: 'lower' },
    { key: 'warmRows', label: 'repeat visit: rows in the DOM p50 ms', unit: 'ms', better: 'lower' },
    { key: 'warmRowsP90', label: 'repeat visit: rows in the DOM p90 ms', unit: 'ms', better: 'lower' },
    { key: 'warmNetwork', label: 'repeat visit: requests to the server', unit: '', better: 'lower' },
    { key: 'warmKb', label: 'repeat visit: kB on the wire', unit: 'kB', better: 'lower', digits: 1 },
  ],
  prepare: () => null,
  run: async (server, _data, s) => {
    if (!server.dataDir) throw new Error('the ui scenario needs the server data directory');
    await seed(server.dataDir, s.uiRepositories);
    const { chromium } = await import('playwright-core');
    const { CHROMIUM, CHROMIUM_ARGS, requireChromium } = await import('../../test/helpers/browser.js');
    requireChromium();
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      await warmUp(browser, server.url);
      const { value, window } = await server.measure(async () => {
        const cold: Visit[] = [];
        const nav: Visit[] = [];
        const reload: Visit[] = [];
        const warm: Visit[] = [];
        /** How long each wait for the browser to be quiet took (ms), before the warm-tab navigation, the reload and the new tab. */
        const settled: number[] = [];
        const browserCdp = await browser.newBrowserCDPSession();
        const list = `${server.url}/ui/${ADDRESS}`;
        for (let i = 0; i < s.uiNavigations; i++) {
          const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
          try {
            const tab = await watchedPage(ctx);
            // A first visit: a new context, so a new renderer and an empty cache.
            cold.push(await measure(tab, server.url, () => tab.page.goto(list)));
            // The same tab, showing the UI (the namespaces page, the app running), follows a link to the list.
            await tab.page.goto(`${server.url}/ui/#/`);
            await tab.page.getByRole('heading', { name: 'Namespaces' }).waitFor();
            await tab.net.idle();
            settled.push(await settle(browserCdp));
            nav.push(
              await measure(tab, server.url, async () => {
                await tab.page.evaluate((u) => location.assign(u), list);
                await tab.page.waitForURL(list, { waitUntil: 'commit' });
              }),
            );
            // And reloads it.
            settled.push(await settle(browserCdp));
            reload.push(await measure(tab, server.url, () => tab.page.reload()));
            // A new tab of the same context: a repeat visit, with what the cache kept.
            settled.push(await settle(browserCdp));
            const other = await watchedPage(ctx);
            warm.push(await measure(other, server.url, () => other.page.goto(list)));
          } finally {
            await ctx.close();
          }
        }
        await browserCdp.detach();
        return { cold, nav, reload, warm, settled };
      });
      const { cold, nav, reload, warm, settled } = value;
      process.stderr.write(
        `  ui: waits for the browser's processes to be quiet before the warm-tab navigations, reloads and new tabs: ` +
          `p50 ${median(settled).toFixed(0)} ms, p90 ${percentile(settled, 90).toFixed(0)} ms, max ${Math.max(...settled).toFixed(0)} ms\n`,
      );
      const of = (v: Visit[], k: keyof Visit) => v.map((x) => x[k] as number);
      const middle = (v: Visit[]) => [...v].sort((a, b) => a.fcp - b.fcp)[v.length >> 1]!;
      for (const [what, v] of [
        ['first visit', cold],
        ['warm tab navigation', nav],
        ['warm tab reload', reload],
        ['repeat visit in a new tab', warm],
      ] as const) {
        process.stderr.write(
          `  ui: the median ${what} (by first contentful paint; ms from navigation start):\n${middle(v)
            .waterfall.map((l) => `    ${l}`)
            .join('\n')}\n`,
        );
      }
      return {
        metrics: {
          doc: stat(of(cold, 'doc'), 50),
          boot: stat(of(cold, 'boot'), 50),
          paint: stat(of(cold, 'paint'), 50),
          fcp: stat(of(cold, 'fcp'), 50),
          fcpP90: stat(of(cold, 'fcp'), 90),
          rows: stat(of(cold, 'rows'), 50),
          rowsP90: stat(of(cold, 'rows'), 90),
          rowsPaint: stat(of(cold, 'rowsPaint'), 50),
          rowsPaintP90: stat(of(cold, 'rowsPaint'), 90),
          requests: median(of(cold, 'requests')),
          kb: median(of(cold, 'bytes')) / 1000,
          scriptMs: median(of(cold, 'scriptMs')),
          storageCalls: median(of(cold, 'storageCalls')),
          navFcp: stat(of(nav, 'fcp'), 50),
          navFcpP90: stat(of(nav, 'fcp'), 90),
          navPaint: stat(of(nav, 'paint'), 50),
          navRows: stat(of(nav, 'rows'), 50),
          navRowsPaint: stat(of(nav, 'rowsPaint'), 50),
          reloadFcp: stat(of(reload, 'fcp'), 50),
          reloadFcpP90: stat(of(reload, 'fcp'), 90),
          reloadRows: stat(of(reload, 'rows'), 50),
          warmBoot: stat(of(warm, 'boot'), 50),
          warmFcp: stat(of(warm, 'fcp'), 50),
          warmRows: stat(of(warm, 'rows'), 50),
          warmRowsP90: stat(of(warm, 'rows'), 90),
          warmNetwork: median(of(warm, 'network')),
          warmKb: median(of(warm, 'bytes')) / 1000,
        },
        window,
      };
    } finally {
      await browser.close();
    }
  },
});
