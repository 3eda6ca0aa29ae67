// Catalog entries of repositories that hold nothing any more (every manifest
// deleted or expired, every link gone) are removed, so the catalog does not
// list empty repositories. Like everything prune removes: only once the entry
// is older than the grace period, and looked at again after the delete — a
// push that wrote into the repository meanwhile gets its entry back (a push
// writes its blob links and manifest before it writes the entry).
import { layout } from '../layout.js';
import { listAll } from '../scope.js';
import { errorText, isYoung, problem, type NsContext } from './context.js';

/** True when the repository holds no manifest, tag, link or referrer (nested repositories do not count). */
async function holdsNothing(ctx: NsContext, repo: string): Promise<boolean> {
  for await (const e of listAll(ctx.driver, layout.repo(ctx.ns, repo), { delimiter: '/' })) {
    const name = e.key.slice(layout.repo(ctx.ns, repo).length);
    if (name.startsWith('_')) return false;
  }
  return true;
}

export async function pruneCatalog(ctx: NsContext, kept: ReadonlySet<string>): Promise<void> {
  const { driver, report } = ctx;
  for await (const e of listAll(driver, layout.catalog(ctx.ns), { delimiter: '/' })) {
    if (e.prefix) continue;
    const repo = layout.repoFromCatalogKey(ctx.ns, e.key);
    if (kept.has(repo) || isYoung(ctx, e.modified?.getTime())) continue;
    try {
      if (!(await holdsNothing(ctx, repo))) continue;
      if (ctx.settings.dryRun) {
        report.removed.catalogEntries++;
        continue;
      }
      if (!(await driver.delete(e.key))) continue;
      if (await holdsNothing(ctx, repo)) report.removed.catalogEntries++;
      else {
        await driver.put(e.key, Buffer.alloc(0)); // a push got there meanwhile
        report.restored.catalogEntries++;
      }
    } catch (err) {
      problem(ctx, e.key, `catalog entry not removed: ${errorText(err)}`, repo);
    }
  }
}
