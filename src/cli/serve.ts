// `wharf serve`: load config, open storage, listen, and shut down cleanly.
import { hashEngine } from '../digest/index.js';
import type { Config } from '../config/config.js';
import { startServer } from '../http/server.js';
import { createLogger } from '../log/logger.js';
import { openStorage } from './open-storage.js';
import { schedulePrune } from '../registry/prune/schedule.js';
import { pruneOptionsFrom } from './prune.js';

export const SERVE_HELP = `Usage: wharf serve [--config FILE]

Serve the OCI Distribution API.

Options:
  -c, --config FILE   YAML configuration (zuul-registry layout, top-level "registry:").
                      Default: $WHARF_CONFIG, else built-in defaults:
                      127.0.0.1:5000, filesystem storage under ./data, no auth.
  -h, --help          Show this help.

Every key can be overridden from the environment: WHARF_<KEY>, with "-" as "_"
and "__" to descend, e.g. WHARF_PORT=5001, WHARF_PUBLIC_URL=https://r.example,
WHARF_STORAGE__ROOT=/srv/wharf, WHARF_LOG_LEVEL=debug. See docs/configuration.md.`;

export async function serve(config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  const driver = await openStorage(config.storage);
  const server = await startServer(config, driver, log);
  log.info('wharf listening', {
    url: server.url,
    storage: driver.name,
    hashEngine,
    namespaces: config.namespaces.known,
    mirrors: Object.fromEntries(Object.entries(config.namespaces.mirrors ?? {}).map(([ns, m]) => [ns, m.upstream])),
    tls: config.tlsCert !== undefined,
  });
  // registry.prune.interval: prune online on a schedule (docs/prune.md).
  const pruning = config.prune.intervalSeconds
    ? schedulePrune(driver, config.prune.intervalSeconds, pruneOptionsFrom(config), log)
    : undefined;
  process.on('SIGHUP', () => {
    try {
      server.reloadTls();
      log.info('TLS certificate reloaded');
    } catch (err) {
      log.error('TLS reload failed; keeping the old certificate', { err: String(err) });
    }
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const force = setTimeout(() => process.exit(0), 10_000);
    force.unref();
    await server.close();
    await pruning?.stop();
    await driver.close?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
