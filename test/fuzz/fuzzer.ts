// The fuzzer's run: cases of one to three requests (valid API requests, most
// of them mutated) written on a fresh connection in one write or in pieces,
// kept open, half-closed or cut off; then the checks. Every answer: never a
// 5xx for a client's mistake (the one exception: 501 for a transfer coding the
// server does not implement), an OCI error body for every API error, no stack
// trace or path, well-formed framing; a request sent whole gets its answer
// (or, if a mutation touched the wire format, a close). After every case: the
// server still runs, logged no internal failure, holds no file in its store
// open, has no temp file and no upload the client did not start. Every few
// hundred cases and at the end: it answers, and every published blob hashes
// to its name.
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fdSummary } from '../helpers/proc.js';
import { parseResponses, type WireResponse } from '../helpers/raw-http.js';
import { mutate, serialize, template, type FuzzRequest, type World } from './requests.js';
import { Rng } from './rng.js';

export interface FuzzTarget {
  port: number;
  /** Storage root (filesystem driver). */
  dataDir: string;
  pid: number;
  /** Server output so far. */
  output(): string;
  alive(): boolean;
}

export interface FuzzOptions {
  seed: number;
  /** The first case to run (default 0): cases are numbered, each drawn from (seed, number). */
  from?: number;
  /** Stop after this many cases ... */
  iterations: number;
  /** ... or after this many seconds, whichever comes first. */
  seconds: number;
  /** Wait this long for an answer that must come (ms). */
  hangMs?: number;
  /** Liveness and blob checks every this many cases. */
  checkEvery?: number;
  log?: (line: string) => void;
  /** Go on after a failure (each leaked handle, upload or temp file reported once), for long runs by hand. */
  keepGoing?: boolean;
}

export interface CaseRecord {
  index: number;
  requests: Array<{ template: string; method: string; target: string; notes: string[] }>;
  /** The exact bytes written, piece by piece (latin1). */
  parts: string[];
  gapMs: number;
  end: 'open' | 'half' | 'abort';
}

export interface FuzzFailure {
  what: string;
  case?: CaseRecord;
}

export interface FuzzResult {
  seed: number;
  cases: number;
  requests: number;
  statuses: Record<string, number>;
  elapsedMs: number;
  /** The first failure ... */
  failure?: FuzzFailure;
  /** ... and, with keepGoing, all of them. */
  failures: FuzzFailure[];
}

