// Bytes as the UI shows them, in SI units as podman and docker print image sizes: one function
// for the page the server renders (first-page.ts) and the app (web/src/format.ts imports this
// file into its bundle), so the rows look the same before and after the app takes over. No
// imports: the browser bundle takes it as it is.

/** `n` bytes in SI units: `999 B`, `1.23 kB`, `45.6 MB`, `789 GB`. */
export function siBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}
