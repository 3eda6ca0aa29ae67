// Scenario 5: pull of a big blob (pushed first, untimed), every byte compared
// with what was pushed.
import { Payload } from '../payload.js';
import { defineScenario, fmtBytes, withClient } from '../scenario.js';
import { MB } from '../stats.js';

export const pull = defineScenario<Payload>({
  name: 'pull',
  title: 'Pull, big blob',
  describe: (s) => `${fmtBytes(s.pullBytes)} blob: GET, bytes verified`,
  metrics: [{ key: 'mbps', label: 'MB/s', unit: 'MB/s', better: 'higher', digits: 0, target: { kind: 'ratio', value: 1, text: '≥ 1.0×' } }],
  prepare: (s) => new Payload(s.pullBytes),
  run: (server, p) =>
    withClient(server, 4, async (c) => {
      await c.pushMonolithic('bench/pull', p);
      const { window } = await server.measure(() => c.pullVerify('bench/pull', p));
      return { metrics: { mbps: p.size / MB / window.wallSeconds }, window };
    }),
});
