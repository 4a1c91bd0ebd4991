/**
 * What the timing benches (bench agents, bench reward; bench regret for its --out check) share
 * about their output: the --out folder is checked before anything is timed, and the result is
 * written and shown the same way at the end.
 */
import { resolve } from 'node:path';
import { checkOutFolder } from '../../core/paths.js';
import { type CommandContext, printJson } from '../command.js';
import { writeBenchFiles } from '../torch.js';
import { withHandNotes } from './hand_notes.js';
import { checkWritableFolder } from './writable.js';

/**
 * Refuse an --out folder the bench could not write its files into, now, not after the timings:
 * a file in its place (checkOutFolder), or a folder this user may not write into.
 */
export function checkBenchOut(out: string): void {
  checkOutFolder(out);
  checkWritableFolder(resolve(out), '--out', out);
}

/** One row of a markdown table; an empty cell is "| |", as in the files written before. */
export function mdRow(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`.replace(/ {2}\|/g, ' |');
}

/**
 * The end of a timing bench: with --out, `<out>/<name>.json` (the result) and `<out>/<name>.md`
 * (notes written by hand into the file it replaces are kept: hand_notes.ts); then the result on
 * standard output, as JSON with --json, else as the table `table()` gives.
 */
export function showBenchResult(ctx: CommandContext, f: { readonly out?: string; readonly json: boolean }, name: string, result: unknown, md: string, table: () => string): void {
  if (f.out) writeBenchFiles(f.out, name, result, withHandNotes(f.out, name, md), ctx.logger);
  if (f.json) printJson(ctx.io, result);
  else ctx.io.stdout.write(`${table()}\n`);
}
