// The catalog: one marker object per repository, listed with start-after
// paging (no walk of the whole store). A page of n names lists n+1 markers
// (the extra one tells whether more follow), not a whole listing page: the
// filesystem driver stats every entry it lists.
import type { ListEntry } from '../storage/driver.js';
import { layout } from './layout.js';
import type { Scope } from './scope.js';

/** Entries a listing call returns at most (the drivers' own cap). */
const LISTING_PAGE = 1000;

/**
 * Catalog markers under `prefix` after `startAfter`: the first listing asks
 * for `first` entries (a page's worth), later ones for a full listing page
 * (only a caller whose rules hide repositories reads past the first).
 */
async function* markers(s: Scope, prefix: string, startAfter: string | undefined, first: number): AsyncGenerator<ListEntry> {
  let limit = Math.min(Math.max(first, 1), LISTING_PAGE);
  for (;;) {
    const page = await s.driver.list({ prefix, delimiter: '/', startAfter, limit });
    for (const e of page.entries) if (!e.prefix) yield e;
    if (!page.next || page.entries.length === 0) return;
    startAfter = page.next;
    limit = LISTING_PAGE;
  }
}

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
  const first = options.limit !== undefined ? options.limit + 1 : LISTING_PAGE;
  for await (const e of markers(s, prefix, startAfter, first)) {
    const repo = layout.repoFromCatalogKey(s.ns, e.key);
    // Repositories the caller may not see are skipped (they count toward nothing).
    if (options.filter && !options.filter(repo)) continue;
    if (options.limit !== undefined && repos.length >= options.limit) return { repos, more: true };
    repos.push(repo);
  }
  return { repos, more: false };
}

export interface RepoBrowsePage {
  repos: string[];
  /**
   * Where the next page starts, when more may follow: after this repository
   * (catalog order). `visible` is false when it is a repository `filter`
   * refused: the scan stops after `maxScanned` markers, so that a page costs
   * a bounded number of listings even when the caller may see few
   * repositories.
   */
  next?: { after: string; visible: boolean };
}

/**
 * A page of repositories whose names start with `prefix`, after `after`,
 * at most `limit`: one catalog listing per 1000 markers scanned (a prefix
 * narrows the listing itself, so a filtered page costs no more).
 */
export async function browseRepos(
  s: Scope,
  options: { limit: number; after?: string; prefix?: string; filter?: (repo: string) => boolean; maxScanned?: number },
): Promise<RepoBrowsePage> {
  const prefix = layout.catalogEntry(s.ns, options.prefix ?? '');
  const startAfter = options.after !== undefined ? layout.catalogEntry(s.ns, options.after) : undefined;
  const maxScanned = options.maxScanned ?? 5000;
  const repos: string[] = [];
  let scanned = 0;
  let lastScanned: { repo: string; visible: boolean } | undefined;
  for await (const e of markers(s, prefix, startAfter, options.limit + 1)) {
    if (repos.length >= options.limit) return { repos, next: { after: repos[repos.length - 1]!, visible: true } };
    if (scanned >= maxScanned && lastScanned) return { repos, next: { after: lastScanned.repo, visible: lastScanned.visible } };
    scanned++;
    const repo = layout.repoFromCatalogKey(s.ns, e.key);
    const visible = !options.filter || options.filter(repo);
    lastScanned = { repo, visible };
    if (visible) repos.push(repo);
  }
  return { repos };
}
