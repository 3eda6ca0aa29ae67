// The catalog: one marker object per repository, listed with start-after
// paging (no walk of the whole store).
import { layout } from './layout.js';
import { listAll, type Scope } from './scope.js';

export async function markRepo(s: Scope, repo: string): Promise<void> {
  const key = layout.catalogEntry(s.ns, repo);
  if (!(await s.driver.stat(key))) await s.driver.put(key, Buffer.alloc(0));
}

export async function repoExists(s: Scope, repo: string): Promise<boolean> {
  return (await s.driver.stat(layout.catalogEntry(s.ns, repo))) !== null;
}

/**
 * Repositories in catalog order (the order of their marker keys, where '/' is
 * stored as '+'), after `last`, at most `limit`, only those `filter` accepts.
 */
export async function listRepos(
  s: Scope,
  options: { limit?: number; last?: string; filter?: (repo: string) => boolean } = {},
): Promise<{ repos: string[]; more: boolean }> {
  const prefix = layout.catalog(s.ns);
  const startAfter = options.last !== undefined ? layout.catalogEntry(s.ns, options.last) : undefined;
  const repos: string[] = [];
  for await (const e of listAll(s.driver, prefix, { delimiter: '/', startAfter })) {
    if (e.prefix) continue;
    const repo = layout.repoFromCatalogKey(s.ns, e.key);
    // Repositories the caller may not see are skipped (they count toward nothing).
    if (options.filter && !options.filter(repo)) continue;
    if (options.limit !== undefined && repos.length >= options.limit) return { repos, more: true };
    repos.push(repo);
  }
  return { repos, more: false };
}
