// Online garbage collection under load, against two live `wharf serve`
// replicas on one store (each request goes to the next replica, round robin):
// for a minute (PRUNE_STRESS_SECONDS), workers push many small images that
// share layers (monolithic, chunked and mounted blob uploads, indexes,
// referrers; some images are deleted again, some repositories keep only
// their last 2 tags), abandon uploads, and pull kept images, while prune runs
// over and over — on serve's own schedule and from `wharf prune` processes
// against the same store — with a 2 s grace period.
//
// Then: every image whose push succeeded and that no rule removed pulls
// whole (every manifest and blob 200 with the right digest): zero broken
// images; no push was refused (a blob a client was told exists stays for the
// grace period); once the grace period has passed, the garbage is really gone —
// the blobs left in storage are exactly those of the remaining images.
// Not in test:quick: a 60-second load run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { WHARF_BIN, startWharf, type WharfProcess } from '../helpers/wharf.js';

const SECONDS = Number(process.env.PRUNE_STRESS_SECONDS ?? 60);
const WORKERS = 5;
const GRACE = 2;
const UPLOAD_AGE = 4;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Pushed {
  repo: string;
  tag: string;
  digest: string;
  /** Blob digests (config, layers) — empty for an index. */
  blobs: string[];
  /** Child manifests (index) or subject (referrer). */
  manifests: string[];
  kind: 'image' | 'index' | 'referrer';
  /** Deleted through the API after its push: garbage. */
  deleted?: boolean;
}

class Registry {
  failures: string[] = [];
  /** When (and how) the client learned that a repository's blob exists: for refusals, the time since. */
  private told = new Map<string, { at: number; how: string }>();
  private next = 0;
  constructor(readonly urls: string[]) {}

  async req(method: string, path: string, init: { body?: Buffer; headers?: Record<string, string> } = {}) {
    // Every request to the next replica: uploads, HEADs and manifests of one push land on both.
    const url = this.urls[this.next++ % this.urls.length]!;
    const r = await fetch(`${url}${path}`, {
      method,
      headers: init.headers,
      body: init.body as unknown as BodyInit | undefined,
      redirect: 'manual',
    });
    const body = Buffer.from(await r.arrayBuffer());
    if (r.status >= 500) throw new Error(`${method} ${path} -> ${r.status} ${body.toString('utf8').slice(0, 300)}`);
    return { status: r.status, headers: r.headers, body };
  }

  /** The Location header as a path (the next request may go to the other replica). */
  private loc(h: Headers): string {
    const u = new URL(h.get('location')!, 'http://x');
    return `${u.pathname}${u.search}`;
  }

  /** Push one blob the way clients do: HEAD first, then a mount, a monolithic or a chunked upload. */
  async pushBlob(repo: string, data: Buffer, mountFrom?: string): Promise<void> {
    const d = sha256(data);
    const told = (how: string) => void this.told.set(`${repo}@${d}`, { at: Date.now(), how });
    if ((await this.req('HEAD', `/v2/${repo}/blobs/${d}`)).status === 200) return told('HEAD 200');
    const how = Math.random();
    if (mountFrom && how < 0.3) {
      const m = await this.req('POST', `/v2/${repo}/blobs/uploads/?mount=${d}&from=${mountFrom}`);
      if (m.status === 201) return told('mount 201');
      if (m.status === 202) return this.finish(this.loc(m.headers), d, data).then(() => told('upload 201'));
      throw new Error(`mount ${m.status}`);
    }
    if (how < 0.6) {
      const r = await this.req('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, {
        body: data,
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      if (r.status !== 201) throw new Error(`monolithic upload ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
      return told('upload 201');
    }
    const s = await this.req('POST', `/v2/${repo}/blobs/uploads/`);
    if (s.status !== 202) throw new Error(`start upload ${s.status}`);
    let loc = this.loc(s.headers);
    const half = Math.floor(data.length / 2);
    const p = await this.req('PATCH', loc, {
      body: data.subarray(0, half),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${half - 1}` },
    });
    if (p.status !== 202) throw new Error(`patch ${p.status} ${p.body.toString('utf8').slice(0, 200)}`);
    loc = this.loc(p.headers);
    await this.finish(loc, d, data.subarray(half));
    told('upload 201');
  }

