// The admin API's buildset namespaces (admin-api.ts): create, list, show,
// extend, delete. Every input is checked before anything is written, and a
// create is one write (the record), so a refused call leaves nothing behind.
import { hashPassword } from '../auth/passwords.js';
import type { BuildsetsConfig } from '../../config/buildsets.js';
import { namespaceBytes } from '../../registry/buildsets/bytes.js';
import { deleteMarkKey, reapBegun, reapRunning } from '../../registry/buildsets/reap.js';
import {
  BUILDSET_NAME_RE,
  generateName,
  generatePassword,
  isLive,
  usernameFor,
  type BuildsetRecord,
} from '../../registry/buildsets/record.js';
import { HttpError } from '../errors.js';
import { readSmallBody } from '../headers.js';
import { sendAdminJson, type AdminContext } from '../admin-api.js';

const MAX_BODY_BYTES = 64 * 1024;
const LIST_DEFAULT = 100;
const LIST_MAX = 1000;

/**
 * A request body or parameter the admin API cannot use: 400. The catalogue
 * has no general "bad request" code; UNSUPPORTED (405 in the registry API) is
 * the one the token endpoint already sends as 400 for the same reason.
 */
function badRequest(message: string, detail?: Record<string, unknown>): HttpError {
  return new HttpError('UNSUPPORTED', message, detail, { status: 400 });
}

function denied(ctx: AdminContext, reason: 'namespaces' | 'bytes' | 'ttl', message: string, detail: Record<string, unknown>): HttpError {
  ctx.onDenied?.(reason);
  return new HttpError('DENIED', message, detail);
}

function settings(ctx: AdminContext): BuildsetsConfig {
  const s = ctx.config.buildsets;
  if (!s) throw new HttpError('NOT_FOUND', 'buildset namespaces are not enabled on this registry (registry.buildsets)');
  return s;
}

function unknownNamespace(name: string): HttpError {
  return new HttpError('NAME_UNKNOWN', 'namespace unknown to registry', { namespace: name.slice(0, 100) });
}

