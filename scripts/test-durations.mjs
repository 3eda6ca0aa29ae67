// A node --test reporter that prints, per test file, the time its top-level
// tests took (slowest first) and the sum: where test:quick spends its time.
//   WHARF_TEST_REPORTER=./scripts/test-durations.mjs npm run test:quick
// (Failures are named as they happen; the spec reporter shows why.)
export default async function* durations(source) {
  const files = new Map();
  for await (const ev of source) {
    const d = ev.data ?? {};
    if (!d.file || d.nesting !== 0 || (ev.type !== 'test:pass' && ev.type !== 'test:fail')) continue;
    const f = files.get(d.file) ?? { seconds: 0, tests: 0 };
    f.seconds += (d.details?.duration_ms ?? 0) / 1000;
    f.tests++;
    files.set(d.file, f);
    if (ev.type === 'test:fail') yield `FAIL ${d.file}: ${d.name}\n`;
  }
  const rows = [...files].sort((a, b) => b[1].seconds - a[1].seconds);
  let total = 0;
  for (const [file, f] of rows) {
    total += f.seconds;
    yield `${f.seconds.toFixed(1).padStart(7)} s ${String(f.tests).padStart(4)}  ${file.replace(/^.*?dist\//, '')}\n`;
  }
  yield `${total.toFixed(1)} s in ${rows.length} files\n`;
}
