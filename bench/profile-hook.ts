// Loaded into the Wharf server with NODE_OPTIONS=--import=<this file> by
// `npm run bench -- --profile DIR` (Node refuses --cpu-prof in NODE_OPTIONS):
// runs the V8 CPU profiler from start to exit and writes
// DIR/wharf-<pid>.cpuprofile (summarize with dist/bench/cpuprofile.js).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_WHARF_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // The in-process session answers synchronously.
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `wharf-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
