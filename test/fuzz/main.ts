// `npm run fuzz -- [--seed N] [--iterations M] [--seconds S] [--from K]`: the
// fuzzer against a fresh `wharf serve`, as long as you like. Prints the seed;
// a failure prints the case's exact bytes (`--keep-going`: every failure, and
// the run goes on). `--replay FILE` sends one case (the
// "case JSON" a failure prints, saved to a file) to a fresh server and shows
// the answers. Exit status 1 on a failure.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseResponses } from '../helpers/raw-http.js';
import { describeFailure, exchangeCase, Fuzzer, type CaseRecord } from './fuzzer.js';
import { startFuzzTarget } from './server.js';
import { setupWorld } from './world.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    iterations: { type: 'string' },
    seconds: { type: 'string' },
    from: { type: 'string' },
    replay: { type: 'string' },
    'keep-going': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log('npm run fuzz -- [--seed N] [--iterations M] [--seconds S] [--from K] [--keep-going] | --replay FILE');
  process.exit(0);
}

const int = (v: string | undefined, name: string, dflt: number): number => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`fuzz: --${name} must be a whole number (got ${v})`);
    process.exit(2);
  }
  return n;
};

const { wharf, target } = await startFuzzTarget();
let failed = false;
try {
  if (values.replay) {
    const c = JSON.parse(readFileSync(values.replay, 'utf8')) as CaseRecord;
    await setupWorld(wharf.url, wharf.host);
    const methods = c.requests.map((r) => r.method.toUpperCase());
    const ex = await exchangeCase(wharf.port, c, methods, c.requests.length, 20_000);
    const parsed = parseResponses(ex.raw, methods);
    for (const r of parsed.responses) console.log(`${r.status} ${JSON.stringify(r.headers)} ${r.text.slice(0, 500)}`);
    console.log(
      `closed: ${ex.closed}${ex.error ? ` (${ex.error})` : ''}; timed out: ${ex.timedOut}; rest: ${JSON.stringify(parsed.rest.toString('latin1').slice(0, 200))}`,
    );
    await new Promise((r) => setTimeout(r, 500));
    console.log(`server output:\n${wharf.output().slice(-5000)}`);
  } else {
    const seed = int(values.seed, 'seed', Math.floor(Math.random() * 2 ** 31));
    const iterations = int(values.iterations, 'iterations', values.seconds ? Number.MAX_SAFE_INTEGER : 10_000);
    const seconds = int(values.seconds, 'seconds', 365 * 24 * 3600);
    console.log(
      `fuzz: seed ${seed}, ${iterations === Number.MAX_SAFE_INTEGER ? 'no case limit' : `${iterations} cases`}, ${values.seconds ? `${seconds} s` : 'no time limit'}, server ${wharf.url}`,
    );
    const world = await setupWorld(wharf.url, wharf.host);
    const fuzzer = new Fuzzer(target, world, {
      seed,
      iterations,
      seconds,
      from: int(values.from, 'from', 0),
      keepGoing: values['keep-going'],
      log: (l) => console.log(l),
    });
    fuzzer.adoptExistingUploads();
    const result = await fuzzer.run();
    console.log(
      `fuzz: seed ${seed}: ${result.cases} cases, ${result.requests} requests in ${(result.elapsedMs / 1000).toFixed(1)} s; statuses ${JSON.stringify(result.statuses)}`,
    );
    if (result.failure) {
      failed = true;
      if (values['keep-going']) console.error(`fuzz: ${result.failures.length} failure(s), each printed above; the first:`);
      console.error(describeFailure(result));
      console.error(`server output (last lines):\n${wharf.output().slice(-3000)}`);
    }
  }
} finally {
  await wharf.cleanup();
}
process.exit(failed ? 1 : 0);