const LEAK_RE =
  /(^|\n)\s+at [^\n]*[(:]|\bat (?:file|node):|[\w/.-]+\.(?:ts|js|mjs):\d+|\/work\/|\/tmp\/|node_modules|node:internal|Error: [^\n]*\n\s+at /;
const SERVER_TROUBLE_RE = /request failed|on garbage collection|Unhandled|uncaught|FATAL|out of memory|MaxListenersExceeded/i;
const UPLOAD_ID_RE = /\/blobs\/uploads\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/;

class Failed extends Error {}

/** Responses a parser may give without the API's headers, before any handler runs. */
const PARSER_STATUSES = new Set([400, 405, 408, 431]);

export class Fuzzer {
  private readonly world: World;
  /** Upload ids the client learnt from an answer. */
  private readonly knownUploads = new Set<string>();
  /** POSTs that may have started an upload whose answer the client never read. */
  private blindStarts = 0;
  private outputSeen = 0;
  private readonly statuses: Record<string, number> = {};
  private requestsSent = 0;
  /** With keepGoing: what was reported already and is not reported again. */
  private readonly reportedFds = new Set<string>();
  private readonly reportedTmp = new Set<string>();
  private readonly reportedBlobs = new Set<string>();
  private readonly reportedTrouble = new Set<string>();

  constructor(
    private readonly target: FuzzTarget,
    world: World,
    private readonly opts: FuzzOptions,
  ) {
    this.world = world;
    for (const u of world.uploads) this.noteUpload(u.path);
  }

  /** Upload ids already in the store before the run (the setup's). */
  adoptExistingUploads(): void {
    for (const id of this.uploadIds()) this.knownUploads.add(id);
  }

  async run(): Promise<FuzzResult> {
    const started = Date.now();
    const { seed } = this.opts;
    const checkEvery = this.opts.checkEvery ?? 250;
    this.outputSeen = this.target.output().length;
    const from = this.opts.from ?? 0;
    let i = from;
    let current: CaseRecord | undefined;
    const failures: FuzzFailure[] = [];
    const result = (): FuzzResult => ({
      seed,
      cases: i - from,
      requests: this.requestsSent,
      statuses: this.statuses,
      elapsedMs: Date.now() - started,
      failure: failures[0],
      failures,
    });
    /** Run a step; a failure ends the run, or with keepGoing is noted and the run goes on. */
    const guarded = async (step: () => Promise<void>): Promise<boolean> => {
      try {
        await step();
        return true;
      } catch (err) {
        if (!(err instanceof Failed)) throw err;
        failures.push({ what: err.message, case: current });
        if (!this.opts.keepGoing) return false;
        this.opts.log?.(describeFailure({ ...result(), failure: failures.at(-1) }));
        this.acknowledge();
        return true;
      }
    };
    for (; i < from + this.opts.iterations && Date.now() - started < this.opts.seconds * 1000; i++) {
      current = undefined;
      const rng = Rng.derive(seed, i);
      const { record, requests } = this.buildCase(i, rng);
      current = record;
      if (!(await guarded(() => this.runCase(record, requests)))) return result();
      current = undefined;
      if ((i + 1 - from) % checkEvery === 0) {
        if (!(await guarded(() => this.deepChecks()))) return result();
        this.opts.log?.(
          `fuzz: seed ${seed}: ${i + 1 - from} cases, ${this.requestsSent} requests, ${Math.round((Date.now() - started) / 1000)} s`,
        );
      }
    }
    current = undefined;
    if (await guarded(() => this.deepChecks())) await guarded(() => this.finalChecks());
    return result();
  }

  /** After a failure, with keepGoing: what is wrong now is known; report only what goes wrong next. */
  private acknowledge(): void {
    for (const f of fdSummary(this.target.pid, this.target.dataDir).under) this.reportedFds.add(f);
    for (const id of this.uploadIds()) this.knownUploads.add(id);
    for (const f of listDir(join(this.target.dataDir, '_tmp'))) this.reportedTmp.add(f);
  }

  // ---- one case ----

  private buildCase(index: number, rng: Rng): { record: CaseRecord; requests: FuzzRequest[] } {
    const n = rng.weighted([
      [8, 1],
      [2, 2],
      [1, 3],
    ] as const);
    const requests: FuzzRequest[] = [];
    for (let k = 0; k < n; k++) {
      const r = template(this.world, rng);
      const count = rng.weighted([
        [2, 0],
        [5, 1],
        [2, 2],
        [1, 3],
      ] as const);
      requests.push(mutate(r, rng, this.world, count));
    }
    const bytes = Buffer.concat(requests.map((r) => serialize(r, rng)));
    const complete = requests.every((r) => r.complete);
    const end = complete
      ? rng.weighted([
          [5, 'open'],
          [4, 'half'],
          [1, 'abort'],
        ] as const)
      : rng.weighted([
          [4, 'half'],
          [1, 'abort'],
        ] as const);
    let written = bytes;
    if (end === 'abort') written = bytes.subarray(0, rng.int(0, bytes.length));
    // One write, or a few pieces with short pauses (bodies that arrive slowly).
    const pieces = rng.weighted([
      [6, 1],
      [3, 2],
      [1, 4],
    ] as const);
    const cuts = Array.from({ length: pieces - 1 }, () => rng.int(0, written.length)).sort((a, b) => a - b);
    const parts: string[] = [];
    let at = 0;
    for (const c of [...cuts, written.length]) {
      parts.push(written.subarray(at, c).toString('latin1'));
      at = c;
    }
    const record: CaseRecord = {
      index,
      requests: requests.map((r) => ({ template: r.template, method: r.method, target: r.target.slice(0, 300), notes: r.notes })),
      parts,
      gapMs: pieces > 1 ? rng.int(1, 30) : 0,
      end,
    };
    return { record, requests };
  }

  private async runCase(record: CaseRecord, requests: FuzzRequest[]): Promise<void> {
    this.requestsSent += requests.length;
    const hangMs = this.opts.hangMs ?? 20_000;
    const methods = requests.map((r) => r.method.toUpperCase());
    const ex = await exchangeCase(this.target.port, record, methods, requests.length, hangMs);
    const parsed = parseResponses(ex.raw, methods);
    if (parsed.framingError) throw new Failed(`malformed response from the server: ${parsed.framingError}`);
    const answers = parsed.responses;
    for (const [k, res] of answers.entries()) {
      this.statuses[res.status] = (this.statuses[res.status] ?? 0) + 1;
      this.checkAnswer(requests[k], res, k);
      this.learn(requests[k], res);
    }
    // Who may have started an upload without learning its id.
    for (const [k, r] of requests.entries()) if (k >= answers.length && mayStartUpload(r)) this.blindStarts++;
    if (record.end !== 'abort') {
      if (ex.timedOut) {
        throw new Failed(
          record.end === 'half'
            ? `no answer and no close ${hangMs} ms after a half-close (${answers.length} of ${requests.length} answered)`
            : `no answer within ${hangMs} ms (${answers.length} of ${requests.length} answered)`,
        );
      }
      const closedEarly = answers.some((a) => /close/i.test(a.headers.connection ?? ''));
      const mustAnswer = requests.length > answers.length && !closedEarly;
      if (mustAnswer) {
        const first = requests[answers.length]!;
        // Only a request that reached the server whole and well-formed must be answered;
        // one whose wire format was bent may be refused by closing.
        const wellFormed = requests.slice(0, answers.length + 1).every((r) => r.complete && !r.protocol);
        if (wellFormed) {
          throw new Failed(
            `request ${answers.length + 1} (${first.method} ${first.target.slice(0, 100)}) got no answer: connection ${ex.closed ? `closed${ex.error ? ` (${ex.error})` : ''}` : 'open'}`,
          );
        }
      }
    }
    await this.caseChecks();
  }

  private checkAnswer(r: FuzzRequest | undefined, res: WireResponse, k: number): void {
    const what = r
      ? `answer ${k + 1} (${r.method} ${r.target.slice(0, 100)} -> ${res.status})`
      : `extra answer ${k + 1} (-> ${res.status})`;
    if (res.status < 100 || res.status > 599) throw new Failed(`${what}: bad status`);
    const headerText = Object.entries(res.headers)
      .map(([h, v]) => `${h}: ${v}`)
      .join('\n');
    if (LEAK_RE.test(headerText)) throw new Failed(`${what}: headers leak internals: ${headerText.slice(0, 300)}`);
    if (res.status >= 400 && LEAK_RE.test(res.text)) throw new Failed(`${what}: body leaks internals: ${res.text.slice(0, 300)}`);
    const api = res.headers['docker-distribution-api-version'] === 'registry/2.0';
    if (res.status >= 500) {
      const te = r?.headers.some(([h]) => h.toLowerCase() === 'transfer-encoding');
      const head = r?.method.toUpperCase() === 'HEAD';
      const code = api && !head ? errorCode(res.text) : undefined;
      if (!(res.status === 501 && te && api && (head || code === 'UNSUPPORTED')))
        throw new Failed(`${what}: server error for a client's request: ${res.text.slice(0, 300)}`);
    }
    if (!api) {
      // Only the parser answers without the API's headers.
      if (!PARSER_STATUSES.has(res.status)) throw new Failed(`${what}: answer without the API version header`);
      return;
    }
    if (res.status >= 400 && r?.method.toUpperCase() !== 'HEAD') {
      if (!/^application\/json/.test(res.headers['content-type'] ?? ''))
        throw new Failed(`${what}: error without a JSON body (${res.headers['content-type']})`);
      if (errorCode(res.text) === undefined) throw new Failed(`${what}: not an OCI error body: ${res.text.slice(0, 300)}`);
    }
  }

  /** Keep the world up to date with what the answers say. */
  private learn(r: FuzzRequest | undefined, res: WireResponse): void {
    const loc = res.headers.location;
    if (loc) this.noteUpload(loc);
    if (res.headers['docker-upload-uuid']) this.knownUploads.add(res.headers['docker-upload-uuid']);
    if (!r) return;
    const clean = r.notes.length === 0;
    if (r.upload) {
      const u = r.upload;
      if (r.method === 'PATCH' && res.status === 202) {
        const m = /^0-(\d+)$/.exec(res.headers.range ?? '');
        const offset = m ? Number(m[1]) + 1 : u.offset;
        u.data = clean && u.data && offset === u.offset + r.body.length ? Buffer.concat([u.data, r.body]) : undefined;
        u.offset = offset;
        if (res.headers.location) u.path = res.headers.location;
      } else if (r.method === 'PUT' || r.method === 'DELETE' || res.status === 404) {
        this.world.uploads = this.world.uploads.filter((x) => x !== u);
      }
    }
    if (res.status === 202 && r.method === 'POST' && loc && UPLOAD_ID_RE.test(loc) && clean) {
      this.world.uploads.push({ repo: '', path: loc, offset: 0, data: Buffer.alloc(0) });
      if (this.world.uploads.length > 12) this.world.uploads.shift();
    }
    if (res.status === 201 && clean && r.template === 'bs-create' && this.world.buildsets) {
      try {
        const j = JSON.parse(res.text) as { name: string; credentials: { username: string; password: string } };
        this.world.buildsets.creds[j.name] =
          `Basic ${Buffer.from(`${j.credentials.username}:${j.credentials.password}`).toString('base64')}`;
      } catch {
        /* a 201 without the credentials: nothing to learn */
      }
    }
    if (res.status === 201 && clean && res.headers['docker-content-digest']) {
      const digest = res.headers['docker-content-digest'];
      const repo = /^\/v2\/(.+?)\/(?:blobs|manifests)\//.exec(r.target)?.[1];
      if (repo && r.template.endsWith('upload-monolithic')) this.world.blobs.push({ repo, digest, size: r.body.length });
      if (repo && r.template.endsWith('manifest-put')) {
        const tag = /\/manifests\/([^/?]+)/.exec(r.target)?.[1] ?? digest;
        const mediaType = r.headers.find(([h]) => h.toLowerCase() === 'content-type')?.[1] ?? '';
        this.world.manifests.push({ repo, digest, tag, body: r.body, mediaType });
      }
      if (this.world.blobs.length > 200) this.world.blobs.splice(2, 1);
      if (this.world.manifests.length > 50) this.world.manifests.splice(2, 1);
    }
  }

  private noteUpload(location: string): void {
    const m = UPLOAD_ID_RE.exec(location);
    if (m) this.knownUploads.add(m[1]!);
  }

  // ---- checks on the server ----

  private serverTrouble(): string | undefined {
    const out = this.target.output();
    const fresh = out.slice(this.outputSeen);
    this.outputSeen = out.length;
    // With keepGoing, a kind of message is reported once (numbers and times aside).
    const kind = (l: string) => l.replace(/"time":"[^"]*"|\d+/g, '#').slice(0, 200);
    const line = fresh.split('\n').find((l) => SERVER_TROUBLE_RE.test(l) && !this.reportedTrouble.has(kind(l)));
    if (line && this.opts.keepGoing) this.reportedTrouble.add(kind(line));
    return line;
  }

  /** Upload ids present in the store, in every namespace. */
  private uploadIds(): string[] {
    const ids: string[] = [];
    for (const ns of listDir(this.target.dataDir)) {
      if (ns.startsWith('_')) continue;
      for (const id of listDir(join(this.target.dataDir, ns, 'uploads'))) ids.push(id);
    }
    return ids;
  }

  private async caseChecks(): Promise<void> {
    if (!this.target.alive()) throw new Failed(`the server exited:\n${this.target.output().slice(-3000)}`);
    // What the server does after a client is gone finishes asynchronously: give it a moment.
    let problem: string | undefined;
    for (const deadline = Date.now() + 3000; ; ) {
      problem = this.storeProblem();
      if (!problem || Date.now() > deadline) break;
      await sleep(20);
    }
    const trouble = this.serverTrouble();
    if (trouble) throw new Failed(`the server logged: ${trouble.slice(0, 1000)}`);
    if (problem) throw new Failed(problem);
  }

  private storeProblem(): string | undefined {
    const fds = fdSummary(this.target.pid, this.target.dataDir);
    fds.under = fds.under.filter((f) => !this.reportedFds.has(f));
    if (fds.under.length > 0) return `file handles into the store still open after the connection ended: ${fds.under.join(', ')}`;
    const unknown = this.uploadIds().filter((id) => !this.knownUploads.has(id));
    if (unknown.length > this.blindStarts) {
      const detail = unknown.map((id) => `${id}: ${readRecord(this.target.dataDir, id)}`).join('; ');
      return `uploads left behind that the client did not start (${unknown.length}, at most ${this.blindStarts} POSTs went unanswered): ${detail}`;
    }
    const tmp = listDir(join(this.target.dataDir, '_tmp')).filter((f) => !this.reportedTmp.has(f));
    if (tmp.length > 0) return `temporary files left in _tmp: ${tmp.slice(0, 10).join(', ')}`;
    return undefined;
  }

  private async deepChecks(): Promise<void> {
    const status = await ping(this.target.port, this.world.auth);
    if (status !== 200) throw new Failed(`GET /v2/ on a fresh connection: ${status}`);
    const bad = (await misnamedBlobs(this.target.dataDir)).filter((b) => !this.reportedBlobs.has(b));
    for (const b of bad) this.reportedBlobs.add(b);
    if (bad.length > 0) throw new Failed(`published blobs whose bytes do not hash to their name: ${bad.join(', ')}`);
    const broken = brokenTags(this.target.dataDir).filter((b) => !this.reportedBlobs.has(b));
    for (const b of broken) this.reportedBlobs.add(b);
    if (broken.length > 0) throw new Failed(`tags whose manifest or its blobs are missing: ${broken.slice(0, 10).join('; ')}`);
  }

  private async finalChecks(): Promise<void> {
    // Every connection the fuzzer opened is closed: the server's sockets go with them.
    let fds = fdSummary(this.target.pid, this.target.dataDir);
    for (const deadline = Date.now() + 5000; fds.sockets > 4 && Date.now() < deadline; ) {
      await sleep(100);
      fds = fdSummary(this.target.pid, this.target.dataDir);
    }
    if (fds.sockets > 4) throw new Failed(`${fds.sockets} sockets still open after every client connection closed`);
  }
}

/** Is this request one that may start an upload (POST to the uploads endpoint, not finishing it at once)? */
function mayStartUpload(r: FuzzRequest): boolean {
  if (r.method !== 'POST') return false;
  const q = r.target.indexOf('?');
  const path = q < 0 ? r.target : r.target.slice(0, q);
  if (!/\/blobs\/uploads\/?$/.test(path)) return false;
  const params = new URLSearchParams(q < 0 ? '' : r.target.slice(q + 1));
  return !params.has('digest') || params.has('mount');
}

function errorCode(text: string): string | undefined {
  try {
    const doc = JSON.parse(text);
    const e = doc?.errors?.[0];
    return typeof e?.code === 'string' && typeof e?.message === 'string' ? e.code : undefined;
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readRecord(root: string, id: string): string {
  for (const ns of listDir(root)) {
    try {
      return readFileSync(join(root, ns, 'uploads', id, 'record'), 'utf8').slice(0, 300);
    } catch {
      /* another namespace */
    }
  }
  return '(no record)';
}

/** Blob files under <root>/<ns>/blobs/<alg>/<hex> whose bytes do not hash to <hex>. */
async function misnamedBlobs(root: string): Promise<string[]> {
  const bad: string[] = [];
  for (const ns of listDir(root)) {
    for (const alg of listDir(join(root, ns, 'blobs'))) {
      for (const hex of listDir(join(root, ns, 'blobs', alg))) {
        const file = join(root, ns, 'blobs', alg, hex);
        if (!statSync(file).isFile()) continue;
        const h = createHash(alg);
        for await (const piece of createReadStream(file)) h.update(piece as Buffer);
        if (h.digest('hex') !== hex) bad.push(`${ns}/${alg}:${hex}`);
      }
    }
  }
  return bad;
}

/**
 * Tags (every namespace, every repository) whose manifest, or a blob or child
 * manifest it names, is not stored in the namespace. No prune runs during a
 * fuzz run, so whatever a tag reached when it was written must still be there.
 */
function brokenTags(root: string): string[] {
  const broken: string[] = [];
  const stored = (ns: string, digest: string) => {
    const [alg, hex] = digest.split(':');
    if (!alg || !hex || !/^[a-z0-9]+$/.test(alg) || !/^[a-f0-9]+$/.test(hex)) return false;
    try {
      return statSync(join(root, ns, 'blobs', alg, hex)).isFile();
    } catch {
      return false;
    }
  };
  const visit = (ns: string, dir: string, repo: string) => {
    for (const name of listDir(dir)) {
      if (name !== '_tags') {
        if (!name.startsWith('_')) visit(ns, join(dir, name), repo ? `${repo}/${name}` : name);
        continue;
      }
      for (const tag of listDir(join(dir, '_tags'))) {
        const where = `${ns}/${repo}:${tag}`;
        let digest: string;
        try {
          digest = (JSON.parse(readFileSync(join(dir, '_tags', tag), 'utf8')) as { digest: string }).digest;
        } catch {
          broken.push(`${where}: unreadable tag`);
          continue;
        }
        if (!stored(ns, digest)) {
          broken.push(`${where} -> ${digest}: manifest missing`);
          continue;
        }
        const [alg, hex] = digest.split(':') as [string, string];
        let doc: { config?: { digest?: string }; layers?: { digest?: string }[]; manifests?: { digest?: string }[] };
        try {
          doc = JSON.parse(readFileSync(join(root, ns, 'blobs', alg, hex), 'utf8'));
        } catch {
          continue; // not JSON: not a manifest the registry would have accepted under a tag (hashing is checked elsewhere)
        }
        const refs = [doc.config?.digest, ...(doc.layers ?? []).map((l) => l.digest), ...(doc.manifests ?? []).map((m) => m.digest)];
        for (const d of refs) if (typeof d === 'string' && !stored(ns, d)) broken.push(`${where} -> ${digest}: ${d} missing`);
      }
    }
  };
  for (const ns of listDir(root)) {
    if (ns.startsWith('_')) continue;
    visit(ns, join(root, ns, 'repos'), '');
  }
  return broken;
}

/** GET /v2/ on a fresh connection; the status, or 0 when there is no answer in 10 s. */
export function ping(port: number, authorization?: string): Promise<number> {
  const auth = authorization ? `Authorization: ${authorization}\r\n` : '';
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.end(`GET /v2/ HTTP/1.1\r\nHost: fuzz.invalid\r\n${auth}Connection: close\r\n\r\n`));
    let got = '';
    const done = (status: number) => {
      clearTimeout(timer);
      s.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => done(0), 10_000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) done(Number(m[1]));
    });
    s.on('error', () => done(0));
    s.on('close', () => done(0));
  });
}

