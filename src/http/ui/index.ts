// The web UI (registry.ui): its files under /ui/ and the JSON it reads under
// /v2/_wharf/ (api.ts). The dispatcher asks `target` first; API requests are
// then authorized like the OCI route they stand for.
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import { UsageTracker } from '../../registry/usage-tracker.js';
import type { StorageDriver } from '../../storage/driver.js';
import { API_PREFIX, apiTarget, type ApiTarget } from './api.js';
import { createCursorCodec } from './cursor.js';
import { createStaticFiles, isUiPath, type StaticFiles } from './static.js';

export type UiTarget = { kind: 'files'; files: StaticFiles } | ({ kind: 'api' } & ApiTarget);

export interface Ui {
  /** What a request for `url` is, when it belongs to the UI; throws for a bad UI API request. */
  target(method: string, url: URL): UiTarget | null;
  readonly usage: UsageTracker;
}

export function createUi(config: Config, driver: StorageDriver, log: Logger): Ui | undefined {
  if (!config.ui.enabled) return undefined;
  const files = createStaticFiles();
  const usage = new UsageTracker(driver, config.ui.usageMaxAgeSeconds * 1000, log);
  const deps = { config, usage, cursors: createCursorCodec(config) };
  return {
    usage,
    target(method, url) {
      if (isUiPath(url.pathname)) return { kind: 'files', files };
      if (url.pathname.startsWith(API_PREFIX)) return { kind: 'api', ...apiTarget(deps, method, url) };
      return null;
    },
  };
}
