// The trash of a prune run: blob data and repository blob links are never
// deleted outright. They are moved to `<ns>/_trash/<run>/` first, checked
// once more (recently used? needed by a manifest written meanwhile?), and only
// then deleted — or moved back. While anything is in it, the run refreshes a
// heartbeat object (`alive`).
//
// A run that dies between the move and the decision leaves its trash behind;
// the next run, once the heartbeat is TRASH_STALE_MS old, moves everything in
// it back before it marks (recoverTrash). And a manifest push that finds a
// blob or link missing looks here before it fails (takeBackFromTrash): it may
// have arrived in the instant between a move and the move back.
import { randomBytes } from 'node:crypto';
import type { StorageDriver } from '../../storage/driver.js';
import { NotFoundError } from '../../storage/errors.js';
import { layout } from '../layout.js';
import { parseDigest, type Digest } from '../names.js';
import { listAll, type Scope } from '../scope.js';
import { errorText, problem, type NsContext } from './context.js';

/** A trash directory whose heartbeat is older than this belongs to a dead run. */
export const TRASH_STALE_MS = 5 * 60_000;
const HEARTBEAT_MS = 30_000;

function digestOrNull(text: string): Digest | null {
  try {
    return parseDigest(text);
  } catch {
    return null;
  }
}

export class Trash {
  readonly run: string;
  private timer: NodeJS.Timeout | undefined;
  private opening: Promise<void> | undefined;
  // The beat in flight, so close() can wait for it: a beat landing after the
  // heartbeat object is deleted would leave the run's trash behind.
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly driver: StorageDriver,
    private readonly ns: string,
    runStart: number,
  ) {
    this.run = `${runStart}-${randomBytes(4).toString('hex')}`;
  }

  private beat(): Promise<void> {
    this.beating = this.driver.put(layout.trashAlive(this.ns, this.run), Buffer.from(String(Date.now()))).then(() => undefined);
    return this.beating;
  }

  /** Call before the first move into the trash: starts the heartbeat. */
  open(): Promise<void> {
    this.opening ??= this.beat().then(() => {
      this.timer = setInterval(() => void this.beat().catch(() => undefined), HEARTBEAT_MS);
      this.timer.unref();
    });
    return this.opening;
  }

  blob(d: Digest): string {
    return layout.trashBlob(this.ns, this.run, d);
  }

  link(repo: string, d: Digest): string {
    return layout.trashLink(this.ns, this.run, repo, d);
  }

  /** Stop the heartbeat and remove it (the trash itself must be empty by now). */
  async close(): Promise<void> {
    if (!this.opening) return;
    await this.opening.catch(() => undefined);
    if (this.timer) clearInterval(this.timer);
    await this.beating.catch(() => undefined);
    await this.driver.delete(layout.trashAlive(this.ns, this.run)).catch(() => false);
  }
}

