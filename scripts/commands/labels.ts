/**
 * `prefrl labels export` / `prefrl labels import`: move labels between label stores as JSONL
 * (one label per line; see reward/store.ts). Importing is idempotent (label ids) and
 * all-or-nothing; the target store must already hold the labelled pairs. A teacher labels a
 * pair once: an imported label for a pair its teacher already labelled is skipped as a
 * duplicate, and a warning counts those whose answer differs (naming the first pair).
 * The read-only commands (export, stats) and import open an existing store only: a missing or
 * empty file is refused, never turned into a store.
 * `prefrl labels stats`: who labelled how much, how fast, how often each teacher agrees with the
 * true partial return (the stored segments carry the env's rewards) and with the others.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { removeStaleTemps } from '../../core/run.js';
import { flags } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { checkOutFile, isFolder } from '../../core/paths.js';
import { median } from '../../core/math.js';
import { teacherAgreements } from '../../reward/store_pairs.js';
import { LabelStore, type StoreCounts } from '../../reward/store.js';
import { decidedByText, type HeronDecidedBy, heronDecidedBy } from '../../reward/teachers/heron.js';
import type { Label } from '../../reward/types.js';
import { type Command, formatTable, letSignalsIn, onInterrupt, openStoreFlag, parseOrHelp, printJson } from '../command.js';
import { jsonFlag, storeFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const exportSpec = {
  command: 'prefrl labels export',
  summary: commandSummary('labels export'),
  flags: {
    store: storeFlag('to read'),
    out: flags.string({ doc: 'JSONL file to write (an existing file is replaced, atomically, only with --force; never the store itself); - writes to standard output (the count goes to stderr)' }),
    force: flags.bool({ doc: 'replace an existing --out file', default: false }),
    json: jsonFlag(),
  },
  epilog: 'Example: prefrl labels export --store runs/x/labels.sqlite --out labels.jsonl',
};

const importSpec = {
  command: 'prefrl labels import',
  summary: commandSummary('labels import'),
  flags: {
    store: storeFlag('holding the labelled pairs'),
    in: flags.string({ doc: 'JSONL file of labels, as written by `prefrl labels export`' }),
    json: jsonFlag(),
  },
  epilog: 'Example: prefrl labels import --store runs/y/labels.sqlite --in labels.jsonl',
};


export const labelsExportCommand: Command = {
  name: 'labels export',
  summary: exportSpec.summary,
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, exportSpec, ctx.io);
    if (!parsed) return 0;
    const { store: path, out: given, json, force } = parsed.flags;
    // `--out -`: standard output, as Unix tools take it (it had written a file named "-").
    const toStdout = given === '-';
    if (toStdout && json) throw new UsageError('--json: with --out - the labels are standard output; drop --json (the count goes to stderr)');
    const out = given;
    // The store first (a missing one is the first thing to say), then --out.
    const store = openStoreFlag(path, ctx.clock, '--store', { readOnly: true });
    try {
      if (toStdout) {
        const labels = store.exportJsonl((chunk) => ctx.io.stdout.write(chunk));
        ctx.io.stderr.write(`exported ${labels} label${labels === 1 ? '' : 's'} from ${path} to standard output\n`);
        return 0;
      }
      // Written over the store, the JSONL would destroy every label it holds (people's answers too).
      if (existsSync(out) && realpathSync(out) === realpathSync(path)) {
        throw new UsageError(`--out ${out}: is the label store itself (--store); give another file, such as ${join(dirname(out), 'labels.jsonl')}`);
      }
      checkOutFile(out, { example: 'labels.jsonl', force });
      // An export killed (SIGKILL) while it wrote left `<out>.tmp-<pid>` for good: those of dead processes go.
      removeKilledExports(out);
      // Ctrl-C, SIGTERM, SIGHUP: the export is written to a temporary file and renamed, all in one
      // go; a signal is answered once it is done (stopped by default, it left the temporary file
      // beside --out, and said nothing).
      let written: number | null = null;
      const stopHint = onInterrupt(
        ctx,
        () =>
          written === null
            ? { line: `stopped; nothing was written to ${out}; run the same command again`, fields: { store: path, out, labels: 0 } }
            : { line: `stopped after the export: ${written} label${written === 1 ? '' : 's'} written to ${out}`, fields: { store: path, out, labels: written } },
        { json },
      );
      try {
        await letSignalsIn();
        const labels = store.exportJsonl(out);
        written = labels;
        await letSignalsIn();
        if (json) printJson(ctx.io, { store: path, out, labels });
        else ctx.io.stdout.write(`exported ${labels} label${labels === 1 ? '' : 's'} from ${path} to ${out}\n`);
        return 0;
      } finally {
        stopHint();
      }
    } finally {
      store.close();
    }
  },
};

/**
 * Remove the temporary files (`<out>.tmp-<pid>`, LabelStore.exportJsonl's) that exports to `out`
 * killed while they wrote left beside it; those of processes still running stay. Returns the paths removed.
 */
