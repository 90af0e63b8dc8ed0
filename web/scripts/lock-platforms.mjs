// The package registry this project is built against serves only the Linux builds of
// next's native compiler (@next/swc-*), so `npm install` leaves the macOS and Windows
// ones out of package-lock.json, and `npm ci` then refuses the lock file ("Missing:
// @next/swc-darwin-arm64@ from lock file"). This adds lock entries for them (same
// version, their os/cpu, optional, no integrity): npm skips them on Linux and fetches
// them by name on the platform that needs them.
// Run after any `npm install` that rewrites the lock file: node scripts/lock-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const next = lock.packages['node_modules/next'];
let added = 0;
for (const [name, version] of Object.entries(next?.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const m = /^@next\/swc-(darwin|win32|linux)-(arm64|x64)/.exec(name);
  if (!m) continue;
  lock.packages[key] = {
    version,
    cpu: [m[2]],
    license: 'MIT',
    optional: true,
    os: [m[1]],
    engines: { node: '>= 10' },
  };
  added += 1;
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: added ${added} platform entr${added === 1 ? 'y' : 'ies'}`);
