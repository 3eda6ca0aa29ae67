// The JSON the web UI reads beyond the OCI API, under /v2/_wharf/ (GET):
//
//   namespaces                       namespaces the caller may browse, with their storage use, and who the caller is
//   repositories?n=&after=&prefix=   a page of repositories (catalog order, name prefix), with storage use
//   repository?name=                 one repository: storage use, what the caller may do there
//   tags?name=&n=&after=&sort=       a page of tags with digest, media type, size, platforms, push time
//   manifest?name=&reference=        a manifest described: platforms or layers, config details, referrers
//
// Each endpoint is authorized exactly as the API route it stands for (the
// dispatcher runs the same check): the first two as the catalog (and list
// only what the caller may pull), the others as a pull of that repository.
// Names travel as query parameters, so no repository name can collide with
// these paths. Every answer costs storage calls in proportion to the page
// (the repository list: one catalog listing of the page's names plus one —
// for a caller whose rules hide some, one per 1000 names scanned — and one
// stat of the storage-use summary).
import type { Config } from '../../config/config.js';
import { browseRepos, repoExists } from '../../registry/catalog.js';
import { describeManifest } from '../../registry/describe.js';
import { RegistryError } from '../../registry/errors.js';
import { validateRepoName } from '../../registry/names.js';
import { namespaces as storedNamespaces } from '../../registry/prune/walk.js';
import { tagRows, type TagSort } from '../../registry/tag-rows.js';
import type { UsageTracker } from '../../registry/usage-tracker.js';
import type { UsageSummary } from '../../registry/usage.js';
import { sendJson, type Context } from '../context.js';
import { HttpError } from '../errors.js';
import type { Route } from '../router.js';
import type { Authorization } from '../auth/index.js';
import type { CursorCodec } from './cursor.js';
import type { BuildsetDirectory } from '../../registry/buildsets/directory.js';
import { namespaceOfUser, type BuildsetRecord } from '../../registry/buildsets/record.js';

export const API_PREFIX = '/v2/_wharf/';

type Handler = (ctx: Context) => Promise<void>;

export interface ApiTarget {
  /** The API route whose authorization this request gets. */
  route: Route;
  handler: Handler;
}

export interface ApiDeps {
  config: Config;
  usage: UsageTracker;
  cursors: CursorCodec;
  /** Buildset namespaces (registry.buildsets): listed while live, with their expiry. */
  buildsets?: BuildsetDirectory;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;
/** Catalog markers scanned at most for one page of repositories. */
export const MAX_SCANNED = 5000;

function pageSize(params: URLSearchParams): number {
  const n = params.get('n');
  if (n === null) return DEFAULT_PAGE;
  if (!/^\d{1,4}$/.test(n) || Number(n) < 1) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: n.slice(0, 20) });
  }
  return Math.min(Number(n), MAX_PAGE);
}

function repoParam(url: URL): string {
  const name = url.searchParams.get('name');
  if (name === null) throw new RegistryError('NAME_INVALID', 'the name parameter is required');
  return validateRepoName(name);
}

function usageHeader(s: UsageSummary | null) {
  if (!s) return null;
  return {
    computedAt: s.computedAt,
    tookMs: s.tookMs,
    stored: s.stored,
    referencedBytes: s.referencedBytes,
    unreferencedBytes: s.unreferencedBytes,
    repositories: s.repositories.length,
  };
}

function mirrorOf(config: Config, ns: string) {
  const m = config.namespaces.mirrors?.[ns];
  return m ? { upstream: m.upstream } : undefined;
}

/** Answers hold what the caller may see: never kept by caches. */
function reply(ctx: Context, body: unknown): void {
  sendJson(ctx, 200, body, { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
}

async function requireRepo(ctx: Context, repo: string): Promise<void> {
  if (!(await repoExists(ctx.scope, repo))) {
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: repo });
  }
}

