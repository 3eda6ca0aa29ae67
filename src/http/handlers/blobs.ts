// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
import { pipeline } from 'node:stream/promises';
import { openBlobFile, presignBlob, readBlob, statBlob, unlinkBlob } from '../../registry/blobs.js';
import { parseDigest } from '../../registry/names.js';
import { HttpError } from '../errors.js';
import { send, type Context } from '../context.js';
import { parseRange } from '../headers.js';
import { notifyBlob, notifyDeleteDigest } from '../notify.js';
import { canSendfile, sendFileBody } from '../sendfile.js';

const REDIRECT_SECONDS = 20 * 60;

export async function getBlob(ctx: Context, repo: string, digestText: string): Promise<void> {
  const digest = parseDigest(digestText);
  const { size } = await statBlob(ctx.scope, repo, digest);
  const common = {
    'Docker-Content-Digest': digest.text,
    ETag: `"${digest.text}"`,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000',
  };
  const range = parseRange(ctx.req.headers.range, size);
  if (ctx.req.method === 'HEAD') {
    send(ctx, 200, { ...common, 'Content-Type': 'application/octet-stream', 'Content-Length': size });
    return;
  }
  if (ctx.config.storage.redirect && !range) {
    const url = await presignBlob(ctx.scope, digest, REDIRECT_SECONDS);
    if (url) {
      send(ctx, 307, { ...common, Location: url });
      notifyBlob(ctx, 'pull', repo, digest.text, size);
      return;
    }
  }
  if (size === 0) {
    send(ctx, 200, { ...common, 'Content-Type': 'application/octet-stream' }, Buffer.alloc(0));
    notifyBlob(ctx, 'pull', repo, digest.text, size);
    return;
  }
  const { res } = ctx;
  const setHeaders = () => {
    res.statusCode = range ? 206 : 200;
    for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
    res.setHeader('Content-Type', 'application/octet-stream');
    if (range) {
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
      res.setHeader('Content-Length', range.end - range.start + 1);
    } else {
      res.setHeader('Content-Length', size);
    }
  };
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  if (canSendfile(res, end - start + 1)) {
    const fh = await openBlobFile(ctx.scope, digest);
    if (fh) {
      try {
        // The handle pins one version of the file: it must hold the bytes the headers announce.
        const st = await fh.stat();
        if (st.isFile() && st.size === size) {
          setHeaders();
          await sendFileBody(res, fh, start, end);
          if (!range) notifyBlob(ctx, 'pull', repo, digest.text, size);
          return;
        }
      } finally {
        await fh.close();
      }
    }
  }
  const stream = await readBlob(ctx.scope, digest, range ?? undefined);
  setHeaders();
  await pipeline(stream, res);
  if (!range) notifyBlob(ctx, 'pull', repo, digest.text, size);
}

export async function deleteBlob(ctx: Context, repo: string, digestText: string): Promise<void> {
  if (!ctx.config.deleteEnabled) throw new HttpError('UNSUPPORTED', 'deletes are disabled on this registry');
  const digest = parseDigest(digestText);
  await unlinkBlob(ctx.scope, repo, digest);
  send(ctx, 202, {});
  notifyDeleteDigest(ctx, repo, digest.text);
}
