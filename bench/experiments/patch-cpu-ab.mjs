// Experiment: server cost of a one-PATCH push, per build, in counts that a
// loaded machine does not change much: CPU seconds (user+system of all the
// server's threads, and of its main thread, from /proc), minor page faults,
// and with --strace the syscalls (`strace -c -f -p PID`) over POST, one PATCH
// of --mib MiB and PUT ?digest= (201 checked). Each label=DIR is a built
// checkout (`git worktree add --detach /tmp/x REF && cd /tmp/x && npm ci`);
// rounds are interleaved (A B C, C B A, ...), each on a fresh `wharf serve`
// (filesystem, access log on) after one small warm-up push.
//
//   node bench/experiments/patch-cpu-ab.mjs --rounds 6 --mib 1024 [--strace] main=/tmp/main perf5=.
//
// AB_ENV_<label>="NAME:value,NAME:value" adds environment to that label's
// server (the same DIR may appear under two labels); AB_NODEARGS_<label>
// adds node options (--cpu-prof ...); AB_ATTACH="perf record -g -p {pid} -o F"
// runs a profiler over the measured window; AB_SHOW=1 prints strace's tables.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (n, d) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : d;
};
const rounds = Number(opt('--rounds', 6));
const mib = Number(opt('--mib', 1024));
const useStrace = args.includes('--strace');
const builds = args
  .filter((a) => a.includes('='))
  .map((a) => {
    const [l, p] = a.split('=');
    return { label: l, dir: p, env: {} };
  });
const envFor = (label) =>
  Object.fromEntries(
    (process.env['AB_ENV_' + label] ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split(':')),
  );
