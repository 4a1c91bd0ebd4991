/**
 * `prefrl labels export` / `prefrl labels import`: move labels between label stores as JSONL
 * (one label per line; see reward/store.ts). Importing is idempotent (label ids) and
 * all-or-nothing; the target store must already hold the labelled pairs.
 */
import { flags } from '../../core/config.js';
import { LabelStore } from '../../reward/store.js';
import { type Command, parseOrHelp, printJson } from '../command.js';

const exportSpec = {
  command: 'prefrl labels export',
  summary: 'Write every label of a label store to a JSONL file (one JSON object per line).',
  flags: {
    store: flags.string({ doc: 'Label store (SQLite file)' }),
    out: flags.string({ doc: 'JSONL file to write (replaced atomically)' }),
    json: flags.bool({ doc: 'Print one JSON object (the machine-readable contract) as the last line', default: false }),
  },
  epilog: 'Example: prefrl labels export --store runs/x/labels.sqlite --out labels.jsonl',
};

const importSpec = {
  command: 'prefrl labels import',
  summary: 'Add labels from a JSONL file to a label store (validated line by line; re-importing adds nothing).',
  flags: {
    store: flags.string({ doc: 'Label store (SQLite file) holding the labelled pairs' }),
    in: flags.string({ doc: 'JSONL file of labels, as written by `prefrl labels export`' }),
    json: flags.bool({ doc: 'Print one JSON object (the machine-readable contract) as the last line', default: false }),
  },
  epilog: 'Example: prefrl labels import --store runs/y/labels.sqlite --in labels.jsonl',
};

export const labelsExportCommand: Command = {
  name: 'labels export',
  summary: exportSpec.summary,
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, exportSpec, ctx.io);
    if (!parsed) return 0;
    const { store: path, out, json } = parsed.flags;
    const store = LabelStore.open(path, { create: false, clock: ctx.clock });
    try {
      const labels = store.exportJsonl(out);
      if (json) printJson(ctx.io, { store: path, out, labels });
      else ctx.io.stdout.write(`exported ${labels} label${labels === 1 ? '' : 's'} from ${path} to ${out}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};

export const labelsImportCommand: Command = {
  name: 'labels import',
  summary: importSpec.summary,
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, importSpec, ctx.io);
    if (!parsed) return 0;
    const { store: path, in: file, json } = parsed.flags;
    const store = LabelStore.open(path, { create: false, clock: ctx.clock });
    try {
      const r = store.importJsonl(file);
      const total = store.counts().labels;
      if (json) printJson(ctx.io, { store: path, in: file, lines: r.lines, added: r.added, duplicates: r.duplicates, labels: total });
      else ctx.io.stdout.write(`imported ${r.added} new label${r.added === 1 ? '' : 's'} from ${file} (${r.duplicates} already present); ${path} now holds ${total}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
