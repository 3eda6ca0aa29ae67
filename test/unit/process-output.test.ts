// The test helpers' two ways of keeping a server's output (test/helpers/process-output.ts):
// 'memory' for tests that assert on it, 'file' for the bench (no pipe into the measuring process).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { processOutput, type OutputTo } from '../helpers/process-output.js';

const tmp = mkdtempSync(join(tmpdir(), 'wharf-process-output-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function run(to: OutputTo, script: string, file: string) {
  const io = processOutput(to, join(tmp, file));
  const child = spawn(process.execPath, ['-e', script], { stdio: io.stdio });
  io.attach(child);
  const code = await new Promise<number | null>((res) => child.once('close', res));
  assert.equal(code, 0);
  return { io, child };
}

const BOTH = `process.stdout.write('to stdout\\n'); process.stderr.write('to stderr\\n');`;

describe('processOutput', () => {
  it("'memory' keeps stdout and stderr, read through pipes", async () => {
    const { io, child } = await run('memory', BOTH, 'memory.log');
    assert.ok(child.stdout && child.stderr, 'pipes into this process');
    assert.match(io.output(), /to stdout\n/);
    assert.match(io.output(), /to stderr\n/);
  });

  it("'file' writes both to the file, with no pipe into this process", async () => {
    const { io, child } = await run('file', BOTH, 'small.log');
    assert.equal(child.stdout, null);
    assert.equal(child.stderr, null);
    assert.match(io.output(), /to stdout\n/);
    assert.match(io.output(), /to stderr\n/);
  });

  it("'file' output() of a large file is its head and tail only", async () => {
    // 40 000 numbered lines of 64 bytes: about 2.6 MB.
    const script = `const l = []; for (let i = 0; i < 40000; i++) l.push(String(i).padStart(63, '.')); process.stderr.write(l.join('\\n') + '\\nlast line\\n');`;
    const { io } = await run('file', script, 'large.log');
    const out = io.output();
    assert.ok(out.length < 100_000, `bounded: ${out.length} characters`);
    assert.ok(out.startsWith(`${'0'.padStart(63, '.')}\n`), 'starts with the first line');
    assert.ok(out.endsWith('last line\n'), 'ends with the last line');
    assert.match(out, /… \(\d+ bytes of .*large\.log not shown\) …/);
  });
});
