// One repository: every manifest link is readable, its body is there, hashes
// to its name and parses as its media type; everything it names exists (blobs
// with the sizes declared, linked into the repository; child manifests held
// here); tags, blob links and referrers entries point at what exists; the
// catalog lists the repository.
//
// Online: a push or prune may be midway, so each finding carries a `confirm`
// that looks again after the scan (and at prune's trash, whose contents come
// back), and objects younger than twice the grace period are not judged.
import { createHash } from '../../digest/index.js';
import { markRepo } from '../catalog.js';
import { layout } from '../layout.js';
import { parseManifest, type Descriptor, type ParsedManifest } from '../manifest-parse.js';
import type { ManifestLink } from '../manifests.js';
import { MANIFEST_TYPES } from '../media-types.js';
import { parseDigest, type Digest } from '../names.js';
import { DigestSet } from '../prune/digest-set.js';
import { parseLink } from '../prune/mark.js';
import { takeBackFromTrash } from '../prune/trash.js';
import { digestFromKey } from '../prune/walk.js';
import { listAll } from '../scope.js';
import { verifyBlob, recordCorrupt } from './blobs.js';
import { mapLimit } from '../../async/map-limit.js';
import { PARALLEL, Unrepairable, digestOrNull, errorText, found, inTrash, isRecent, type NsCheck } from './context.js';

const PAGE = 256;

interface RepoState {
  repo: string;
  manifests: DigestSet;
  links: DigestSet;
  /** Digests already reported missing or unlinked in this repository (one finding each). */
  reported: Set<string>;
}

/** Unchanged since it was read? */
async function same(ctx: NsCheck, key: string, raw: Buffer): Promise<boolean> {
  return (await ctx.driver.get(key))?.equals(raw) ?? false;
}

function referrerDescriptor(d: Digest, link: ManifestLink): Descriptor {
  return {
    mediaType: link.mediaType,
    digest: d.text,
    size: link.size,
    ...(link.artifactType ? { artifactType: link.artifactType } : {}),
    ...(link.annotations ? { annotations: link.annotations } : {}),
  };
}

/** A manifest link rebuilt from its body (for an unreadable link), or null when the body does not say its type. */
function linkFromBody(body: Buffer, pushed: number): ManifestLink | null {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
    if (typeof doc.mediaType !== 'string' || !MANIFEST_TYPES.includes(doc.mediaType)) return null;
    const p = parseManifest(body, doc.mediaType);
    return {
      mediaType: p.mediaType,
      size: body.length,
      pushed,
      ...(p.artifactType ? { artifactType: p.artifactType } : {}),
      ...(p.subject ? { subject: p.subject.digest.text } : {}),
      ...(p.annotations ? { annotations: p.annotations } : {}),
    };
  } catch {
    return null;
  }
}

