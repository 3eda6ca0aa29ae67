// The filesystem driver's keys of `registry.storage` (see options.ts).
import type { DriverOptions } from './options.js';

export interface FilesystemConfig {
  /** Directory holding every object (relative paths: from the working directory). */
  root: string;
}

export const filesystemOptions: DriverOptions<FilesystemConfig> = {
  keys: ['root'],
  redirects: false,
  read: (r) => ({ root: r.string('root', './data') }),
  show: (s) => ({ root: s.root }),
};
