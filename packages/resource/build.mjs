// Builds dist/: ESM JavaScript, type declarations and source maps, from src/ with the TypeScript compiler. The
// compiler rewrites `./x.ts` imports to `./x.js` in JavaScript but not in declarations; rewritten here, so
// that projects on any TypeScript version (and any moduleResolution) read them.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync('tsc', ['-p', join(here, 'tsconfig.json')], {
  stdio: 'inherit',
  shell: process.platform === 'win32',
});

for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const path = join(entry.parentPath, entry.name);
  const source = readFileSync(path, 'utf8');
  const rewritten = source.replace(/(from\s+['"]\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1.js$2');
  if (rewritten !== source) writeFileSync(path, rewritten);
}