/** Move `from` to `to`; false when `from` is not there (someone else moved or deleted it). */
export async function moveIfThere(driver: StorageDriver, from: string, to: string): Promise<boolean> {
  try {
    await driver.move(from, to);
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

/** Put back one object of a dead run's trash (key relative to the run's directory). */
async function recoverOne(ctx: NsContext, key: string, rel: string): Promise<void> {
  const { driver, ns, report } = ctx;
  if (rel.startsWith('_links/')) {
    const tail = rel.slice('_links/'.length);
    const slash = tail.lastIndexOf('/');
    const d = slash > 0 ? digestOrNull(tail.slice(slash + 1)) : null;
    if (!d) {
      await driver.delete(key);
      return;
    }
    const link = layout.repoBlobLink(ns, tail.slice(0, slash), d);
    if (await driver.stat(link)) await driver.delete(key);
    else if (await moveIfThere(driver, key, link)) report.restored.links++;
    return;
  }
  const [alg, hex, ...rest] = rel.split('/');
  const d = alg && hex && rest.length === 0 ? digestOrNull(`${alg}:${hex}`) : null;
  if (!d) await driver.delete(key);
  else if (await driver.stat(layout.blob(ns, d))) await driver.delete(key);
  else if (await moveIfThere(driver, key, layout.blob(ns, d))) report.restored.blobs++;
}

/** Whether prune run `run` is still going: its heartbeat (or, without one, its start) is younger than TRASH_STALE_MS. */
export async function trashRunAlive(driver: StorageDriver, ns: string, run: string, now: () => number): Promise<boolean> {
  const alive = await driver.stat(layout.trashAlive(ns, run));
  const started = Number(/^(\d+)-/.exec(run)?.[1] ?? 0);
  return now() - Math.max(alive?.modified.getTime() ?? 0, started) < TRASH_STALE_MS;
}

export interface DeadTrashRun {
  /** The run's id (its directory name under layout.trash). */
  run: string;
  /** The run's trash directory (ends with '/'). */
  key: string;
  /** The objects it left (its heartbeat marker left out). */
  objects(): AsyncIterable<{ key: string; size?: number }>;
}

/**
 * The trash directories of prune runs whose heartbeat stopped TRASH_STALE_MS
 * ago (or, without one, that started that long ago): what prune puts back
 * and fsck reports. A live run's trash is never listed.
 */
export async function* deadTrashRuns(driver: StorageDriver, ns: string, now: () => number): AsyncGenerator<DeadTrashRun> {
  const root = layout.trash(ns);
  for await (const r of listAll(driver, root, { delimiter: '/' })) {
    if (!r.prefix) continue;
    const run = r.key.slice(root.length, -1);
    if (await trashRunAlive(driver, ns, run, now)) continue;
    const marker = layout.trashAlive(ns, run);
    yield {
      run,
      key: r.key,
      async *objects() {
        for await (const e of listAll(driver, r.key)) if (!e.prefix && e.key !== marker) yield e;
      },
    };
  }
}

/** Put back what dead runs left in their trash. */
export async function recoverTrash(ctx: NsContext): Promise<void> {
  for await (const dead of deadTrashRuns(ctx.driver, ctx.ns, () => ctx.now())) {
    if (ctx.settings.dryRun) {
      problem(ctx, dead.key, 'trash of an interrupted prune run: a real run puts it back');
      continue;
    }
    for await (const e of dead.objects()) {
      try {
        await recoverOne(ctx, e.key, e.key.slice(dead.key.length));
      } catch (err) {
        if (!(err instanceof NotFoundError)) problem(ctx, e.key, `trash recovery failed: ${errorText(err)}`);
      }
    }
    await ctx.driver.delete(layout.trashAlive(ctx.ns, dead.run)).catch(() => false);
  }
}

/**
 * For a manifest push that found `d` (its data, or `repo`'s link to it)
 * missing: move it back from any prune run's trash. Prune only deletes from
 * its trash what nobody was told exists (see blob-use.ts), and it would put
 * back itself what a new manifest needs, so taking it back early is always
 * safe. Resolves to true when something was moved back.
 */
export async function takeBackFromTrash(s: Scope, repo: string, d: Digest, want: { link: boolean; blob: boolean }): Promise<boolean> {
  const root = layout.trash(s.ns);
  let link = want.link;
  let blob = want.blob;
  let moved = false;
  for await (const r of listAll(s.driver, root, { delimiter: '/' })) {
    if (!r.prefix || (!link && !blob)) continue;
    const run = r.key.slice(root.length, -1);
    if (link && (await moveIfThere(s.driver, layout.trashLink(s.ns, run, repo, d), layout.repoBlobLink(s.ns, repo, d)))) {
      link = false;
      moved = true;
    }
    if (
      blob &&
      !(await s.driver.stat(layout.blob(s.ns, d))) &&
      (await moveIfThere(s.driver, layout.trashBlob(s.ns, run, d), layout.blob(s.ns, d)))
    ) {
      blob = false;
      moved = true;
    }
  }
  return moved;
}
