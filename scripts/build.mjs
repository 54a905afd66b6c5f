// One build: ESM + .d.ts from tsc, CommonJS from esbuild (p-retry is ESM-only, so it is bundled
// into the CJS file; undici and opossum stay external), and .d.cts twins for `require` users.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

// One CommonJS file per entry: the main one and `resilient-fetch/chaos`, which the main one never imports.
for (const entry of ['index', 'chaos']) {
  await build({
    entryPoints: [`src/${entry}.ts`],
    outfile: `dist/cjs/${entry}.cjs`,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['undici', 'opossum'],
    sourcemap: true,
    logLevel: 'warning',
  });
}

// Declarations for the CommonJS entry: the same types, with .d.cts names and .cjs specifiers.
const copyDeclarations = (from, to) => {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) copyDeclarations(join(from, entry.name), join(to, entry.name));
    else if (entry.name.endsWith('.d.ts')) {
      const text = readFileSync(join(from, entry.name), 'utf8').replace(/(from\s+['"]\.{1,2}\/[^'"]+)\.js(['"])/g, '$1.cjs$2');
      writeFileSync(join(to, entry.name.replace(/\.d\.ts$/, '.d.cts')), text.replace(/\/\/# sourceMappingURL=.*$/m, ''));
    }
  }
};
copyDeclarations('dist/esm', 'dist/cjs');
// The `bin`: tsc keeps src/cli.ts's shebang; make it executable for direct use from a checkout.
chmodSync('dist/esm/cli.js', 0o755);
console.log('built dist/esm (ESM + .d.ts) and dist/cjs (CommonJS + .d.cts)');