export function removeKilledExports(out: string): string[] {
  return removeStaleTemps(dirname(resolve(out)), basename(out));
}

export const labelsImportCommand: Command = {
  name: 'labels import',
  summary: importSpec.summary,
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, importSpec, ctx.io);
    if (!parsed) return 0;
    const { store: path, in: file, json } = parsed.flags;
    // Ctrl-C, SIGTERM, SIGHUP: the labels go in as one transaction, so the store holds all of them
    // or none; say which (the signal is let in before the import and once it is in). Registered
    // before the store opens: a signal while it opens says nothing was imported too.
    let added: number | null = null;
    const stopHint = onInterrupt(
      ctx,
      () =>
        added === null
          ? { line: `stopped; nothing was imported into ${path} (its labels are as they were); run the same command again`, fields: { store: path, in: file, added: 0 } }
          : { line: `stopped after the import: ${added} new label${added === 1 ? '' : 's'} in ${path}`, fields: { store: path, in: file, added } },
      { json },
    );
    let store: LabelStore;
    try {
      store = openStoreFlag(path, ctx.clock);
    } catch (e) {
      stopHint();
      throw e;
    }
    try {
      if (!existsSync(file)) throw new UsageError(`--in: ${file} not found (a JSONL file of labels, as prefrl labels export writes)`);
      if (isFolder(file)) throw new UsageError(`--in: ${file} is a folder; give the JSONL file, e.g. ${join(file, 'labels.jsonl')}`);
    } catch (e) {
      stopHint();
      store.close();
      throw e;
    }
    try {
      await letSignalsIn();
      const r = store.importJsonl(file);
      added = r.added;
      // A signal that came while they went in is answered now, saying they are in.
      await letSignalsIn();
      const total = store.counts().labels;
      // An empty file (an export of a store without labels, or the wrong file) imports nothing: said, not only "0 new".
      if (r.lines === 0) ctx.logger.warn(`--in ${file}: holds no labels (no lines); nothing was imported`);
      if (json) {
        printJson(ctx.io, {
          store: path,
          in: file,
          lines: r.lines,
          added: r.added,
          duplicates: r.duplicates,
          sameTeacher: r.sameTeacher,
          conflicts: r.conflicts,
          firstConflictPair: r.firstConflictPair,
          labels: total,
        });
      } else {
        const idDuplicates = r.duplicates - r.sameTeacher;
        const skipped = [
          idDuplicates > 0 ? `${idDuplicates} already present` : '',
          r.sameTeacher > 0 ? `${r.sameTeacher} skipped as duplicates: their teacher had already labelled the pair` : '',
        ].filter((x) => x !== '');
        ctx.io.stdout.write(`imported ${r.added} new label${r.added === 1 ? '' : 's'} from ${file}${skipped.length > 0 ? ` (${skipped.join('; ')})` : ''}; ${path} now holds ${total}\n`);
        if (r.conflicts > 0) {
          ctx.logger.warn(
            `${file}: ${r.conflicts} of the skipped labels give another answer than the label their teacher already gave on the pair (first on pair ${r.firstConflictPair}); the stored answers are kept`,
          );
        }
      }
      return 0;
    } finally {
      stopHint();
      store.close();
    }
  },
};

const statsSpec = {
  command: 'prefrl labels stats',
  summary: "Per teacher: labels, preferences, ties, skips, median answer time, agreement with the true partial return (a HERON teacher's: which reward term decided its labels); and agreement between teachers on shared pairs.",
  flags: {
    store: storeFlag('to read'),
    json: jsonFlag(),
  },
  epilog: 'Example: prefrl labels stats --store runs/x/labels.sqlite',
};

export interface TeacherStats {
  readonly teacher: string;
  readonly labels: number;
  /** Strict preferences (probFirst other than 0.5). labels = preferences + ties + skips. */
  readonly preferences: number;
  /** Ties: preference labels with probFirst 0.5 (an "equal" teacher's, a HERON tie, a person's "equal"; "can't tell" is a skip). */
  readonly ties: number;
  readonly skips: number;
  /** Median time to answer (ms), over the labels that record one; null when none does. */
  readonly medianResponseMs: number | null;
  /** Share of its strict preferences whose winner has the higher true segment return (ties in return left out). */
  readonly agreementWithTrueReturn: number | null;
  /**
   * A HERON teacher's labels by the reward term that decided them (from the record each keeps in
   * raw; ties: no level decided; other: labels without a record, e.g. skips). Only for teachers
   * with such records.
   */
  readonly decidedBy?: HeronDecidedBy;
}