const SIZE = mib * 1048576;
const seed = Buffer.alloc(1 << 20);
let x = 12345;
for (let i = 0; i < seed.length; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  seed[i] = x >>> 24;
}
const h = createHash('sha256');
for (let i = 0; i < mib; i++) h.update(seed);
const digest = 'sha256:' + h.digest('hex');
const CLK = 100;
function cpu(pid) {
  let total = 0,
    main = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const v = (Number(f[11]) + Number(f[12])) / CLK;
      total += v;
      if (Number(tid) === pid) main = v;
    } catch {}
  }
  return { total, main };
}
function minflt(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[7]);
}
const freePort = () =>
  new Promise((r) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
function req(port, method, path, headers, body) {
  return new Promise((res, rej) => {
    const r = http.request({ host: '127.0.0.1', port, method, path, headers }, (resp) => {
      let d = '';
      resp.on('data', (c) => (d += c));
      resp.on('end', () => res({ status: resp.statusCode, headers: resp.headers, body: d }));
    });
    r.on('error', rej);
    if (typeof body === 'function') body(r);
    else r.end(body);
  });
}
async function one(b) {
  const tmp = mkdtempSync(join(tmpdir(), 'perf5-ab-'));
  const port = await freePort();
  const cfg = {
    registry: { address: '127.0.0.1', port, storage: { driver: 'filesystem', root: join(tmp, 'data') }, 'log-level': 'info', delete: true },
  };
  writeFileSync(join(tmp, 'wharf.yaml'), JSON.stringify(cfg));
  const child = spawn(
    process.execPath,
    [
      ...(process.env['AB_NODEARGS_' + b.label] ?? '').split(' ').filter(Boolean),
      join(b.dir, 'bin/wharf.js'),
      'serve',
      '--config',
      join(tmp, 'wharf.yaml'),
    ],
    { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, WHARF_HASH_ENGINE: 'auto', ...envFor(b.label) } },
  );
  for (;;) {
    if (child.exitCode !== null) throw new Error('server exited');
    try {
      const r = await req(port, 'GET', '/v2/', {}, '');
      if (r.status === 200) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  // warm-up: one small push so the first-request compile is not in the window
  const w = await req(port, 'POST', '/v2/w/u/blobs/uploads/', { 'content-length': '0' }, '');
  const small = seed.subarray(0, 4096);
  const sd = 'sha256:' + createHash('sha256').update(small).digest('hex');
  await req(
    port,
    'PUT',
    w.headers.location + (w.headers.location.includes('?') ? '&' : '?') + 'digest=' + sd,
    { 'content-length': '4096' },
    small,
  );
  const pid = child.pid;
  let st = null,
    stOut = join(tmp, 'strace.txt');
  if (process.env.AB_ATTACH) {
    st = spawn('sh', ['-c', 'exec ' + process.env.AB_ATTACH.replaceAll('{pid}', String(pid))], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1000));
  } else if (useStrace) {
    st = spawn('strace', ['-c', '-f', '-o', stOut, '-p', String(pid)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
  }
  const c0 = cpu(pid);
  const mf0 = minflt(pid);
  const t0 = performance.now();
  const p = await req(port, 'POST', '/v2/bench/patch/blobs/uploads/', { 'content-length': '0' }, '');
  const pr = await req(
    port,
    'PATCH',
    p.headers.location,
    { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) },
    (r) => {
      let i = 0;
      const write = () => {
        while (i < mib) {
          i++;
          if (!r.write(seed)) {
            r.once('drain', write);
            return;
          }
        }
        r.end();
      };
      write();
    },
  );
  if (pr.status !== 202) throw new Error('PATCH ' + pr.status + pr.body);
  const loc = pr.headers.location;
  const f = await req(port, 'PUT', loc + (loc.includes('?') ? '&' : '?') + 'digest=' + digest, { 'content-length': '0' }, '');
  if (f.status !== 201) throw new Error('PUT ' + f.status + f.body);
  const wall = (performance.now() - t0) / 1000;
  const c1 = cpu(pid);
  const mf = minflt(pid) - mf0;
  let sys = null;
  if (st) {
    st.kill('SIGINT');
    await new Promise((r) => st.once('exit', r));
    const txt = useStrace ? readFileSync(stOut, 'utf8') : '';
    const m = /\n\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(\d+)?\s*total/.exec(txt);
    sys = { total: m ? Number(m[1]) : NaN, txt };
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(tmp, { recursive: true, force: true });
  return { cpu: c1.total - c0.total, main: c1.main - c0.main, wall, sys, mf };
}
const res = Object.fromEntries(builds.map((b) => [b.label, []]));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? builds : [...builds].reverse();
  for (const b of order) {
    const o = await one(b);
    res[b.label].push(o);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    console.log(
      `round ${r + 1} ${b.label}: cpu ${((o.cpu * 1024) / mib).toFixed(2)} s/GiB main ${((o.main * 1024) / mib).toFixed(2)} wall ${o.wall.toFixed(2)} s ${(SIZE / 1e6 / o.wall).toFixed(0)} MB/s minflt ${o.mf}${o.sys ? ' syscalls ' + o.sys.total : ''} load ${load}`,
    );
    if (o.sys && process.env.AB_SHOW) console.log(o.sys.txt.split('\n').slice(0, 14).join('\n'));
  }
}
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
for (const [l, a] of Object.entries(res)) {
  const c = a.map((o) => (o.cpu * 1024) / mib),
    m = a.map((o) => (o.main * 1024) / mib),
    s = a.map((o) => o.sys?.total ?? NaN).map((v) => (v * 1024) / mib);
  console.log(
    `${l}: cpu s/GiB median ${med(c).toFixed(2)} [${Math.min(...c).toFixed(2)}-${Math.max(...c).toFixed(2)}], main ${med(m).toFixed(2)} [${Math.min(...m).toFixed(2)}-${Math.max(...m).toFixed(2)}], minflt/GiB ${med(a.map((o) => (o.mf * 1024) / mib)).toFixed(0)}` +
      (useStrace ? `, syscalls/GiB median ${med(s).toFixed(0)} [${Math.min(...s)}-${Math.max(...s)}]` : ''),
  );
}
