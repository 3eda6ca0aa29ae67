// Experiment: a Chrome trace of the web UI's warm-tab navigation, as the `ui`
// bench scenario makes it (bench/scenarios/ui.ts): a Wharf with 10,000
// repositories, a tab showing the UI's namespaces page (`/ui/#/`), then
// `location.assign('/ui/r/default')`. The trace covers every process
// (browser, renderer, GPU/display compositor) from just before the
// navigation until its first contentful paint has been reported, and is
// written to .tmp/ui-trace-<n>.json (open it in Perfetto or DevTools). The
// script then prints, per process and thread, the CPU its tasks took between
// the navigation's start and first contentful paint, the longest kinds of
// event, and the frame pipeline's stages: task durations are CPU work and
// mostly survive machine load, unlike the times the bench reports.
//
//   npm run build
//   node bench/experiments/ui-trace.mjs [navigations=3] [address=r/default]
//   node bench/experiments/ui-trace.mjs --analyze .tmp/ui-trace-0.json
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const CATEGORIES = [
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'disabled-by-default-devtools.timeline.frame',
  'loading',
  'navigation',
  'blink',
  'blink.user_timing',
  'cc',
  'viz',
  'gpu',
  'toplevel',
  'benchmark',
  'browser',
  'content',
  'v8',
  'rail',
  ...(process.env.TRACE_EXTRA ? process.env.TRACE_EXTRA.split(',') : []),
];

const args = process.argv.slice(2);
if (args[0] === '--analyze') {
  for (const f of args.slice(1)) analyze(JSON.parse(readFileSync(f, 'utf8')), f);
} else {
  await record(Number(args[0] ?? 3), args[1] ?? 'r/default');
}

async function record(navigations, address) {
  const { chromium } = await import('playwright-core');
  const { CHROMIUM, CHROMIUM_ARGS, requireChromium } = await import('../../dist/test/helpers/browser.js');
  const { startBenchServer } = await import('../../dist/bench/servers.js');
  const { seed } = await import('../../dist/bench/scenarios/ui.js');
  requireChromium();
  const server = await startBenchServer('wharf', {});
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  mkdirSync('.tmp', { recursive: true });
  try {
    await seed(server.dataDir, 10_000);
    const list = `${server.url}/ui/${address}`;
    // The first visit starts the storage-use count: wait for it, as the bench does.
    for (let i = 0; ; i++) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(list);
      const done = await page
        .getByText(/Storage use as of/)
        .waitFor({ timeout: 2000 })
        .then(
          () => true,
          () => false,
        );
      await ctx.close();
      if (done) break;
      if (i > 60) throw new Error('the storage-use count did not finish');
    }
    for (let n = 0; n < navigations; n++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
      const page = await ctx.newPage();
      // As the bench's tab: a first visit of the list, then the namespaces page.
      await page.goto(list);
      await page.waitForTimeout(300);
      await page.goto(`${server.url}/ui/#/`);
      await page.getByRole('heading', { name: 'Namespaces' }).waitFor();
      await page.waitForTimeout(500);
      const cdp = await browser.newBrowserCDPSession();
      const events = [];
      cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
      const ended = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
      await cdp.send('Tracing.start', {
        transferMode: 'ReportEvents',
        traceConfig: { recordMode: 'recordAsMuchAsPossible', includedCategories: CATEGORIES },
      });
      const pageCdp = await ctx.newCDPSession(page);
      await pageCdp.send('Page.enable');
      await pageCdp.send('Page.setLifecycleEventsEnabled', { enabled: true });
      let sawAssign = false;
      const fcpSeen = new Promise((resolve) =>
        pageCdp.on('Page.lifecycleEvent', (e) => {
          if (e.name === 'init') sawAssign = true;
          if (sawAssign && e.name === 'firstContentfulPaint') resolve(undefined);
        }),
      );
      await page.waitForTimeout(100);
      await page.evaluate((u) => {
        performance.mark('trace:assign');
        location.assign(u);
      }, list);
      await page.waitForURL(list, { waitUntil: 'commit' });
      if (process.env.TRACE_WAIT === 'poll') {
        // As the bench did: Playwright polls the page (its injected script is evaluated in the new document at once).
        await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, undefined, {
          timeout: 10_000,
          polling: 20,
        });
      } else {
        // Passively: the DevTools lifecycle event, then a little more (nothing runs in the page before it).
        await fcpSeen;
      }
      const times = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return {
          responseEnd: nav.responseEnd,
          boot: performance.getEntriesByName('wharf:boot')[0]?.startTime,
          paint: fcp.paintTime,
          fcp: fcp.startTime,
        };
      });
      await page.waitForTimeout(300);
      await cdp.send('Tracing.end');
      await ended;
      await cdp.detach();
      await ctx.close();
      const file = `.tmp/ui-trace-${n}.json`;
      writeFileSync(file, JSON.stringify({ traceEvents: events, pageTimes: times }));
      console.log(`\n=== navigation ${n}: page clocks ${JSON.stringify(times)} (trace: ${file})`);
      analyze({ traceEvents: events, pageTimes: times }, file);
    }
  } finally {
    await browser.close();
    await server.stop();
  }
}

