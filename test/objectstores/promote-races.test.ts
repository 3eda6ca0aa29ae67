// Promotion racing other writers (test/unit/promote-races-suite.ts) on Swift
// and S3 against the Swift all-in-one (scripts/swift/start.sh): the copies are
// the store's own (S3 CopyObject, Swift server-side copies of each segment).
//   npm run build && node --test --test-concurrency=1 dist/test/objectstores/promote-races.test.js
import { OBJECT_STORES } from '../unit/prune-fixtures.js';
import { promoteRaceTests } from '../unit/promote-races-suite.js';

for (const dc of OBJECT_STORES) promoteRaceTests(dc);
