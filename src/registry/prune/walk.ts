// Finding namespaces and repositories by walking storage, page by page.
//
// Repositories are found from `<ns>/repos/`, not from the catalog: a push in
// progress has links in its repository before the catalog marker exists, and
// those links must count. A directory is a repository when it has one of the
// `_`-prefixed children (`_blobs/`, `_manifests/`, `_tags/`, `_referrers/`);
// other children are components of nested repository names.
import type { StorageDriver } from '../../storage/driver.js';
import { layout } from '../layout.js';
import { listAll } from '../scope.js';

const NAMESPACE_RE = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$/;

/** Every namespace present in storage (top-level key components that are namespace names). */
export async function* namespaces(driver: StorageDriver): AsyncGenerator<string> {
  for await (const e of listAll(driver, '', { delimiter: '/' })) {
    if (!e.prefix) continue;
    const name = e.key.slice(0, -1);
    if (NAMESPACE_RE.test(name)) yield name;
  }
}

/** Every repository of a namespace (names with '/'), depth first, one listing page at a time. */
export async function* repositories(driver: StorageDriver, ns: string): AsyncGenerator<string> {
  const root = layout.repo(ns, '').slice(0, -1); // "<ns>/repos/"
  async function* visit(path: string): AsyncGenerator<string> {
    let isRepo = false;
    for await (const e of listAll(driver, root + path, { delimiter: '/' })) {
      if (!e.prefix) continue;
      const name = e.key.slice(root.length + path.length, -1);
      if (name.startsWith('_')) isRepo = true;
      else yield* visit(`${path}${name}/`);
    }
    if (isRepo && path !== '') yield path.slice(0, -1);
  }
  yield* visit('');
}

/** Digest text ("alg:hex") from a link key's last component, or null when it is not one. */
export function digestFromKey(key: string): string | null {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return /^[a-z0-9]+:[a-f0-9]+$/.test(name) ? name : null;
}
