// Small building blocks shared by the pages. Everything that came from the
// registry (names, labels, annotations, commands) is rendered as text by
// Preact: no HTML is ever built from data.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { bytes } from './format.js';
import { hereHash, href } from './router.js';

export interface Loaded<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload(): void;
}

/**
 * Run `load` when `key` changes; the last answer wins. `ready` may give the
 * first key's answer at once (the boot script's, api.ready): then the first
 * render shows it and nothing is loaded for that key.
 */
export function useLoad<T>(load: () => Promise<T>, key: string, ready?: () => T | undefined): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>(() => {
    const data = ready?.();
    return data === undefined ? { loading: true } : { data, loading: false };
  });
  // Only the first run of the effect, for the first key, is the one `ready` answered.
  const answered = useRef(!state.loading);
  const [round, setRound] = useState(0);
  // A layout effect, not an effect: Preact runs effects only after the next frame
  // is painted, which would hold every load (and the rows) behind a frame of "Loading".
  useLayoutEffect(() => {
    if (answered.current) {
      answered.current = false;
      return undefined;
    }
    let live = true;
    setState((s) => ({ data: s.data, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}

export function ErrorNotice({ error, what }: { error: unknown; what: string }) {
  const back = hereHash();
  if (error instanceof ApiError) {
    if (error.status === 401) {
      return (
        <div class="notice" role="alert">
          <p>
            You need to log in to see {what}. <a href={href.login(back)}>Log in</a>
          </p>
        </div>
      );
    }
    if (error.status === 403) {
      return (
        <div class="notice" role="alert">
          <p>You may not see {what}.</p>
        </div>
      );
    }
    if (error.status === 404) {
      return (
        <div class="notice" role="alert">
          <p>
            Not found: {what} ({error.message}).
          </p>
        </div>
      );
    }
    return (
      <div class="notice error" role="alert">
        <p>
          Wharf answered {error.status} {error.code}: {error.message}
        </p>
      </div>
    );
  }
  return (
    <div class="notice error" role="alert">
      <p>
        Could not load {what}: {String((error as Error)?.message ?? error)}
      </p>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

/** A wide table that scrolls sideways on a narrow screen (focusable, so the keyboard can scroll it). */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // A scrollable region must be focusable to be scrolled with the keyboard (WCAG 2.1.1); a named
    // region, not a <section>, keeps the page's sections to the ones with headings.
    // biome-ignore lint/a11y/useSemanticElements: see above
    // biome-ignore lint/a11y/noNoninteractiveTabindex: see above
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

export function Digest({ value }: { value: string }) {
  return <code class="digest">{value}</code>;
}

export function KeyValues({ caption, entries }: { caption: string; entries: Array<[string, ComponentChildren]> }) {
  return (
    <TableWrap label={caption}>
      <table class="kv">
        <caption>{caption}</caption>
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function copyFallback(text: string): boolean {
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** A command with a Copy button; the result is announced to screen readers. */
export function CopyCommand({ command }: { command: string }) {
  const [status, setStatus] = useState('');
  const copy = async () => {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(command);
        ok = true;
      }
    } catch {
      ok = false;
    }
    if (!ok) ok = copyFallback(command);
    setStatus(ok ? 'Copied' : 'Select the text and copy it');
    setTimeout(() => setStatus(''), 2500);
  };
  return (
    <div class="command">
      <code class="command-text">{command}</code>
      <button type="button" class="small" onClick={copy} aria-label={`Copy: ${command}`}>
        Copy
      </button>
      <span class="copy-status" role="status" aria-live="polite">
        {status}
      </span>
    </div>
  );
}

/** A modal confirmation (native <dialog>: focus stays inside, Escape cancels). */
export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  busy?: boolean;
  error?: string;
  onConfirm(): void;
  onCancel(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // Escape: our state closes the dialog, not the browser.
  const cancel = (e: Event) => {
    e.preventDefault();
    props.onCancel();
  };
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onCancel={cancel}>
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      {props.error && (
        <p class="error-text" role="alert">
          {props.error}
        </p>
      )}
      <div class="buttons">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={props.onConfirm} disabled={props.busy}>
          {props.busy ? 'Deleting…' : props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

export function Time({ value }: { value: number | string | undefined }) {
  if (value === undefined) return <span>—</span>;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return <span>{String(value)}</span>;
  return (
    <time dateTime={d.toISOString()}>{new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(d)}</time>
  );
}

/** A size for people (SI units), with the exact byte count as its machine-readable value. */
export function Size({ n }: { n: number | undefined }) {
  if (n === undefined || !Number.isFinite(n)) return <span>—</span>;
  return <data value={String(n)}>{bytes(n)}</data>;
}