async function readJsonObject(ctx: AdminContext): Promise<Record<string, unknown>> {
  const type = (ctx.req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    ctx.req.resume();
    throw badRequest('expected an application/json body');
  }
  const raw = await readSmallBody(ctx.req, MAX_BODY_BYTES, (max) => new HttpError('TOO_LARGE', `body larger than ${max} bytes`));
  let v: unknown;
  try {
    v = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest('the body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('the body must be a JSON object');
  return v as Record<string, unknown>;
}

function onlyKeys(body: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw badRequest(`unknown field "${k.slice(0, 50)}"`, { allowed });
}

function ttlFrom(ctx: AdminContext, s: BuildsetsConfig, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw badRequest('ttlSeconds must be a whole number of seconds, at least 1', { field: 'ttlSeconds' });
  }
  if (v > s.maxTtlSeconds) {
    throw denied(ctx, 'ttl', `ttlSeconds ${v} is over the limit of ${s.maxTtlSeconds} (registry.buildsets.max-ttl)`, {
      field: 'ttlSeconds',
      max: s.maxTtlSeconds,
    });
  }
  return v;
}

function stringList(v: unknown, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(`${field} must be a list of names`, { field });
  return [...new Set(v as string[])];
}

/** What the API shows of a record (never the password hash). */
function view(r: BuildsetRecord, now: number): Record<string, unknown> {
  return {
    name: r.name,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    ageSeconds: Math.max(0, Math.floor((now - Date.parse(r.createdAt)) / 1000)),
    expiresInSeconds: Math.max(0, Math.floor((Date.parse(r.expiresAt) - now) / 1000)),
    mirrors: r.mirrors,
    parents: r.parents,
    username: r.username,
  };
}

/** How clients reach the namespace. */
function access(ctx: AdminContext, s: BuildsetsConfig, name: string): Record<string, unknown> {
  const host = ctx.req.headers.host ?? `${ctx.config.address}:${ctx.config.port}`;
  return {
    query: `?ns=${name}`,
    pathPrefix: `${host}/${s.pathPrefix}/${name}`,
    ...(s.hostSuffixes.length > 0 ? { hosts: s.hostSuffixes.map((h) => `${name}${h}`) } : {}),
  };
}

async function liveRecord(ctx: AdminContext, name: string): Promise<BuildsetRecord> {
  if (!BUILDSET_NAME_RE.test(name)) throw unknownNamespace(name);
  const found = await ctx.buildsets.lookup(name, true);
  if (found.kind !== 'live') throw unknownNamespace(name);
  return found.record;
}

export async function createNamespace(ctx: AdminContext): Promise<void> {
  const s = settings(ctx);
  const body = await readJsonObject(ctx);
  onlyKeys(body, ['name', 'ttlSeconds', 'mirrors', 'parents']);
  let name: string;
  if (body.name === undefined) name = generateName();
  else {
    if (typeof body.name !== 'string' || !BUILDSET_NAME_RE.test(body.name)) {
      throw new HttpError(
        'NAME_INVALID',
        'a namespace name is one DNS label: 1-63 lower-case letters, digits and dashes, not starting or ending with a dash',
        { field: 'name', name: String(body.name).slice(0, 100) },
      );
    }
    name = body.name;
  }
  if (ctx.config.namespaces.known.includes(name) || name === s.pathPrefix) {
    throw new HttpError('NAME_INVALID', `"${name}" is a configured namespace`, { name }, { status: 409 });
  }
  const ttl = ttlFrom(ctx, s, body.ttlSeconds);
  const mirrors = stringList(body.mirrors, 'mirrors');
  const templates = Object.keys(ctx.config.namespaces.mirrors ?? {});
  for (const m of mirrors) {
    if (!templates.includes(m))
      throw badRequest(`"${m.slice(0, 100)}" is not a mirror template (configured mirrors: ${templates.join(', ') || 'none'})`, {
        field: 'mirrors',
        allowed: templates,
      });
  }
  const parents = stringList(body.parents, 'parents');
  for (const p of parents) {
    if (!s.parents.includes(p))
      throw badRequest(`"${p.slice(0, 100)}" may not be a parent (registry.buildsets.parents: ${s.parents.join(', ') || 'none'})`, {
        field: 'parents',
        allowed: s.parents,
      });
  }
  // A name is taken while its record exists: live, or ended and not yet removed by prune.
  if ((await ctx.buildsets.store.get(name)) !== null) {
    throw new HttpError(
      'NAME_INVALID',
      `namespace "${name}" exists (or has ended and prune has not removed it yet)`,
      { name },
      { status: 409 },
    );
  }
  const now = Date.now();
  const { names } = await ctx.buildsets.store.names();
  const live = (await ctx.buildsets.store.records(names)).filter((r) => isLive(r, now)).length;
  if (live >= s.maxNamespaces) {
    throw denied(ctx, 'namespaces', `the registry holds ${live} buildset namespaces, its limit (registry.buildsets.max-namespaces)`, {
      max: s.maxNamespaces,
    });
  }
  const password = generatePassword();
  const record: BuildsetRecord = {
    name,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + ttl * 1000).toISOString(),
    mirrors,
    parents,
    username: usernameFor(name),
    passwordHash: await hashPassword(password, s.credentialCost),
  };
  await ctx.buildsets.store.put(record);
  if (await reapRunning(ctx.driver, name)) {
    // A prune that read an earlier namespace of this name as ended may still be deleting its keys,
    // which are this one's too (src/registry/buildsets/reap.ts): undo, rather than 201 for content it would delete.
    await ctx.buildsets.store.remove(name);
    throw new HttpError(
      'NAME_INVALID',
      `namespace "${name}" is still being removed by prune; create it again once that run has finished`,
      { name },
      { status: 409 },
    );
  }
  ctx.buildsets.remember(record);
  ctx.onCreated?.();
  ctx.log.info('buildset namespace created', { namespace: name, expiresAt: record.expiresAt, by: ctx.admin });
  sendAdminJson(
    ctx,
    201,
    {
      ...view(record, now),
      ttlSeconds: ttl,
      maxBytes: s.maxBytes,
      credentials: { username: record.username, password },
      access: access(ctx, s, name),
    },
    { Location: `/admin/v1/namespaces/${name}` },
  );
}

