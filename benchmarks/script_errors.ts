/**
 * Imported first by the benchmark scripts that start the tensor backend: an error that ends the
 * script (a run folder that is not one, a missing file) prints one line, `<script>: <message>`,
 * and exits with status 1. Without it, the error reached the WASM backend's own uncaught-exception
 * handler, which rethrows it from inside its minified source, and Node printed that source line
 * (thousands of characters) above the message. Set PREFRL_STACK=1 to see the stack as well.
 *
 * Node calls 'uncaughtException' and 'unhandledRejection' listeners in the order they were added,
 * and this module adds its own before any backend starts, so it answers first.
 */
import { basename } from 'node:path';

const script = basename(process.argv[1] ?? 'script');

function fail(e: unknown): never {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`${script}: ${message}\n`);
  if (process.env.PREFRL_STACK && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
