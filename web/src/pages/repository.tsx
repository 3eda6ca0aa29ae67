// A repository: its storage use and its tags (digest, kind, size, push
// time), sorted by name or push time (across all tags) or by size (within
// the page shown), with delete for users who may delete.
import { useState } from 'preact/hooks';
import { api, ApiError, type TagRow } from '../api.js';
import { ConfirmDialog, ErrorNotice, Loading, Size, TableWrap, Time, useLoad } from '../components.js';
import { useApp } from '../context.js';
import { mediaTypeName, shortDigest } from '../format.js';
import { href } from '../router.js';

type Sort = 'name' | 'pushed' | 'size';
const PAGE = 50;

function kindText(t: TagRow): string {
  const m = t.manifest;
  if (!m) return 'not held here';
  if (m.platforms) return `${mediaTypeName(m.mediaType)}: ${m.platforms.join(', ') || 'no platforms'}`;
  if (
    m.artifactType &&
    !m.artifactType.startsWith('application/vnd.oci.image.config') &&
    !m.artifactType.startsWith('application/vnd.docker.container.image')
  ) {
    return `artifact: ${m.artifactType}`;
  }
  return mediaTypeName(m.mediaType);
}

function SortHeader(props: { label: string; sort: Sort; current: Sort; onSort(s: Sort): void; note?: string; num?: boolean }) {
  const active = props.current === props.sort;
  return (
    <th
      scope="col"
      class={props.num ? 'num' : undefined}
      aria-sort={active ? (props.sort === 'name' ? 'ascending' : 'descending') : undefined}
    >
      <button type="button" class="sort" onClick={() => props.onSort(props.sort)} title={props.note}>
        {props.label}
        <span aria-hidden="true">{active ? (props.sort === 'name' ? ' ▲' : ' ▼') : ''}</span>
        {props.note && <span class="visually-hidden"> ({props.note})</span>}
      </button>
    </th>
  );
}

export function RepositoryPage({ ns, repo }: { ns: string; repo: string }) {
  const { announce } = useApp();
  const [sort, setSort] = useState<Sort>('name');
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [doomed, setDoomed] = useState<TagRow | null>(null);
  const [busy, setBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string | undefined>();
  const info = useLoad(() => api.repository(ns, repo), `${ns}\n${repo}`);
  const serverSort = sort === 'pushed' ? 'pushed' : 'name';
  const after = cursors[cursors.length - 1];
  const tags = useLoad(() => api.tags(ns, repo, { sort: serverSort, after, n: PAGE }), `${ns}\n${repo}\n${serverSort}\n${after ?? ''}`);

  const changeSort = (s: Sort) => {
    setSort(s);
    if ((s === 'pushed') !== (sort === 'pushed')) setCursors([undefined]);
  };

  if (info.error) {
    return (
      <>
        <h1 tabIndex={-1} class="break">
          {repo}
        </h1>
        <ErrorNotice error={info.error} what={`repository ${repo}`} />
      </>
    );
  }
  const canDelete = info.data?.actions.delete ?? false;
  const rows = tags.data ? [...tags.data.tags] : [];
  if (sort === 'size') rows.sort((a, b) => (b.manifest?.totalSize ?? -1) - (a.manifest?.totalSize ?? -1));
  const mirror = info.data?.mirror;

  const remove = async () => {
    if (!doomed) return;
    setBusy(true);
    setDeleteError(undefined);
    try {
      await api.deleteManifest(ns, repo, doomed.name);
      announce(`Tag ${doomed.name} deleted.`);
      setDoomed(null);
      tags.reload();
    } catch (err) {
      setDeleteError(err instanceof ApiError ? `Wharf answered ${err.status} ${err.code}: ${err.message}` : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1 tabIndex={-1} class="break">
        {repo}
      </h1>
      <section aria-labelledby="usage-h">
        <h2 id="usage-h">Storage use</h2>
        {!info.data ? (
          <Loading what="storage use" />
        ) : info.data.usage ? (
          <p>
            <strong>
              <Size n={info.data.usage.unique} />
            </strong>{' '}
            only in this repository,{' '}
            <strong>
              <Size n={info.data.usage.shared} />
            </strong>{' '}
            shared with other repositories ({info.data.usage.blobs} blobs), as of <Time value={info.data.usageAsOf ?? undefined} />.
          </p>
        ) : (
          <p class="muted">{info.data.computing ? 'Being computed…' : 'Not computed yet.'}</p>
        )}
        {mirror && (
          <p>
            In a mirror of <span class="break">{mirror.upstream}</span>: tags marked “upstream” are the upstream's, as last fetched.
          </p>
        )}
      </section>
      <section aria-labelledby="tags-h">
        <h2 id="tags-h">Tags</h2>
        {tags.error ? (
          <ErrorNotice error={tags.error} what="the tags" />
        ) : !tags.data ? (
          <Loading what="tags" />
        ) : rows.length === 0 ? (
          <p>No tags.</p>
        ) : (
          <TableWrap label="Tags">
            <table aria-busy={tags.loading}>
              <caption class="visually-hidden">Tags of {repo}</caption>
              <thead>
                <tr>
                  <SortHeader label="Tag" sort="name" current={sort} onSort={changeSort} />
                  <th scope="col">Digest</th>
                  <th scope="col">Kind</th>
                  <SortHeader label="Size" sort="size" current={sort} onSort={changeSort} note="sorts this page" num />
                  <SortHeader label="Pushed" sort="pushed" current={sort} onSort={changeSort} />
                  {mirror && <th scope="col">Source</th>}
                  {canDelete && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {rows.map((t) => (
                  <tr key={t.name}>
                    <td>
                      <a href={href.manifest(ns, repo, t.name)}>{t.name}</a>
                    </td>
                    <td>
                      <a href={href.manifest(ns, repo, t.digest)} title={t.digest}>
                        <code class="short">{t.digest}</code>
                      </a>
                    </td>
                    <td>{kindText(t)}</td>
                    <td class="num">
                      <Size n={t.manifest?.totalSize} />
                    </td>
                    <td>
                      <Time value={t.pushed} />
                    </td>
                    {mirror && <td>{t.source === 'upstream' ? 'upstream' : 'pushed here'}</td>}
                    {canDelete && (
                      <td>
                        {t.source === 'pushed' && (
                          <button type="button" class="small danger" onClick={() => setDoomed(t)} aria-label={`Delete tag ${t.name}`}>
                            Delete
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        {tags.data && (
          <nav class="pager" aria-label="Pages of tags">
            <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous page
            </button>
            <span>Page {cursors.length}</span>
            <button type="button" disabled={!tags.data.next} onClick={() => setCursors([...cursors, tags.data!.next])}>
              Next page
            </button>
          </nav>
        )}
      </section>
      {doomed && (
        <ConfirmDialog
          title={`Delete tag ${doomed.name}?`}
          confirmLabel="Delete tag"
          busy={busy}
          error={deleteError}
          onConfirm={remove}
          onCancel={() => {
            setDoomed(null);
            setDeleteError(undefined);
          }}
        >
          <p>
            The tag <strong>{doomed.name}</strong> of <strong>{repo}</strong> goes. The manifest it points at (
            <code>{shortDigest(doomed.digest)}</code>) stays, with any other tags.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