export async function listNamespaces(ctx: AdminContext): Promise<void> {
  settings(ctx);
  ctx.req.resume();
  const n = ctx.url.searchParams.get('n');
  if (n !== null && (!/^\d{1,4}$/.test(n) || Number(n) < 1 || Number(n) > LIST_MAX)) {
    throw new HttpError('PAGINATION_NUMBER_INVALID', `n must be 1..${LIST_MAX}`, { n: n.slice(0, 20) });
  }
  const limit = n === null ? LIST_DEFAULT : Number(n);
  const last = ctx.url.searchParams.get('last') ?? undefined;
  const now = Date.now();
  // Ended namespaces (their records wait for prune) are not listed; a page may then hold fewer than n.
  const page = await ctx.buildsets.store.names({ last, limit });
  const records = (await ctx.buildsets.store.records(page.names)).filter((r) => isLive(r, now));
  const headers: Record<string, string> = {};
  if (page.more && page.names.length > 0) {
    headers.Link = `</admin/v1/namespaces?n=${limit}&last=${encodeURIComponent(page.names[page.names.length - 1]!)}>; rel="next"`;
  }
  sendAdminJson(ctx, 200, { namespaces: records.map((r) => view(r, now)) }, headers);
}

export async function showNamespace(ctx: AdminContext, name: string): Promise<void> {
  const s = settings(ctx);
  ctx.req.resume();
  const r = await liveRecord(ctx, name);
  const size = await namespaceBytes(ctx.driver, name);
  sendAdminJson(ctx, 200, {
    ...view(r, Date.now()),
    sizeBytes: size.bytes,
    objects: size.objects,
    maxBytes: s.maxBytes,
    access: access(ctx, s, name),
  });
}

export async function extendNamespace(ctx: AdminContext, name: string): Promise<void> {
  const s = settings(ctx);
  const body = await readJsonObject(ctx);
  onlyKeys(body, ['ttlSeconds']);
  const ttl = ttlFrom(ctx, s, body.ttlSeconds);
  const r = await liveRecord(ctx, name);
  const now = Date.now();
  const next: BuildsetRecord = { ...r, expiresAt: new Date(now + ttl * 1000).toISOString() };
  await ctx.buildsets.store.put(next);
  if (await reapBegun(ctx.driver, next)) {
    // A prune read the record as ended before this write and is removing the content, or a DELETE
    // ended it (src/registry/buildsets/reap.ts): end the namespace again rather than answer 200 for it.
    const ended: BuildsetRecord = { ...next, deletedAt: new Date().toISOString() };
    await ctx.buildsets.store.put(ended);
    ctx.buildsets.remember(ended);
    ctx.log.warn('buildset namespace extend refused: it was deleted or prune is removing it', { namespace: name, by: ctx.admin });
    throw unknownNamespace(name);
  }
  ctx.buildsets.remember(next);
  ctx.log.info('buildset namespace extended', { namespace: name, expiresAt: next.expiresAt, by: ctx.admin });
  sendAdminJson(ctx, 200, { ...view(next, now), ttlSeconds: ttl });
}

export async function deleteNamespace(ctx: AdminContext, name: string): Promise<void> {
  settings(ctx);
  ctx.req.resume();
  const r = await liveRecord(ctx, name);
  const ended: BuildsetRecord = { ...r, deletedAt: new Date().toISOString() };
  // The mark before the tombstone: an extend racing this DELETE finds it after its own record write
  // and ends the namespace again, so the delete is never lost (src/registry/buildsets/reap.ts).
  await ctx.driver.put(deleteMarkKey(r), Buffer.from(ended.deletedAt!));
  // The record stays as a tombstone: prune removes the content, then the record.
  await ctx.buildsets.store.put(ended);
  ctx.buildsets.remember(ended);
  ctx.onDeleted?.();
  ctx.log.info('buildset namespace deleted', { namespace: name, by: ctx.admin });
  sendAdminJson(ctx, 202, { name, deletedAt: ended.deletedAt, content: 'removed by the next prune run after the grace period' });
}