/** CPU (thread time of top-level tasks starting between the list's navigationStart and its FCP), by role, in ms. */
function summary(trace) {
  const ev = trace.traceEvents;
  const procName = new Map();
  const threadName = new Map();
  for (const e of ev) {
    if (e.ph !== 'M') continue;
    if (e.name === 'process_name') procName.set(e.pid, e.args.name);
    if (e.name === 'thread_name') threadName.set(`${e.pid}:${e.tid}`, e.args.name);
  }
  const start = ev.filter((e) => e.name === 'navigationStart' && /\/ui\/r\//.test(e.args?.data?.documentLoaderURL ?? '')).at(-1);
  if (!start) return undefined;
  const t0 = start.ts;
  const t1 = t0 + trace.pageTimes.fcp * 1000;
  const out = { fcp: trace.pageTimes.fcp, paint: trace.pageTimes.paint, boot: trace.pageTimes.boot, doc: trace.pageTimes.responseEnd };
  const add = (k, v) => (out[k] = (out[k] ?? 0) + v / 1000);
  const reach = new Map();
  const sorted = ev
    .filter((e) => e.ph === 'X' && e.dur !== undefined && e.ts >= t0 && e.ts <= t1)
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  for (const e of sorted) {
    const k = `${e.pid}:${e.tid}`;
    const cpu = e.tdur ?? 0;
    const proc = procName.get(e.pid) ?? '?';
    const thread = threadName.get(k) ?? '?';
    if (e.pid === start.pid && thread === 'CrRendererMain') {
      // The renderer's main thread: split by what its top-level task is.
      if (e.name === 'RenderFrameImpl::CommitNavigation') add('main.commit', cpu);
      else if (e.name === 'ParseHTML') add('main.parse', cpu);
      else if (e.name === 'ProxyMain::BeginMainFrame') add('main.frame', cpu);
      else if (e.name === 'EvaluateScript' && !e.args?.data?.url) add('main.devtoolsScript', cpu);
      if (e.name === 'Layout') add('main.layout', cpu);
      else if (e.name === 'UpdateLayoutTree') add('main.style', cpu);
      else if (e.name === 'Paint') add('main.paint', cpu);
    }
    if (e.name === 'RasterTask') {
      add(`${e.pid === start.pid ? 'renderer' : proc}.raster`, cpu);
      add(`${e.pid === start.pid ? 'renderer' : proc}.tiles`, 1000);
    }
    if ((reach.get(k) ?? -Infinity) > e.ts) continue;
    reach.set(k, e.ts + e.dur);
    const role =
      e.pid === start.pid
        ? thread === 'CrRendererMain'
          ? 'main'
          : thread === 'Compositor'
            ? 'renderer.compositor'
            : 'renderer.other'
        : proc === 'GPU Process'
          ? 'viz'
          : proc === 'Browser'
            ? thread === 'CrBrowserMain'
              ? 'browser.main'
              : 'browser.other'
            : `other:${proc}`;
    add(role, cpu);
  }
  for (const k of Object.keys(out)) out[k] = Math.round(out[k] * 10) / 10;
  return out;
}

function analyze(trace, file) {
  if (process.env.TRACE_SUMMARY) {
    console.log(`${file}: ${JSON.stringify(summary(trace))}`);
    return;
  }
  const ev = trace.traceEvents;
  const procName = new Map();
  const threadName = new Map();
  for (const e of ev) {
    if (e.ph !== 'M') continue;
    if (e.name === 'process_name') procName.set(e.pid, e.args.name);
    if (e.name === 'thread_name') threadName.set(`${e.pid}:${e.tid}`, e.args.name);
  }
  const renderers = new Set([...procName].filter(([, n]) => n === 'Renderer').map(([p]) => p));
  // Time zero: the new document's navigationStart (its URL is the list's).
  const navStarts = ev.filter(
    (e) => e.name === 'navigationStart' && renderers.has(e.pid) && /\/ui\/r\//.test(e.args?.data?.documentLoaderURL ?? ''),
  );
  const start = navStarts.at(-1);
  if (!start) {
    console.log(`${file}: no navigationStart of the list in the trace`);
    return;
  }
  const t0 = start.ts;
  const fcpEv = ev.find((e) => e.name === 'firstContentfulPaint' && e.ts >= t0);
  const fcpTs = trace.pageTimes ? t0 + trace.pageTimes.fcp * 1000 : fcpEv ? fcpEv.ts : t0 + 300_000;
  const end = fcpTs + 5_000;
  const ms = (us) => (us / 1000).toFixed(1);
  const at = (ts) => ms(ts - t0).padStart(7);
  console.log(`${file}: t=0 at the list's navigationStart (renderer pid ${start.pid}); FCP at ${ms(fcpTs - t0)} ms`);
  if (trace.pageTimes) console.log(`  page clocks: ${JSON.stringify(trace.pageTimes)}`);

  // Top-level tasks (a complete event with no enclosing complete event on its thread), and their CPU.
  const byThread = new Map();
  for (const e of ev) {
    if (e.ph !== 'X' || e.dur === undefined) continue;
    const k = `${e.pid}:${e.tid}`;
    if (!byThread.has(k)) byThread.set(k, []);
    byThread.get(k).push(e);
  }
  const windowStart = t0 - 150_000;
  console.log(
    `\n  CPU of tasks from ${ms(windowStart - t0)} ms to FCP (+5 ms), per thread (wall of top-level slices; thread CPU where traced):`,
  );
  const rows = [];
  for (const [k, list] of byThread) {
    list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    let wall = 0;
    let cpu = 0;
    let reach = -Infinity;
    const names = new Map();
    const top = [];
    for (const e of list) {
      if (e.ts + e.dur < windowStart || e.ts > end) continue;
      const isTop = e.ts >= reach;
      if (isTop) {
        reach = e.ts + e.dur;
        wall += e.dur;
        if (e.tdur !== undefined) cpu += e.tdur;
        top.push(e);
      }
      names.set(e.name, (names.get(e.name) ?? 0) + e.dur);
    }
    if (wall < 500) continue;
    const pid = Number(k.split(':')[0]);
    rows.push({ k, pid, wall, cpu, names, top });
  }
  rows.sort((a, b) => b.wall - a.wall);
  for (const r of rows) {
    const label = `${procName.get(r.pid) ?? '?'}${r.pid === start.pid ? '*' : ''} ${r.pid} / ${threadName.get(r.k) ?? r.k}`;
    console.log(`  ${label.padEnd(58)} tasks ${ms(r.wall).padStart(7)} ms wall, ${ms(r.cpu).padStart(7)} ms thread CPU`);
    const longest = [...r.names].sort((a, b) => b[1] - a[1]).slice(0, 8);
    console.log(`      ${longest.map(([n, d]) => `${n} ${ms(d)}`).join(' · ')}`);
  }

  // The main thread of the new document's renderer, task by task.
  const mainKey = [...threadName].find(([k, n]) => n === 'CrRendererMain' && Number(k.split(':')[0]) === start.pid)?.[0];
  if (mainKey) {
    console.log(`\n  renderer main thread (${mainKey}), events ≥ 0.5 ms from -150 ms to FCP, with nesting:`);
    const list = byThread.get(mainKey) ?? [];
    const stack = [];
    for (const e of list) {
      if (e.ts + e.dur < windowStart || e.ts > end || e.dur < 500) continue;
      while (stack.length && stack.at(-1) <= e.ts) stack.pop();
      if (stack.length > 4) continue;
      const extra = e.args?.data?.url ? ` ${String(e.args.data.url).replace(/^https?:\/\/[^/]+/, '')}` : '';
      console.log(
        `    ${at(e.ts)} ${'  '.repeat(stack.length)}${e.name} ${ms(e.dur)} ms${e.tdur !== undefined ? ` (cpu ${ms(e.tdur)})` : ''}${extra}`,
      );
      stack.push(e.ts + e.dur);
    }
  }

  // The other processes' and threads' longer events in the window (raster, display compositor, browser).
  console.log('\n  other threads, events ≥ 1 ms from -150 ms to FCP:');
  for (const r of rows) {
    if (r.k === mainKey) continue;
    const label = `${procName.get(r.pid) ?? '?'} ${r.pid}/${threadName.get(r.k) ?? r.k}`;
    const stack = [];
    const lines = [];
    for (const e of byThread.get(r.k)) {
      if (e.ts + e.dur < windowStart || e.ts > end || e.dur < 1000) continue;
      while (stack.length && stack.at(-1) <= e.ts) stack.pop();
      if (stack.length > 3) continue;
      lines.push(
        `    ${at(e.ts)} ${'  '.repeat(stack.length)}${e.name} ${ms(e.dur)} ms${e.tdur !== undefined ? ` (cpu ${ms(e.tdur)})` : ''}`,
      );
      stack.push(e.ts + e.dur);
    }
    if (lines.length) console.log(`  ${label}\n${lines.join('\n')}`);
  }

  // Instant and async marks on the way: navigation, commit, paint, presentation.
  console.log('\n  marks:');
  const wanted =
    /navigationStart|commitNavigationEnd|domLoading|firstPaint|firstContentfulPaint|markAsMainFrame|NavigationRequest|DidCommit|RenderFrameHostImpl|BackForwardCache|unload|pagehide|visibilitychange|Unload|PipelineReporter|Graphics.Pipeline|DrawFrame|Swap|Present|BeginFrame|ReceiveCompositorFrame|SubmitCompositorFrame|ActivateLayerTree|Commit|PaintHolding|DeferCommit|wharf:|trace:/;
  const marks = ev.filter((e) => e.ts >= windowStart && e.ts <= end && wanted.test(e.name) && e.ph !== 'M').sort((a, b) => a.ts - b.ts);
  let shown = 0;
  for (const e of marks) {
    if (shown++ > 400) break;
    const who = `${procName.get(e.pid) ?? '?'}/${threadName.get(`${e.pid}:${e.tid}`) ?? e.tid}`;
    const d = e.dur !== undefined ? ` ${ms(e.dur)} ms` : '';
    const stage = e.args?.chrome_frame_reporter?.state ?? e.args?.data?.state ?? '';
    console.log(`    ${at(e.ts)} ${e.ph} ${e.name}${d} ${stage} [${who}]`);
  }
}
