// A real Prometheus (Debian's `prometheus`, on loopback) scrapes Wharf every
// second while skopeo pushes and pulls an image; the test then asks
// Prometheus's HTTP API for the request, byte and upload counters. The
// example alerting rules of docs/prometheus-alerts.yml are loaded too and
// must evaluate without errors.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/prometheus.test.js
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { createContainersEnv, readOciLayout, requireTools, type ContainersEnv } from '../helpers/containers.js';
import { freePort, REPO_ROOT, startWharf, type WharfProcess } from '../helpers/wharf.js';
import { waitFor } from '../helpers/ops.js';

const PROMETHEUS = '/usr/bin/prometheus';

interface Prom {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

async function startPrometheus(dir: string, target: string): Promise<Prom> {
  if (!existsSync(PROMETHEUS))
    throw new Error(`${PROMETHEUS} not found: run \`sudo bash scripts/install-test-deps.sh\` (Debian package prometheus)`);
  copyFileSync(join(REPO_ROOT, 'docs', 'prometheus-alerts.yml'), join(dir, 'alerts.yml'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ['alerts.yml'],
      scrape_configs: [{ job_name: 'wharf', metrics_path: '/metrics', static_configs: [{ targets: [target] }] }],
    }),
  );
  const port = await freePort();
  let out = '';
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'prometheus to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${out}`);
      try {
        const r = await fetch(`${url}/-/ready`);
        await r.arrayBuffer();
        return r.status === 200;
      } catch {
        return false;
      }
    },
    60_000,
    200,
  );
  return {
    url,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The value of an instant query that returns one series (summed), or null when there is none. */
async function query(prom: Prom, q: string): Promise<number | null> {
  const r = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { status: string; error?: string; data: { result: { value: [number, string] }[] } };
  assert.equal(body.status, 'success', `${q}: ${body.error}`);
  if (body.data.result.length === 0) return null;
  return body.data.result.reduce((a, s) => a + Number(s.value[1]), 0);
}

describe('Prometheus scrapes Wharf during skopeo pushes and pulls', { timeout: 300_000 }, () => {
  let dir: string;
  let w: WharfProcess | undefined;
  let prom: Prom | undefined;
  let env: ContainersEnv | undefined;

  before(async () => {
    requireTools(['skopeo', 'buildah', 'unshare']);
    dir = mkdtempSync(join(tmpdir(), 'wharf-prometheus-'));
    w = await startWharf();
    prom = await startPrometheus(dir, w.host);
    env = createContainersEnv();
  });

  after(async () => {
    await prom?.stop();
    await w?.cleanup();
    await env?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the request, byte and upload counters, and the example alerts evaluate', async () => {
    const img = await env!.buildImage({ randomBytes: 2 * 1024 * 1024 });
    const dest = `docker://${w!.host}/prom/app:v1`;
    await env!.skopeo(['copy', '-q', '--dest-tls-verify=false', `containers-storage:${img.ref}`, dest]);
    const layout = join(dir, 'pulled');
    await env!.skopeo(['copy', '-q', '--src-tls-verify=false', dest, `oci:${layout}:v1`]);
    const pulled = readOciLayout(layout, 'v1');
    const blobs = [pulled.json.config, ...pulled.json.layers] as { digest: string; size: number }[];
    const pushedBytes = blobs.reduce((a, b) => a + b.size, 0);

    // Wait until a scrape after the pull has been stored.
    const manifestPuts = 'sum(wharf_http_requests_total{method="PUT",route="manifest",status="2xx"})';
    const blobGets = 'sum(wharf_http_requests_total{method="GET",route="blob",status="2xx"})';
    await waitFor('the pull in Prometheus', async () => ((await query(prom!, blobGets)) ?? 0) >= blobs.length, 60_000, 500);

    assert.equal(await query(prom!, 'up{job="wharf"}'), 1);
    assert.equal(await query(prom!, manifestPuts), 1);
    assert.equal(await query(prom!, 'sum(wharf_uploads_completed_total)'), blobs.length, 'one finished upload per blob');
    assert.ok((await query(prom!, 'sum(wharf_uploads_started_total)'))! >= blobs.length);
    assert.equal(await query(prom!, 'sum(wharf_uploads_in_progress)'), 0);
    const received = (await query(prom!, 'sum(wharf_http_received_bytes_total{route="upload"})'))!;
    assert.ok(received >= pushedBytes, `bytes received by uploads ${received} >= ${pushedBytes}`);
    const sent = (await query(prom!, 'sum(wharf_http_sent_bytes_total{route="blob"})'))!;
    assert.ok(sent >= pushedBytes, `bytes sent by blob GETs ${sent} >= ${pushedBytes}`);
    assert.ok((await query(prom!, 'sum(wharf_http_request_duration_seconds_count{route="manifest"})'))! >= 2);
    assert.ok((await query(prom!, 'sum(wharf_storage_operations_total{driver="filesystem",outcome="ok"})'))! > 0);
    assert.ok((await query(prom!, 'nodejs_eventloop_lag_seconds{job="wharf"}')) !== null, 'event-loop metrics are scraped');

    // The example rules load and evaluate (none firing on a healthy registry).
    const rules = (await (await fetch(`${prom!.url}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; lastError?: string; state?: string }[] }[] };
    };
    const wharf = rules.data.groups.find((g) => g.name === 'wharf');
    assert.ok(wharf, JSON.stringify(rules));
    const names = readFileSync(join(REPO_ROOT, 'docs', 'prometheus-alerts.yml'), 'utf8').match(/alert: (\w+)/g)!.length;
    assert.equal(wharf.rules.length, names);
    await waitFor(
      'every rule evaluated',
      async () => {
        const r = (await (await fetch(`${prom!.url}/api/v1/rules`)).json()) as typeof rules;
        const g = r.data.groups.find((x) => x.name === 'wharf')!;
        return g.rules.every((x) => x.health === 'ok') ? g : null;
      },
      30_000,
      500,
    ).then((g) => {
      for (const r of g.rules) assert.equal(r.lastError ?? '', '', `${r.name}: ${r.lastError}`);
      assert.deepEqual(
        g.rules.filter((r) => r.state === 'firing').map((r) => r.name),
        [],
      );
    });
  });
});
