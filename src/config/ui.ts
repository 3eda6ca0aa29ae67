// `registry.ui`: the web UI served at /ui/ (on by default).
//
//   ui: false                      # no /ui/ and no /v2/_wharf/ endpoints
//   ui:
//     enabled: true
//     usage-max-age: 600           # seconds a storage-use summary is shown before a page view starts a new one
import type { Reader } from './reader.js';

export interface UiConfig {
  enabled: boolean;
  /** How old (s) a namespace's storage-use summary may be before a page view starts computing a new one. */
  usageMaxAgeSeconds: number;
}

export const UI_DEFAULTS: UiConfig = { enabled: true, usageMaxAgeSeconds: 600 };

/** `ui` is either a boolean or a mapping. */
export function readUi(parent: Reader, raw: unknown): UiConfig {
  if (raw === undefined || raw === null) return { ...UI_DEFAULTS };
  if (typeof raw === 'boolean' || raw === 'true' || raw === 'false') {
    return { ...UI_DEFAULTS, enabled: parent.boolean('ui', true) };
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) parent.fail('ui', `must be true, false or a mapping (got ${JSON.stringify(raw)})`);
  const r = parent.child('ui');
  r.only(['enabled', 'usage-max-age']);
  return {
    enabled: r.boolean('enabled', true),
    usageMaxAgeSeconds: r.integer('usage-max-age', UI_DEFAULTS.usageMaxAgeSeconds, 0, 366 * 86400),
  };
}
