#!/usr/bin/env node
// Entry point of the `prefrl` command. Runs the compiled CLI from dist/ (built by `npm install`
// through the `prepare` script, or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/scripts/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('prefrl: the compiled CLI is missing (dist/). Run `npm install` or `npm run build` in the prefrl folder.\n');
  process.exit(1);
}
// A reader that goes away (prefrl labels export --out - | head -1): stop quietly, as Unix tools
// do, not with Node's "Unhandled 'error' event ... write EPIPE" and its stack.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
