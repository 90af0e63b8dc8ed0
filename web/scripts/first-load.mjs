// Prints the JavaScript each exported page loads up front (the <script src> files of
// its index.html), raw and gzipped, and exits 1 if `/` exceeds the budget. `noModule`
// scripts (polyfills that only browsers without ES modules fetch) are left out.
// Usage: npm run build && node scripts/first-load.mjs [budgetKB=150]
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const OUT = new URL('../out/', import.meta.url).pathname;
const budget = Number(process.argv[2] ?? 150) * 1024;
const pages = { '/': 'index.html', '/history/': 'history/index.html', '/job/': 'job/index.html', '/dashboard/': 'dashboard/index.html' };
const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
let rootGz = 0;

for (const [route, file] of Object.entries(pages)) {
  const path = join(OUT, file);
  if (!existsSync(path)) {
    console.error(`missing ${path}: run npm run build first`);
    process.exit(2);
  }
  const html = readFileSync(path, 'utf8');
  const tags = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]).filter((t) => !/\snoModule/i.test(t));
  const srcs = [...new Set(tags.map((t) => /\ssrc="([^"]+)"/.exec(t)?.[1]).filter(Boolean))];
  let raw = 0;
  let gz = 0;
  for (const src of srcs) {
    const buf = readFileSync(join(OUT, src.replace(/^\//, '').split('?')[0]));
    raw += buf.length;
    gz += gzipSync(buf, { level: 9 }).length;
  }
  const htmlGz = gzipSync(Buffer.from(html), { level: 9 }).length;
  if (route === '/') rootGz = gz;
  console.log(`${route.padEnd(12)} ${String(srcs.length).padStart(2)} scripts  ${kb(raw).padStart(9)} raw  ${kb(gz).padStart(9)} gzip   (HTML ${kb(htmlGz)} gzip)`);
}
console.log(`first-load JS of / : ${kb(rootGz)} gzip (budget ${kb(budget)})`);
process.exit(rootGz > budget ? 1 : 0);
