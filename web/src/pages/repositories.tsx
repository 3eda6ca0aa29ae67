// A namespace's repositories, a page at a time, filtered by name prefix, with
// each repository's storage use (from the namespace's summary).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorNotice, Loading, Size, TableWrap, Time, useLoad } from '../components.js';
import { useApp } from '../context.js';
import { href } from '../router.js';
import { REPOSITORIES_PAGE as PAGE } from '../urls.js';

export function RepositoriesPage({ ns }: { ns: string }) {
  const { info } = useApp();
  const [draft, setDraft] = useState('');
  const [prefix, setPrefix] = useState('');
  // Cursors of the pages seen so far: [first page, second, ...].
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const after = cursors[cursors.length - 1];
  const page = useLoad(
    () => api.repositories(ns, { prefix, after, n: PAGE }),
    `${ns}\n${prefix}\n${after ?? ''}`,
    () => api.ready.repositories(ns, { prefix, after, n: PAGE }),
  );
  const nsInfo = info?.namespaces.find((n) => n.name === ns);

  const submit = (e: Event) => {
    e.preventDefault();
    setPrefix(draft.trim().toLowerCase());
    setCursors([undefined]);
  };

  return (
    <>
      <h1 tabIndex={-1}>Repositories in {ns}</h1>
      {nsInfo?.mirror && (
        <p class="lead">
          A mirror of <span class="break">{nsInfo.mirror.upstream}</span>: it shows what was pushed here and what was cached from the
          upstream.
        </p>
      )}
      <form class="filter" onSubmit={submit}>
        <label for="repo-filter">Name starts with</label>
        <input
          id="repo-filter"
          type="search"
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
          placeholder="e.g. team/"
          autoComplete="off"
          spellcheck={false}
        />
        <button type="submit">Filter</button>
      </form>
      {page.error ? (
        <ErrorNotice error={page.error} what={`the repositories of ${ns}`} />
      ) : !page.data ? (
        <Loading what="repositories" />
      ) : (
        <>
          <p class="muted" role="status">
            {page.data.usage ? (
              <>
                Storage use as of <Time value={page.data.usage.computedAt} />
                {page.data.computing && ' (a newer count is being made)'}.
              </>
            ) : page.data.computing ? (
              'Storage use is being computed.'
            ) : (
              'Storage use has not been computed yet.'
            )}
          </p>
          {page.data.repositories.length === 0 ? (
            <p>{prefix ? `No repository you may see starts with “${prefix}” here.` : 'No repository you may see on this page.'}</p>
          ) : (
            <TableWrap label="Repositories">
              <table class="repos" aria-busy={page.loading}>
                <caption class="visually-hidden">Repositories in {ns}</caption>
                <thead>
                  <tr>
                    <th scope="col">Repository</th>
                    <th scope="col" class="num">
                      Unique
                    </th>
                    <th scope="col" class="num">
                      Shared
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {page.data.repositories.map((r) => (
                    <tr key={r.name}>
                      <td>
                        <a href={href.repository(ns, r.name)}>{r.name}</a>
                      </td>
                      <td class="num">
                        <Size n={r.usage?.unique} />
                      </td>
                      <td class="num">
                        <Size n={r.usage?.shared} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
          <nav class="pager" aria-label="Pages of repositories">
            <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous page
            </button>
            <span>Page {cursors.length}</span>
            <button type="button" disabled={!page.data.next} onClick={() => setCursors([...cursors, page.data!.next])}>
              Next page
            </button>
          </nav>
        </>
      )}
    </>
  );
}
