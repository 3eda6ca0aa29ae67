// One manifest: for an index its platforms; for an image its layers, total
// size and config (architecture, OS, created, entrypoint, command,
// environment, labels, history); its annotations; its referrers
// (signatures, SBOMs, attestations) grouped by artifactType; pull commands
// for the tag and the digest; delete for users who may delete.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, type Blob, type ManifestAnswer } from '../api.js';
import { ConfirmDialog, CopyCommand, Digest, ErrorNotice, KeyValues, Loading, Size, TableWrap, Time, useLoad } from '../components.js';
import { pullAddress, useApp } from '../context.js';
import { mediaTypeName, shortDigest } from '../format.js';
import { href } from '../router.js';

function PullCommands({ ns, repo, reference, digest }: { ns: string; repo: string; reference: string; digest: string }) {
  const { info } = useApp();
  const address = pullAddress(info, ns);
  if (!address) {
    return (
      <p>
        Namespace <strong>{ns}</strong> has no address of its own: clients reach it as a mirror, with <code>?ns={ns}</code> (containerd's{' '}
        <code>hosts.toml</code>).
      </p>
    );
  }
  const insecure = location.protocol === 'http:' ? ' --tls-verify=false' : '';
  const refs: Array<[string, string]> = [];
  if (reference !== digest) refs.push([`tag ${reference}`, `${address}/${repo}:${reference}`]);
  refs.push(['digest', `${address}/${repo}@${digest}`]);
  return (
    <div class="commands">
      {refs.map(([what, image]) => (
        <div key={what} class="command-group">
          <h3>By {what}</h3>
          <CopyCommand command={`podman pull${insecure} ${image}`} />
          <CopyCommand command={`docker pull ${image}`} />
          <CopyCommand command={`skopeo inspect${insecure} docker://${image}`} />
        </div>
      ))}
    </div>
  );
}

function Labels({ caption, map }: { caption: string; map: Record<string, string> | undefined }) {
  const entries = Object.entries(map ?? {});
  if (entries.length === 0) return null;
  return <KeyValues caption={caption} entries={entries.map(([k, v]) => [k, <span class="break">{v}</span>])} />;
}

function list(v: string[] | undefined) {
  if (!v || v.length === 0) return '—';
  return <code class="break">{JSON.stringify(v)}</code>;
}

