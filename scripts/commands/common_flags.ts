/**
 * Flags that many commands take, defined once so that a flag name means the same thing, with
 * the same type, default, range and wording, in every command (docs/cli.md lists them side by
 * side). A command adds what is its own after the common wording (what its seed seeds, what its
 * JSON object holds); a deliberate difference (bench reward/agents' wasm backend) says why in
 * its doc.
 */
import { BACKENDS } from '../../core/backend_names.js';
import { flags } from '../../core/config.js';

/** ` (detail)` when there is one, else nothing. */
function paren(detail: string | undefined): string {
  return detail === undefined ? '' : ` (${detail})`;
}

/**
 * `--json`: the machine-readable contract of scripts/command.ts printJson, one JSON object as the
 * last line of stdout. `holds`: what the object holds, where that needs saying; `when`: when it is
 * printed, where that is not at the end of the command's work.
 */
export function jsonFlag(opts: { holds?: string; when?: string } = {}) {
  const when = opts.when === undefined ? '' : `, ${opts.when}`;
  const holds = opts.holds === undefined ? '' : `: ${opts.holds}`;
  return flags.bool({ doc: `print one JSON summary object as the last line of stdout${when}${holds}`, default: false });
}

/** `--quiet`: no progress bars on stderr (warnings and errors are still written). `detail`: whose bars, where that needs saying. */
export function quietFlag(detail?: string) {
  return flags.bool({ doc: `no progress bars${paren(detail)}`, default: false });
}

/**
 * `--seed`: any integer (negative ones too; core/rng.ts hashes it), default 0; the same seed
 * gives the same run. `what`: what it seeds.
 */
export function seedFlag(what?: string) {
  return flags.int({ doc: `seed${paren(what)}`, default: 0 });
}

/** `--runs-dir` of the commands that create a run folder. */
export const runsDirFlag = flags.string({ doc: 'where run folders are created', default: 'runs' });

/** `--task` of the commands that take a bring-your-own model (`--env`/`--model` path.xml). `detail`: a command's own condition. */
export function taskFlag(detail?: string) {
  return flags.string({ doc: `task module (.js/.mjs/.cjs/.ts) for a bring-your-own model${paren(detail)}`, optional: true });
}

/** The common start of every `--store` doc. */
export const STORE_DOC = 'label store (SQLite file, e.g. runs/<id>/labels.sqlite)';

/** `--store`, required: `role` says what the command does with it ("holding the pairs"). */
export function storeFlag(role: string) {
  return flags.string({ doc: `${STORE_DOC} ${role}` });
}

/** `--store`, optional: without it the command works from another flag (`defaultDoc` says what happens then, when it is a default). */
export function optionalStoreFlag(role: string, defaultDoc?: string) {
  return defaultDoc === undefined ? flags.string({ doc: `${STORE_DOC} ${role}`, optional: true }) : flags.string({ doc: `${STORE_DOC} ${role}`, optional: true, defaultDoc });
}

/**
 * `--backend`, TensorFlow.js's: `auto` (the fastest one installed) in the commands that train,
 * `wasm` in the timing benchmarks (bench reward, bench agents), whose doc says why. `what`: what
 * runs on it.
 */
export function backendFlag(what?: string) {
  return flags.choice(BACKENDS, { doc: `TensorFlow.js backend${paren(what)}`, default: 'auto' });
}

/** The timing benchmarks' `--backend`: wasm unless asked, so their timings compare with the committed results. */
export function benchBackendFlag(what: string) {
  return flags.choice(BACKENDS, {
    doc: `TensorFlow.js backend (${what}); wasm, not auto as elsewhere: the committed results and their comparison with PyTorch are the WASM backend's, and auto would pick a native binding where one is installed`,
    default: 'wasm',
  });
}