/**
 * Write a case's parts on a fresh connection and read until every request is
 * answered (kept open), the server closes (half-closed), or right away (cut off).
 */
export function exchangeCase(
  port: number,
  record: CaseRecord,
  methods: string[],
  expected: number,
  hangMs: number,
): Promise<{ raw: Buffer; closed: boolean; timedOut: boolean; error?: string }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let settled = false;
    let error: string | undefined;
    const finish = (closed: boolean, timedOut = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ raw: Buffer.concat(got), closed, timedOut, error });
    };
    const timer = setTimeout(() => finish(false, true), hangMs);
    let check: NodeJS.Timeout | undefined;
    s.on('data', (d: Buffer) => {
      got.push(d);
      if (record.end !== 'open' || check) return;
      check = setTimeout(() => {
        check = undefined;
        if (parseResponses(Buffer.concat(got), methods).responses.length >= expected) finish(false);
      }, 5);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? String(err);
      finish(true);
    });
    s.on('close', () => finish(true));
    s.on('connect', async () => {
      for (const [k, p] of record.parts.entries()) {
        if (s.destroyed) return;
        s.write(Buffer.from(p, 'latin1'));
        if (record.gapMs && k < record.parts.length - 1) await sleep(record.gapMs);
      }
      if (s.destroyed) return;
      if (record.end === 'half') s.end();
      else if (record.end === 'abort') {
        await sleep(5);
        finish(true);
      }
    });
  });
}