async function checkReferences(
  ctx: NsCheck,
  st: RepoState,
  d: Digest,
  linkKey: string,
  raw: Buffer,
  parsed: ParsedManifest,
): Promise<void> {
  const { repo } = st;
  const mirror = ctx.settings.mirror; // a mirror fetches what a cached manifest names when a client asks
  for (const { digest: b, descriptor } of parsed.blobs) {
    const bt = b.text;
    ctx.referenced.add(bt);
    const size = ctx.present.get(bt);
    if (size === undefined) {
      if (mirror || st.reported.has(`missing ${bt}`)) continue;
      st.reported.add(`missing ${bt}`);
      found(ctx, {
        finding: {
          kind: 'blob-missing',
          severity: 'damage',
          repository: repo,
          object: layout.blob(ctx.ns, b),
          digest: bt,
          problem: `named by manifest ${d.text}, but its bytes are gone`,
        },
        confirm: async () =>
          (await same(ctx, linkKey, raw)) && !(await ctx.driver.stat(layout.blob(ctx.ns, b))) && !(await inTrash(ctx, b)),
        fix: async () => {
          if (await takeBackFromTrash(ctx, repo, b, { link: false, blob: true })) return "taken back from an interrupted prune run's trash";
          throw new Unrepairable('the bytes exist nowhere in the store: push the image again');
        },
      });
      continue;
    }
    if (size !== descriptor.size && (await verifyBlob(ctx, b, descriptor.size)) === 'ok' && !st.reported.has(`size ${d.text} ${bt}`)) {
      st.reported.add(`size ${d.text} ${bt}`);
      found(ctx, {
        finding: {
          kind: 'manifest-descriptor-size',
          severity: 'damage',
          repository: repo,
          object: linkKey,
          digest: d.text,
          problem: `declares ${descriptor.size} bytes for ${bt}, whose bytes (${size}, hashing right) say otherwise; clients refuse it`,
        },
        confirm: () => same(ctx, linkKey, raw),
        fix: async () => {
          throw new Unrepairable('push a corrected manifest');
        },
      });
    }
    if (!mirror && !st.links.has(bt) && !st.reported.has(`unlinked ${bt}`)) {
      st.reported.add(`unlinked ${bt}`);
      const link = layout.repoBlobLink(ctx.ns, repo, b);
      found(ctx, {
        finding: {
          kind: 'blob-unlinked',
          severity: 'damage',
          repository: repo,
          object: link,
          digest: bt,
          problem: `named by manifest ${d.text}, but the repository does not link it: pulls from here get 404`,
        },
        confirm: async () =>
          (await same(ctx, linkKey, raw)) &&
          !(await ctx.driver.stat(link)) &&
          (await ctx.driver.stat(layout.blob(ctx.ns, b))) !== null &&
          !(await inTrash(ctx, b, repo)),
        fix: async () => {
          if (!(await ctx.driver.stat(layout.blob(ctx.ns, b)))) throw new Unrepairable('the blob is gone meanwhile');
          await ctx.driver.put(link, Buffer.alloc(0));
          return 'link written';
        },
      });
    }
  }
  for (const { digest: c } of parsed.manifests) {
    ctx.referenced.add(c.text);
    if (mirror || st.manifests.has(c.text)) continue;
    found(ctx, {
      finding: {
        kind: 'manifest-child-missing',
        severity: 'damage',
        repository: repo,
        object: linkKey,
        digest: d.text,
        problem: `the index names manifest ${c.text}, which the repository does not hold`,
      },
      confirm: async () => (await same(ctx, linkKey, raw)) && !(await ctx.driver.stat(layout.manifestLink(ctx.ns, repo, c))),
      fix: async () => {
        throw new Unrepairable('push the missing manifest (or the whole index) again');
      },
    });
  }
}

async function checkManifest(ctx: NsCheck, st: RepoState, text: string, modified: number): Promise<void> {
  const { repo } = st;
  const d = parseDigest(text);
  const linkKey = layout.manifestLink(ctx.ns, repo, d);
  const bodyKey = layout.blob(ctx.ns, d);
  const raw = await ctx.driver.get(linkKey);
  if (!raw) return; // deleted meanwhile
  ctx.report.scanned.manifests++;
  ctx.referenced.add(text);
  const body = await ctx.driver.get(bodyKey);
  if (!body) {
    if (ctx.settings.mirror && isRecent(ctx, modified)) return;
    found(ctx, {
      finding: {
        kind: 'manifest-body-missing',
        severity: 'damage',
        repository: repo,
        object: bodyKey,
        digest: text,
        problem: 'the manifest is linked, but its body is gone',
      },
      confirm: async () => (await same(ctx, linkKey, raw)) && !(await ctx.driver.stat(bodyKey)) && !(await inTrash(ctx, d)),
      fix: async () => {
        if (await takeBackFromTrash(ctx, repo, d, { link: false, blob: true })) return "taken back from an interrupted prune run's trash";
        throw new Unrepairable('push the manifest again, or delete it');
      },
    });
    return;
  }
  const hex = createHash(d.algorithm).update(body).digestHex();
  if (hex !== d.hex) {
    const s = await ctx.driver.stat(bodyKey);
    if (s) recordCorrupt(ctx, d, hex, { size: s.size, modified: s.modified.getTime() });
    return;
  }
  ctx.verified.add(text);
  const link = parseLink(raw);
  if (!link) {
    const rebuilt = linkFromBody(body, modified);
    found(ctx, {
      finding: {
        kind: 'manifest-link-unreadable',
        severity: 'damage',
        repository: repo,
        object: linkKey,
        digest: text,
        problem: 'the manifest link (media type, push time) is not readable: the manifest cannot be served',
      },
      confirm: () => same(ctx, linkKey, raw),
      fix: async () => {
        if (!rebuilt) throw new Unrepairable('its body does not name a media type Wharf knows: delete the link, push the manifest again');
        if (!(await same(ctx, linkKey, raw))) throw new Unrepairable('the link changed meanwhile');
        await ctx.driver.put(linkKey, Buffer.from(JSON.stringify(rebuilt)));
        return `link rebuilt from the body (${rebuilt.mediaType})`;
      },
    });
    return;
  }
  let parsed: ParsedManifest;
  try {
    if (!MANIFEST_TYPES.includes(link.mediaType)) throw new Error(`unknown media type ${link.mediaType}`);
    parsed = parseManifest(body, link.mediaType);
  } catch (err) {
    found(ctx, {
      finding: {
        kind: 'manifest-invalid',
        severity: 'damage',
        repository: repo,
        object: linkKey,
        digest: text,
        problem: `the body does not parse: ${errorText(err)}`,
      },
      confirm: () => same(ctx, linkKey, raw),
      fix: async () => {
        throw new Unrepairable('delete the manifest, push it again');
      },
    });
    return;
  }
  await checkReferences(ctx, st, d, linkKey, raw, parsed);
  if (parsed.subject && !isRecent(ctx, modified)) {
    const entry = layout.referrer(ctx.ns, repo, parsed.subject.digest, d);
    if (!(await ctx.driver.stat(entry))) {
      found(ctx, {
        finding: {
          kind: 'referrer-missing',
          severity: 'damage',
          repository: repo,
          object: entry,
          digest: text,
          problem: `the manifest's subject is ${parsed.subject.digest.text}, but the referrers API does not list it`,
        },
        confirm: async () => (await same(ctx, linkKey, raw)) && !(await ctx.driver.stat(entry)),
        fix: async () => {
          await ctx.driver.put(entry, Buffer.from(JSON.stringify(referrerDescriptor(d, link))));
          return 'referrers entry written';
        },
      });
    }
  }
}

