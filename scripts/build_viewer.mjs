// Bundles the viewer page (viewer/client/, TypeScript + three.js + MuJoCo WASM) with esbuild
// into dist/viewer-web/: app.js (labelling page), render.js (headless rendering), the HTML and
// CSS, mujoco.wasm next to the bundles (the MuJoCo loader looks for it beside the script),
// and gzip copies of the big files that the server sends to browsers that accept gzip.
// Run by `npm run build` after tsc. Usage: node scripts/build_viewer.mjs [--out dir] [--dev]
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
function usage(message) {
  process.stderr.write(`build_viewer: ${message}\n`);
  process.exit(2);
}
if (outIdx >= 0 && (args[outIdx + 1] === undefined || args[outIdx + 1].startsWith('--'))) usage('--out: expected a folder');
const out = resolve(root, outIdx >= 0 ? args[outIdx + 1] : 'dist/viewer-web');
const dev = args.includes('--dev');
const client = join(root, 'viewer', 'client');

// The output folder is emptied first: only when it holds nothing but files this script writes
// (a previous bundle, whole or partial), so a mistyped --out (".", the repository, a home
// folder) never deletes anything else.
const BUNDLE_FILE = /^(?:(?:app|render)\.js(?:\.map|\.gz|\.LEGAL\.txt)?|(?:index|render)\.html|(?:style|render)\.css|mujoco\.wasm(?:\.gz)?)$/;
if (existsSync(out)) {
  if (!statSync(out).isDirectory()) usage(`--out ${out}: is a file, not a folder`);
  const other = readdirSync(out).filter((name) => !BUNDLE_FILE.test(name)).sort();
  if (other.length > 0) usage(`--out ${out}: holds files that are not a viewer bundle (${other.slice(0, 3).join(', ')}${other.length > 3 ? ', ...' : ''}); give an empty or new folder`);
}

const started = Date.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(client, 'main.ts'), render: join(client, 'render_entry.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome111', 'firefox113', 'safari16.4'],
  minify: !dev,
  sourcemap: 'linked',
  // The MuJoCo module imports these only when it runs under Node; the page never does.
  external: ['module', 'fs', 'path', 'url', 'crypto', 'worker_threads'],
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: false,
});

for (const f of ['index.html', 'render.html', 'style.css', 'render.css']) copyFileSync(join(client, f), join(out, f));
const require = createRequire(import.meta.url);
const wasm = join(dirname(require.resolve('@mujoco/mujoco')), 'mujoco.wasm');
copyFileSync(wasm, join(out, 'mujoco.wasm'));
for (const f of ['mujoco.wasm', 'app.js', 'render.js']) {
  writeFileSync(join(out, `${f}.gz`), gzipSync(readFileSync(join(out, f)), { level: 9 }));
}
process.stdout.write(`viewer bundle: ${out} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
