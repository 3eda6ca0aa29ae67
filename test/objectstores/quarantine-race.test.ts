// A late quarantine racing a push of the same blob
// (test/unit/quarantine-race-suite.ts) on Swift and S3 against the Swift
// all-in-one (scripts/swift/start.sh).
//   npm run build && node --test --test-concurrency=1 dist/test/objectstores/quarantine-race.test.js
import { OBJECT_STORES } from '../unit/prune-fixtures.js';
import { quarantineRaceTests } from '../unit/quarantine-race-suite.js';

for (const dc of OBJECT_STORES) quarantineRaceTests(dc);