/**
 * The per-teacher statistics of a store, most labels first. `counts`: the store's counts() where
 * the caller has read them already (each call counts every label and pair again).
 */
export function teacherStats(store: LabelStore, counts: Pick<StoreCounts, 'perTeacher'> = store.counts()): TeacherStats[] {
  const times = new Map<string, number[]>();
  const labels = store.labels();
  // HERON teachers' labels (their spec names them: heron:<config file>), for which term decided them.
  const heronLabels = new Map<string, Label[]>();
  for (const l of labels) {
    if (l.teacher.startsWith('heron:')) {
      let own = heronLabels.get(l.teacher);
      if (!own) heronLabels.set(l.teacher, (own = []));
      own.push(l);
    }
    if (l.responseMs === undefined || l.responseMs === null) continue;
    let t = times.get(l.teacher);
    if (!t) times.set(l.teacher, (t = []));
    t.push(l.responseMs);
  }
  // One pass over the labelled pairs for every teacher (one per teacher read every segment again).
  const agreement = teacherAgreements(store, labels);
  return Object.entries(counts.perTeacher)
    .map(([teacher, c]) => {
      const t = times.get(teacher);
      const own = heronLabels.get(teacher);
      const decided = own ? heronDecidedBy(own) : null;
      const heron = decided !== null && (Object.keys(decided.terms).length > 0 || decided.ties > 0);
      return {
        teacher,
        labels: c.labels,
        preferences: c.preferences - c.ties,
        ties: c.ties,
        skips: c.skips,
        medianResponseMs: t && t.length > 0 ? median(t) : null,
        agreementWithTrueReturn: agreement.get(teacher) ?? null,
        ...(heron ? { decidedBy: decided } : {}),
      };
    })
    .sort((a, b) => b.labels - a.labels || (a.teacher < b.teacher ? -1 : 1));
}

export const labelsStatsCommand: Command = {
  name: 'labels stats',
  summary: commandSummary('labels stats'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, statsSpec, ctx.io);
    if (!parsed) return 0;
    const { store: path, json } = parsed.flags;
    const store = openStoreFlag(path, ctx.clock, '--store', { readOnly: true });
    try {
      const c = store.counts();
      const teachers = teacherStats(store, c);
      const agreement = store.agreement();
      // People are spoken of only where the store is meant for them (not an offline run's oracle store).
      const forPeople = store.forPeople();
      if (json) {
        printJson(ctx.io, {
          store: path,
          pairs: c.pairs,
          pending: c.pending,
          unlabelled: c.unlabelled,
          forPeople,
          waitingForPeople: forPeople ? c.waitingForPeople : null,
          labels: c.labels,
          preferences: c.preferences - c.ties,
          ties: c.ties,
          skips: c.skips,
          timeouts: c.timeouts,
          teachers,
          agreement,
        });
        return 0;
      }
      const f = (x: number | null, d = 3) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
      const lines = [
        `${path}: ${c.pairs} pairs (${c.unlabelled} unlabelled${forPeople ? `, ${c.waitingForPeople} waiting for people` : ''}), ${c.labels} labels: ${c.preferences - c.ties} preferences, ${c.ties} ties, ${c.skips} skips${c.timeouts > 0 ? ` (${c.timeouts} of them timeouts, not answers)` : ''}`,
        teachers.length === 0
          ? 'no labels yet'
          : formatTable(
              ['teacher', 'labels', 'preferences', 'ties', 'skips', 'median answer (s)', 'agrees with true return'],
              teachers.map((t) => [t.teacher, String(t.labels), String(t.preferences), String(t.ties), String(t.skips), t.medianResponseMs === null ? '-' : (t.medianResponseMs / 1000).toFixed(1), f(t.agreementWithTrueReturn)]),
            ),
      ];
      // Which reward term decided a HERON teacher's labels, most often first.
      for (const t of teachers) {
        if (!t.decidedBy) continue;
        lines.push(`${t.teacher} decided by: ${decidedByText(t.decidedBy)}`);
      }
      if (agreement.pairs > 0) {
        // kappa: agreement beyond chance (Fleiss' overall, Cohen's per pair of teachers; "-" where chance agrees always).
        lines.push(`between teachers: ${agreement.pairs} pairs answered by two or more, ${agreement.comparisons} comparisons, agreement ${agreement.agreeing}/${agreement.comparisons} (${f(agreement.fraction)}), Fleiss' kappa ${f(agreement.kappa)}`);
        for (const [k, v] of Object.entries(agreement.byTeachers)) lines.push(`  ${k.replace('|', ' vs ')}: ${v.agreeing}/${v.comparisons} (${f(v.fraction)}), Cohen's kappa ${f(v.kappa)}`);
      }
      ctx.io.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
