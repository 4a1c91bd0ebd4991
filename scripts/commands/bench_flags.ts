/**
 * Flags that several `prefrl bench` subcommands take, defined once so that one name has one
 * meaning, type, parse and error wording across them (test/cli_flags_consistent.test.ts checks
 * it): the PyTorch reference's switch, interpreter and thread counts (bench agents, bench reward),
 * the synthetic input sizes, the counts (timed repeats, warm-up runs, seeds: only seeds capped,
 * see MAX_BENCH_SEEDS) and the result
 * folder of the commands that write one by default. A default that differs between commands says
 * why in its doc.
 */
import { availableParallelism } from 'node:os';
import { flags, positiveInts } from '../../core/config.js';

/** `--torch`: whether to run the PyTorch reference(s) (`--no-torch` skips them). */
export const torchFlag = flags.bool({ doc: 'run the PyTorch reference when python3 with torch is found (--no-torch skips it)', default: true });

/** `--python`: the interpreter of the PyTorch reference. */
export const pythonFlag = flags.string({ doc: 'Python interpreter for the PyTorch reference', defaultDoc: 'python3, then /usr/bin/python3', optional: true });

/** The start of every `--torch-threads` doc. */
export const TORCH_THREADS_DOC = 'torch.set_num_threads values: the PyTorch reference runs once per value';

/**
 * `--torch-threads`: a list of positive thread counts, one reference run each. `defaultDoc` names
 * the command's default and, where it is not bench agents' `1,<number of CPUs>`, why.
 */
export function torchThreadsFlag(defaultDoc: string) {
  return flags.list({ doc: TORCH_THREADS_DOC, defaultDoc, optional: true });
}

/**
 * The thread counts of `--torch-threads` (`given`), or `fallback` (with `<number of CPUs>` read
 * here) when it was not given: positive integers, duplicates dropped in order. A bad value is a
 * UsageError naming --torch-threads, the same words in every command.
 */
export function torchThreadCounts(given: readonly string[] | undefined, fallback: 'one and all CPUs' | 'all CPUs'): number[] {
  const nproc = String(availableParallelism());
  const list = given ?? (fallback === 'all CPUs' ? [nproc] : ['1', nproc]);
  return [...new Set(positiveInts(list, '--torch-threads'))];
}

/**
 * `--out` of the bench subcommands that write result files without being asked (bench oracle,
 * bench regret): by default a scratch folder under runs/ (git-ignored), so that a casual run
 * never replaces the committed results in benchmarks/results; an explicit `--out
 * benchmarks/results/...` writes there. (bench reward and bench agents write files only with
 * --out; bench envs writes none.) `what`: what goes into the folder; `scratch`: the default.
 */
export function benchOutFlag(what: string, scratch: string) {
  return flags.string({ doc: `${what}; the default is a scratch folder (git-ignored): committed results in benchmarks/results are replaced only when --out names them`, default: scratch });
}

/**
 * A count of timed repeats (`--repeats`, `--ppo-repeats`, `--iql-repeats`): at least 1, the
 * median reported, and no upper bound in any bench subcommand (bench envs stopped at 50 before, a
 * bound the others did not have; a long run is stopped with Ctrl-C, which reports what was timed).
 * `what`: what is repeated; `detail`: a command's own note.
 */
export function repeatsFlag(what: string, defaultValue: number, detail?: string) {
  return flags.int({ doc: `timed ${what} (the median is reported${detail === undefined ? '' : `; ${detail}`})`, default: defaultValue, min: 1 });
}

/** A count of untimed warm-up runs before timing (`--warmup`, `--ppo-warmup`, `--iql-warmup`): at least 0. */
export function warmupFlag(what: string, defaultValue: number) {
  return flags.int({ doc: `untimed ${what} before timing`, default: defaultValue, min: 0 });
}

/**
 * Most seeds a bench `--seeds` takes (bench oracle, bench regret). Unlike a repeat count, a
 * seed count multiplies whole runs, and bench oracle lists every cell of every seed (and checks
 * its files) before it runs one, with Ctrl-C unheard until then: `--seeds 100000` (a mistyped 10)
 * on bpref ran past a minute and 4 GB before a cell started, where now it is refused in one line.
 * 100 (the suites default to 3) lists bpref's 100-seed cells in about a second.
 */
export const MAX_BENCH_SEEDS = 100;

/** `--seeds`, a count of seeds 0..seeds-1 (bench regret): 1 to MAX_BENCH_SEEDS. `what`: what is repeated per seed. */
export function seedsFlag(what: string, defaultValue: number) {
  return flags.int({ doc: `seeds 0..seeds-1 ${what}`, default: defaultValue, min: 1, max: MAX_BENCH_SEEDS });
}

/** `--seeds` of a command whose default depends on other flags (bench oracle: the suite's); `defaultDoc` says it. 1 to MAX_BENCH_SEEDS. */
export function optionalSeedsFlag(what: string, defaultDoc: string) {
  return flags.int({ doc: `seeds 0..seeds-1 ${what}`, optional: true, defaultDoc, min: 1, max: MAX_BENCH_SEEDS });
}

/** `--obs-dim` and `--act-dim` of the synthetic inputs (cheetah-run's sizes by default). */
export function obsDimFlag(detail?: string) {
  return flags.int({ doc: `observation size${detail === undefined ? '' : ` (${detail})`}`, default: 17, min: 1 });
}
export const actDimFlag = flags.int({ doc: 'action size', default: 6, min: 1 });
