// Reading and writing buildset records (record.ts) through the storage
// driver. No process memory: a record written by one replica is what every
// other replica reads next.
import { mapLimit } from '../../async/map-limit.js';
import type { StorageDriver } from '../../storage/driver.js';
import { listAll } from '../scope.js';
import { parseRecord, recordKey, RECORDS_PREFIX, type BuildsetRecord } from './record.js';

export class BuildsetStore {
  constructor(readonly driver: StorageDriver) {}

  async get(name: string): Promise<BuildsetRecord | null> {
    const buf = await this.driver.get(recordKey(name));
    if (!buf) return null;
    const r = parseRecord(buf);
    return r && r.name === name ? r : null;
  }

  async put(r: BuildsetRecord): Promise<void> {
    await this.driver.put(recordKey(r.name), Buffer.from(JSON.stringify(r)));
  }

  async remove(name: string): Promise<void> {
    await this.driver.delete(recordKey(name));
  }

  /** Record names in order, after `last`, at most `limit` (all when absent). */
  async names(options: { last?: string; limit?: number } = {}): Promise<{ names: string[]; more: boolean }> {
    const names: string[] = [];
    const startAfter = options.last === undefined ? undefined : recordKey(options.last);
    for await (const e of listAll(this.driver, RECORDS_PREFIX, { delimiter: '/', startAfter })) {
      if (e.prefix) continue;
      if (options.limit !== undefined && names.length >= options.limit) return { names, more: true };
      names.push(e.key.slice(RECORDS_PREFIX.length));
    }
    return { names, more: false };
  }

  /** The records of `names` (unreadable or vanished ones left out). */
  async records(names: string[]): Promise<BuildsetRecord[]> {
    const all = await mapLimit(names, 16, (n) => this.get(n));
    return all.filter((r): r is BuildsetRecord => r !== null);
  }
}
