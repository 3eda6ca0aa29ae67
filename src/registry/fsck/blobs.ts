// Blob data: every object under <ns>/blobs/ is listed (its size kept in a
// compact table), and with --deep its bytes are hashed. Without --deep only
// suspects are hashed: blobs whose stored size differs from what a manifest
// declares. A blob whose bytes do not hash to its name is damage; --repair
// moves it to the quarantine (never served again; a correct push can publish
// the right bytes). At the end, blobs nothing references or links, and no
// client recently used, are reported as orphans (prune's garbage).
import { HASH_ALGORITHMS, type HashAlgorithm } from '../../digest/index.js';
import { layout } from '../layout.js';
import type { Digest } from '../names.js';
import { quarantineBlob } from '../quarantine.js';
import { listAll } from '../scope.js';
import { mapLimit } from '../../async/map-limit.js';
import { HASH_PARALLEL, Unrepairable, digestOrNull, found, hashBlob, isRecent, type NsCheck } from './context.js';

interface Seen {
  size: number;
  modified: number;
}

/** Record a blob whose bytes do not match its name (once per digest). */
export function recordCorrupt(ctx: NsCheck, d: Digest, actualHex: string, seen: Seen, declared?: number): void {
  if (ctx.corrupt.has(d.text)) return;
  ctx.corrupt.add(d.text);
  const key = layout.blob(ctx.ns, d);
  const truncated = declared !== undefined && seen.size < declared;
  const reason = truncated ? 'truncated' : 'digest mismatch';
  const sameObject = async () => {
    const st = await ctx.driver.stat(key);
    return st !== null && st.size === seen.size && st.modified.getTime() === seen.modified;
  };
  found(ctx, {
    finding: {
      kind: 'blob-corrupt',
      severity: 'damage',
      object: key,
      digest: d.text,
      problem:
        `bytes hash to ${d.algorithm}:${actualHex}, not to their name` +
        (truncated ? ` (${seen.size} bytes stored, ${declared} declared: truncated)` : ` (${seen.size} bytes)`),
    },
    // Still the very object that was hashed (not quarantined or replaced by a push meanwhile).
    confirm: sameObject,
    fix: async () => {
      if (!(await sameObject())) throw new Unrepairable('the blob changed since it was checked; run fsck again');
      const moved = await quarantineBlob(ctx, d, {
        reason,
        by: 'fsck',
        size: seen.size,
        detail: { actual: `${d.algorithm}:${actualHex}`, ...(declared !== undefined ? { declared } : {}) },
      });
      if (!moved) throw new Unrepairable('the blob was gone before it could be moved');
      return `moved to the quarantine (${moved}); push the images it breaks again`;
    },
  });
}

/** Hash one blob (a suspect, or every blob with --deep) and record it as verified or corrupt. */
export async function verifyBlob(ctx: NsCheck, d: Digest, declared?: number): Promise<'ok' | 'corrupt' | 'gone'> {
  if (ctx.verified.has(d.text)) return 'ok';
  if (ctx.corrupt.has(d.text)) return 'corrupt';
  const st = await ctx.driver.stat(layout.blob(ctx.ns, d));
  if (!st) return 'gone';
  const h = await hashBlob(ctx, d);
  if (!h) return 'gone';
  if (h.hex === d.hex) {
    ctx.verified.add(d.text);
    return 'ok';
  }
  recordCorrupt(ctx, d, h.hex, { size: st.size, modified: st.modified.getTime() }, declared);
  return 'corrupt';
}

function stray(ctx: NsCheck, key: string, size: number): void {
  found(ctx, {
    finding: {
      kind: 'stray-object',
      severity: 'orphan',
      object: key,
      problem: `${size} bytes under a name Wharf does not write; never served`,
    },
    confirm: async () => {
      if ((await ctx.driver.stat(key)) === null) return false;
      ctx.report.counts.orphanBytes += size;
      return true;
    },
  });
}

/** An object (or every object under a prefix) that is not a blob. */
async function strays(ctx: NsCheck, e: { key: string; prefix: boolean; size?: number }): Promise<void> {
  if (!e.prefix) {
    stray(ctx, e.key, e.size ?? 0);
    return;
  }
  for await (const x of listAll(ctx.driver, e.key)) {
    if (!x.prefix) stray(ctx, x.key, x.size ?? 0);
  }
}

/** List every blob (sizes into ctx.present); with --deep, hash each. */
export async function scanBlobs(ctx: NsCheck): Promise<void> {
  const root = `${ctx.ns}/blobs/`;
  const { scanned } = ctx.report;
  let queue: Digest[] = [];
  const hashQueue = async () => {
    const batch = queue;
    queue = [];
    await mapLimit(batch, HASH_PARALLEL, async (d) => {
      await verifyBlob(ctx, d);
      ctx.progress('blobs', scanned.blobs);
    });
  };
  for await (const a of listAll(ctx.driver, root, { delimiter: '/' })) {
    const alg = a.key.slice(root.length, a.prefix ? -1 : undefined);
    if (!a.prefix || !HASH_ALGORITHMS.includes(alg as HashAlgorithm)) {
      await strays(ctx, a);
      continue;
    }
    for await (const e of listAll(ctx.driver, a.key, { delimiter: '/' })) {
      const d = e.prefix ? null : digestOrNull(`${alg}:${e.key.slice(a.key.length)}`);
      if (!d) {
        await strays(ctx, e);
        continue;
      }
      ctx.present.set(d.text, e.size ?? 0);
      scanned.blobs++;
      scanned.blobBytes += e.size ?? 0;
      if (scanned.blobs % 1000 === 0) ctx.progress('blobs', scanned.blobs);
      if (ctx.settings.deep) {
        queue.push(d);
        if (queue.length >= 64) await hashQueue();
      }
    }
  }
  await hashQueue();
  ctx.progress('blobs', scanned.blobs);
}

/** Blobs nothing references, links or recently used, past twice the grace period: orphans. */
export async function findOrphanBlobs(ctx: NsCheck): Promise<void> {
  const root = `${ctx.ns}/blobs/`;
  let scanned = 0;
  for await (const a of listAll(ctx.driver, root, { delimiter: '/' })) {
    if (!a.prefix) continue;
    const alg = a.key.slice(root.length, -1);
    if (!HASH_ALGORITHMS.includes(alg as HashAlgorithm)) continue;
    for await (const e of listAll(ctx.driver, a.key, { delimiter: '/' })) {
      if (e.prefix) continue;
      const d = digestOrNull(`${alg}:${e.key.slice(a.key.length)}`);
      if (!d || ctx.referenced.has(d.text) || ctx.used.has(d.text) || ctx.corrupt.has(d.text)) continue;
      if (isRecent(ctx, e.modified?.getTime())) continue;
      if (++scanned % 1000 === 0) ctx.progress('orphans', scanned);
      const size = e.size ?? 0;
      found(ctx, {
        finding: {
          kind: 'blob-unreferenced',
          severity: 'orphan',
          object: e.key,
          digest: d.text,
          problem: `${size} bytes no manifest references and no repository links (wharf prune removes them)`,
        },
        confirm: async () => {
          if ((await ctx.driver.stat(e.key)) === null) return false;
          ctx.report.counts.orphanBytes += size;
          return true;
        },
      });
    }
  }
}
