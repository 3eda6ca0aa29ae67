// Listings: GET /v2/<name>/tags/list, GET /v2/_catalog, GET /v2/<name>/referrers/<digest>
import { listRepos, repoExists } from '../../registry/catalog.js';
import { RegistryError } from '../../registry/errors.js';
import { OCI_INDEX } from '../../registry/media-types.js';
import { parseDigest } from '../../registry/names.js';
import { listReferrers } from '../../registry/referrers.js';
import { listTags } from '../../registry/tags.js';
import { sendJson, type Context } from '../context.js';
import { pagination } from '../headers.js';

function nextLink(ctx: Context, path: string, limit: number, last: string): string {
  const q = new URLSearchParams();
  const ns = ctx.url.searchParams.get('ns');
  if (ns !== null) q.set('ns', ns);
  q.set('n', String(limit));
  q.set('last', last);
  return `<${path}?${q.toString()}>; rel="next"`;
}

export async function tagsList(ctx: Context, repo: string): Promise<void> {
  const { limit, last } = pagination(ctx.url);
  if (!(await repoExists(ctx.scope, repo))) {
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: repo });
  }
  const { tags, more } = await listTags(ctx.scope, repo, { limit, last });
  const headers: Record<string, string> = {};
  if (more && limit !== undefined && tags.length > 0) headers.Link = nextLink(ctx, `/v2/${repo}/tags/list`, limit, tags[tags.length - 1]!);
  sendJson(ctx, 200, { name: repo, tags }, headers);
}

export async function catalog(ctx: Context): Promise<void> {
  const { limit, last } = pagination(ctx.url);
  const { repos, more } = await listRepos(ctx.scope, { limit, last, filter: ctx.auth?.canPull });
  const headers: Record<string, string> = {};
  if (more && limit !== undefined && repos.length > 0) headers.Link = nextLink(ctx, '/v2/_catalog', limit, repos[repos.length - 1]!);
  sendJson(ctx, 200, { repositories: repos }, headers);
}

export async function referrers(ctx: Context, repo: string, digestText: string): Promise<void> {
  const subject = parseDigest(digestText);
  const artifactType = ctx.url.searchParams.get('artifactType') ?? undefined;
  const manifests = await listReferrers(ctx.scope, repo, subject, artifactType);
  const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  ctx.res.statusCode = 200;
  ctx.res.setHeader('Content-Type', OCI_INDEX);
  ctx.res.setHeader('Content-Length', Buffer.byteLength(body));
  if (artifactType) ctx.res.setHeader('OCI-Filters-Applied', 'artifactType');
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : body);
}
