// A driver decorator that reports every call — operation, duration, outcome —
// to an observer (the metrics), so no driver needs code of its own for it.
// Retries happen inside the network drivers; they are reported through the
// retry hook (retry.ts), named with operationOf().
import type { Readable } from 'node:stream';
import type { ByteRange, ListOptions, ObjectInfo, PutOptions, StorageDriver } from './driver.js';
import { NotFoundError, RangeNotSatisfiableError } from './errors.js';

export const STORAGE_OPERATIONS = [
  'list',
  'stat',
  'put',
  'get',
  'read',
  'append',
  'delete',
  'move',
  'copy',
  'concat',
  'delete-concat-sources',
  'presign',
] as const;
export type StorageOperation = (typeof STORAGE_OPERATIONS)[number] | 'other';

/** ok; not_found (a missing object where one was needed); invalid_range; error (the backend failed). */
export type StorageOutcome = 'ok' | 'not_found' | 'invalid_range' | 'error';

export interface StorageObserver {
  call(driver: string, operation: StorageOperation, seconds: number, outcome: StorageOutcome): void;
}

/** The operation of a retried call from its description ("swift stat <key>", "s3 put <key>"): a bounded label. */
export function operationOf(what: string): StorageOperation {
  const word = what.split(' ', 2)[1] ?? '';
  return (STORAGE_OPERATIONS as readonly string[]).includes(word) ? (word as StorageOperation) : 'other';
}

function outcomeOf(err: unknown): StorageOutcome {
  if (err instanceof NotFoundError) return 'not_found';
  if (err instanceof RangeNotSatisfiableError) return 'invalid_range';
  return 'error';
}

export function instrumentDriver(inner: StorageDriver, observer: StorageObserver): StorageDriver {
  const name = inner.name;
  const timed = async <T>(op: StorageOperation, run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      const v = await run();
      observer.call(name, op, (performance.now() - t0) / 1000, 'ok');
      return v;
    } catch (err) {
      observer.call(name, op, (performance.now() - t0) / 1000, outcomeOf(err));
      throw err;
    }
  };
  const out: StorageDriver = {
    name,
    concatKeepsSources: inner.concatKeepsSources,
    volatileEpoch: inner.volatileEpoch,
    list: (o: ListOptions) => timed('list', () => inner.list(o)),
    stat: (key: string) => timed('stat', () => inner.stat(key)),
    put: (key: string, body: Uint8Array | Readable, o?: PutOptions) => timed('put', () => inner.put(key, body, o)),
    get: (key: string) => timed('get', () => inner.get(key)),
    read: (key: string, range?: ByteRange) => timed('read', () => inner.read(key, range)),
    delete: (key: string) => timed('delete', () => inner.delete(key)),
    move: (from: string, to: string, o?: PutOptions) => timed('move', () => inner.move(from, to, o)),
    concat: (to: string, sources: string[]) => timed('concat', () => inner.concat(to, sources)),
    deleteConcatSources: (to: string, sources: string[]) => timed('delete-concat-sources', () => inner.deleteConcatSources(to, sources)),
  };
  // Optional methods stay optional: callers test for them (append changes how uploads are stored).
  if (inner.append) {
    const append = inner.append.bind(inner);
    out.append = (key: string, offset: number, body: Readable): Promise<ObjectInfo> => timed('append', () => append(key, offset, body));
  }
  if (inner.putChecked) {
    const putChecked = inner.putChecked.bind(inner);
    out.putChecked = (key: string, body: Readable, check: (info: ObjectInfo) => Promise<boolean>) =>
      timed('put', () => putChecked(key, body, check));
  }
  if (inner.copy) {
    const copy = inner.copy.bind(inner);
    out.copy = (from: string, to: string) => timed('copy', () => copy(from, to));
  }
  if (inner.presignGet) {
    const presign = inner.presignGet.bind(inner);
    out.presignGet = (key: string, expires: number) => timed('presign', () => presign(key, expires));
  }
  if (inner.openFile) {
    const openFile = inner.openFile.bind(inner);
    out.openFile = (key: string) => timed('read', () => openFile(key));
  }
  if (inner.close) out.close = inner.close.bind(inner);
  return out;
}
