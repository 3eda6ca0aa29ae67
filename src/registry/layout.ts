// Where everything lives in storage. One file answers "where are tags stored?".
//
//   <ns>/blobs/<alg>/<hex>                      content-addressed bytes (layers, configs, manifests)
//   <ns>/uploads/<id>/record                    upload record (JSON), rewritten after every chunk
//   <ns>/uploads/<id>/<offset, 16 digits>-<random>   upload data: one chunk object, or (filesystem)
//                                               the upload's one growing file; named by its start
//                                               offset and a random part, so no two requests ever
//                                               write one name (src/registry/upload-record.ts)
//   <ns>/repos/<repo>/_blobs/<alg>:<hex>        link: the repository may serve that blob
//   <ns>/repos/<repo>/_manifests/<alg>:<hex>    link: manifest in the repository (JSON metadata)
//   <ns>/repos/<repo>/_tags/<tag>               tag -> manifest digest (one object per tag)
//   <ns>/repos/<repo>/_referrers/<alg>:<hex>/<alg>:<hex>   subject -> referrer descriptor
//   <ns>/_catalog/<repo with '/' as '+'>        one marker per repository
//   <ns>/_mirror/tags/<repo>/_tags/<tag>        mirror namespaces: upstream tag -> digest, with the time it was asked (JSON)
//   <ns>/_usage/summary                         storage use of the namespace and each repository, with its time (src/registry/usage.ts)
//   <ns>/_trash/<run>/<alg>/<hex>               blob data a running prune is about to delete
//   <ns>/_trash/<run>/_links/<repo>/<alg>:<hex> a repository's blob link a running prune is about to delete
//   <ns>/_trash/<run>/alive                     that prune's heartbeat (see src/registry/prune/trash.ts)
//   <ns>/_used/<grace s>-<bucket>/<alg>/<hex>   "a client was just told this blob exists" (src/registry/blob-use.ts)
//   <ns>/_quarantine/<alg>/<hex>/<stamp>        bytes once published as that digest that failed a check;
//   <ns>/_quarantine/<alg>/<hex>/<stamp>.json   never served, kept for inspection, with why (src/registry/quarantine.ts)
//
// Repository name components never start with '_', so the '_' directories
// cannot collide with a nested repository name.
import type { Digest } from './names.js';

export const CATALOG_SEPARATOR = '+';

export const layout = {
  blob: (ns: string, d: Digest) => `${ns}/blobs/${d.algorithm}/${d.hex}`,
  blobsOf: (ns: string, algorithm: string) => `${ns}/blobs/${algorithm}/`,
  uploadsRoot: (ns: string) => `${ns}/uploads/`,
  uploadDir: (ns: string, id: string) => `${ns}/uploads/${id}/`,
  uploadRecord: (ns: string, id: string) => `${ns}/uploads/${id}/record`,
  /** An object of the upload, by its name inside the upload's directory (see upload-record.ts). */
  uploadPart: (ns: string, id: string, name: string) => `${ns}/uploads/${id}/${name}`,
  repo: (ns: string, repo: string) => `${ns}/repos/${repo}/`,
  repoBlobLinks: (ns: string, repo: string) => `${ns}/repos/${repo}/_blobs/`,
  repoBlobLink: (ns: string, repo: string, d: Digest) => `${ns}/repos/${repo}/_blobs/${d.text}`,
  manifestLinks: (ns: string, repo: string) => `${ns}/repos/${repo}/_manifests/`,
  manifestLink: (ns: string, repo: string, d: Digest) => `${ns}/repos/${repo}/_manifests/${d.text}`,
  tags: (ns: string, repo: string) => `${ns}/repos/${repo}/_tags/`,
  tag: (ns: string, repo: string, tag: string) => `${ns}/repos/${repo}/_tags/${tag}`,
  referrers: (ns: string, repo: string) => `${ns}/repos/${repo}/_referrers/`,
  referrersOf: (ns: string, repo: string, subject: Digest) => `${ns}/repos/${repo}/_referrers/${subject.text}/`,
  referrer: (ns: string, repo: string, subject: Digest, d: Digest) => `${ns}/repos/${repo}/_referrers/${subject.text}/${d.text}`,
  catalog: (ns: string) => `${ns}/_catalog/`,
  trash: (ns: string) => `${ns}/_trash/`,
  trashRun: (ns: string, run: string) => `${ns}/_trash/${run}/`,
  trashBlob: (ns: string, run: string, d: Digest) => `${ns}/_trash/${run}/${d.algorithm}/${d.hex}`,
  trashLink: (ns: string, run: string, repo: string, d: Digest) => `${ns}/_trash/${run}/_links/${repo}/${d.text}`,
  trashLinks: (ns: string, run: string) => `${ns}/_trash/${run}/_links/`,
  trashAlive: (ns: string, run: string) => `${ns}/_trash/${run}/alive`,
  used: (ns: string) => `${ns}/_used/`,
  usedBucket: (ns: string, bucket: string) => `${ns}/_used/${bucket}/`,
  usedMarker: (ns: string, bucket: string, d: Digest) => `${ns}/_used/${bucket}/${d.algorithm}/${d.hex}`,
  quarantine: (ns: string) => `${ns}/_quarantine/`,
  quarantinedBlob: (ns: string, d: Digest, stamp: string) => `${ns}/_quarantine/${d.algorithm}/${d.hex}/${stamp}`,
  quarantineNote: (ns: string, d: Digest, stamp: string) => `${ns}/_quarantine/${d.algorithm}/${d.hex}/${stamp}.json`,
  catalogEntry: (ns: string, repo: string) => `${ns}/_catalog/${repo.replaceAll('/', CATALOG_SEPARATOR)}`,
  mirrorTags: (ns: string, repo: string) => `${ns}/_mirror/tags/${repo}/_tags/`,
  mirrorTag: (ns: string, repo: string, tag: string) => `${ns}/_mirror/tags/${repo}/_tags/${tag}`,
  usageSummary: (ns: string) => `${ns}/_usage/summary`,
  repoFromCatalogKey: (ns: string, key: string) => key.slice(`${ns}/_catalog/`.length).replaceAll(CATALOG_SEPARATOR, '/'),
};
