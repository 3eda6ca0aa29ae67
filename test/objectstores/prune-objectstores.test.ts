// The prune rules and safety suites on the Swift and S3 drivers, against the
// Swift all-in-one that scripts/swift/start.sh runs on loopback (started when
// needed; the tests fail, never skip, when it cannot start).
import { OBJECT_STORES } from '../unit/prune-fixtures.js';
import { pruneGraceSuite } from '../unit/prune-grace.js';
import { pruneRuleSuite } from '../unit/prune-rules.js';
import { pruneSafetySuite } from '../unit/prune-safety.js';

for (const dc of OBJECT_STORES) {
  pruneRuleSuite(dc);
  pruneGraceSuite(dc);
  pruneSafetySuite(dc);
}