/** Who asks, in which namespace: what an answer is computed for (a request's context, or the first page's anonymous view). */
export interface Asker {
  scope: Context['scope'];
  auth?: Authorization;
}

/** The namespaces answer: the namespaces the caller may browse, and who the caller is. */
export async function namespacesAnswer(deps: ApiDeps, at: Asker) {
  const { config } = deps;
  const names = new Set(config.namespaces.known);
  for await (const ns of storedNamespaces(at.scope.driver)) names.add(ns);
  // Buildset namespaces: every record (one listing), each looked up (live records are cached
  // briefly); live ones are listed with their expiry, ended ones not at all, even while
  // their content waits for prune.
  const buildsets = new Map<string, BuildsetRecord>();
  if (deps.buildsets && config.buildsets) {
    const directory = deps.buildsets;
    const { names: records } = await directory.store.names();
    await Promise.all(
      records.map(async (name) => {
        const found = await directory.lookup(name, false);
        if (found.kind === 'live') {
          buildsets.set(name, found.record);
          names.add(name);
        } else if (found.kind === 'ended') names.delete(name);
      }),
    );
  }
  // A buildset's own credential may see its namespace (and nothing else: mayBrowse says no).
  const own = at.auth?.caller.subject.name ? namespaceOfUser(at.auth.caller.subject.name) : null;
  // Anonymous callers (anonymous-read) see no buildset namespace: each is one CI run's private registry.
  const anonymous = at.auth !== undefined && at.auth.caller.subject.name === null;
  const browse = (ns: string) => !at.auth || (at.auth.mayBrowse(ns) && !(anonymous && buildsets.has(ns)));
  const visible = [...names].filter((ns) => browse(ns) || (own !== null && own === ns && buildsets.has(ns))).sort();
  const hosts = Object.entries(config.namespaces.hosts);
  const list = await Promise.all(
    visible.map(async (name) => {
      const view = await deps.usage.view(name);
      return {
        name,
        default: name === config.namespaces.default,
        hosts: hosts.filter(([, ns]) => ns === name).map(([h]) => h),
        ...(mirrorOf(config, name) ? { mirror: mirrorOf(config, name) } : {}),
        ...(buildsets.has(name) ? { buildset: { expiresAt: buildsets.get(name)!.expiresAt } } : {}),
        usage: usageHeader(view.summary),
        computing: view.computing,
      };
    }),
  );
  return {
    current: at.scope.ns,
    session: {
      authEnabled: config.users.length > 0,
      user: at.auth?.caller.subject.name ?? null,
      anonymousRead: config.anonymousRead,
      deleteEnabled: config.deleteEnabled,
      service: config.auth.service,
    },
    namespaces: list,
  };
}

function namespacesHandler(deps: ApiDeps): Handler {
  return async (ctx) => reply(ctx, await namespacesAnswer(deps, ctx));
}

/** A page of the repository list (`n`, `after`, `prefix` as the endpoint takes them), with storage use. */
export async function repositoriesAnswer(deps: ApiDeps, at: Asker, params: URLSearchParams) {
  const limit = pageSize(params);
  const after = params.get('after');
  const prefix = params.get('prefix') ?? '';
  // Repository names are lower-case letters, digits and separators; anything else matches nothing.
  if (!/^[a-z0-9._/-]{0,255}$/.test(prefix))
    throw new RegistryError('NAME_INVALID', 'invalid repository name prefix', { prefix: prefix.slice(0, 300) });
  const [page, view] = await Promise.all([
    browseRepos(at.scope, {
      limit,
      after: after === null || after === '' ? undefined : deps.cursors.decode(after),
      prefix,
      filter: at.auth?.canPull,
      maxScanned: MAX_SCANNED,
    }),
    deps.usage.view(at.scope.ns),
  ]);
  return {
    namespace: at.scope.ns,
    repositories: page.repos.map((name) => {
      const u = view.repository(name);
      return { name, ...(u ? { usage: { unique: u.unique, shared: u.shared, blobs: u.blobs } } : {}) };
    }),
    ...(page.next ? { next: deps.cursors.encode(page.next.after, page.next.visible) } : {}),
    usage: usageHeader(view.summary),
    computing: view.computing,
  };
}

