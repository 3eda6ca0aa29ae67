// `wharf promote`: promotion (src/registry/promote.ts) straight on the store,
// without a running server — as POST /admin/v1/promote does it, e.g. from a
// gate job that has the store's configuration but no admin credential.
import { ConfigError, type Config } from '../config/config.js';
import { isRegistryError, RegistryError } from '../registry/errors.js';
import { resolveNamespace } from '../registry/namespaces.js';
import { isDigestReference } from '../registry/names.js';
import { promote, type PromoteResult } from '../registry/promote.js';
import { formatBytes } from '../registry/prune/index.js';
import { type CommandIO, commandConfig, configProblem, parseCommandLine, processIO } from './command-line.js';
import { openStorage } from './open-storage.js';

export const PROMOTE_HELP = `Usage: wharf promote [--config FILE] [--referrers] [--json] SOURCE TARGET

Copy a manifest and everything it references (config, layers, an index's
child manifests) from one namespace/repository to another, under a tag, on
the store itself (no server needed; see docs/promotion.md). Blobs the target
namespace lacks are copied by the store where it can (filesystem: hard links,
S3: CopyObject, Swift: server-side copies); the tag is written last.

  SOURCE   NAMESPACE/REPOSITORY:TAG or NAMESPACE/REPOSITORY@DIGEST
  TARGET   NAMESPACE/REPOSITORY:TAG

Example:
  wharf promote -c wharf.yaml bs-1234/app:latest intermediate/app:change-1234

Options:
  -c, --config FILE   YAML configuration (as for serve; default $WHARF_CONFIG).
      --referrers     Also copy the manifests that refer to each copied one
                      (signatures, SBOMs: OCI referrers), recursively.
      --json          Print the result as JSON (as the HTTP API answers).
  -h, --help          Show this help.

Exit status: 0 promoted; 1 refused (bad name, missing source: the message
says which) or the store failed; 2 bad usage or configuration.`;

export interface ImageRef {
  namespace: string;
  repository: string;
  /** Tag or digest. */
  reference: string;
}

/** NAMESPACE/REPOSITORY:TAG or NAMESPACE/REPOSITORY@DIGEST (the namespace is the first path component). */
export function parseImageRef(text: string, allowDigest: boolean): ImageRef {
  const slash = text.indexOf('/');
  if (slash <= 0) throw new Error(`${JSON.stringify(text)}: expected NAMESPACE/REPOSITORY:TAG`);
  const namespace = text.slice(0, slash);
  let rest = text.slice(slash + 1);
  let reference: string;
  const at = rest.indexOf('@');
  if (at >= 0) {
    if (!allowDigest) throw new Error(`${JSON.stringify(text)}: the target needs a tag, not a digest`);
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw new Error(`${JSON.stringify(text)}: expected NAMESPACE/REPOSITORY:TAG`);
    reference = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (rest === '' || reference === '') throw new Error(`${JSON.stringify(text)}: expected NAMESPACE/REPOSITORY:TAG`);
  return { namespace, repository: rest, reference };
}

function summary(from: ImageRef, to: ImageRef, r: PromoteResult): string {
  const sep = isDigestReference(from.reference) ? '@' : ':';
  return [
    `promoted ${from.namespace}/${from.repository}${sep}${from.reference} (${r.digest.text})`,
    `      to ${to.namespace}/${to.repository}:${to.reference}`,
    `  copied ${r.copied.blobs} blobs (${formatBytes(r.copied.bytes)}), reused ${r.reused.blobs} (${formatBytes(r.reused.bytes)}); ` +
      `linked ${r.linked.blobs} blobs, ${r.linked.manifests} manifests (${r.linked.referrers} referrers)`,
  ].join('\n');
}

export async function promoteCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  const parsed = parseCommandLine(io, 'wharf promote', PROMOTE_HELP, 2, {
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      referrers: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  let config: Config;
  let from: ImageRef;
  let to: ImageRef;
  try {
    if (positionals.length !== 2) throw new Error('expected SOURCE and TARGET');
    from = parseImageRef(positionals[0]!, true);
    to = parseImageRef(positionals[1]!, false);
    config = commandConfig(io, values.config);
  } catch (err) {
    io.stderr.write(`wharf promote: ${configProblem(err)}\n${err instanceof ConfigError ? '' : `${PROMOTE_HELP}\n`}`);
    return 2;
  }
  try {
    if (config.ops.readOnly) throw new RegistryError('DENIED', 'the registry is read-only (registry.read-only)');
    const fromNs = resolveNamespace(config.namespaces, undefined, from.namespace);
    const toNs = resolveNamespace(config.namespaces, undefined, to.namespace);
    const driver = await openStorage(config.storage);
    let result: PromoteResult;
    try {
      const grace = config.prune.graceSeconds;
      result = await promote(
        { driver, ns: fromNs, graceSeconds: grace },
        { repo: from.repository, reference: from.reference },
        { driver, ns: toNs, graceSeconds: grace },
        { repo: to.repository, tag: to.reference },
        { referrers: values.referrers ?? false },
      );
    } finally {
      await driver.close?.().catch(() => undefined);
    }
    if (values.json) {
      const out = {
        digest: result.digest.text,
        mediaType: result.mediaType,
        size: result.size,
        from: { namespace: fromNs, repository: from.repository, reference: from.reference },
        to: { namespace: toNs, repository: to.repository, tag: to.reference },
        copied: result.copied,
        reused: result.reused,
        linked: result.linked,
      };
      io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      io.stdout.write(`${summary(from, to, result)}\n`);
    }
    return 0;
  } catch (err) {
    if (isRegistryError(err)) {
      const detail = err.detail === undefined ? '' : ` ${JSON.stringify(err.detail)}`;
      io.stderr.write(`wharf promote: ${err.code}: ${err.message}${detail}\n`);
    } else {
      io.stderr.write(`wharf promote: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    return 1;
  }
}
