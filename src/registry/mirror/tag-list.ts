// The tag list of a mirror repository: the namespace's own tags and the
// upstream's, merged, sorted, without duplicates, then paged with `n`/`last`
// exactly like a plain repository (lexical order, start after `last`).
export function mergeTagPages(
  sources: Iterable<string>[],
  options: { limit?: number; last?: string } = {},
): { tags: string[]; more: boolean } {
  const all = new Set<string>();
  for (const src of sources) for (const t of src) all.add(t);
  // Tags are ASCII, so code-unit order is the byte order storage listings use.
  let tags = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (options.last !== undefined) {
    const last = options.last;
    tags = tags.filter((t) => t > last);
  }
  if (options.limit !== undefined && tags.length > options.limit) {
    return { tags: tags.slice(0, options.limit), more: true };
  }
  return { tags, more: false };
}
