import { describe, expect, it } from 'vitest';
import { flags, helpText, parseFlags, positiveInts, validateConfig } from '../../core/config.js';
import { InputError, UsageError } from '../../core/errors.js';

const spec = {
  command: 'prefrl demo',
  summary: 'A command for tests.',
  positionals: [{ name: 'env', doc: 'env id' }],
  flags: {
    labelsPerRound: flags.int({ doc: 'labels per round', default: 10, min: 1 }),
    lr: flags.float({ doc: 'learning rate', default: 3e-4, min: 0 }),
    teacher: flags.choice(['oracle', 'human'], { doc: 'teacher', default: 'oracle' }),
    json: flags.bool({ doc: 'json', default: false }),
    name: flags.string({ doc: 'run name', optional: true }),
    envs: flags.list({ doc: 'envs', default: ['a'] }),
  },
};

function usage(argv: string[]): string {
  try {
    parseFlags(argv, spec);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseFlags', () => {
  it('parses kebab-case flags into typed camelCase values with defaults', () => {
    const r = parseFlags(['reacher', '--labels-per-round', '25', '--lr=0.001', '--teacher', 'human', '--json', '--envs', 'x,y'], spec);
    expect(r.positionals).toEqual(['reacher']);
    expect(r.flags).toEqual({ labelsPerRound: 25, lr: 0.001, teacher: 'human', json: true, envs: ['x', 'y'] });
    const d = parseFlags(['reacher'], spec);
    expect(d.flags.labelsPerRound).toBe(10);
    expect(d.flags.name).toBeUndefined();
  });

  it('lists the flags given on the command line, in their order, defaults left out', () => {
    expect([...parseFlags(['reacher', '--lr=0.001', '--no-json', '--labels-per-round', '25'], spec).given]).toEqual(['lr', 'json', 'labelsPerRound']);
    expect([...parseFlags(['reacher'], spec).given]).toEqual([]);
  });

  it('accepts --no-flag for booleans and negative numbers as values', () => {
    expect(parseFlags(['r', '--no-json'], spec).flags.json).toBe(false);
    expect(() => parseFlags(['r', '--lr', '-1'], spec)).toThrow('--lr: must be >= 0, got -1');
  });

  it('names the flag in every error', () => {
    expect(usage(['r', '--bogus'])).toBe('prefrl demo: unknown flag --bogus (see --help)');
    expect(usage(['r', '--labelsPerRound', '3'])).toMatch(/unknown flag --labelsPerRound/);
    expect(usage(['r', '--labels-per-round', 'ten'])).toBe('prefrl demo: --labels-per-round: expected an integer, got "ten"');
    expect(usage(['r', '--labels-per-round', '2.5'])).toMatch(/--labels-per-round: expected an integer/);
    expect(usage(['r', '--labels-per-round', '0'])).toMatch(/--labels-per-round: must be >= 1, got 0/);
    expect(usage(['r', '--teacher', 'robot'])).toBe('prefrl demo: --teacher: expected one of oracle|human, got "robot"');
    expect(usage(['r', '--lr'])).toMatch(/flag --lr needs a value \(a number\)$/);
    expect(usage(['r', '--labels-per-round'])).toBe('prefrl demo: flag --labels-per-round needs a value (an integer)');
    expect(usage(['r', '--teacher', '--json'])).toBe('prefrl demo: flag --teacher needs a value (one of oracle|human)');
    expect(usage(['r', '--envs'])).toBe('prefrl demo: flag --envs needs a value (comma-separated values; see --help)');
    expect(usage(['r', '--name'])).toBe('prefrl demo: flag --name needs a value');
    expect(usage(['r', '--lr', 'nan'])).toMatch(/--lr: expected a number/);
    expect(usage(['r', '--json', '--json'])).toMatch(/--json given twice/);
    expect(usage([])).toMatch(/missing argument <env>/);
    expect(usage(['a', 'b'])).toMatch(/unexpected argument "b"/);
    expect(usage(['r', '-x'])).toMatch(/unknown flag -x/);
  });

  it('reports --help without checking required values, and the help lists every flag', () => {
    expect(parseFlags(['--help'], spec).help).toBe(true);
    const h = helpText(spec);
    for (const f of ['--labels-per-round', '--lr', '--teacher oracle|human', '--json', '--name', '--envs', '--help']) expect(h).toContain(f);
    expect(h).toContain('(default: 10)');
  });
});

describe('validateConfig', () => {
  const cfg = { seed: flags.int({ doc: 's', default: 0 }), margin: flags.float({ doc: 'm', min: 0 }), mode: flags.choice(['a', 'b'], { doc: 'x', default: 'a' }) };

  it('fills defaults and keeps values', () => {
    expect(validateConfig({ margin: 0.5 }, cfg, 'cfg.json')).toEqual({ seed: 0, margin: 0.5, mode: 'a' });
  });

  it('rejects unknown keys, wrong types and missing keys naming the file and key', () => {
    const err = (o: unknown) => {
      try {
        validateConfig(o, cfg, 'cfg.json');
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error('expected an InputError');
    };
    expect(err({ margin: 1, extra: 2 })).toMatch(/^cfg\.json \(extra\): unknown key "extra"/);
    expect(err({ margin: '1' })).toMatch(/^cfg\.json \(margin\): expected a number, got a string/);
    expect(err({ margin: -1 })).toMatch(/^cfg\.json \(margin\): must be >= 0/);
    expect(err({})).toMatch(/missing required key "margin"/);
    expect(err([1])).toMatch(/expected a JSON object, got an array/);
  });
});

describe('positiveInts', () => {
  it('reads comma-separated positive integers, underscores as thousands separators', () => {
    expect(positiveInts(['64', ' 32 ', '1_000'], '--hidden')).toEqual([64, 32, 1000]);
  });
  it('refuses zero, negatives, fractions, exponents, words and an empty list, naming the flag and quoting the list', () => {
    const msg = (list: string[]) => {
      try {
        positiveInts(list, '--hidden');
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error('expected a UsageError');
    };
    expect(msg(['64', '0'])).toBe('--hidden: expected positive integers separated by commas, got "64,0"');
    for (const bad of ['-3', '2.5', '1e3', 'a', '1_00', '']) expect(msg(['8', bad])).toMatch(/^--hidden: expected positive integers separated by commas, got "8,/);
    expect(msg([])).toBe('--hidden: expected positive integers separated by commas, got an empty list');
  });
});
