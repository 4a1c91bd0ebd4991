/**
 * Flags that several `prefrl bench` subcommands take, defined once so that one name has one
 * meaning, type, parse and error wording across them (test/cli_flags_consistent.test.ts checks
 * it): the PyTorch reference's switch, interpreter and thread counts (bench agents, bench reward)
 * and the synthetic input sizes. A default that differs between commands says why in its doc.
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

/** `--obs-dim` and `--act-dim` of the synthetic inputs (cheetah-run's sizes by default). */
export function obsDimFlag(detail?: string) {
  return flags.int({ doc: `observation size${detail === undefined ? '' : ` (${detail})`}`, default: 17, min: 1 });
}
export const actDimFlag = flags.int({ doc: 'action size', default: 6, min: 1 });