  private async finish(loc: string, d: string, rest: Buffer): Promise<void> {
    const u = new URL(loc, 'http://x');
    u.searchParams.set('digest', d);
    const r = await this.req('PUT', `${u.pathname}${u.search}`, { body: rest, headers: { 'Content-Type': 'application/octet-stream' } });
    if (r.status !== 201) throw new Error(`finish upload ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
  }

  async putManifest(repo: string, ref: string, body: Buffer, mediaType: string): Promise<number> {
    const sent = Date.now();
    const r = await this.req('PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'Content-Type': mediaType } });
    if (r.status !== 201) {
      // For a refusal: how long before the PUT the client was told each missing blob exists.
      let when = '';
      try {
        const digests = (JSON.parse(r.body.toString('utf8')) as { errors: Array<{ detail?: { digests?: string[] } }> }).errors[0]?.detail
          ?.digests;
        when = (digests ?? [])
          .map((d) => {
            const t = this.told.get(`${repo}@${d}`);
            return t ? `${d.slice(7, 19)}: ${t.how} ${sent - t.at} ms before the PUT` : `${d.slice(7, 19)}: never told`;
          })
          .join('; ');
      } catch {
        /* not an error body */
      }
      this.failures.push(
        `PUT manifest ${repo}:${ref} -> ${r.status} after ${Date.now() - sent} ms ${r.body.toString('utf8').slice(0, 200)} [${when}]`,
      );
    }
    return r.status;
  }

  /** Pull a manifest and everything it references; returns problems (empty: whole). */
  async pull(repo: string, ref: string, want: Pushed | undefined, problems: string[], depth = 0): Promise<void> {
    const m = await this.req('GET', `/v2/${repo}/manifests/${ref}`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
    if (m.status !== 200) {
      problems.push(`${repo}@${ref}: manifest ${m.status}`);
      return;
    }
    const digest = sha256(m.body);
    if (want && digest !== want.digest) problems.push(`${repo}@${ref}: manifest digest ${digest} != ${want.digest}`);
    const doc = JSON.parse(m.body.toString('utf8')) as {
      config?: { digest: string };
      layers?: Array<{ digest: string }>;
      manifests?: Array<{ digest: string }>;
    };
    for (const b of [doc.config, ...(doc.layers ?? [])]) {
      if (!b) continue;
      const r = await this.req('GET', `/v2/${repo}/blobs/${b.digest}`);
      if (r.status !== 200) problems.push(`${repo}@${ref}: blob ${b.digest} ${r.status}`);
      else if (sha256(r.body) !== b.digest) problems.push(`${repo}@${ref}: blob ${b.digest} has wrong content`);
    }
    if (depth === 0) for (const c of doc.manifests ?? []) await this.pull(repo, c.digest, undefined, problems, 1);
  }
}

function image(shared: Buffer[]) {
  const picks = [shared[Math.floor(Math.random() * shared.length)]!, shared[Math.floor(Math.random() * shared.length)]!];
  const layers = [...new Set(picks), randomBytes(200 + Math.floor(Math.random() * 3000))];
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', id: randomBytes(8).toString('hex') }));
  const manifest = (subject?: { digest: string; size: number }) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
        ...(subject ? { subject: { mediaType: OCI_MANIFEST, ...subject } } : {}),
      }),
    );
  return { config, layers, manifest };
}

function runWharf(
  command: string,
  configPath: string,
  ...args: string[]
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [WHARF_BIN, command, '--config', configPath, '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    // 'close', not 'exit': only then has all of its output been read.
    c.on('close', (code, signal) => res({ code, signal, out, err }));
  });
}

/** Digests of the blob files in the store (every algorithm). */
function storedBlobs(dataDir: string): Set<string> {
  const out = new Set<string>();
  const root = join(dataDir, 'default', 'blobs');
  let algs: string[] = [];
  try {
    algs = readdirSync(root);
  } catch {
    return out;
  }
  for (const alg of algs) for (const hex of readdirSync(join(root, alg))) out.add(`${alg}:${hex}`);
  return out;
}

/** Files (objects) under a directory, relative paths; empty directories are not objects. */
function objectsUnder(p: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(p, rel), { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(rel, e.name));
      else out.push(join(rel, e.name));
    }
  };
  try {
    walk('');
  } catch {
    /* no such directory */
  }
  return out.sort();
}

function listDir(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

test(`prune under load: ${SECONDS} s of concurrent pushes and pulls, zero broken images, garbage gone`, {
  timeout: (SECONDS + 240) * 1000,
}, async () => {
  const prune = {
    interval: 1,
    grace: GRACE,
    'upload-age': UPLOAD_AGE,
    retention: [{ repository: 'ephemeral/*', 'keep-last': 2 }],
  };
  let w: WharfProcess | undefined;
  let w2: WharfProcess | undefined;
  try {
    w = await startWharf({ registry: { prune, 'log-level': 'warn' } });
    w2 = await startWharf({ dataDir: w.dataDir, registry: { prune, 'log-level': 'warn' } });
    const configPath = join(w.dataDir, '..', 'prune.yaml');
    writeFileSync(configPath, stringify({ registry: { storage: { driver: 'filesystem', root: w.dataDir }, prune } }));
    const reg = new Registry([w.url, w2.url]);
    const shared = Array.from({ length: 12 }, () => randomBytes(1000 + Math.floor(Math.random() * 4000)));
    const pushed: Pushed[] = [];
    const errors: string[] = [];
    const pullProblems: string[] = [];
    let pulls = 0;
    let abandoned = 0;
    let tagNo = 0;
    const deadline = Date.now() + SECONDS * 1000;

    const pushImage = async (repo: string, mountFrom?: string, subject?: Pushed, untagged = false): Promise<Pushed | null> => {
      const img = image(shared);
      for (const l of img.layers) await reg.pushBlob(repo, l, mountFrom);
      await reg.pushBlob(repo, img.config);
      const body = img.manifest(subject ? { digest: subject.digest, size: 0 } : undefined);
      const tag = subject || untagged ? undefined : `t${++tagNo}`;
      if ((await reg.putManifest(repo, tag ?? sha256(body), body, OCI_MANIFEST)) !== 201) return null;
      return {
        repo,
        tag: tag ?? '',
        digest: sha256(body),
        blobs: [sha256(img.config), ...img.layers.map(sha256)],
        manifests: subject ? [subject.digest] : [],
        kind: subject ? 'referrer' : 'image',
      };
    };

    const worker = async (n: number) => {
      while (Date.now() < deadline) {
        try {
          const roll = Math.random();
          if (roll < 0.45) {
            const repo = `keep/r${Math.floor(Math.random() * 4)}`;
            const p = await pushImage(repo, `keep/r${(n + 1) % 4}`);
            if (p) pushed.push(p);
            if (p && Math.random() < 0.2) {
              const ref = await pushImage(repo, undefined, p);
              if (ref) pushed.push(ref);
            }
          } else if (roll < 0.55) {
            // An index over two fresh images, tagged; the children are untagged.
            const repo = `keep/multi${n % 2}`;
            const a = await pushImage(repo, undefined, undefined, true);
            const b = await pushImage(repo, undefined, undefined, true);
            if (!a || !b) continue;
            pushed.push(a, b);
            const body = Buffer.from(
              JSON.stringify({
                schemaVersion: 2,
                mediaType: OCI_INDEX,
                manifests: [a, b].map((c, i) => ({
                  mediaType: OCI_MANIFEST,
                  digest: c.digest,
                  size: 1,
                  platform: { os: 'linux', architecture: `a${i}` },
                })),
              }),
            );
            const tag = `i${++tagNo}`;
            if ((await reg.putManifest(repo, tag, body, OCI_INDEX)) === 201) {
              pushed.push({ repo, tag, digest: sha256(body), blobs: [], manifests: [a.digest, b.digest], kind: 'index' });
            }
          } else if (roll < 0.75) {
            const p = await pushImage(`ephemeral/e${n % 2}`, 'keep/r0');
            if (p) pushed.push(p);
          } else if (roll < 0.95) {
            // Pushed, then deleted: its unique blobs become garbage (its shared layers may not).
            const repo = `doomed/d${n % 3}`;
            const p = await pushImage(repo, 'keep/r1');
            if (!p) continue;
            const d = await reg.req('DELETE', `/v2/${repo}/manifests/${p.digest}`);
            if (d.status !== 202) errors.push(`DELETE ${repo}@${p.digest} -> ${d.status}`);
            pushed.push({ ...p, deleted: true });
          } else {
            // An upload started, one chunk sent, never finished.
            const s = await reg.req('POST', '/v2/abandoned/blobs/uploads/');
            const loc = new URL(s.headers.get('location')!, 'http://x').pathname;
            await reg.req('PATCH', loc, { body: randomBytes(500), headers: { 'Content-Type': 'application/octet-stream' } });
            abandoned++;
          }
        } catch (err) {
          errors.push(String(err instanceof Error ? err.message : err));
        }
      }
    };

    // Pulls of kept images all along: they must never fail.
    const puller = async () => {
      while (Date.now() < deadline) {
        const kept = pushed.filter((p) => p.repo.startsWith('keep/') && p.tag !== '' && !p.deleted);
        const p = kept[Math.floor(Math.random() * kept.length)];
        if (!p) {
          await sleep(100);
          continue;
        }
        await reg.pull(p.repo, p.tag, p, pullProblems);
        pulls++;
      }
    };

    // `wharf prune` processes against the same store, next to serve's own schedule.
    const cliRuns: Array<{ code: number | null; restored: number; removed: number }> = [];
    const pruner = async () => {
      while (Date.now() < deadline) {
        const r = await runWharf('prune', configPath);
        let restored = 0;
        let removed = 0;
        try {
          const rep = JSON.parse(r.out) as { restored: Record<string, number>; removed: { blobs: { objects: number } } };
          restored = Object.values(rep.restored).reduce((a, b) => a + b, 0);
          removed = rep.removed.blobs.objects;
        } catch {
          errors.push(`prune output: ${r.err.slice(0, 300)}`);
        }
        cliRuns.push({ code: r.code, restored, removed });
      }
    };

    // `wharf fsck` against the same store all along: online, it must report no damage.
    const fsckRuns: Array<{ code: number | null; damage: string[] }> = [];
    const checker = async () => {
      while (Date.now() < deadline) {
        const r = await runWharf('fsck', configPath);
        let damage: string[] = [`unreadable output (exit ${r.code ?? r.signal}): ${r.out.slice(0, 200)} ${r.err.slice(-500)}`];
        try {
          const rep = JSON.parse(r.out) as { findings: Array<{ severity: string; kind: string; object: string; problem: string }> };
          damage = rep.findings.filter((f) => f.severity === 'damage').map((f) => `${f.kind} ${f.object}: ${f.problem}`);
        } catch {
          /* kept as unreadable */
        }
        fsckRuns.push({ code: r.code, damage });
      }
    };

    await Promise.all([...Array.from({ length: WORKERS }, (_, i) => worker(i)), puller(), pruner(), checker()]);

    // Zero broken images: every successful push that no rule removed pulls whole.
    const problems: string[] = [];
    const alive = pushed.filter((p) => !p.deleted && !p.repo.startsWith('ephemeral/'));
    for (const p of alive) await reg.pull(p.repo, p.tag || p.digest, p, problems);
    for (const p of alive.filter((x) => x.kind === 'referrer')) {
      const r = await reg.req('GET', `/v2/${p.repo}/referrers/${p.manifests[0]}`);
      const list = JSON.parse(r.body.toString('utf8')) as { manifests: Array<{ digest: string }> };
      if (!list.manifests.some((m) => m.digest === p.digest)) problems.push(`${p.repo}: referrer ${p.digest} not listed`);
    }
    // Ephemeral repositories: whatever tags remain pull whole.
    for (const e of ['ephemeral/e0', 'ephemeral/e1']) {
      const r = await reg.req('GET', `/v2/${e}/tags/list`);
      if (r.status !== 200) continue;
      for (const t of (JSON.parse(r.body.toString('utf8')) as { tags: string[] }).tags) {
        await reg.pull(
          e,
          t,
          pushed.find((p) => p.repo === e && p.tag === t),
          problems,
        );
      }
    }

    // Once blobs and links are older than twice the grace period, use markers
    // expired (2 × grace + 2 s slack) and uploads idle for the upload age, two
    // more runs: the garbage must be gone.
    await sleep((Math.max(2 * GRACE + 2, UPLOAD_AGE) + 1) * 1000);
    const final1 = await runWharf('prune', configPath);
    assert.equal(final1.code, 0, final1.err);
    await sleep((GRACE + 1) * 1000);
    const final2 = await runWharf('prune', configPath);
    assert.equal(final2.code, 0, final2.err);
    const finalReport = JSON.parse(final2.out) as { problems: unknown[]; kept: { uploads: { objects: number } } };

    // What must remain: the blobs and manifest bodies of every image still reachable.
    const expected = new Set<string>();
    const byDigest = new Map(pushed.map((p) => [`${p.repo}@${p.digest}`, p]));
    const keepImage = (p: Pushed) => {
      expected.add(p.digest);
      for (const b of p.blobs) expected.add(b);
      if (p.kind === 'index')
        for (const c of p.manifests) {
          const child = byDigest.get(`${p.repo}@${c}`);
          if (child) keepImage(child);
        }
    };
    for (const p of alive) keepImage(p);
    for (const e of ['ephemeral/e0', 'ephemeral/e1']) {
      const r = await reg.req('GET', `/v2/${e}/tags/list`);
      if (r.status !== 200) continue;
      const tags = (JSON.parse(r.body.toString('utf8')) as { tags: string[] }).tags;
      assert.ok(tags.length <= 2, `${e} keeps only its last 2 tags: ${tags.join(', ')}`);
      for (const t of tags) {
        const p = pushed.find((x) => x.repo === e && x.tag === t);
        if (p) keepImage(p);
      }
    }
    const stored = storedBlobs(w.dataDir);
    const missing = [...expected].filter((d) => !stored.has(d));
    const garbage = [...stored].filter((d) => !expected.has(d));
    const deletedUnique = pushed
      .filter((p) => p.deleted)
      .flatMap((p) => [p.digest, p.blobs[0]!, p.blobs[p.blobs.length - 1]!])
      .filter((d) => stored.has(d));

    const summary = {
      seconds: SECONDS,
      pushes: pushed.length,
      alive: alive.length,
      deletedImages: pushed.filter((p) => p.deleted).length,
      ephemeral: pushed.filter((p) => p.repo.startsWith('ephemeral/')).length,
      failedManifestPuts: reg.failures.length,
      otherErrors: errors.length,
      abandonedUploads: abandoned,
      pullsDuringRun: pulls,
      cliPruneRuns: cliRuns.length,
      fsckRunsDuringRun: fsckRuns.length,
      cliRestored: cliRuns.reduce((a, r) => a + r.restored, 0),
      cliRemovedBlobs: cliRuns.reduce((a, r) => a + r.removed, 0),
      brokenImages: problems.length,
      pullProblemsDuringRun: pullProblems.length,
      storedBlobs: stored.size,
      expectedBlobs: expected.size,
      garbageLeft: garbage.length,
      missing: missing.length,
    };
    console.log(`prune stress: ${JSON.stringify(summary)}`);
    if (reg.failures.length > 0) console.log(`failed manifest PUTs (first 5): ${reg.failures.slice(0, 5).join(' | ')}`);
    if (errors.length > 0) console.log(`errors (first 5): ${errors.slice(0, 5).join(' | ')}`);

    assert.deepEqual(problems, [], 'broken images after the run');
    assert.deepEqual(pullProblems, [], 'pulls of kept images failed during the run');
    assert.ok(
      cliRuns.every((r) => r.code === 0),
      'every wharf prune run succeeded',
    );
    assert.ok(pushed.length >= 50, `too few pushes (${pushed.length})`);
    // Zero refused pushes: a blob the client was just told exists (HEAD 200,
    // mount, deduplicated upload) stays for the grace period, so no manifest
    // PUT fails because a sweep ran in between.
    assert.deepEqual(reg.failures, [], 'manifest PUTs refused');
    assert.deepEqual(errors, [], 'requests failed');
    assert.deepEqual(missing, [], 'blobs of remaining images missing from storage');
    assert.deepEqual(deletedUnique, [], 'unique blobs of deleted images still stored');
    assert.deepEqual(garbage, [], 'garbage left after the grace period');
    assert.deepEqual(listDir(join(w.dataDir, 'default', 'uploads')), [], 'abandoned uploads left');
    assert.deepEqual(objectsUnder(join(w.dataDir, 'default', '_trash')), [], 'objects left in the trash');
    assert.deepEqual(listDir(join(w.dataDir, 'default', '_trash')), [], 'trash left');
    assert.deepEqual(finalReport.problems, []);
    // Checked online while all that ran, and once more at the end (--deep: every blob hashes to its name).
    assert.ok(fsckRuns.length >= 1, 'fsck ran during the load');
    assert.deepEqual(
      fsckRuns.flatMap((r) => r.damage),
      [],
      'fsck reported damage during the run',
    );
    assert.ok(
      fsckRuns.every((r) => r.code === 0),
      `fsck exit codes during the run: ${fsckRuns.map((r) => r.code).join(',')}`,
    );
    const check = await runWharf('fsck', configPath, '--deep');
    const checkReport = JSON.parse(check.out) as { findings: unknown[]; scanned: { blobs: number; hashedBlobs: number } };
    assert.deepEqual(checkReport.findings, [], 'fsck after the run: no damage, no orphans');
    assert.equal(check.code, 0, check.err);
    assert.equal(checkReport.scanned.hashedBlobs, checkReport.scanned.blobs);
    assert.doesNotMatch(w.output(), /"level":"error"/, 'serve logged errors');
    assert.doesNotMatch(w2.output(), /"level":"error"/, 'serve (replica 2) logged errors');
  } finally {
    await w2?.cleanup();
    await w?.cleanup();
  }
});
