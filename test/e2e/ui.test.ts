// The web UI in a real Chromium (Debian's, driven by playwright-core):
// skopeo pushes a multi-arch image, a multi-layer image, artifacts with a
// `subject` (an SBOM and a signature) and an image whose label and
// annotation hold HTML; the browser logs in through Wharf's token endpoint,
// opens each page and the test checks what is shown against the registry's
// own API answers; deletes a tag through the UI; logs in as a read-only user
// (no delete, no repository outside its rules); checks that nothing from the
// registry runs as HTML, that axe-core finds no WCAG A/AA violation, that
// the keyboard works and that a phone-width screen needs no sideways
// scrolling. Screenshots at desktop and phone width go to .tmp/screenshots/
// (WHARF_UPDATE_SCREENSHOTS=1 writes them to docs/images/ instead, for the README).
// A second part serves 10,000 repositories from a store that counts its
// calls, and loads the first page and a filtered page in the browser.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/ui.test.js
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import type { Page } from 'playwright-core';
import { configFromObject } from '../../src/config/config.js';
import { startServer, type WharfServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { layout } from '../../src/registry/layout.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { counting } from '../helpers/counting-driver.js';
import { axeViolations, launchBrowser, type Browser, type WatchedPage } from '../helpers/browser.js';
import { createContainersEnv, requireTools, type ContainersEnv } from '../helpers/containers.js';
import { startWharfRegistry, type RunningRegistry } from '../helpers/registries.js';
import { REPO_ROOT } from '../helpers/wharf.js';

const ADMIN = { user: 'admin', pass: 'admin-e2e-password' };
const VIEWER = { user: 'viewer', pass: 'viewer-e2e-password' };
// A test run must not change tracked files: docs/images/ is written only on request.
const IMAGES = process.env.WHARF_UPDATE_SCREENSHOTS === '1' ? join(REPO_ROOT, 'docs', 'images') : join(REPO_ROOT, '.tmp', 'screenshots');
const PHONE = { width: 390, height: 844 };
/** What an XSS would run: it sets a flag the test looks for. */
const XSS = `<img src=x onerror="window.__xss=1;document.title='pwned'">`;

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An OCI layout holding one artifact manifest (empty config, one layer) that refers to `subject`. */
function artifactLayout(
  dir: string,
  o: { artifactType: string; layer: Buffer; subject: { mediaType: string; digest: string; size: number } },
) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const d = sha256(b);
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const empty = Buffer.from('{}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: o.artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: put(empty), size: empty.length },
      layers: [{ mediaType: o.artifactType, digest: put(o.layer), size: o.layer.length }],
      subject: o.subject,
      annotations: { 'org.opencontainers.image.created': '2026-12-01T00:00:00Z' },
    }),
  );
  const digest = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'art' },
        },
      ],
    }),
  );
  return { digest, size: manifest.length };
}

interface Api {
  get(path: string, accept?: string): Promise<{ status: number; headers: Headers; json: any }>;
}

function apiAs(base: string, who: { user: string; pass: string }): Api {
  const auth = `Basic ${Buffer.from(`${who.user}:${who.pass}`).toString('base64')}`;
  return {
    async get(path, accept) {
      const r = await fetch(`${base}${path}`, {
        headers: {
          Authorization: auth,
          Accept:
            accept ??
            'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json',
        },
      });
      const text = await r.text();
      return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : null };
    },
  };
}

/** A screenshot into IMAGES (once announcements such as "Logged in" have gone). */
async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(IMAGES, { recursive: true });
  await page.waitForFunction(() => document.querySelector('.announcer')?.textContent === '', undefined, { timeout: 10_000 });
  await page.screenshot({ path: join(IMAGES, name), fullPage });
}

