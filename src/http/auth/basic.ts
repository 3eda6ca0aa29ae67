// HTTP Basic credentials (RFC 7617): "Basic base64(user:password)".
export interface BasicCredentials {
  user: string;
  pass: string;
}

/** The scheme of an Authorization header, lower-cased ('basic', 'bearer', ...), or null. */
export function authScheme(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: |$)/.exec(header.trim());
  return m ? m[1]!.toLowerCase() : '';
}

/** Parse Basic credentials; null when the header is not valid Basic. */
export function parseBasic(header: string | undefined): BasicCredentials | null {
  if (header === undefined) return null;
  const m = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(header.trim());
  if (!m || m[1]!.length > 8192) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  return { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}

/** The token of "Bearer <token>", or null. */
export function parseBearer(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header.trim());
  return m ? m[1]! : null;
}
