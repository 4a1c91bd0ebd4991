/**
 * docs/library.md's table "prefrl train flags as runPreferenceLoop options" against the code:
 * every flag `prefrl train --help` lists has one row; a flag whose option has its own name or
 * another (reward/loop.ts TRAIN_FLAG_OPTIONS: --labels is budget) has that option in its row, and
 * it is an option runPreferenceLoop reads; a flag that is no option (--json) is not written as one.
 * The same map makes the loop's error for an option written with a flag's name; that error is
 * checked in test/lib_script_mistakes.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOOP_OPTION_KEYS, TRAIN_FLAG_OPTIONS } from '../reward/loop.js';
import { unknownRewardNetFields } from '../reward/network.js';
import { unknownTrainOptions } from '../reward/train.js';
import { main } from '../scripts/cli.js';
import { captureCli } from './helpers/cli.js';

const REPO = join(import.meta.dirname, '..');

/** The table's rows: flag -> the text of its second cell. */
function tableRows(): Map<string, string> {
  const doc = readFileSync(join(REPO, 'docs', 'library.md'), 'utf8');
  const at = doc.indexOf('\n## prefrl train flags as runPreferenceLoop options\n');
  expect(at, 'the section is in docs/library.md').toBeGreaterThan(0);
  const section = doc.slice(at + 1).split(/\n## /)[0];
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^\| `(--[a-z0-9-]+)` \| (.+) \|$/.exec(line);
    if (!m) continue;
    expect(rows.has(m[1]), `${m[1]} has two rows`).toBe(false);
    rows.set(m[1], m[2]);
  }
  return rows;
}

/** The flags `prefrl <command> --help` lists, in its order (--help itself left out). */
async function trainHelpFlags(command = 'train'): Promise<string[]> {
  const { ctx, out } = captureCli();
  expect(await main([command, '--help'], ctx)).toBe(0);
  return [...out.join('').matchAll(/^ {2}(--[a-z0-9-]+)/gm)].map((m) => m[1]).filter((f) => f !== '--help');
}

const camel = (flag: string): string => flag.slice(2).replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

describe("docs/library.md's table of prefrl train's flags", () => {
  it('has one row for each flag of prefrl train --help, and none for a flag it does not have', async () => {
    const flags = await trainHelpFlags();
    // Counted in `prefrl train --help` at this commit: 61 flags besides --help (--like the latest).
    expect(flags.length).toBe(61);
    expect(flags).toContain('--reward-input-l1');
    const rows = tableRows();
    expect(flags.filter((f) => !rows.has(f)), 'flags with no row').toEqual([]);
    expect([...rows.keys()].filter((f) => !flags.includes(f)), 'rows for flags prefrl train does not have').toEqual([]);
  });

  it("gives each flag that is an option the option's name, as the loop's error for a flag's name does", () => {
    const rows = tableRows();
    const options = new Set(Object.keys(LOOP_OPTION_KEYS));
    let named = 0;
    for (const [flag, cell] of rows) {
      const key = camel(flag);
      const first = /^`([^`]+)`/.exec(cell)?.[1] ?? '';
      const expected = Object.hasOwn(TRAIN_FLAG_OPTIONS, key) ? TRAIN_FLAG_OPTIONS[key] : options.has(key) ? key : null;
      if (expected !== null) {
        named++;
        expect(first, `${flag}: its row names ${first}`).toBe(expected);
        // The option (or the object it sits in) is one runPreferenceLoop reads.
        expect(options.has(expected.split('.')[0]), `${flag}: ${expected} is no LoopOptions key`).toBe(true);
      } else {
        // A flag that is no option of its own: its row does not start with an option path as if it were one.
        expect(/^`[a-zA-Z]+(\.[a-zA-Z0-9]+)?`$/.test(cell), `${flag}: written as the option ${cell}`).toBe(false);
      }
    }
    // The 25 mapped in reward/loop.ts and the 20 of the same name (env, teacher, labelsPerRound, query, resume, ...).
    expect(Object.keys(TRAIN_FLAG_OPTIONS)).toHaveLength(25);
    expect(named).toBe(45);
    // Every mapped flag is a real flag of the command.
    expect(Object.keys(TRAIN_FLAG_OPTIONS).filter((k) => !rows.has(`--${k.replace(/[A-Z0-9]+/g, (m) => `-${m.toLowerCase()}`)}`))).toEqual([]);
  });
});

describe("docs/library.md's rule for prefrl reward's flags", () => {
  it('each --reward-X training flag is trainRewardModel option X; --reward-members, -hidden, -input are RewardNet fields', async () => {
    const flags = (await trainHelpFlags('reward')).filter((f) => f.startsWith('--reward-'));
    // Counted in `prefrl reward --help`: 11 --reward-* flags.
    expect(flags).toHaveLength(11);
    const netFields = ['--reward-members', '--reward-hidden', '--reward-input'];
    for (const flag of flags) {
      const name = camel(`--${flag.slice('--reward-'.length)}`);
      if (netFields.includes(flag)) expect(unknownRewardNetFields({ [name]: 1 }), flag).toEqual([]);
      else expect(unknownTrainOptions({ [name]: 1 }), `${flag} as option ${name}`).toEqual([]);
    }
    // The check can fail: a name no option has is reported.
    expect(unknownTrainOptions({ rewardEpochs: 1 })).toEqual(['rewardEpochs']);
  });
});
