// `registry.prune`: the schedule of prune inside `wharf serve`, and the
// settings `wharf prune` uses too.
//
//   prune:
//     interval: 3600          # seconds between runs inside serve; unset or 0: no schedule
//     grace: 3600             # nothing younger than this is removed
//     upload-age: 3600        # uploads idle this long are removed
//     retention:              # first matching rule per repository applies
//       - namespace: "*"              # glob (default "*")
//         repository: "ci/**"         # glob (default "**")
//         keep-last: 10               # keep the 10 most recently pushed tags
//         keep-tags: [latest, "v*", "/^release-[0-9]+$/"]
//         delete-untagged-after: 86400
import type { RetentionRule } from '../registry/prune/retention.js';
import { globToRegExp, tagPattern } from '../registry/prune/retention.js';
import type { Reader } from './reader.js';

export interface PruneConfig {
  /** Seconds between scheduled runs inside serve (undefined: none). */
  intervalSeconds?: number;
  graceSeconds: number;
  uploadAgeSeconds: number;
  retention: RetentionRule[];
}

const YEAR = 366 * 86400;

export function readPrune(r: Reader): PruneConfig {
  r.only(['interval', 'grace', 'upload-age', 'retention']);
  const interval = r.optionalInteger('interval', 0, YEAR);
  const retention = r.list('retention').map((x) => {
    x.only(['namespace', 'repository', 'keep-last', 'keep-tags', 'delete-untagged-after']);
    const rule: RetentionRule = {
      namespace: x.string('namespace', '*'),
      repository: x.string('repository', '**'),
      keepLast: x.optionalInteger('keep-last', 0),
      keepTags: x.stringList('keep-tags'),
      deleteUntaggedAfter: x.optionalInteger('delete-untagged-after', 0, 100 * YEAR),
    };
    for (const [key, glob] of [
      ['namespace', rule.namespace],
      ['repository', rule.repository],
    ] as const) {
      try {
        globToRegExp(glob);
      } catch (err) {
        x.fail(key, `invalid glob ${JSON.stringify(glob)}: ${(err as Error).message}`);
      }
    }
    for (const p of rule.keepTags) {
      if (p.length === 0) x.fail('keep-tags', 'patterns must not be empty');
      try {
        tagPattern(p);
      } catch (err) {
        x.fail('keep-tags', `invalid pattern ${JSON.stringify(p)}: ${(err as Error).message}`);
      }
    }
    if (rule.keepLast === undefined && rule.keepTags.length === 0 && rule.deleteUntaggedAfter === undefined) {
      x.fail('keep-last', 'a retention rule needs keep-last, keep-tags or delete-untagged-after');
    }
    return rule;
  });
  return {
    intervalSeconds: interval === 0 ? undefined : interval,
    graceSeconds: r.integer('grace', 3600, 0, YEAR),
    uploadAgeSeconds: r.integer('upload-age', 3600, 0, YEAR),
    retention,
  };
}
