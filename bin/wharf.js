#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install`).
// File I/O and async hashing run on libuv's pool; its default of 4 threads
// queues stats and reads behind each other under concurrent pulls. It must be
// set before the pool is first used.
process.env.UV_THREADPOOL_SIZE ??= '16';
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('wharf: not built yet; run `npm install` (or `npm run build`) first');
    process.exit(1);
  }
  throw err;
});