async function checkTag(ctx: NsCheck, st: RepoState, key: string, tag: string): Promise<void> {
  const raw = await ctx.driver.get(key);
  if (!raw) return;
  ctx.report.scanned.tags++;
  let target: Digest | null = null;
  try {
    target = digestOrNull(String((JSON.parse(raw.toString('utf8')) as { digest?: unknown }).digest));
  } catch {
    target = null;
  }
  const deleteIfUnchanged = async () => {
    if (!(await same(ctx, key, raw))) throw new Unrepairable('the tag changed meanwhile');
    await ctx.driver.delete(key);
    return 'tag removed';
  };
  if (!target) {
    found(ctx, {
      finding: {
        kind: 'tag-unreadable',
        severity: 'damage',
        repository: st.repo,
        object: key,
        problem: `tag ${tag} is not readable (it pulls as unknown)`,
      },
      confirm: () => same(ctx, key, raw),
      fix: deleteIfUnchanged,
    });
    return;
  }
  if (st.manifests.has(target.text)) return;
  const t = target;
  found(ctx, {
    finding: {
      kind: 'tag-dangling',
      severity: 'damage',
      repository: st.repo,
      object: key,
      digest: t.text,
      problem: `tag ${tag} points at manifest ${t.text}, which the repository does not hold`,
    },
    confirm: async () => (await same(ctx, key, raw)) && !(await ctx.driver.stat(layout.manifestLink(ctx.ns, st.repo, t))),
    fix: deleteIfUnchanged,
  });
}

function danglingLink(ctx: NsCheck, st: RepoState, key: string, d: Digest): void {
  found(ctx, {
    finding: {
      kind: 'link-dangling',
      severity: 'damage',
      repository: st.repo,
      object: key,
      digest: d.text,
      problem: 'the repository links a blob whose bytes are gone',
    },
    confirm: async () => {
      const link = await ctx.driver.stat(key);
      return (
        link !== null &&
        !isRecent(ctx, link.modified.getTime()) &&
        !(await ctx.driver.stat(layout.blob(ctx.ns, d))) &&
        !(await inTrash(ctx, d))
      );
    },
    fix: async () => {
      if (await takeBackFromTrash(ctx, st.repo, d, { link: false, blob: true }))
        return "bytes taken back from an interrupted prune run's trash";
      if (await ctx.driver.stat(layout.blob(ctx.ns, d))) return 'the bytes are back (taken back, or pushed again)';
      await ctx.driver.delete(key);
      return 'link removed (a push uploads the blob again)';
    },
  });
}

