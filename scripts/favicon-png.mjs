// The tab icon as a PNG, rasterized at build time from web/favicon.svg (scripts/build-ui.mjs).
// Chromium fetches a page's icon after each navigation's load and decodes it in the page's
// renderer: an SVG icon there is a separate SVG document (3–5 ms of the renderer's main-thread
// CPU in a trace, while the new page's first frame was being rastered); a 32×32 PNG is a plain
// image decode. The SVG holds only rectangles (with `rx`) and paths of straight lines
// (M/m H/h V/v L/l Z/z), each with a `fill` colour: that is all this draws (anything else
// fails the build).
import { deflateSync } from 'node:zlib';

const SAMPLES = 4; // per pixel and axis: 16 samples, for smooth edges

/** The shapes of the SVG, each a test "is this point inside" and an RGB colour. */
function shapes(svg) {
  const viewBox = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(svg);
  if (!viewBox) throw new Error('favicon.svg: no viewBox="0 0 w h"');
  const out = [];
  for (const [, tag, attrs] of svg.matchAll(/<(rect|path) ([^>]*?)\/>/g)) {
    const attr = (n) => new RegExp(`(?:^| )${n}="([^"]*)"`).exec(attrs)?.[1];
    const fill = attr('fill') ?? '';
    if (!/^#[0-9a-f]{6}$/i.test(fill) && fill !== '#fff') throw new Error(`favicon.svg: fill ${fill} is not #rrggbb`);
    const hex = fill === '#fff' ? 'ffffff' : fill.slice(1);
    const rgb = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    if (tag === 'rect') {
      const [x, y, w, h, rx] = ['x', 'y', 'width', 'height', 'rx'].map((n) => Number(attr(n) ?? 0));
      out.push({
        rgb,
        inside(px, py) {
          if (px < x || py < y || px > x + w || py > y + h) return false;
          // Rounded corners: outside the corner's circle is outside.
          const cx = Math.min(Math.max(px, x + rx), x + w - rx);
          const cy = Math.min(Math.max(py, y + rx), y + h - rx);
          return (px - cx) ** 2 + (py - cy) ** 2 <= rx * rx;
        },
      });
    } else {
      out.push({ rgb, inside: polygonsTest(pathPolygons(attr('d') ?? '')) });
    }
  }
  if (out.length === 0) throw new Error('favicon.svg: no shapes');
  return { width: Number(viewBox[1]), height: Number(viewBox[2]), shapes: out };
}

/** The subpaths of a path of straight lines, as polygons. */
function pathPolygons(d) {
  const polys = [];
  let poly = [];
  let x = 0;
  let y = 0;
  let start = [0, 0];
  const to = (nx, ny) => {
    x = nx;
    y = ny;
    poly.push([x, y]);
  };
  for (const [, cmd, args] of d.matchAll(/([MmHhVvLlZz])([^MmHhVvLlZz]*)/g)) {
    const n = (args.match(/-?[\d.]+/g) ?? []).map(Number);
    const rel = cmd === cmd.toLowerCase();
    const ox = rel ? x : 0;
    const oy = rel ? y : 0;
    switch (cmd.toUpperCase()) {
      case 'M':
        if (poly.length) polys.push(poly);
        poly = [];
        to(ox + n[0], oy + n[1]);
        start = [x, y];
        // Further pairs after a moveto are linetos.
        for (let i = 2; i + 1 < n.length; i += 2) to((rel ? x : 0) + n[i], (rel ? y : 0) + n[i + 1]);
        break;
      case 'L':
        for (let i = 0; i + 1 < n.length; i += 2) to((rel ? x : 0) + n[i], (rel ? y : 0) + n[i + 1]);
        break;
      case 'H':
        for (const v of n) to((rel ? x : 0) + v, y);
        break;
      case 'V':
        for (const v of n) to(x, (rel ? y : 0) + v);
        break;
      case 'Z':
        if (poly.length) polys.push(poly);
        poly = [];
        [x, y] = start;
        break;
      default:
        throw new Error(`favicon.svg: path command ${cmd} is not drawn`);
    }
  }
  if (poly.length) polys.push(poly);
  return polys;
}

/** Non-zero winding over all subpaths. */
function polygonsTest(polys) {
  return (px, py) => {
    let wind = 0;
    for (const p of polys) {
      for (let i = 0; i < p.length; i++) {
        const [x1, y1] = p[i];
        const [x2, y2] = p[(i + 1) % p.length];
        if (y1 <= py && y2 > py && (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1) > 0) wind++;
        else if (y1 > py && y2 <= py && (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1) < 0) wind--;
      }
    }
    return wind !== 0;
  };
}

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** `svg` (plain shapes, see above) as a `size`×`size` RGBA PNG. */
export function faviconPng(svg, size = 32) {
  const { width, height, shapes: list } = shapes(svg);
  const rows = [];
  for (let py = 0; py < size; py++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0: none
    for (let px = 0; px < size; px++) {
      // Premultiplied sums over the samples, shapes painted in order (source-over).
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const x = ((px + (sx + 0.5) / SAMPLES) * width) / size;
          const y = ((py + (sy + 0.5) / SAMPLES) * height) / size;
          let top;
          for (const s of list) if (s.inside(x, y)) top = s;
          if (!top) continue;
          r += top.rgb[0];
          g += top.rgb[1];
          b += top.rgb[2];
          a += 1;
        }
      }
      const o = 1 + px * 4;
      if (a > 0) {
        row[o] = Math.round(r / a);
        row[o + 1] = Math.round(g / a);
        row[o + 2] = Math.round(b / a);
      }
      row[o + 3] = Math.round((255 * a) / (SAMPLES * SAMPLES));
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