function Layers({ layers, config, total }: { layers: Blob[]; config?: Blob; total?: number }) {
  return (
    <TableWrap label="Layers">
      <table>
        <caption>Config and layers</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Media type</th>
            <th scope="col">Digest</th>
            <th scope="col" class="num">
              Size
            </th>
          </tr>
        </thead>
        <tbody>
          {config && (
            <tr>
              <td>config</td>
              <td class="break">{config.mediaType}</td>
              <td>
                <Digest value={config.digest} />
              </td>
              <td class="num">
                <Size n={config.size} />
              </td>
            </tr>
          )}
          {layers.map((l, i) => (
            <tr key={`${i}${l.digest}`}>
              <td>{i + 1}</td>
              <td class="break">{l.mediaType}</td>
              <td>
                <Digest value={l.digest} />
              </td>
              <td class="num">
                <Size n={l.size} />
              </td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Total with the manifest
            </th>
            <td class="num">
              <Size n={total} />
            </td>
          </tr>
        </tfoot>
      </table>
    </TableWrap>
  );
}

function ImageConfig({ m }: { m: ManifestAnswer }) {
  const img = m.image;
  if (!img) return m.imageProblem ? <p class="muted">Config details are not shown: {m.imageProblem}.</p> : null;
  return (
    <>
      <KeyValues
        caption="Image configuration"
        entries={[
          ['Platform', [img.os, img.architecture, img.variant].filter((x) => x).join('/') || '—'],
          ['Created', <Time value={img.created} />],
          ['Author', img.author ?? '—'],
          ['Entrypoint', list(img.entrypoint)],
          ['Command', list(img.cmd)],
          ['Working directory', img.workingDir || '—'],
          ['User', img.user || '—'],
          ['Exposed ports', img.exposedPorts?.length ? img.exposedPorts.join(', ') : '—'],
          ['Volumes', img.volumes?.length ? img.volumes.join(', ') : '—'],
          ['Stop signal', img.stopSignal ?? '—'],
        ]}
      />
      {img.env && img.env.length > 0 && (
        <section aria-labelledby="env-h">
          <h3 id="env-h">Environment</h3>
          <ul class="plain">
            {img.env.map((e, i) => (
              <li key={i}>
                <code class="break">{e}</code>
              </li>
            ))}
          </ul>
        </section>
      )}
      <Labels caption="Labels" map={img.labels} />
      {img.history && img.history.length > 0 && (
        <TableWrap label="History">
          <table>
            <caption>History</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Created by</th>
                <th scope="col">Comment</th>
                <th scope="col">Layer</th>
              </tr>
            </thead>
            <tbody>
              {img.history.map((h, i) => (
                <tr key={i}>
                  <td>
                    <Time value={h.created} />
                  </td>
                  <td>
                    <code class="break">{h.createdBy ?? ''}</code>
                  </td>
                  <td class="break">{h.comment ?? ''}</td>
                  <td>{h.emptyLayer ? 'none' : 'yes'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}

function Platforms({ m, ns, repo }: { m: ManifestAnswer; ns: string; repo: string }) {
  const children = m.manifests ?? [];
  return (
    <TableWrap label="Platforms">
      <table>
        <caption class="visually-hidden">Platforms</caption>
        <thead>
          <tr>
            <th scope="col">Platform</th>
            <th scope="col">Digest</th>
            <th scope="col">Media type</th>
            <th scope="col" class="num">
              Manifest size
            </th>
          </tr>
        </thead>
        <tbody>
          {children.map((c) => {
            const p = c.platform;
            const name = c.artifactType
              ? `artifact: ${c.artifactType}`
              : [p?.os, p?.architecture, p?.variant].filter((x) => x).join('/') || 'unknown';
            return (
              <tr key={c.digest}>
                <td class="platform">{name}</td>
                <td>
                  {c.held ? (
                    <a href={href.manifest(ns, repo, c.digest)} aria-label={`${name} manifest ${c.digest}`}>
                      <Digest value={c.digest} />
                    </a>
                  ) : (
                    <>
                      <Digest value={c.digest} /> <span class="muted">(not held here)</span>
                    </>
                  )}
                </td>
                <td class="break">{mediaTypeName(c.mediaType)}</td>
                <td class="num">
                  <Size n={c.size} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableWrap>
  );
}

function Referrers({ m, ns, repo }: { m: ManifestAnswer; ns: string; repo: string }) {
  if (m.referrers.length === 0) return <p>No signatures, SBOMs or other artifacts refer to this manifest.</p>;
  return (
    <>
      {m.referrers.map((g) => (
        <TableWrap key={g.artifactType} label={`Referrers of type ${g.artifactType}`}>
          <table class="referrers">
            <caption class="break">{g.artifactType}</caption>
            <thead>
              <tr>
                <th scope="col">Digest</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">Annotations</th>
              </tr>
            </thead>
            <tbody>
              {g.manifests.map((d) => (
                <tr key={d.digest}>
                  <td>
                    <a href={href.manifest(ns, repo, d.digest)} aria-label={`referrer ${d.digest}`}>
                      <Digest value={d.digest} />
                    </a>
                  </td>
                  <td class="num">
                    <Size n={d.size} />
                  </td>
                  <td>
                    {Object.entries(d.annotations ?? {}).map(([k, v]) => (
                      <div key={k} class="break">
                        <span class="muted">{k}:</span> {v}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ))}
    </>
  );
}

export function ManifestPage({ ns, repo, reference }: { ns: string; repo: string; reference: string }) {
  const { announce } = useApp();
  const m = useLoad(() => api.manifest(ns, repo, reference), `${ns}\n${repo}\n${reference}`);
  const repoInfo = useLoad(() => api.repository(ns, repo), `${ns}\n${repo}`);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string | undefined>();
  const isTag = !reference.includes(':');
  const title = isTag ? `${repo}:${reference}` : `${repo}@${shortDigest(reference)}`;

  if (m.error) {
    return (
      <>
        <h1 tabIndex={-1} class="break">
          {title}
        </h1>
        <ErrorNotice error={m.error} what={`manifest ${reference}`} />
        <p>
          <a href={href.repository(ns, repo)}>Back to {repo}</a>
        </p>
      </>
    );
  }
  if (!m.data) {
    return (
      <>
        <h1 tabIndex={-1} class="break">
          {title}
        </h1>
        <Loading what="the manifest" />
      </>
    );
  }
  const d = m.data;
  const canDelete = repoInfo.data?.actions.delete ?? false;
  const mirror = repoInfo.data?.mirror;

  const remove = async () => {
    setBusy(true);
    setDeleteError(undefined);
    try {
      await api.deleteManifest(ns, repo, d.digest);
      announce(`Manifest ${shortDigest(d.digest)} deleted.`);
      location.hash = href.repository(ns, repo);
    } catch (err) {
      setDeleteError(err instanceof ApiError ? `Wharf answered ${err.status} ${err.code}: ${err.message}` : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1 tabIndex={-1} class="break">
        {title}
      </h1>
      <KeyValues
        caption="Manifest"
        entries={[
          ['Digest', <Digest value={d.digest} />],
          ['Kind', d.kind === 'index' ? 'index (several platforms)' : d.kind === 'image' ? 'image' : 'artifact'],
          ['Media type', <span class="break">{d.mediaType}</span>],
          ...(d.artifactType
            ? ([['Artifact type', <span class="break">{d.artifactType}</span>]] as Array<[string, ComponentChildren]>)
            : []),
          ['Manifest size', <Size n={d.size} />],
          ['Total size', <Size n={d.totalSize} />],
          ['Pushed', <Time value={d.pushed} />],
          ...(mirror
            ? ([['Came from', d.origin === 'upstream' ? `the upstream, ${mirror.upstream}` : 'a push to this namespace']] as Array<
                [string, ComponentChildren]
              >)
            : []),
          ...(d.subject
            ? ([
                [
                  'Refers to',
                  <a href={href.manifest(ns, repo, d.subject)} aria-label={`subject manifest ${d.subject}`}>
                    <Digest value={d.subject} />
                  </a>,
                ],
              ] as Array<[string, ComponentChildren]>)
            : []),
        ]}
      />
      <section aria-labelledby="pull-h">
        <h2 id="pull-h">Pull</h2>
        <PullCommands ns={ns} repo={repo} reference={reference} digest={d.digest} />
      </section>
      {d.kind === 'index' && (
        <section aria-labelledby="platforms-h">
          <h2 id="platforms-h">Platforms</h2>
          <Platforms m={d} ns={ns} repo={repo} />
        </section>
      )}
      {d.kind !== 'index' && (
        <section aria-labelledby="content-h">
          <h2 id="content-h">{d.kind === 'image' ? 'Image' : 'Content'}</h2>
          <Layers layers={d.layers ?? []} config={d.config} total={d.totalSize} />
          <ImageConfig m={d} />
        </section>
      )}
      <section aria-labelledby="annotations-h">
        <h2 id="annotations-h">Annotations</h2>
        {d.annotations && Object.keys(d.annotations).length > 0 ? (
          <Labels caption="Manifest annotations" map={d.annotations} />
        ) : (
          <p>None.</p>
        )}
      </section>
      <section aria-labelledby="referrers-h">
        <h2 id="referrers-h">Referrers</h2>
        <Referrers m={d} ns={ns} repo={repo} />
      </section>
      {canDelete && (
        <section aria-labelledby="delete-h">
          <h2 id="delete-h">Delete</h2>
          <p>Deleting the manifest removes it from {repo} with every tag that points at it.</p>
          <button type="button" class="danger" onClick={() => setConfirming(true)}>
            Delete manifest
          </button>
        </section>
      )}
      {confirming && (
        <ConfirmDialog
          title="Delete this manifest?"
          confirmLabel="Delete manifest"
          busy={busy}
          error={deleteError}
          onConfirm={remove}
          onCancel={() => {
            setConfirming(false);
            setDeleteError(undefined);
          }}
        >
          <p>
            <Digest value={d.digest} /> leaves <strong>{repo}</strong> with every tag pointing at it. Its layers go at the next prune if
            nothing else uses them.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