function repositoriesHandler(deps: ApiDeps): Handler {
  return async (ctx) => reply(ctx, await repositoriesAnswer(deps, ctx, ctx.url.searchParams));
}

function repositoryHandler(deps: ApiDeps, repo: string): Handler {
  return async (ctx) => {
    await requireRepo(ctx, repo);
    const view = await deps.usage.view(ctx.scope.ns);
    const u = view.repository(repo);
    const may = (action: 'pull' | 'push' | 'delete') => !ctx.auth || ctx.auth.may(repo, action);
    reply(ctx, {
      name: repo,
      namespace: ctx.scope.ns,
      ...(mirrorOf(deps.config, ctx.scope.ns) ? { mirror: mirrorOf(deps.config, ctx.scope.ns) } : {}),
      usage: u ? { unique: u.unique, shared: u.shared, blobs: u.blobs } : null,
      usageAsOf: view.summary?.computedAt ?? null,
      computing: view.computing,
      actions: { pull: may('pull'), push: may('push'), delete: deps.config.deleteEnabled && may('delete') },
    });
  };
}

function tagsHandler(deps: ApiDeps, repo: string): Handler {
  return async (ctx) => {
    const limit = pageSize(ctx.url.searchParams);
    const sort: TagSort = ctx.url.searchParams.get('sort') === 'pushed' ? 'pushed' : 'name';
    await requireRepo(ctx, repo);
    const after = ctx.url.searchParams.get('after');
    const page = await tagRows(ctx.scope, repo, {
      limit,
      after: after === null || after === '' ? undefined : after,
      sort,
      mirror: mirrorOf(deps.config, ctx.scope.ns) !== undefined,
    });
    reply(ctx, { name: repo, namespace: ctx.scope.ns, sort, ...page });
  };
}

function manifestHandler(repo: string, reference: string): Handler {
  return async (ctx) => {
    reply(ctx, { name: repo, namespace: ctx.scope.ns, ...(await describeManifest(ctx.scope, repo, reference)) });
  };
}

/** The endpoint a /v2/_wharf/ request names, with the API route it is authorized as; throws for bad input. */
export function apiTarget(deps: ApiDeps, method: string, url: URL): ApiTarget {
  const endpoint = url.pathname.slice(API_PREFIX.length);
  const known = ['namespaces', 'repositories', 'repository', 'tags', 'manifest'];
  if (!known.includes(endpoint)) throw new RegistryError('NOT_FOUND', 'no such endpoint');
  if (method !== 'GET' && method !== 'HEAD') {
    throw new HttpError('UNSUPPORTED', 'method not allowed for this endpoint', undefined, { headers: { Allow: 'GET, HEAD' } });
  }
  switch (endpoint) {
    case 'namespaces':
      return { route: { kind: 'catalog' }, handler: namespacesHandler(deps) };
    case 'repositories':
      return { route: { kind: 'catalog' }, handler: repositoriesHandler(deps) };
    case 'repository': {
      const repo = repoParam(url);
      return { route: { kind: 'tags', repo }, handler: repositoryHandler(deps, repo) };
    }
    case 'tags': {
      const repo = repoParam(url);
      return { route: { kind: 'tags', repo }, handler: tagsHandler(deps, repo) };
    }
    default: {
      const repo = repoParam(url);
      const reference = url.searchParams.get('reference');
      if (reference === null || reference === '') throw new RegistryError('MANIFEST_UNKNOWN', 'the reference parameter is required');
      return { route: { kind: 'manifest', repo, reference }, handler: manifestHandler(repo, reference) };
    }
  }
}