/** A failure, printed so that it can be run again. */
export function describeFailure(result: FuzzResult): string {
  const f = result.failure;
  if (!f) return '';
  const lines = [`fuzz FAILED (seed ${result.seed}, after ${result.cases} cases): ${f.what}`];
  if (!f.case) lines.push('(found by a check between cases: the cases just before it are the suspects)');
  if (f.case) {
    const c = f.case;
    lines.push(
      `case ${c.index}: ${c.requests.length} request(s), written in ${c.parts.length} piece(s) ${c.gapMs} ms apart, then ${c.end}`,
    );
    for (const [k, r] of c.requests.entries())
      lines.push(`  request ${k + 1}: ${r.template} -> ${r.method} ${r.target}  [${r.notes.join('; ')}]`);
    lines.push('exact bytes (JSON strings, latin1), piece by piece:');
    for (const p of c.parts) lines.push(`  ${JSON.stringify(p.length > 4000 ? p.slice(0, 4000) + '…' : p)}`);
    lines.push(
      `run it again: npm run fuzz -- --seed ${result.seed} --from ${c.index} --iterations 1   (or --replay FILE with this case's JSON)`,
    );
    lines.push(`case JSON: ${JSON.stringify(c).slice(0, 20000)}`);
  }
  return lines.join('\n');
}
