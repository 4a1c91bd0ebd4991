/**
 * Task modules wrong in the ways people get them wrong: each is refused with one line naming the
 * file and the field or function, and saying what to write instead.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { checkEnv } from '../../envs/check.js';
import { makeEnv } from '../../envs/registry.js';
import { spawnCli } from '../helpers/cli.js';

const pendulum = join(import.meta.dirname, '..', 'fixtures', 'byo_pendulum', 'pendulum.xml');
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'byo-mistakes-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The bound task's fields, each replaced where `replace` names it (`success` added). */
const withBound = (replace: Record<string, string>): string => {
  const base: Record<string, string> = {
    obsDim: 'obsDim: 2',
    initialize: 'initialize() {}',
    observe: 'observe(p, out) { out[0] = p.views.qpos[0]; out[1] = p.views.qvel[0]; }',
    rewardTerms: 'rewardTerms(p, a, out) { out[0] = p.views.qvel[0]; }',
    terminated: 'terminated: () => false',
  };
  return Object.values({ ...base, ...replace }).join(', ');
};

/**
 * A task module for the pendulum (qpos 1, qvel 1, 3 actuators) with one reward term `swing`,
 * with `fields` and `bound` (the returned object's members, see withBound) replaced where given.
 */
function taskFile(name: string, opts: { fields?: string; bound?: string } = {}): string {
  const fields = opts.fields ?? "id: 'swing', goal: 'Swing the bob.', rewardTerms: [{ name: 'swing', weight: 1, doc: 'rad/s' }], horizon: 20, frameSkip: 2";
  const file = join(dir, name);
  writeFileSync(file, `export default {\n  ${fields},\n  bind(physics) {\n    return { ${opts.bound ?? withBound({})} };\n  },\n};\n`);
  return file;
}

/** The error of making the env and running one step of it (zero action), or null. */
async function firstError(task: string): Promise<Error | null> {
  try {
    const env = await makeEnv({ id: 'custom', model: pendulum, task });
    try {
      env.reset(0);
      env.step([0, 0, 0]);
      env.success?.();
    } finally {
      env.dispose();
    }
  } catch (e) {
    return e as Error;
  }
  return null;
}

async function expectRefused(task: string, message: RegExp): Promise<void> {
  const err = await firstError(task);
  expect(err).toBeInstanceOf(InputError);
  expect(err?.message).toMatch(message);
  // One line, no stack.
  expect(err?.message.split('\n')).toHaveLength(1);
}

