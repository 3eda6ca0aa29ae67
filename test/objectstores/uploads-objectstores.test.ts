// The upload suites on the Swift and S3 drivers (one object per chunk;
// on Swift a published blob shares its chunks' segments), against the Swift
// all-in-one that scripts/swift/start.sh runs on loopback (started when
// needed; the tests fail, never skip, when it cannot start).
import { OBJECT_STORES } from '../unit/prune-fixtures.js';
import { uploadRaceSuite, uploadSuite } from '../unit/upload-suites.js';

for (const dc of OBJECT_STORES) {
  uploadSuite(dc);
  uploadRaceSuite(dc);
}