/** The rows of the table captioned `caption` (cells as text). */
async function rows(page: Page, caption: string): Promise<string[][]> {
  const table = page.locator('table', { has: page.locator('caption', { hasText: caption }) }).first();
  await table.waitFor();
  return table
    .locator('tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('th,td')].map((c) => (c.textContent ?? '').trim())));
}

/** Exact byte counts of the sizes (<data value>) in the table captioned `caption`, per row. */
async function sizes(page: Page, caption: string): Promise<number[][]> {
  const table = page.locator('table', { has: page.locator('caption', { hasText: caption }) }).first();
  return table
    .locator('tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('data')].map((d) => Number(d.getAttribute('value')))));
}

async function go(page: Page, base: string, hash: string): Promise<void> {
  await page.goto(`${base}/ui/${hash}`);
  await page.locator('main h1').first().waitFor();
}

async function login(p: WatchedPage, base: string, who: { user: string; pass: string }) {
  await p.page.goto(`${base}/ui/#/login`);
  await p.page.getByLabel('User name').fill(who.user);
  await p.page.getByLabel('Password').fill(who.pass);
  await p.page.getByRole('button', { name: 'Log in' }).click();
  await p.page.getByText(`Logged in as ${who.user}`).first().waitFor();
}

/** Script errors, less the browser's own note of each 401/403 answer (the login flow expects them). */
function scriptErrors(p: WatchedPage): string[] {
  return p.errors.filter((e) => !/Failed to load resource: the server responded with a status of 40[13]/.test(e));
}

function noAxeViolations(violations: Awaited<ReturnType<typeof axeViolations>>, where: string) {
  assert.deepEqual(
    violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `axe-core on ${where}`,
  );
}

describe('e2e: the web UI in Chromium, against images pushed by skopeo', () => {
  let reg: RunningRegistry;
  let env: ContainersEnv;
  let browser: Browser;
  let admin: Api;
  let viewer: Api;
  let setupError: unknown;
  const pushed = {
    index: '',
    sbom: { digest: '', size: 0 },
    signature: { digest: '', size: 0 },
    layers: '',
    xss: '',
  };
  const ready = () => {
    if (setupError) throw setupError;
  };

  before(async () => {
    try {
      requireTools(['skopeo', 'podman', 'buildah', 'unshare']);
      reg = await startWharfRegistry({
        registry: {
          secret: 'e2e-ui-secret-0123456789abcdef0123456789',
          users: [
            { name: ADMIN.user, pass: bcrypt.hashSync(ADMIN.pass, 6), access: 'write' },
            { name: VIEWER.user, pass: bcrypt.hashSync(VIEWER.pass, 6), access: 'none' },
          ],
          access: [{ namespace: '*', repository: 'e2e/*', users: [VIEWER.user], actions: ['pull'] }],
          // A page view after the pushes starts a new storage-use count.
          ui: { 'usage-max-age': 1 },
        },
      });
      admin = apiAs(reg.url, ADMIN);
      viewer = apiAs(reg.url, VIEWER);
      env = createContainersEnv();
      env.failureContext = () => `wharf at ${reg.url}, log tail:\n${reg.output()}`;
      const creds = ['--dest-tls-verify=false', '--dest-creds', `${ADMIN.user}:${ADMIN.pass}`];
      const to = (repo: string, ref: string) => `docker://${reg.host}/${repo}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
      const work = mkdtempSync(join(tmpdir(), 'wharf-ui-e2e-'));
      try {
        // 1. A multi-arch image (OCI index of linux/amd64 and linux/arm64/v8).
        const multi = await env.buildMultiArch();
        const indexDir = join(work, 'index');
        const index = await env.saveIndexLayout(multi.listRef, indexDir);
        await env.skopeo(['copy', '-q', '--all', ...creds, `oci:${indexDir}:latest`, to('e2e/multi', '1.0')]);
        pushed.index = index.digest;
        // 2. Artifacts referring to it: an SBOM and a signature, pushed by digest (untagged, as signers do).
        const subject = { mediaType: index.mediaType, digest: index.digest, size: index.size };
        for (const [key, artifactType, layer] of [
          ['sbom', 'application/spdx+json', Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'multi' }))],
          ['signature', 'application/vnd.dev.cosign.artifact.sig.v1+json', randomBytes(64)],
        ] as const) {
          const dir = join(work, key);
          const a = artifactLayout(dir, { artifactType, layer, subject });
          await env.skopeo(['copy', '-q', ...creds, `oci:${dir}:art`, to('e2e/multi', a.digest)]);
          pushed[key] = a;
        }
        // 3. A three-layer image with entrypoint, command, environment and labels; tagged v1 and old.
        const two = await env.buildImage({ format: 'oci' });
        const c = (await env.buildah(['from', '--pull=never', '--name', env.unique('layers'), two.ref])).stdout.trim();
        const file = join(env.tmpDir, 'third-layer');
        writeFileSync(file, randomBytes(20_000));
        await env.buildah(['copy', '-q', c, file, '/third-layer']);
        await env.buildah([
          'config',
          '--entrypoint',
          '["/bin/busybox"]',
          '--cmd',
          'sh -c date',
          '--env',
          'GREETING=hello world',
          '--label',
          'org.opencontainers.image.title=layers',
          '--workingdir',
          '/srv',
          c,
        ]);
        const layersRef = 'localhost/wharf-e2e/layers:latest';
        await env.buildah(['commit', '-q', '--format', 'oci', c, layersRef]);
        await env.buildah(['rm', c]);
        await env.skopeo(['copy', '-q', ...creds, `containers-storage:${layersRef}`, to('e2e/layers', 'v1')]);
        await env.skopeo(['copy', '-q', ...creds, `containers-storage:${layersRef}`, to('e2e/layers', 'old')]);
        pushed.layers = (await admin.get('/v2/e2e/layers/manifests/v1')).headers.get('docker-content-digest')!;
        // 4. An image whose label and annotation hold HTML that would run if rendered as HTML.
        const x = (await env.buildah(['from', '--pull=never', '--name', env.unique('xss'), two.ref])).stdout.trim();
        await env.buildah(['config', '--label', `evil=${XSS}`, '--annotation', `evil=${XSS}`, x]);
        await env.buildah(['commit', '-q', '--format', 'oci', x, 'localhost/wharf-e2e/xss:latest']);
        await env.buildah(['rm', x]);
        await env.skopeo(['copy', '-q', ...creds, 'containers-storage:localhost/wharf-e2e/xss:latest', to('e2e/xss', 'v1')]);
        pushed.xss = (await admin.get('/v2/e2e/xss/manifests/v1')).headers.get('docker-content-digest')!;
        // 5. A repository the read-only user may not see.
        await env.skopeo(['copy', '-q', ...creds, `containers-storage:${two.ref}`, to('secret/hidden', 'v1')]);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
      browser = await launchBrowser();
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    await browser?.close();
    await reg?.stop();
    await env?.cleanup();
  });

  it('an anonymous visitor is sent to the login form; a wrong password is refused', async () => {
    ready();
    const p = await browser.page();
    await p.page.goto(`${reg.url}/ui/`);
    await p.page.waitForURL(/#\/login/);
    await p.page.getByLabel('User name').fill(ADMIN.user);
    await p.page.getByLabel('Password').fill('wrong');
    await p.page.getByRole('button', { name: 'Log in' }).click();
    await p.page.getByRole('alert').filter({ hasText: 'wrong' }).waitFor();
    noAxeViolations(await axeViolations(p.page), 'the login form');
    assert.deepEqual(scriptErrors(p), []);
    await p.page.close();
  });

  it('after logging in, the namespaces and repositories are those of the API', async () => {
    ready();
    const p = await browser.page();
    await login(p, reg.url, ADMIN);
    // No cookie; the refresh token is in sessionStorage only.
    assert.deepEqual(await browser.context.cookies(), []);
    const stored = await p.page.evaluate(() => ({ session: Object.keys(sessionStorage), local: Object.keys(localStorage) }));
    assert.deepEqual(stored.local, []);
    assert.ok(stored.session.includes('wharf.refresh'));
    await go(p.page, reg.url, '#/');
    assert.equal((await rows(p.page, 'Namespaces'))[0]![0], 'defaultthis address');
    await p.page.getByRole('link', { name: 'default', exact: true }).click();
    await p.page.getByRole('heading', { name: 'Repositories in default' }).waitFor();
    const shown = (await rows(p.page, 'Repositories in default')).map((r) => r[0]);
    const api = (await admin.get('/v2/_catalog')).json.repositories;
    assert.deepEqual(shown, api);
    assert.deepEqual(shown, ['e2e/layers', 'e2e/multi', 'e2e/xss', 'secret/hidden']);
    noAxeViolations(await axeViolations(p.page), 'the repositories page');
    assert.deepEqual(scriptErrors(p), []);
    await p.page.close();
  });

  it('a multi-arch image: tags, platforms and referrers grouped by artifactType match the API', async () => {
    ready();
    const p = await browser.page();
    await login(p, reg.url, ADMIN);
    await go(p.page, reg.url, '#/default/e2e/multi');
    const tagRows = await rows(p.page, 'Tags of e2e/multi');
    const apiTags = (await admin.get('/v2/e2e/multi/tags/list')).json.tags;
    assert.deepEqual(
      tagRows.map((r) => r[0]),
      apiTags,
    );
    const link = p.page.getByRole('link', { name: pushed.index, exact: true });
    assert.equal(await link.getAttribute('title'), pushed.index);
    assert.match(tagRows[0]![2]!, /OCI index: linux\/amd64, linux\/arm64\/v8/);
    // Total size: the index plus each platform's manifest, config and layers, as the API serves them.
    const index = (await admin.get(`/v2/e2e/multi/manifests/${pushed.index}`)).json;
    let total = Number((await admin.get(`/v2/e2e/multi/manifests/${pushed.index}`)).headers.get('content-length'));
    for (const child of index.manifests) {
      const m = (await admin.get(`/v2/e2e/multi/manifests/${child.digest}`)).json;
      total += child.size + m.config.size + m.layers.reduce((n: number, l: { size: number }) => n + l.size, 0);
    }
    assert.deepEqual((await sizes(p.page, 'Tags of e2e/multi'))[0], [total]);

    await p.page.getByRole('link', { name: '1.0', exact: true }).click();
    await p.page.getByRole('heading', { name: 'e2e/multi:1.0' }).waitFor();
    const platforms = await rows(p.page, 'Platforms');
    assert.deepEqual(
      platforms.map((r) => [r[0], r[1]]),
      index.manifests.map((m: { digest: string; platform: { os: string; architecture: string; variant?: string } }) => [
        [m.platform.os, m.platform.architecture, m.platform.variant].filter((x) => x).join('/'),
        m.digest,
      ]),
    );
    assert.deepEqual(
      (await sizes(p.page, 'Platforms')).map((r) => r[0]),
      index.manifests.map((m: { size: number }) => m.size),
    );
    const referrers = (await admin.get(`/v2/e2e/multi/referrers/${pushed.index}`)).json.manifests as Array<{
      digest: string;
      artifactType: string;
    }>;
    assert.equal(referrers.length, 2);
    for (const r of referrers) {
      const group = await rows(p.page, r.artifactType);
      assert.deepEqual(
        group.map((g) => g[0]),
        [r.digest],
        `referrers of type ${r.artifactType}`,
      );
    }
    assert.deepEqual((await sizes(p.page, 'application/spdx+json'))[0], [pushed.sbom.size]);
    // Pull commands for the tag and the digest.
    for (const cmd of [
      `podman pull --tls-verify=false ${reg.host}/e2e/multi:1.0`,
      `docker pull ${reg.host}/e2e/multi@${pushed.index}`,
      `skopeo inspect --tls-verify=false docker://${reg.host}/e2e/multi@${pushed.index}`,
    ]) {
      await p.page.locator('code.command-text', { hasText: cmd }).first().waitFor();
    }
    await p.page.getByRole('button', { name: `Copy: docker pull ${reg.host}/e2e/multi:1.0` }).click();
    await p.page
      .getByRole('status')
      .filter({ hasText: /Copied|Select the text/ })
      .first()
      .waitFor();
    noAxeViolations(await axeViolations(p.page), 'an index page');
    await shot(p.page, 'ui-manifest-index-desktop.png', true);
    // A referrer's own page: an artifact, referring back to its subject.
    await p.page.getByRole('link', { name: `referrer ${pushed.sbom.digest}` }).click();
    await p.page.getByText('application/spdx+json').first().waitFor();
    await p.page.getByRole('link', { name: `subject manifest ${pushed.index}` }).waitFor();
    assert.deepEqual(scriptErrors(p), []);
    await p.page.close();
  });

  it('a multi-layer image: layers, sizes and config details match the API', async () => {
    ready();
    const p = await browser.page();
    await login(p, reg.url, ADMIN);
    await go(p.page, reg.url, '#/default/e2e/layers/-/v1');
    const m = (await admin.get('/v2/e2e/layers/manifests/v1')).json;
    const config = (await admin.get(`/v2/e2e/layers/blobs/${m.config.digest}`, '*/*')).json;
    assert.equal(m.layers.length, 3);
    const shown = await rows(p.page, 'Config and layers');
    assert.deepEqual(
      shown.map((r) => [r[0], r[1], r[2]]),
      [
        ['config', m.config.mediaType, m.config.digest],
        ...m.layers.map((l: { mediaType: string; digest: string }, i: number) => [String(i + 1), l.mediaType, l.digest]),
      ],
    );
    assert.deepEqual(
      (await sizes(p.page, 'Config and layers')).map((r) => r[0]),
      [m.config.size, ...m.layers.map((l: { size: number }) => l.size)],
    );
    const manifestSize = Number((await admin.get('/v2/e2e/layers/manifests/v1')).headers.get('content-length'));
    const total = await p.page.locator('tfoot data').getAttribute('value');
    assert.equal(Number(total), manifestSize + m.config.size + m.layers.reduce((n: number, l: { size: number }) => n + l.size, 0));
    const cfg = Object.fromEntries((await rows(p.page, 'Image configuration')).map((r) => [r[0], r[1]]));
    assert.equal(cfg.Platform, `${config.os}/${config.architecture}`);
    assert.equal(cfg.Entrypoint, JSON.stringify(config.config.Entrypoint));
    assert.equal(cfg.Command, JSON.stringify(config.config.Cmd));
    assert.equal(cfg['Working directory'], '/srv');
    for (const e of config.config.Env) await p.page.locator('li code', { hasText: e }).first().waitFor();
    assert.ok(config.config.Env.includes('GREETING=hello world'));
    const labels = Object.fromEntries((await rows(p.page, 'Labels')).map((r) => [r[0], r[1]]));
    assert.deepEqual(labels, config.config.Labels);
    const history = await rows(p.page, 'History');
    assert.equal(history.length, config.history.length);
    await shot(p.page, 'ui-manifest-image-desktop.png', true);
    noAxeViolations(await axeViolations(p.page), 'an image page');
    assert.deepEqual(scriptErrors(p), []);
    await p.page.close();
  });

  it('deleting a tag through the UI (with a confirmation) removes it from the API', async () => {
    ready();
    const p = await browser.page();
    await login(p, reg.url, ADMIN);
    await go(p.page, reg.url, '#/default/e2e/layers');
    await rows(p.page, 'Tags of e2e/layers');
    await shot(p.page, 'ui-repository-desktop.png');
    // Escape cancels the dialog: nothing is deleted.
    await p.page.getByRole('button', { name: 'Delete tag old' }).click();
    const dialog = p.page.getByRole('dialog', { name: 'Delete tag old?' });
    await dialog.waitFor();
    noAxeViolations(await axeViolations(p.page), 'the delete dialog');
    await p.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.deepEqual((await admin.get('/v2/e2e/layers/tags/list')).json.tags, ['old', 'v1']);
    await p.page.getByRole('button', { name: 'Delete tag old' }).click();
    await dialog.getByRole('button', { name: 'Delete tag' }).click();
    await p.page.getByRole('status').filter({ hasText: 'Tag old deleted.' }).waitFor();
    await p.page.getByRole('button', { name: 'Delete tag old' }).waitFor({ state: 'detached' });
    assert.deepEqual((await admin.get('/v2/e2e/layers/tags/list')).json.tags, ['v1']);
    assert.deepEqual(
      (await rows(p.page, 'Tags of e2e/layers')).map((r) => r[0]),
      ['v1'],
    );
    assert.deepEqual(scriptErrors(p), []);
    await p.page.close();
  });

  it('a label and an annotation holding <img onerror> are shown as text, and nothing runs', async () => {
    ready();
    const p = await browser.page();
    await login(p, reg.url, ADMIN);
    const m = (await admin.get('/v2/e2e/xss/manifests/v1')).json;
    assert.equal(m.annotations.evil, XSS, 'buildah put the annotation in the manifest');
    await go(p.page, reg.url, '#/default/e2e/xss/-/v1');
    const labels = Object.fromEntries((await rows(p.page, 'Labels')).map((r) => [r[0], r[1]]));
    assert.equal(labels.evil, XSS);
    const annotations = Object.fromEntries((await rows(p.page, 'Manifest annotations')).map((r) => [r[0], r[1]]));
    assert.equal(annotations.evil, XSS);
    await p.page.waitForTimeout(300); // an image error handler would have fired by now
    const state = await p.page.evaluate(() => ({
      flag: (window as unknown as { __xss?: number }).__xss,
      title: document.title,
      imgs: [...document.querySelectorAll('main img')].length,
    }));
    assert.deepEqual(state, { flag: undefined, title: 'e2e/xss:v1 – default – Wharf', imgs: 0 });
    assert.deepEqual(p.dialogs, []);
    // And the policy stops an inline script even if one were ever inserted.
    const inline = await p.page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      return (window as unknown as { __inline?: number }).__inline;
    });
    assert.equal(inline, undefined);
    await p.page.close();
  });

  it('works with the keyboard: links, the filter and the page heading take the focus', async () => {
    ready();
    const p = await browser.page();
    await login(p, reg.url, ADMIN);
    await go(p.page, reg.url, '#/default');
    await p.page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    await p.page.getByLabel('Name starts with').focus();
    await p.page.keyboard.type('e2e/');
    await p.page.keyboard.press('Enter');
    await p.page.locator('tbody tr', { hasText: 'secret/hidden' }).waitFor({ state: 'detached' });
    let found = false;
    for (let i = 0; i < 30 && !found; i++) {
      await p.page.keyboard.press('Tab');
      found = await p.page.evaluate(() => document.activeElement?.textContent === 'e2e/layers');
    }
    assert.ok(found, 'Tab reaches the repository link');
    await p.page.keyboard.press('Enter');
    await p.page.getByRole('heading', { name: 'e2e/layers' }).waitFor();
    await p.page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    noAxeViolations(await axeViolations(p.page), 'a repository page');
    await p.page.close();
  });

  it('at phone width every page fits the screen (wide tables scroll inside their own region)', async () => {
    ready();
    const p = await browser.page(PHONE);
    await login(p, reg.url, ADMIN);
    for (const [hash, name] of [
      ['#/', undefined],
      ['#/default', 'ui-repositories-phone.png'],
      ['#/default/e2e/multi', undefined],
      ['#/default/e2e/multi/-/1.0', 'ui-manifest-phone.png'],
      ['#/default/e2e/layers/-/v1', undefined],
    ] as const) {
      await go(p.page, reg.url, hash);
      await p.page.locator('main table').first().waitFor();
      const fit = await p.page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
      assert.ok(fit.scroll <= fit.width, `${hash}: page is ${fit.scroll}px wide on a ${fit.width}px screen`);
      if (name) await shot(p.page, name);
      noAxeViolations(await axeViolations(p.page), `${hash} at phone width`);
    }
    await p.page.close();
  });

  it('a read-only user sees only the repositories its rules allow, and no delete', async () => {
    ready();
    const p = await browser.page();
    await login(p, reg.url, VIEWER);
    await go(p.page, reg.url, '#/default');
    const shown = (await rows(p.page, 'Repositories in default')).map((r) => r[0]);
    assert.deepEqual(shown, (await viewer.get('/v2/_catalog')).json.repositories);
    assert.deepEqual(shown, ['e2e/layers', 'e2e/multi', 'e2e/xss']);
    await go(p.page, reg.url, '#/default/e2e/layers');
    await rows(p.page, 'Tags of e2e/layers');
    assert.equal(await p.page.getByRole('button', { name: /Delete/ }).count(), 0);
    assert.equal(await p.page.getByRole('columnheader', { name: 'Actions' }).count(), 0);
    await go(p.page, reg.url, '#/default/e2e/layers/-/v1');
    await rows(p.page, 'Config and layers');
    assert.equal(await p.page.getByRole('button', { name: /Delete/ }).count(), 0);
    await go(p.page, reg.url, '#/default/secret/hidden');
    await p.page.getByRole('alert').filter({ hasText: 'You may not see repository secret/hidden' }).waitFor();
    await p.page.getByRole('button', { name: 'Log out' }).click();
    // Without anonymous-read there is nothing to see: back to the login form.
    await p.page.getByRole('heading', { name: 'Log in' }).waitFor();
    assert.deepEqual(await p.page.evaluate(() => Object.keys(sessionStorage)), []);
    await p.page.close();
  });

  it('storage use per repository and per namespace is shown, as of the time it was computed', async () => {
    ready();
    const p = await browser.page();
    await login(p, reg.url, ADMIN);
    // The count made after the pushes (usage-max-age: 1 s) shows the shared busybox layer.
    const deadline = Date.now() + 30_000;
    let repo: { usage: { unique: number; shared: number } | null; usageAsOf: number | null } = { usage: null, usageAsOf: null };
    const pushedAt = Date.now();
    while (Date.now() < deadline) {
      repo = (await admin.get('/v2/_wharf/repository?name=e2e/layers')).json;
      if (repo.usage && repo.usageAsOf! >= pushedAt - 1000) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(repo.usage && repo.usage.shared > 0 && repo.usage.unique > 0, JSON.stringify(repo));
    await go(p.page, reg.url, '#/default/e2e/layers');
    await p.page.getByText('only in this repository').waitFor();
    const text = await p.page.locator('section', { has: p.page.getByRole('heading', { name: 'Storage use' }) }).textContent();
    assert.match(text ?? '', /only in this repository/);
    assert.match(text ?? '', /as of/);
    const values = await p.page
      .locator('section', { has: p.page.getByRole('heading', { name: 'Storage use' }) })
      .locator('data')
      .evaluateAll((ds) => ds.map((d) => Number(d.getAttribute('value'))));
    assert.equal(values.length, 2);
    assert.ok(values[0]! > 0 && values[1]! > 0, String(values));
    await go(p.page, reg.url, '#/');
    await p.page
      .locator('td', { hasText: /in \d+ blobs/ })
      .first()
      .waitFor();
    await p.page.close();
  });
});

