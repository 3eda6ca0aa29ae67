// Upload races (upload-races-suite.ts) on the filesystem — one process, and
// two processes on one root — and on memory.
//   npm run build && node --test --test-concurrency=1 dist/test/http/upload-races.test.js
import { FILESYSTEM, FILESYSTEM_TWO_PROCESSES, MEMORY } from '../helpers/upload-backends.js';
import { uploadRaceTests } from './upload-races-suite.js';

for (const backend of [FILESYSTEM, FILESYSTEM_TWO_PROCESSES, MEMORY]) uploadRaceTests(backend);
