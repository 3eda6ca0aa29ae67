// The rest of a namespace: "recently used" markers (blobs they name are not
// orphans), the trash of prune runs that died (prune puts it back), catalog
// entries of repositories that hold nothing any more, and the quarantine
// (listed: blobs moved out of service, kept for inspection).
import { bucketProtectsUntil } from '../blob-use.js';
import { layout } from '../layout.js';
import { deadTrashRuns } from '../prune/trash.js';
import { listQuarantine } from '../quarantine.js';
import { listAll } from '../scope.js';
import { found, type NsCheck } from './context.js';

/** Digests of live markers into ctx.used. */
export async function loadUsed(ctx: NsCheck): Promise<void> {
  const root = layout.used(ctx.ns);
  for await (const b of listAll(ctx.driver, root, { delimiter: '/' })) {
    if (!b.prefix) continue;
    const until = bucketProtectsUntil(b.key.slice(root.length, -1));
    if (until === null || ctx.now() >= until) continue;
    for await (const e of listAll(ctx.driver, b.key)) {
      if (e.prefix) continue;
      const [alg, hex, ...rest] = e.key.slice(b.key.length).split('/');
      if (alg && hex && rest.length === 0) ctx.used.add(`${alg}:${hex}`);
    }
  }
}

/** Trash directories of prune runs whose heartbeat stopped. */
export async function checkTrash(ctx: NsCheck): Promise<void> {
  for await (const dead of deadTrashRuns(ctx.driver, ctx.ns, () => ctx.now())) {
    let objects = 0;
    let bytes = 0;
    for await (const e of dead.objects()) {
      objects++;
      bytes += e.size ?? 0;
    }
    if (objects === 0) continue;
    found(ctx, {
      finding: {
        kind: 'trash-interrupted',
        severity: 'orphan',
        object: dead.key,
        problem: `${objects} object(s) a prune run that died moved aside (wharf prune puts them back)`,
      },
      confirm: async () => {
        const page = await ctx.driver.list({ prefix: dead.key, limit: 1 });
        if (page.entries.length === 0) return false;
        ctx.report.counts.orphanBytes += bytes;
        return true;
      },
    });
  }
}

/** Catalog entries whose repository holds no manifest, tag or link. */
export async function checkCatalog(ctx: NsCheck): Promise<void> {
  const prefix = layout.catalog(ctx.ns);
  for await (const e of listAll(ctx.driver, prefix, { delimiter: '/' })) {
    if (e.prefix) continue;
    const repo = layout.repoFromCatalogKey(ctx.ns, e.key);
    if (ctx.repos.has(repo)) continue;
    found(ctx, {
      finding: {
        kind: 'catalog-stale',
        severity: 'orphan',
        repository: repo,
        object: e.key,
        problem: 'the catalog lists a repository that holds nothing',
      },
      confirm: async () => {
        if (!(await ctx.driver.stat(e.key))) return false;
        const page = await ctx.driver.list({ prefix: layout.repo(ctx.ns, repo), limit: 1 });
        return page.entries.length === 0;
      },
    });
  }
}

export async function listQuarantined(ctx: NsCheck): Promise<void> {
  for await (const q of listQuarantine(ctx)) {
    ctx.report.quarantine.push({
      namespace: ctx.ns,
      digest: q.digest,
      key: q.key,
      ...(q.note ? { reason: q.note.reason, by: q.note.by, at: q.note.at } : {}),
    });
  }
}