export async function checkRepo(ctx: NsCheck, repo: string): Promise<void> {
  ctx.repos.add(repo);
  const { ns, driver, report } = ctx;
  const st: RepoState = { repo, manifests: new DigestSet(), links: new DigestSet(), reported: new Set() };
  const manifestPrefix = layout.manifestLinks(ns, repo);
  let newest = 0;
  for await (const e of listAll(driver, manifestPrefix, { delimiter: '/' })) {
    const d = e.prefix ? null : digestFromKey(e.key);
    if (!d || !digestOrNull(d)) continue;
    st.manifests.add(d);
    newest = Math.max(newest, e.modified?.getTime() ?? ctx.now());
  }
  for await (const e of listAll(driver, layout.repoBlobLinks(ns, repo), { delimiter: '/' })) {
    const text = e.prefix ? null : digestFromKey(e.key);
    const d = text ? digestOrNull(text) : null;
    if (!d) continue;
    report.scanned.links++;
    st.links.add(d.text);
    ctx.referenced.add(d.text);
    if (!ctx.present.has(d.text) && !isRecent(ctx, e.modified?.getTime())) danglingLink(ctx, st, e.key, d);
  }

  let page: Array<{ digest: string; modified: number }> = [];
  const flush = async () => {
    await mapLimit(page, PARALLEL, (m) => checkManifest(ctx, st, m.digest, m.modified));
    page = [];
    ctx.progress('repositories', report.scanned.manifests);
  };
  for await (const e of listAll(driver, manifestPrefix, { delimiter: '/' })) {
    const d = e.prefix ? null : digestFromKey(e.key);
    if (!d || !digestOrNull(d)) continue;
    page.push({ digest: d, modified: e.modified?.getTime() ?? ctx.now() });
    if (page.length >= PAGE) await flush();
  }
  await flush();

  const tagPrefix = layout.tags(ns, repo);
  let tags: string[] = [];
  const flushTags = async () => {
    await mapLimit(tags, PARALLEL, (t) => checkTag(ctx, st, tagPrefix + t, t));
    tags = [];
  };
  for await (const e of listAll(driver, tagPrefix, { delimiter: '/' })) {
    if (e.prefix) continue;
    tags.push(e.key.slice(tagPrefix.length));
    if (tags.length >= PAGE) await flushTags();
  }
  await flushTags();

  for await (const s of listAll(driver, layout.referrers(ns, repo), { delimiter: '/' })) {
    if (!s.prefix) continue;
    for await (const e of listAll(driver, s.key, { delimiter: '/' })) {
      const text = e.prefix ? null : digestFromKey(e.key);
      const d = text ? digestOrNull(text) : null;
      if (!d) continue;
      report.scanned.referrers++;
      if (st.manifests.has(d.text)) continue;
      const key = e.key;
      found(ctx, {
        finding: {
          kind: 'referrer-dangling',
          severity: 'damage',
          repository: repo,
          object: key,
          digest: d.text,
          problem: `the referrers API lists manifest ${d.text}, which the repository does not hold`,
        },
        confirm: async () => (await driver.stat(key)) !== null && !(await driver.stat(layout.manifestLink(ns, repo, d))),
        fix: async () => {
          if (await driver.stat(layout.manifestLink(ns, repo, d))) throw new Unrepairable('the manifest is back meanwhile');
          await driver.delete(key);
          return 'referrers entry removed';
        },
      });
    }
  }

  // A push writes the catalog entry last: a repository with a young manifest may be midway.
  const entry = layout.catalogEntry(ns, repo);
  if (st.manifests.size > 0 && !isRecent(ctx, newest) && !(await driver.stat(entry))) {
    found(ctx, {
      finding: {
        kind: 'catalog-missing',
        severity: 'damage',
        repository: repo,
        object: entry,
        problem: 'the catalog does not list the repository',
      },
      confirm: async () => !(await driver.stat(entry)) && (await hasManifests(ctx, repo)),
      fix: async () => {
        await markRepo(ctx, repo);
        return 'catalog entry written';
      },
    });
  }
}

async function hasManifests(ctx: NsCheck, repo: string): Promise<boolean> {
  const page = await ctx.driver.list({ prefix: layout.manifestLinks(ctx.ns, repo), delimiter: '/', limit: 1 });
  return page.entries.some((e) => !e.prefix);
}
