// Retention policies: which tags a repository keeps beyond expiration.
//
// A rule applies to the repositories whose namespace and name match its
// globs; the first matching rule (in configuration order) wins. A rule can
//   - keep the `keepLast` most recently pushed tags (the others go, and a
//     manifest left without tags by that goes with them),
//   - keep every tag matching one of `keepTags` (never removed by retention or
//     expiration, and not counted in keepLast),
//   - delete untagged manifests `deleteUntaggedAfter` seconds after their push.
//
// Globs: `*` matches within one path component, `**` across components, `?`
// one character. A tag pattern written `/…/` is a regular expression instead.

export interface RetentionRule {
  /** Namespace glob (default "*": every namespace). */
  namespace: string;
  /** Repository glob (default "**": every repository). */
  repository: string;
  /** Keep only the N most recently pushed tags (unset: keep all). */
  keepLast?: number;
  /** Tags matching any of these patterns are always kept. */
  keepTags: string[];
  /** Delete manifests no kept tag reaches this many seconds after their push (unset: keep them). */
  deleteUntaggedAfter?: number;
}

export interface CompiledRule {
  rule: RetentionRule;
  /** Index in the configured list, for reports. */
  index: number;
  ns: RegExp;
  repo: RegExp;
  keepTags: RegExp[];
}

function escapeRegExpChar(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** A path glob as an anchored RegExp: `**` any characters, `*` and `?` not '/'. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // "a/**/b" also matches "a/b".
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += escapeRegExpChar(c);
  }
  return new RegExp(`^${re}$`);
}

/** A tag pattern: `/regex/` or a glob. Throws SyntaxError for a bad regular expression. */
export function tagPattern(p: string): RegExp {
  if (p.length >= 2 && p.startsWith('/') && p.endsWith('/')) return new RegExp(p.slice(1, -1));
  return globToRegExp(p);
}

export function compileRules(rules: readonly RetentionRule[]): CompiledRule[] {
  return rules.map((rule, index) => ({
    rule,
    index,
    ns: globToRegExp(rule.namespace),
    repo: globToRegExp(rule.repository),
    keepTags: rule.keepTags.map(tagPattern),
  }));
}

/** The first rule matching a repository, if any. */
export function ruleFor(rules: readonly CompiledRule[], ns: string, repo: string): CompiledRule | undefined {
  return rules.find((r) => r.ns.test(ns) && r.repo.test(repo));
}

export function isKeptTag(rule: CompiledRule | undefined, tag: string): boolean {
  return rule?.keepTags.some((re) => re.test(tag)) ?? false;
}

/**
 * Tags retention removes (keep-last): every tag that is not protected by a
 * pattern and not among the `keepLast` most recently pushed (ties broken by
 * name, so the choice is stable). Young tags are the caller's business.
 */
export function tagsBeyondKeepLast<T extends { tag: string; pushed: number }>(rule: CompiledRule | undefined, tags: readonly T[]): T[] {
  if (rule === undefined || rule.rule.keepLast === undefined) return [];
  const counted = tags.filter((t) => !isKeptTag(rule, t.tag));
  counted.sort((a, b) => b.pushed - a.pushed || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return counted.slice(rule.rule.keepLast);
}
