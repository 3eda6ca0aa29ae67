// Upload requests that end early (http/upload-hygiene-suite.ts) on Swift and
// S3, against the Swift all-in-one that scripts/swift/start.sh runs on loopback.
//   npm run build && node --test --test-concurrency=1 dist/test/objectstores/upload-hygiene.test.js
import { objectStoreBackend } from '../helpers/upload-backends.js';
import { uploadHygieneTests } from '../http/upload-hygiene-suite.js';

for (const kind of ['swift', 's3'] as const) uploadHygieneTests(objectStoreBackend(kind));
