// `npm run soak -- [--minutes N | --seconds N] [--workers W]`: the soak as
// long as you like; prints progress, then the report (JSON). Exit status 1
// when anything failed.
import { parseArgs } from 'node:util';
import { soak } from './soak.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    workers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('npm run soak -- [--minutes N | --seconds N] [--workers W]   (default: 10 minutes, 4 workers)');
  process.exit(0);
}
const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes ?? 10) * 60;
const workers = Number(values.workers ?? 4);
if (!Number.isFinite(seconds) || seconds < 30 || !Number.isInteger(workers) || workers < 1) {
  console.error('soak: --seconds must be at least 30 (or --minutes at least 0.5), --workers a whole number ≥ 1');
  process.exit(2);
}
const report = await soak({ seconds, workers, log: (l) => console.log(l) });
console.log(JSON.stringify(report, null, 2));
if (report.failures.length > 0) {
  console.error(`soak FAILED (${report.failures.length}):\n${report.failures.join('\n')}`);
  process.exit(1);
}
console.log('soak: clean');
