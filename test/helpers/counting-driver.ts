// A storage driver that counts every call made to it: how a test sees how
// much store work a page or a request costs.
import type { StorageDriver } from '../../src/storage/driver.js';

/** `inner`, with a count of the calls the server makes to it (reset() starts again from 0). */
export function counting(inner: StorageDriver) {
  let calls = 0;
  const driver = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    driver,
    reset: () => {
      calls = 0;
    },
    get calls() {
      return calls;
    },
  };
}
