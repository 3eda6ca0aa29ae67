// A late quarantine racing a push of the same blob (quarantine-race-suite.ts)
// on the memory and filesystem drivers.
//   npm run build && node --test --test-concurrency=1 dist/test/unit/quarantine-race.test.js
import { DRIVERS } from './prune-fixtures.js';
import { quarantineRaceTests } from './quarantine-race-suite.js';

for (const dc of DRIVERS) quarantineRaceTests(dc);
