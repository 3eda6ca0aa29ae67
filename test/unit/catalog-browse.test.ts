// A page of the UI's repository list (registry/catalog.ts browseRepos) asks
// the store for the entries it shows plus one — not a full listing page of
// 1000 markers: the filesystem driver stats every entry it lists, which made
// a 50-row page of a 10,000-repository store cost 1000 stats. With a filter
// (a user who may see only some repositories) the first listing is a page's
// worth too (a user who may see everything needs no more), later ones full
// pages, so the number of listings per page stays bounded. The same for
// `GET /v2/_catalog?n=` (listRepos).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { browseRepos, listRepos } from '../../src/registry/catalog.js';
import { layout } from '../../src/registry/layout.js';
import type { ListOptions } from '../../src/storage/driver.js';
import { MemoryDriver } from '../../src/storage/memory.js';

/** A memory store that counts listings and the entries they returned. */
class CountingDriver extends MemoryDriver {
  listings = 0;
  listed = 0;
  override async list(options: ListOptions) {
    const page = await super.list(options);
    this.listings++;
    this.listed += page.entries.length;
    return page;
  }
  reset(): void {
    this.listings = this.listed = 0;
  }
}

const name = (i: number) => `group-${String(i % 10).padStart(2, '0')}/repo-${String(i).padStart(5, '0')}`;

describe('browseRepos: what a page of the repository list costs', () => {
  const driver = new CountingDriver();
  const s = { driver, ns: 'default' };
  const all: string[] = [];
  before(async () => {
    for (let i = 0; i < 3000; i++) {
      all.push(name(i));
      await driver.put(layout.catalogEntry('default', name(i)), Buffer.alloc(0));
    }
    // Catalog order: '/' is stored as a separator that sorts like the marker keys.
    all.sort((a, b) => (layout.catalogEntry('default', a) < layout.catalogEntry('default', b) ? -1 : 1));
  });

  it('a page of 50 lists 51 entries, in one listing', async () => {
    driver.reset();
    const page = await browseRepos(s, { limit: 50 });
    assert.deepEqual(page.repos, all.slice(0, 50));
    assert.deepEqual(page.next, { after: all[49], visible: true });
    assert.equal(driver.listings, 1);
    assert.ok(driver.listed <= 51, `${driver.listed} entries listed for a page of 50`);
    driver.reset();
    const second = await browseRepos(s, { limit: 50, after: page.next!.after });
    assert.deepEqual(second.repos, all.slice(50, 100));
    assert.ok(driver.listed <= 51, `${driver.listed} entries listed for the second page`);
  });

  it('a filtered page of 50 with a name prefix lists 51 entries too', async () => {
    driver.reset();
    const page = await browseRepos(s, { limit: 50, prefix: 'group-04/' });
    assert.deepEqual(page.repos, all.filter((n) => n.startsWith('group-04/')).slice(0, 50));
    assert.ok(driver.listed <= 51, `${driver.listed} entries listed`);
  });

  it('the last page says no more follow', async () => {
    const page = await browseRepos(s, { limit: 50, after: all[all.length - 11] });
    assert.deepEqual(page.repos, all.slice(-10));
    assert.equal(page.next, undefined);
  });

  it("with an access filter: a page's worth first, then full pages (one listing per 1000 markers after that)", async () => {
    driver.reset();
    const page = await browseRepos(s, { limit: 50, filter: (r) => r.startsWith('group-01/'), maxScanned: 5000 });
    assert.deepEqual(page.repos, all.filter((r) => r.startsWith('group-01/')).slice(0, 50));
    assert.equal(driver.listings, 2);
    assert.ok(driver.listed <= 51 + 1000, `${driver.listed} entries listed`);
    // A caller whose rules let it see everything costs what no filter costs.
    driver.reset();
    const open = await browseRepos(s, { limit: 50, filter: () => true, maxScanned: 5000 });
    assert.deepEqual(open.repos, all.slice(0, 50));
    assert.equal(driver.listings, 1);
    assert.ok(driver.listed <= 51, `${driver.listed} entries listed`);
  });
});

describe('listRepos (GET /v2/_catalog?n=): what a page costs', () => {
  const driver = new CountingDriver();
  const s = { driver, ns: 'default' };
  const all: string[] = [];
  before(async () => {
    for (let i = 0; i < 3000; i++) {
      all.push(name(i));
      await driver.put(layout.catalogEntry('default', name(i)), Buffer.alloc(0));
    }
    all.sort((a, b) => (layout.catalogEntry('default', a) < layout.catalogEntry('default', b) ? -1 : 1));
  });

  it('n=10 lists 11 entries in one listing, and the next page from `last` the same', async () => {
    driver.reset();
    const first = await listRepos(s, { limit: 10 });
    assert.deepEqual(first, { repos: all.slice(0, 10), more: true });
    assert.equal(driver.listings, 1);
    assert.ok(driver.listed <= 11, `${driver.listed} entries listed for n=10`);
    driver.reset();
    const second = await listRepos(s, { limit: 10, last: all[9] });
    assert.deepEqual(second, { repos: all.slice(10, 20), more: true });
    assert.ok(driver.listed <= 11, `${driver.listed} entries listed for the next page`);
  });

  it('a caller who may pull everything costs the same; one who may pull few reads on in full pages', async () => {
    driver.reset();
    const open = await listRepos(s, { limit: 10, filter: () => true });
    assert.deepEqual(open.repos, all.slice(0, 10));
    assert.ok(driver.listed <= 11, `${driver.listed} entries listed`);
    driver.reset();
    const few = await listRepos(s, { limit: 10, filter: (r) => r.startsWith('group-03/') });
    assert.deepEqual(few.repos, all.filter((r) => r.startsWith('group-03/')).slice(0, 10));
    assert.equal(few.more, true);
    assert.equal(driver.listings, 2);
  });

  it('the last page says no more follow; no n lists everything', async () => {
    assert.deepEqual(await listRepos(s, { limit: 10, last: all[all.length - 4] }), { repos: all.slice(-3), more: false });
    assert.deepEqual((await listRepos(s)).repos, all);
  });
});