const fieldsWith = (goal: string, term = "{ name: 'swing', weight: 1, doc: '' }") => `id: 'swing', goal: ${goal}, rewardTerms: [${term}], horizon: 20, frameSkip: 2`;
describe('task modules people get wrong', () => {
  it('the well-formed module the others are made from works', async () => {
    expect(await firstError(taskFile('good.mjs'))).toBeNull();
  });

  it('an empty goal or an empty reward term name is refused when the env is made', async () => {
    await expectRefused(taskFile('empty_goal.mjs', { fields: fieldsWith("'  '") }), /empty_goal\.mjs \(goal\): task\.goal is empty; write one sentence saying what the robot should do/);
    await expectRefused(
      taskFile('empty_name.mjs', { fields: fieldsWith("'Swing.'", "{ name: '', weight: 1, doc: '' }") }),
      /empty_name\.mjs \(rewardTerms\[0\]\): task\.rewardTerms\[0\] needs a string name and a finite numeric weight, got name "", weight 1 \(a name must not be empty\)$/,
    );
    await expectRefused(
      taskFile('string_weight.mjs', { fields: fieldsWith("'Swing.'", "{ name: 'swing', weight: '2' }") }),
      /string_weight\.mjs \(rewardTerms\[0\]\): .* got name "swing", weight "2" \(a name must not be empty\)$/,
    );
  });

  it('obsDim given as text is shown as text; one too large is refused', async () => {
    await expectRefused(taskFile('obsdim_text.mjs', { bound: withBound({ obsDim: "obsDim: '2'" }) }), /obsdim_text\.mjs \(obsDim\): task\.bind\(\) returned obsDim "2"; it must be a non-negative integer \(a number\)$/);
    // One too large to allocate is refused naming the file, not a RangeError with a stack.
    await expectRefused(taskFile('obsdim_huge.mjs', { bound: withBound({ obsDim: 'obsDim: 1e10' }) }), /obsdim_huge\.mjs \(obsDim\): task\.bind\(\) returned obsDim 10000000000; an observation holds at most 1000000 values$/);
  });

  it('terminated() must return a boolean: a number (read as true) or nothing (a forgotten return) is refused', async () => {
    await expectRefused(
      taskFile('term_number.mjs', { bound: withBound({ terminated: 'terminated: (p) => p.views.qpos[0] < -1 ? 1 : 0' }) }),
      /term_number\.mjs \(terminated\): task\.terminated\(\) returned 0; it must return true \(the episode ends here\) or false$/,
    );
    await expectRefused(
      taskFile('term_undefined.mjs', { bound: withBound({ terminated: 'terminated(p) { p.views.qpos[0] < -1; }' }) }),
      /term_undefined\.mjs \(terminated\): task\.terminated\(\) returned undefined; it must return true/,
    );
  });

  it('success() must give a number from 0 to 1, or nothing', async () => {
    const ok = taskFile('success_none.mjs', { bound: withBound({ success: 'success() {}' }) });
    const env = await makeEnv({ id: 'custom', model: pendulum, task: ok });
    try {
      env.reset(0);
      expect(env.step([0, 0, 0]).info.success).toBeNaN();
    } finally {
      env.dispose();
    }
    await expectRefused(taskFile('success_big.mjs', { bound: withBound({ success: 'success: () => 2' }) }), /success_big\.mjs \(success\): task\.success\(\) returned 2; it must return a number from 0 to 1/);
    await expectRefused(taskFile('success_bool.mjs', { bound: withBound({ success: 'success: () => true' }) }), /success_bool\.mjs \(success\): task\.success\(\) returned true;/);
  });

  it('observe() or rewardTerms() that return their values instead of writing them into out are told where they go', async () => {
    await expectRefused(
      taskFile('obs_return.mjs', { bound: withBound({ observe: 'observe(p) { return [p.views.qpos[0], p.views.qvel[0]]; }' }) }),
      /obs_return\.mjs \(observe\): task\.observe\(\) left index 0 unwritten .* \(it returned an array of 2 values: write the values into its `out` argument, e\.g\. out\.set\(values\) or out\[0\] = x, and return nothing\)$/,
    );
    await expectRefused(
      taskFile('terms_return.mjs', { bound: withBound({ rewardTerms: 'rewardTerms(p) { return p.views.qvel[0] + 1; }' }) }),
      /terms_return\.mjs \(rewardTerms\): task\.rewardTerms\(\) gave swing = NaN \(or left it unwritten\); reward terms must be finite numbers \(it returned \d/,
    );
    // A term that is NaN for its own reasons gets no such hint.
    const err = await firstError(taskFile('terms_nan.mjs', { bound: withBound({ rewardTerms: 'rewardTerms(p, a, out) { out[0] = 0 / 0; }' }) }));
    expect(err?.message).toMatch(/task\.rewardTerms\(\) gave swing = NaN \(or left it unwritten\); reward terms must be finite numbers$/);
  });

  it("a task outside the package that imports 'prefrl' is told it can drop the import", async () => {
    const file = join(dir, 'imports.mjs');
    writeFileSync(file, "import { defineTask } from 'prefrl';\nexport default defineTask({});\n");
    await expectRefused(file, /imports\.mjs: cannot load the task module: Cannot find package 'prefrl' .*\(the task's folder cannot see the prefrl package: install it there, or drop the import: defineTask only adds type checking/);
  });

  it('a CommonJS file (module.exports) read as an ES module is told why and what to do', async () => {
    const pkg = join(dir, 'esm');
    mkdirSync(pkg);
    writeFileSync(join(pkg, 'package.json'), '{ "type": "module" }\n');
    const file = join(pkg, 'task.js');
    writeFileSync(file, "module.exports = { id: 'x' };\n");
    // In a process of its own: vitest's module runner gives an ES module a `module` object, Node does not.
    const { stderr, exited } = spawnCli(['check-env', pendulum, '--task', file, '--steps', '10', '--resets', '1']);
    expect(await exited).toBe(1);
    expect(stderr()).toMatch(/^prefrl check-env: \S+task\.js: cannot load the task module: module is not defined in ES module scope \(Node reads this file as an ES module: .*"type": "module"; write `export default task`, or name the file \.cjs to keep module\.exports\)\n$/);
  });

  it('check-env: Math.random() in initialize() fails determinism, saying so, and is not blamed on clipping; one error thrown by every check is told once', async () => {
    const unseeded = taskFile('unseeded.mjs', { bound: withBound({ initialize: 'initialize(p) { p.views.qpos[0] = Math.random(); }' }) });
    const report = await checkEnv({ id: 'custom', model: pendulum, task: unseeded }, { steps: 20, resets: 2 });
    expect(report.ok).toBe(false);
    expect(report.checks.determinism.detail).toMatch(/^observations differ at index 0 \(the first observation after reset\(seed\)\): the initial state must come from the seed alone; a task module draws its random numbers from initialize\(\)'s rng argument, not Math\.random\(\)$/);
    expect(report.checks.spaces.detail).toMatch(/^two resets with seed 0 gave different observations: the initial state must come from the seed alone/);

    const broken = taskFile('nan_everywhere.mjs', { bound: withBound({ rewardTerms: 'rewardTerms(p, a, out) { out[0] = Number.NaN; }' }) });
    const bad = await checkEnv({ id: 'custom', model: pendulum, task: broken }, { steps: 20, resets: 2 });
    const details = Object.entries(bad.checks).map(([name, c]) => [name, c.ok, c.detail]);
    expect(details[0]).toEqual(['determinism', false, expect.stringMatching(/^threw: .*nan_everywhere\.mjs \(rewardTerms\): task\.rewardTerms\(\) gave swing = NaN/)]);
    expect(details.slice(1)).toEqual(['rewardSum', 'stateRoundTrip', 'spaces', 'transitionTerms', 'horizon', 'memory'].map((n) => [n, false, 'threw the same error as determinism']));
  });
});