describe('e2e: 10,000 repositories in the browser', () => {
  let server: WharfServer;
  let browser: Browser;
  const store = counting(new MemoryDriver());
  before(async () => {
    for (let i = 0; i < 10_000; i++) {
      await store.driver.put(
        layout.catalogEntry('default', `group-${String(i % 100).padStart(2, '0')}/repo-${String(i).padStart(5, '0')}`),
        Buffer.alloc(0),
      );
    }
    const config = configFromObject({ registry: { address: '127.0.0.1', port: 0, storage: { driver: 'memory' } } });
    server = await startServer(config, store.driver, createLogger('error'));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the first page and a filtered page load with a bounded number of storage calls', async () => {
    const p = await browser.page();
    // The first visit starts the storage-use count; wait for it so that only page loads are counted.
    for (let i = 0; ; i++) {
      await p.page.goto('about:blank');
      await go(p.page, server.url, '#/default');
      const shown = await p.page
        .getByText(/Storage use as of/)
        .waitFor({ timeout: 2000 })
        .then(
          () => true,
          () => false,
        );
      if (shown) break;
      assert.ok(i < 30, 'the storage-use count did not finish');
    }
    await p.page.goto('about:blank');
    store.reset();
    const started = Date.now();
    await p.page.goto(`${server.url}/ui/#/default`);
    await p.page.locator('tbody tr').nth(49).waitFor();
    const loadMs = Date.now() - started;
    const paint = await p.page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    const firstPage = store.calls;
    // namespaces: a listing of the store root + one stat; repositories: one catalog listing + one stat.
    assert.ok(firstPage <= 4, `first page: ${firstPage} storage calls`);
    assert.equal(await p.page.locator('tbody tr').count(), 50);
    store.reset();
    await p.page.getByLabel('Name starts with').fill('group-42/');
    await p.page.getByRole('button', { name: 'Filter' }).click();
    await p.page.locator('tbody tr', { hasText: 'group-42/repo-00042' }).waitFor();
    const names = await p.page.locator('tbody tr td:first-child').allTextContents();
    assert.equal(names.length, 50);
    assert.ok(
      names.every((n) => n.startsWith('group-42/')),
      names.join(' '),
    );
    const filtered = store.calls;
    assert.ok(filtered <= 2, `filtered page: ${filtered} storage calls`);
    process.stdout.write(
      `# 10,000 repositories: first page ${firstPage} storage calls, filtered page ${filtered}; ` +
        `first contentful paint ${Math.round(paint)} ms, 50 rows shown ${loadMs} ms after navigation (loopback)\n`,
    );
    await p.page.close();
  });
});
