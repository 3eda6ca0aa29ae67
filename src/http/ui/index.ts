// The web UI (registry.ui): its files under /ui/ and the JSON it reads under
// /v2/_wharf/ (api.ts). The dispatcher asks `target` first; API requests are
// then authorized like the OCI route they stand for.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import type { BuildsetDirectory } from '../../registry/buildsets/directory.js';
import { BUILDSET_NAME_RE } from '../../registry/buildsets/record.js';
import { RegistryError } from '../../registry/errors.js';
import { resolveNamespace } from '../../registry/namespaces.js';
import { UsageTracker } from '../../registry/usage-tracker.js';
import type { StorageDriver } from '../../storage/driver.js';
import { API_PREFIX, apiTarget, type ApiTarget } from './api.js';
import type { Auth } from '../auth/index.js';
import { createCursorCodec } from './cursor.js';
import { pageNamespace, serveFirstPage } from './first-page.js';
import { createStaticFiles, isUiPath, type StaticFiles } from './static.js';

export type UiTarget =
  | { kind: 'files'; files: StaticFiles }
  /** `/ui/r/<ns>`: a page the server renders (first-page.ts), for an anonymous caller. */
  | { kind: 'page'; serve(req: IncomingMessage, res: ServerResponse, url: URL, auth: Auth): Promise<void> }
  | ({ kind: 'api' } & ApiTarget);

export interface Ui {
  /** What a request for `url` is, when it belongs to the UI; throws for a bad UI API request. */
  target(method: string, url: URL): UiTarget | null;
  readonly usage: UsageTracker;
  /**
   * The namespace a UI API request is for: `?ns=`, the Host map or the default
   * (as the API resolves it), or a live buildset namespace named by `?ns=`.
   */
  namespace(config: Config, host: string | undefined, url: URL): Promise<string>;
}

export function createUi(config: Config, driver: StorageDriver, log: Logger, buildsets?: BuildsetDirectory): Ui | undefined {
  if (!config.ui.enabled) return undefined;
  const files = createStaticFiles();
  const usage = new UsageTracker(driver, config.ui.usageMaxAgeSeconds * 1000, log);
  const deps = { config, usage, cursors: createCursorCodec(config), buildsets };
  return {
    usage,
    async namespace(current, host, url) {
      const param = url.searchParams.get('ns')?.toLowerCase() ?? null;
      const configured = (n: string) => n === current.namespaces.default || current.namespaces.known.includes(n);
      if (buildsets && current.buildsets && param !== null && BUILDSET_NAME_RE.test(param) && !configured(param)) {
        const found = await buildsets.lookup(param, false);
        if (found.kind === 'live') return param;
        if (found.kind === 'ended') throw new RegistryError('NAME_UNKNOWN', 'namespace unknown to registry', { namespace: param });
      }
      return resolveNamespace(current.namespaces, host, param === null ? null : url.searchParams.get('ns'));
    },
    target(method, url) {
      const ns = pageNamespace(url.pathname);
      if (ns !== null) {
        return {
          kind: 'page',
          serve: (req, res, at, auth) => serveFirstPage({ ...deps, files, driver, log }, config, auth, req, res, at, ns),
        };
      }
      if (isUiPath(url.pathname)) return { kind: 'files', files };
      if (url.pathname.startsWith(API_PREFIX)) return { kind: 'api', ...apiTarget(deps, method, url) };
      return null;
    },
  };
}
