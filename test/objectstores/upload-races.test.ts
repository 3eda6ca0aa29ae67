// Upload races (http/upload-races-suite.ts) on Swift and S3, against the
// Swift all-in-one that scripts/swift/start.sh runs on loopback.
//   npm run build && node --test --test-concurrency=1 dist/test/objectstores/upload-races.test.js
import { objectStoreBackend } from '../helpers/upload-backends.js';
import { uploadRaceTests } from '../http/upload-races-suite.js';

for (const kind of ['swift', 's3'] as const) uploadRaceTests(objectStoreBackend(kind));
