// The addresses of the UI's JSON endpoints (src/http/ui/api.ts), shared by
// the app (api.ts) and the inline boot script (boot.ts): the boot script's
// early requests are used only when their address is exactly the one the app
// asks for, so both build it here.

/** Rows on a page of the repository list. */
export const REPOSITORIES_PAGE = 50;

const q = encodeURIComponent;

/** `path` with `ns=<ns>` added, or unchanged for '' (the namespace this address selects). */
export function withNs(path: string, ns: string): string {
  return ns === '' ? path : `${path}${path.includes('?') ? '&' : '?'}ns=${q(ns)}`;
}

export const paths = {
  namespaces: () => '/v2/_wharf/namespaces',
  repositories: (o: { prefix?: string; after?: string; n?: number }) =>
    `/v2/_wharf/repositories?n=${o.n ?? REPOSITORIES_PAGE}${o.prefix ? `&prefix=${q(o.prefix)}` : ''}${o.after ? `&after=${q(o.after)}` : ''}`,
};

/** What the boot script started, by address: the response, and a 200's body once parsed. */
export type EarlyAnswers = Record<string, { response: Promise<Response>; body?: unknown }>;
