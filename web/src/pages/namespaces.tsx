// The namespaces the caller may browse, each with its storage use (buildset
// namespaces with their expiry).
import type { NamespaceInfo } from '../api.js';
import { Size, TableWrap, Time } from '../components.js';
import { useApp } from '../context.js';
import { href } from '../router.js';

function Usage({ n }: { n: NamespaceInfo }) {
  if (!n.usage) return <span class="muted">{n.computing ? 'being computed…' : 'not computed yet'}</span>;
  return (
    <span>
      <Size n={n.usage.stored.bytes} /> in {n.usage.stored.blobs} blobs
      {n.usage.unreferencedBytes > 0 && (
        <span class="muted">
          {' '}
          (<Size n={n.usage.unreferencedBytes} /> unreferenced)
        </span>
      )}
    </span>
  );
}

export function NamespacesPage() {
  const { info } = useApp();
  if (!info) return null;
  return (
    <>
      <h1 tabIndex={-1}>Namespaces</h1>
      <p class="lead">
        Each namespace is a registry of its own. This address serves <strong>{info.current}</strong>.
      </p>
      {info.namespaces.length === 0 ? (
        <p>There is no namespace you may see.</p>
      ) : (
        <TableWrap label="Namespaces">
          <table>
            <caption class="visually-hidden">Namespaces and their storage use</caption>
            <thead>
              <tr>
                <th scope="col">Namespace</th>
                <th scope="col">Kind</th>
                <th scope="col">Repositories</th>
                <th scope="col">Storage use</th>
                <th scope="col">As of</th>
              </tr>
            </thead>
            <tbody>
              {info.namespaces.map((n) => (
                <tr key={n.name}>
                  <td>
                    <a href={href.repositories(n.name)}>{n.name}</a>
                    {n.name === info.current && <span class="badge">this address</span>}
                  </td>
                  <td>
                    {n.mirror ? (
                      <span>
                        mirror of <span class="break">{n.mirror.upstream}</span>
                      </span>
                    ) : n.buildset ? (
                      <span>
                        buildset, expires <Time value={n.buildset.expiresAt} />
                      </span>
                    ) : (
                      'registry'
                    )}
                    {n.hosts.length > 0 && <div class="muted">hosts: {n.hosts.join(', ')}</div>}
                  </td>
                  <td class="num">{n.usage ? n.usage.repositories : '—'}</td>
                  <td>
                    <Usage n={n} />
                  </td>
                  <td>{n.usage ? <Time value={n.usage.computedAt} /> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
