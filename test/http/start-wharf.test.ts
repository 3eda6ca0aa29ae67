// test/helpers/wharf.ts startWharf: freePort() closes its socket before wharf
// binds, so another process may take the port in between (test:quick runs two
// files at once). Forced here: the port is taken right after it is picked;
// the helper must see wharf's EADDRINUSE and come up on another port.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { freePort, startWharf, type WharfProcess } from '../helpers/wharf.js';

describe('startWharf when the picked port is taken before wharf binds it', () => {
  let blocker: Server | undefined;
  let w: WharfProcess | undefined;
  after(async () => {
    await w?.cleanup();
    await new Promise((r) => (blocker ? blocker.close(r) : r(undefined)));
  });

  it('starts again on another port, and that wharf answers', async () => {
    const picked: number[] = [];
    w = await startWharf({
      pickPort: async () => {
        const port = await freePort();
        picked.push(port);
        if (picked.length === 1) {
          // Someone else binds it first (and hangs up on whoever connects).
          blocker = createServer((socket) => socket.destroy());
          await new Promise<void>((res, rej) => {
            blocker!.once('error', rej);
            blocker!.listen(port, '127.0.0.1', res);
          });
        }
        return port;
      },
    });
    assert.equal(picked.length, 2, `ports picked: ${picked.join(', ')}`);
    assert.notEqual(w.port, picked[0]);
    assert.equal(w.port, picked[1]);
    const r = await fetch(`${w.url}/v2/`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {});
    assert.match(w.output(), /"msg":"wharf listening"/);
  });
});
