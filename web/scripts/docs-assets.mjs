// Copies Swagger UI's files into the export (out/docs-assets/), so the API's /docs page
// works on a machine with no internet; without them it falls back to a CDN.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const dist = dirname(require.resolve('swagger-ui-dist/package.json'));
const target = new URL('../out/docs-assets/', import.meta.url).pathname;
mkdirSync(target, { recursive: true });
for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png']) {
  copyFileSync(join(dist, name), join(target, name));
}
console.log(`docs assets: Swagger UI copied to ${target}`);
