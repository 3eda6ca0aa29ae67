// Live `wharf serve` setups the upload race and hygiene tests run against:
// the filesystem (one process, or two on one root), memory, and Swift or S3
// on the Swift all-in-one — each with a read-only look into its storage
// where the test can have one.
import { objectStore, type ObjectStoreKind } from './objectstores.js';
import { OciClient } from './oci-client.js';
import { inspectorFor, type StoreInspector } from './store-inspector.js';
import { ensureSwift } from './swift.js';
import { startWharf, type WharfProcess } from './wharf.js';

export interface Running {
  /** One client per process (two for the shared root). */
  clients: OciClient[];
  /** The storage, where the test can look into it (not for memory). */
  store: StoreInspector | null;
  processes: WharfProcess[];
  stop(): Promise<void>;
}

export interface UploadBackend {
  name: string;
  /** How many requests of each kind a loop sends (object stores are slower). */
  rounds: number;
  start(): Promise<Running>;
}

export const FILESYSTEM: UploadBackend = {
  name: 'filesystem',
  rounds: 30,
  async start() {
    const w = await startWharf();
    const store = inspectorFor({ kind: 'filesystem', root: w.dataDir });
    return { clients: [new OciClient(w.url)], store, processes: [w], stop: () => w.cleanup() };
  },
};

export const FILESYSTEM_TWO_PROCESSES: UploadBackend = {
  name: 'filesystem, two processes on one root',
  rounds: 30,
  async start() {
    const a = await startWharf();
    // A second process that fails to start must not leave the first running
    // (the suite's after-hook never runs, and the test file would hang).
    const b = await startWharf({ dataDir: a.dataDir }).catch(async (err: unknown) => {
      await a.cleanup();
      throw err;
    });
    return {
      clients: [new OciClient(a.url), new OciClient(b.url)],
      store: inspectorFor({ kind: 'filesystem', root: a.dataDir }),
      processes: [a, b],
      stop: async () => {
        // The second first: the first one's temp dir holds the shared root.
        await b.cleanup();
        await a.cleanup();
      },
    };
  },
};

export const MEMORY: UploadBackend = {
  name: 'memory',
  rounds: 30,
  async start() {
    const w = await startWharf({ registry: { storage: { driver: 'memory' } } });
    return { clients: [new OciClient(w.url)], store: null, processes: [w], stop: () => w.cleanup() };
  },
};

export function objectStoreBackend(kind: ObjectStoreKind): UploadBackend {
  return {
    name: kind,
    rounds: 6,
    async start() {
      const env = await ensureSwift();
      const os = objectStore(kind, env, 'wharf-uploads');
      const w = await startWharf({ registry: { storage: os.storage({ timeout: 10 }) } });
      return {
        clients: [new OciClient(w.url)],
        store: inspectorFor({ kind, env, name: os.name }),
        processes: [w],
        stop: async () => {
          await w.cleanup();
          await os.destroy();
        },
      };
    },
  };
}
