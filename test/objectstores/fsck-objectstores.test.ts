// The fsck suite on the Swift and S3 drivers, against the Swift all-in-one
// that scripts/swift/start.sh runs on loopback (started when needed; the
// tests fail, never skip, when it cannot start). The tests whose outcome
// depends on the driver; the logic-only ones run on memory and fs.
import { fsckSuite } from '../unit/fsck-suite.js';
import { OBJECT_STORES } from '../unit/prune-fixtures.js';

for (const dc of OBJECT_STORES) fsckSuite(dc, true);
