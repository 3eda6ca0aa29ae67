// The path-prefix way to reach a mirror namespace: a request for
// `/v2/docker.io/library/busybox/...` addresses repository `library/busybox`
// of the mirror namespace `docker.io` (what podman's registries.conf mirror
// `location = "wharf.example:5000/docker.io"` sends).
//
// The rule, so that ordinary repository names stay usable:
// - it applies only to requests that nothing else placed in a namespace (no
//   `?ns=`, no Host mapping to a namespace other than the default one);
// - the first component of the repository name must be exactly a configured
//   mirror name, and at least one component must follow it;
// - then the whole request belongs to the mirror namespace. A repository of
//   the default namespace whose first component is a mirror name (e.g.
//   `docker.io/library/busybox`) can therefore not be reached by path; it is
//   still reachable with `?ns=<default>`. A repository named exactly like the
//   mirror (`docker.io`) is not affected.
import type { NamespaceRules } from '../namespaces.js';

export function splitMirrorPrefix(
  rules: NamespaceRules,
  selectedNs: string,
  nsParam: string | null,
  repo: string,
): { ns: string; repo: string } | null {
  if (!rules.mirrors || nsParam !== null || selectedNs !== rules.default) return null;
  const slash = repo.indexOf('/');
  if (slash <= 0) return null;
  const first = repo.slice(0, slash);
  if (!Object.hasOwn(rules.mirrors, first)) return null;
  return { ns: first, repo: repo.slice(slash + 1) };
}
