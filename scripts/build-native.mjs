#!/usr/bin/env node
// Builds the optional native addons during `npm install`: native/ ->
// native/build/Release/wharf_sha.node (hashing) and wharf_io.node (sendfile
// for blob bodies). It never fails the install: whatever happens, it prints
// what was built and exits 0; without wharf_sha Wharf uses its TypeScript hash
// engine (src/digest/), without wharf_io it streams blob bodies (src/http/sendfile.ts).
// Each addon is kept or dropped on its own self-test.
//
// Offline by design: node-gyp is pointed at the headers of the running Node
// (--nodedir = two levels above process.execPath, e.g. /usr for /usr/bin/node),
// so it never downloads anything. node-gyp itself is the copy bundled with npm.
//
//   WHARF_SKIP_NATIVE=1   skip the build
//   full compiler output: native/build-native.log
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const addon = join(nativeDir, 'build', 'Release', 'wharf_sha.node');
const ioAddon = join(nativeDir, 'build', 'Release', 'wharf_io.node');
const logFile = join(nativeDir, 'build-native.log');
const FALLBACK = 'the TypeScript hash engine will be used';

function done(msg) {
  console.log(`wharf: ${msg}`);
  process.exit(0);
}

// wharf_io: loads, and its calls behave on a real file and socket pair
// (sendfile of 5 bytes into one end of a Unix socket pair, read back).
function ioLine() {
  if (!existsSync(ioAddon)) return 'sendfile addon not built; blob bodies will be streamed';
  const code = `
    const a = require(${JSON.stringify(ioAddon)});
    if (!a.supported) { console.log('unsupported'); process.exit(0); }
    const fs = require('node:fs'), net = require('node:net'), os = require('node:os'), path = require('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-io-')); const f = path.join(dir, 'f');
    fs.writeFileSync(f, 'xhello');
    const srv = net.createServer((s) => {
      const fd = fs.openSync(f, 'r'); const out = a.dup(s._handle.fd);
      a.send(out, fd, 1, 5, 0).then((n) => { a.close(out); fs.closeSync(fd); s.end(); if (n !== 5) process.exit(2); });
    }).listen(0, '127.0.0.1', () => {
      const c = net.connect(srv.address().port, '127.0.0.1'); let got = '';
      c.on('data', (d) => (got += d)); c.on('end', () => { fs.rmSync(dir, { recursive: true });
        if (got !== 'hello') { console.log('self-test failed: got ' + JSON.stringify(got)); process.exit(1); }
        console.log('ok'); process.exit(0); });
    });`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 30_000 });
  const out = (r.stdout ?? '').trim();
  if (r.status === 0 && out === 'ok') return 'sendfile addon built: native/build/Release/wharf_io.node';
  rmSync(ioAddon, { force: true });
  if (r.status === 0 && out === 'unsupported') return 'sendfile addon not usable on this platform; blob bodies will be streamed';
  const why = `${out}${r.stderr ?? ''}`.trim().split('\n').pop() || `exit ${r.status ?? r.signal}`;
  return `sendfile addon built but NOT usable (${why}); blob bodies will be streamed`;
}

function findNodeGyp() {
  const candidates = [];
  // npm sets this for lifecycle scripts: the node-gyp it bundles.
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  // npm-cli.js lives in <npm>/bin; node-gyp in <npm>/node_modules/node-gyp.
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  // <npm prefix>/lib/node_modules/npm/node_modules/node-gyp (npm prefix = two levels above node).
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')); // Windows layout
  try {
    candidates.push(createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a local dependency
  }
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

function selfTest() {
  // Load in a child so a crashing addon cannot take the install down with it.
  const code = `
    const a = require(${JSON.stringify(addon)});
    const c = require('node:crypto');
    const d = Buffer.alloc(1000, 7);
    const out = [];
    for (const [alg, size, iv] of [['sha256', 104, '6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19'],
        ['sha512', 208, '6a09e667f3bcc908bb67ae8584caa73b3c6ef372fe94f82ba54ff53a5f1d36f1510e527fade682d19b05688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e2179']]) {
      const s = Buffer.alloc(size); Buffer.from(iv, 'hex').copy(s);
      a.update(s, d.subarray(0, 5)); a.update(s, d.subarray(5));
      if (a.digest(s).toString('hex') !== c.createHash(alg).update(d).digest('hex')) { console.log('self-test failed: ' + alg); process.exit(1); }
    }
    console.log(a.shaNiAvailable ? 'SHA-NI' : 'portable C');`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    return { ok: false, why: (r.stdout + r.stderr).trim().split('\n').pop() || `exit ${r.status ?? r.signal}` };
  }
  return { ok: true, kind: r.stdout.trim() };
}

try {
  if (process.env.WHARF_SKIP_NATIVE === '1') done(`native hash addon skipped (WHARF_SKIP_NATIVE=1); ${FALLBACK}`);
  if (!existsSync(join(nativeDir, 'binding.gyp'))) done(`native hash addon not built (no native/binding.gyp); ${FALLBACK}`);

  const nodedir = resolve(dirname(process.execPath), '..');
  if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
    done(`native hash addon not built (no Node headers in ${nodedir}/include/node); ${FALLBACK}`);
  }
  const gyp = findNodeGyp();
  if (gyp === null) done(`native hash addon not built (node-gyp not found); ${FALLBACK}`);

  const r = spawnSync(process.execPath, [gyp, 'rebuild', '--release', `--nodedir=${nodedir}`], {
    cwd: nativeDir,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, npm_config_nodedir: nodedir, npm_config_offline: 'true' },
  });
  const log = `$ ${process.execPath} ${gyp} rebuild --release --nodedir=${nodedir}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error}` : ''}\n`;
  try {
    writeFileSync(logFile, log);
  } catch {
    // read-only checkout: no log, still fine
  }
  if (r.status !== 0 && existsSync(join(nativeDir, 'build', 'Makefile'))) {
    // One addon failed to compile: make stopped there. Build the other one anyway.
    const k = spawnSync('make', ['-k', 'BUILDTYPE=Release', '-C', 'build'], { cwd: nativeDir, encoding: 'utf8', timeout: 300_000 });
    try {
      writeFileSync(logFile, `${log}\n$ make -k BUILDTYPE=Release -C build\n${k.stdout ?? ''}${k.stderr ?? ''}\n`);
    } catch {
      // read-only checkout: no log
    }
  }
  try {
    console.log(`wharf: ${ioLine()}`);
  } catch (err) {
    console.log(`wharf: sendfile addon not checked (${err instanceof Error ? err.message : String(err)}); blob bodies will be streamed`);
  }
  // `rebuild` starts clean, so an addon that exists was built now (the other
  // one may have failed: each is judged on its own).
  if (!existsSync(addon)) {
    const why = r.error ? r.error.message : `node-gyp exited ${r.status ?? r.signal}`;
    done(`native hash addon NOT built (${why}; see native/build-native.log); ${FALLBACK}`);
  }
  const t = selfTest();
  if (!t.ok) {
    rmSync(addon, { force: true }); // never leave a misbehaving addon where the loader finds it
    done(`native hash addon built but NOT usable (${t.why}); ${FALLBACK}`);
  }
  done(`native hash addon built (${t.kind}): native/build/Release/wharf_sha.node`);
} catch (err) {
  done(`native hash addon NOT built (${err instanceof Error ? err.message : String(err)}); ${FALLBACK}`);
}
