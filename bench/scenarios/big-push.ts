// Scenarios 1–4: one big blob pushed in one streamed PATCH, as one monolithic
// PUT, and in 8 MiB and 1 MiB PATCHes with Content-Range. MB/s = 10^6 bytes/s
// from the POST to the PUT's 201.
import { Payload } from '../payload.js';
import { defineScenario, fmtBytes, withClient, type Metric, type Scenario, type Sizes } from '../scenario.js';
import { MB, MiB } from '../stats.js';

const PUSH_TARGET = { kind: 'ratio', value: 2.5, text: '≥ 2.5×' } as const;

function pushScenario(
  name: string,
  title: string,
  bytes: (s: Sizes) => number,
  how: string,
  push: (c: import('../client.js').RegistryClient, p: Payload) => Promise<unknown>,
  titleFor?: (s: Sizes) => string,
): Scenario<unknown> {
  const metrics: Metric[] = [{ key: 'mbps', label: 'MB/s', unit: 'MB/s', better: 'higher', digits: 0, target: PUSH_TARGET }];
  return defineScenario<Payload>({
    name,
    title,
    titleFor,
    describe: (s) => `${fmtBytes(bytes(s))} ${how}`,
    metrics,
    prepare: (s) => new Payload(bytes(s)),
    run: (server, p) =>
      withClient(server, 4, async (c) => {
        const repo = `bench/${name}`;
        const { window } = await server.measure(() => push(c, p));
        await c.checkStored(repo, p.digest, p.size);
        return { metrics: { mbps: p.size / MB / window.wallSeconds }, window };
      }),
  });
}

export const singlePatch = pushScenario(
  'patch',
  'Push, one streamed PATCH',
  (s) => s.bigBytes,
  'blob: POST, one PATCH, PUT ?digest=',
  (c, p) => c.pushSinglePatch('bench/patch', p),
);

export const monolithic = pushScenario(
  'put',
  'Push, monolithic PUT',
  (s) => s.bigBytes,
  'blob: POST, PUT ?digest= with the body',
  (c, p) => c.pushMonolithic('bench/put', p),
);

export const chunked8 = pushScenario(
  'chunk8',
  'Push, 8 MiB PATCHes',
  (s) => s.chunk8Bytes,
  'blob in 8 MiB PATCHes (Content-Range)',
  (c, p) => c.pushChunked('bench/chunk8', p, 8 * MiB),
);

export const chunked1 = pushScenario(
  'chunk1',
  'Push, 1 MiB PATCHes',
  (s) => s.chunk1Bytes,
  'blob in 1 MiB PATCHes (Content-Range)',
  (c, p) => c.pushChunked('bench/chunk1', p, MiB),
  (s) => (s.chunk1Bytes !== s.bigBytes ? `Push, 1 MiB PATCHes (${fmtBytes(s.chunk1Bytes)} total)` : 'Push, 1 MiB PATCHes'),
);
