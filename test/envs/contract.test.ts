// The environment contract, checked over every registered env (dm_control's suite test habit):
// determinism, reward == sum(weight x term), exact state round trip, spaces, transition terms,
// horizon, and no WASM heap growth over 1,000 resets.
import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../envs/check.js';
import { envIds, makeEnv } from '../../envs/registry.js';

describe.each(envIds())('contract of %s', (id) => {
  it('passes every check-env check', async () => {
    const report = await checkEnv(id, { steps: 200, resets: 1000 });
    const failed = Object.entries(report.checks).filter(([, c]) => !c.ok);
    expect(failed.map(([name, c]) => `${name}: ${c.detail}`)).toEqual([]);
    expect(Object.keys(report.checks).sort()).toEqual(['determinism', 'horizon', 'memory', 'rewardSum', 'spaces', 'stateRoundTrip', 'transitionTerms']);
  });

  it('describes itself: goal sentence, named reward terms with weights, dt and horizon', async () => {
    const env = await makeEnv(id);
    try {
      const s = env.spec;
      expect(s.id).toBe(id);
      expect(s.goal).toMatch(/^[A-Z].{15,}\.$/);
      expect(s.rewardTerms.length).toBeGreaterThanOrEqual(2);
      expect(new Set(s.rewardTerms.map((t) => t.name)).size).toBe(s.rewardTerms.length);
      for (const t of s.rewardTerms) {
        expect(t.name).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(Number.isFinite(t.weight)).toBe(true);
        expect(t.doc.length).toBeGreaterThan(5);
      }
      expect(s.dt).toBeGreaterThan(0);
      expect(Number.isInteger(s.horizon) && s.horizon > 0).toBe(true);
      expect(s.actLow.length).toBe(s.actDim);
      for (let i = 0; i < s.actDim; i++) expect(s.actLow[i]).toBeLessThan(s.actHigh[i]);
      expect(env.reset(0).length).toBe(s.obsDim);
    } finally {
      env.dispose();
    }
  });
});

describe('registry', () => {
  it('holds the six built-in MuJoCo tasks and the toy env', () => {
    expect(envIds()).toEqual(expect.arrayContaining(['cartpole-swingup', 'reacher', 'cheetah-run', 'hopper-hop', 'walker-walk', 'pusher', 'toy-reach']));
  });
});
