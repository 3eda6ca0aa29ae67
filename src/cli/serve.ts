// `wharf serve`: load config, open storage, listen, and run the process
// lifecycle: SIGHUP reloads (cli/reload.ts); SIGTERM/SIGINT stop gracefully —
// readiness turns 503 at once, new connections stop after `drain-delay`,
// requests in flight get up to `shutdown-timeout`, then the process exits 0.
import { createRequire } from 'node:module';
import { hashEngine } from '../digest/index.js';
import type { Config } from '../config/config.js';
import { Runtime } from '../http/runtime.js';
import { blobBodyMode } from '../http/sendfile.js';
import { startServer } from '../http/server.js';
import { createLogger, type Logger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { openStorage } from './open-storage.js';
import { schedulePrune } from '../registry/prune/schedule.js';
import { instrumentDriver } from '../storage/instrumented.js';
import { pruneOptionsFrom } from './prune.js';
import { reload } from './reload.js';
import { countBuildsets } from '../registry/buildsets/reap.js';
import type { StorageDriver } from '../storage/driver.js';

export const SERVE_HELP = `Usage: wharf serve [--config FILE]

Serve the OCI Distribution API.

Options:
  -c, --config FILE   YAML configuration (zuul-registry layout, top-level "registry:").
                      Default: $WHARF_CONFIG, else built-in defaults:
                      127.0.0.1:5000, filesystem storage under ./data, no auth.
  -h, --help          Show this help.

Every key can be overridden from the environment: WHARF_<KEY>, with "-" as "_"
and "__" to descend, e.g. WHARF_PORT=5001, WHARF_PUBLIC_URL=https://r.example,
WHARF_STORAGE__ROOT=/srv/wharf, WHARF_LOG_LEVEL=debug. See docs/configuration.md.

Signals: SIGHUP reloads users, access rules, webhooks, TLS, read-only mode and
the log settings from the file; SIGTERM stops gracefully (docs/operations.md).`;

function version(): string {
  return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves after `ms` or when `p` settles, whichever is first; true when `p` settled. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function serve(config: Config, configPath?: string): Promise<void> {
  const log: Logger = createLogger(config.logLevel);
  const metrics: Metrics | undefined = config.ops.metrics
    ? new Metrics({
        namespaces: config.namespaces.known,
        version: version(),
        logDropped: () => log.dropped(),
        eventQueues: () => queues(),
        buildsets: config.buildsets && {
          limits: {
            namespaces: config.buildsets.maxNamespaces,
            bytesPerNamespace: config.buildsets.maxBytes,
            ttlSeconds: config.buildsets.maxTtlSeconds,
          },
          count: (): Promise<{ live: number; ended: number }> => countBuildsets(driver),
        },
      })
    : undefined;
  const raw = await openStorage(config.storage, { onRetry: metrics?.retryHook(config.storage.driver) });
  const driver: StorageDriver = metrics ? instrumentDriver(raw, metrics.storage) : raw;
  // Users, keys and password hashes are checked before listening: a bad entry stops the start.
  const rt = await Runtime.create(config, driver, log, metrics);
  const queues = () => rt.notifier.endpoints.map((e) => ({ endpoint: e.name, length: e.length }));
  const server = await startServer(rt);
  Runtime.listeningOn(server.port);
  log.info('wharf listening', {
    url: server.url,
    ...(server.adminUrl ? { admin: server.adminUrl } : {}),
    storage: driver.name,
    hashEngine,
    blobBodies: blobBodyMode(),
    namespaces: config.namespaces.known,
    mirrors: Object.fromEntries(Object.entries(config.namespaces.mirrors ?? {}).map(([ns, m]) => [ns, m.upstream])),
    tls: config.tlsCert !== undefined,
    readOnly: config.ops.readOnly,
    webhooks: config.notifications.endpoints.map((e) => e.name),
  });
  // registry.prune.interval: prune online on a schedule (not while read-only: it deletes).
  const pruning = config.prune.intervalSeconds
    ? schedulePrune(driver, config.prune.intervalSeconds, pruneOptionsFrom(config), log, (r) => metrics?.pruneFinished(r), {
        onFailure: (_err, ms) => metrics?.pruneFailed(ms),
        paused: () => rt.config.ops.readOnly,
      })
    : undefined;

  let reloading: Promise<unknown> = Promise.resolve();
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading the configuration', { file: configPath });
    reloading = reloading.then(() => reload(configPath, rt, server, log, metrics));
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn('second stop signal: exiting now', { signal, inFlight: rt.inFlight });
      await log.flush(500);
      process.exit(0);
    }
    stopping = true;
    const { drainDelayMs, shutdownTimeoutMs } = rt.config.ops;
    rt.health.startDraining();
    log.info('shutting down: readiness is 503 now', { signal, drainDelayMs, shutdownTimeoutMs, inFlight: rt.inFlight });
    if (drainDelayMs > 0) await sleep(drainDelayMs);
    server.stopAccepting();
    log.info('no new connections; waiting for requests in flight', { inFlight: rt.inFlight });
    if (!(await within(rt.idle(), shutdownTimeoutMs))) {
      log.warn('shutdown timeout: closing the connections still open', { inFlight: rt.inFlight, shutdownTimeoutMs });
      server.closeConnections();
    }
    // Bounded: a prune run, queued events and the store each get a short while.
    await within(pruning?.stop() ?? Promise.resolve(), 2000);
    await rt.notifier.close(2000);
    await server.closeAdmin();
    await within(driver.close?.() ?? Promise.resolve(), 2000);
    log.info('stopped', { signal });
    await log.flush(1000);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
