// Promotion racing other writers (promote-races-suite.ts) on the memory and
// filesystem drivers.
//   npm run build && node --test --test-concurrency=1 dist/test/unit/promote-races.test.js
import { DRIVERS } from './prune-fixtures.js';
import { promoteRaceTests } from './promote-races-suite.js';

for (const dc of DRIVERS) promoteRaceTests(dc);
