/**
 * Behaviour of the built-in MuJoCo tasks (cartpole-swingup, reacher, hopper-hop, walker-walk,
 * pusher), checked with numbers: documented sizes, reward terms at hand-placed states, fixed
 * targets, termination, and stability under random and saturated actions. The contract over the
 * whole registry (reward = weighted sum, determinism, state round trip) lives elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { makeEnv } from '../../envs/registry.js';
import type { Env, EnvState, StepResult } from '../../envs/types.js';

const IDS = ['cartpole-swingup', 'reacher', 'hopper-hop', 'walker-walk', 'pusher'] as const;
type Id = (typeof IDS)[number];

/** Documented layout of each task (see the manual at the top of each envs/tasks/*.ts). */
const LAYOUT: Record<Id, { obs: number; act: number; dt: number; horizon: number; terms: string[] }> = {
  'cartpole-swingup': { obs: 5, act: 1, dt: 0.02, horizon: 500, terms: ['upright', 'cart_centered', 'pole_spin', 'control_effort'] },
  reacher: { obs: 10, act: 2, dt: 0.02, horizon: 200, terms: ['fingertip_distance', 'on_target', 'control_effort'] },
  'hopper-hop': { obs: 11, act: 3, dt: 0.02, horizon: 1000, terms: ['forward_velocity', 'healthy', 'control_effort'] },
  'walker-walk': { obs: 17, act: 6, dt: 0.02, horizon: 1000, terms: ['forward_velocity', 'healthy', 'upright', 'control_effort'] },
  pusher: { obs: 21, act: 3, dt: 0.05, horizon: 200, terms: ['puck_to_goal', 'hand_to_puck', 'puck_at_goal', 'control_effort'] },
};

const envs = new Map<Id, Env>();

beforeAll(async () => {
  for (const id of IDS) envs.set(id, await makeEnv(id));
});

afterAll(() => {
  for (const env of envs.values()) env.dispose();
  envs.clear();
});

function env(id: Id): Env {
  const e = envs.get(id);
  if (!e) throw new Error(`env ${id} was not created`);
  return e;
}

/** Value of a named reward term in a step result. */
function term(e: Env, r: StepResult, name: string): number {
  const k = e.spec.rewardTerms.findIndex((t) => t.name === name);
  if (k < 0) throw new Error(`${e.spec.id} has no reward term ${name}`);
  return r.rewardTerms[k];
}

/** The current state with some qpos entries replaced and all velocities zeroed. */
function withQpos(e: Env, entries: Record<number, number>): EnvState {
  const s = e.getState();
  const qpos = Float64Array.from(s.qpos);
  for (const [i, v] of Object.entries(entries)) qpos[Number(i)] = v;
  return { qpos, qvel: new Float64Array(s.qvel.length), act: Float64Array.from(s.act), time: s.time, t: 0 };
}

const zeros = (e: Env): Float64Array => new Float64Array(e.spec.actDim);

describe('documented layout', () => {
  it.each(IDS)('%s has the documented observation, action, timing and reward terms', (id) => {
    const e = env(id);
    const want = LAYOUT[id];
    expect(e.spec.obsDim).toBe(want.obs);
    expect(e.spec.actDim).toBe(want.act);
    expect(e.spec.dt).toBeCloseTo(want.dt, 12);
    expect(e.spec.horizon).toBe(want.horizon);
    expect(e.spec.rewardTerms.map((t) => t.name)).toEqual(want.terms);
    expect(Array.from(e.spec.actLow)).toEqual(new Array(want.act).fill(-1));
    expect(Array.from(e.spec.actHigh)).toEqual(new Array(want.act).fill(1));
    expect(e.spec.goal.length).toBeGreaterThan(20);
    const obs = e.reset(3);
    expect(obs).toBeInstanceOf(Float32Array);
    expect(obs.length).toBe(want.obs);
    const r = e.step(zeros(e));
    expect(r.obs.length).toBe(want.obs);
    expect(r.rewardTerms.length).toBe(want.terms.length);
    expect(r.info.success).toBeGreaterThanOrEqual(0);
    expect(r.info.success).toBeLessThanOrEqual(1);
  });
});

describe('stability', () => {
  it.each(IDS)('%s stays stable and bounded under random and saturated actions', (id) => {
    const e = env(id);
    const rng = new Rng(`stability/${id}`);
    const a = new Float64Array(e.spec.actDim);
    let episodes = 0;
    for (const mode of ['random', 'plus', 'minus'] as const) {
      for (let ep = 0; ep < (mode === 'random' ? 20 : 3); ep++) {
        e.reset(100 + ep);
        for (;;) {
          if (mode === 'random') rng.fillUniform(a, -1, 1);
          else a.fill(mode === 'plus' ? 1 : -1);
          const r = e.step(a);
          expect(r.info.unstable).toBeUndefined();
          expect(Number.isFinite(r.reward)).toBe(true);
          if (r.terminated || r.truncated) break;
        }
        const s = e.getState();
        for (const v of s.qvel) expect(Math.abs(v)).toBeLessThan(100);
        episodes++;
      }
    }
    expect(episodes).toBe(26);
  });
});

describe('cartpole-swingup', () => {
  // qpos = [cart x, pole angle]; angle 0 is upright.
  it('starts hanging down near the centre', () => {
    const e = env('cartpole-swingup');
    for (let seed = 0; seed < 5; seed++) {
      const obs = e.reset(seed);
      expect(Math.abs(obs[0])).toBeLessThanOrEqual(0.2);
      expect(obs[1]).toBeLessThan(-0.97); // cos(angle)
      expect(e.success!()).toBe(0);
    }
  });

  it('scores upright and centred ~1 and success 1; hanging down ~0', () => {
    const e = env('cartpole-swingup');
    e.reset(0);
    e.setState(withQpos(e, { 0: 0, 1: 0 }));
    let r = e.step(zeros(e));
    expect(term(e, r, 'upright')).toBeGreaterThan(0.999);
    expect(term(e, r, 'cart_centered')).toBe(1);
    expect(Math.abs(term(e, r, 'pole_spin'))).toBeLessThan(0.05);
    expect(term(e, r, 'control_effort')).toBe(0);
    expect(r.info.success).toBe(1);
    expect(r.reward).toBeCloseTo(1.25, 2);
    expect(r.obs[1]).toBeGreaterThan(0.999);

    e.setState(withQpos(e, { 0: 0, 1: Math.PI }));
    r = e.step(zeros(e));
    expect(term(e, r, 'upright')).toBeLessThan(1e-4);
    expect(r.info.success).toBe(0);

    // Upright but at the end of the rail: not centred, success falls.
    e.setState(withQpos(e, { 0: 1.75, 1: 0 }));
    r = e.step(zeros(e));
    expect(term(e, r, 'cart_centered')).toBeLessThan(0.01);
    expect(r.info.success).toBeLessThan(0.01);
  });

  it('is solvable: an energy-pumping swing-up plus a PD balancer reaches success 1', () => {
    // Pole: 0.25 kg, 1 m, pivot at one end (cartpole.xml); energy is zero upright at rest.
    const inertia = 0.25 / 3;
    const mgl = 0.25 * 9.81 * 0.5;
    const e = env('cartpole-swingup');
    for (const seed of [0, 1]) {
      let obs = e.reset(seed);
      let ret = 0;
      let upright = 0;
      for (let t = 0; t < 500; t++) {
        const [x, c, s, v, w] = obs;
        const energy = 0.5 * inertia * w * w + mgl * (c - 1);
        const u = c > 0.85 ? 8 * Math.atan2(s, c) + 1.5 * w + 0.5 * x + 0.8 * v : 5 * energy * w * c - 0.3 * x - 0.3 * v;
        const r = e.step([Math.max(-1, Math.min(1, u))]);
        ret += r.reward;
        if (t >= 400) upright += r.info.success ?? 0;
        obs = r.obs;
      }
      expect(upright / 100).toBe(1); // balanced and centred for the last 2 s
      expect(ret).toBeGreaterThan(450); // of at most 1.25 x 500
    }
  });

  it('pushes the cart in the direction of the action', () => {
    const e = env('cartpole-swingup');
    e.reset(0);
    e.setState(withQpos(e, { 0: 0, 1: Math.PI }));
    for (let i = 0; i < 10; i++) e.step([1]);
    expect(e.getState().qpos[0]).toBeGreaterThan(0.1);
  });
});

describe('reacher', () => {
  // qpos = [shoulder, elbow, target x, target y]; links 0.13 m and 0.11 m to the fingertip.
  const L1 = 0.13;
  const L2 = 0.11;
  /** Joint angles that put the fingertip at (x, y) (elbow-up solution). */
  function ik(x: number, y: number): [number, number] {
    const c = (x * x + y * y - L1 * L1 - L2 * L2) / (2 * L1 * L2);
    const elbow = Math.acos(Math.max(-1, Math.min(1, c)));
    const shoulder = Math.atan2(y, x) - Math.atan2(L2 * Math.sin(elbow), L1 + L2 * Math.cos(elbow));
    return [shoulder, elbow];
  }

  it('places the target within reach and the observation shows it', () => {
    const e = env('reacher');
    for (let seed = 0; seed < 10; seed++) {
      const obs = e.reset(seed);
      const q = e.getState().qpos;
      const r = Math.hypot(q[2], q[3]);
      expect(r).toBeGreaterThanOrEqual(0.07);
      expect(r).toBeLessThanOrEqual(0.22);
      expect(obs[4]).toBeCloseTo(q[2], 6);
      expect(obs[5]).toBeCloseTo(q[3], 6);
      expect(obs[0]).toBeCloseTo(Math.cos(q[0]), 6);
      expect(obs[1]).toBeCloseTo(Math.sin(q[0]), 6);
    }
  });

  it('fingertip on the target gives distance ~0, on_target 1 and success 1', () => {
    const e = env('reacher');
    e.reset(7);
    const q = e.getState().qpos;
    const [s, el] = ik(q[2], q[3]);
    e.setState(withQpos(e, { 0: s, 1: el }));
    const r = e.step(zeros(e));
    expect(term(e, r, 'fingertip_distance')).toBeLessThan(0.002);
    expect(term(e, r, 'on_target')).toBe(1);
    expect(r.info.success).toBe(1);
    expect(Math.hypot(r.obs[8], r.obs[9])).toBeLessThan(0.002);
  });

  it('fingertip far from the target gives the distance, no bonus and success 0', () => {
    const e = env('reacher');
    e.reset(7);
    const q = e.getState().qpos;
    const angle = Math.atan2(q[3], q[2]) + Math.PI; // arm straight out, away from the target
    e.setState(withQpos(e, { 0: angle, 1: 0 }));
    const r = e.step(zeros(e));
    const want = Math.hypot(q[2], q[3]) + L1 + L2;
    expect(term(e, r, 'fingertip_distance')).toBeCloseTo(want, 3);
    expect(term(e, r, 'on_target')).toBe(0);
    expect(r.info.success).toBe(0);
    expect(r.reward).toBeCloseTo(-5 * term(e, r, 'fingertip_distance'), 10);
  });

  it('is solvable: a joint-space PD controller toward the inverse-kinematics pose gets on target', () => {
    const e = env('reacher');
    for (const seed of [1, 2, 3]) {
      e.reset(seed);
      const q0 = e.getState().qpos;
      const goal = ik(q0[2], q0[3]);
      let steps = 0;
      for (; steps < 200; steps++) {
        const st = e.getState();
        // Shortest way round for the unlimited shoulder.
        const ds = Math.atan2(Math.sin(goal[0] - st.qpos[0]), Math.cos(goal[0] - st.qpos[0]));
        const u = [4 * ds - 0.3 * st.qvel[0], 4 * (goal[1] - st.qpos[1]) - 0.3 * st.qvel[1]];
        const r = e.step(u.map((x) => Math.max(-1, Math.min(1, x))));
        if (term(e, r, 'on_target') === 1 && Math.abs(st.qvel[0]) + Math.abs(st.qvel[1]) < 0.5) break;
      }
      expect(steps).toBeLessThan(100); // within 2 s
      expect(e.success!()).toBe(1);
    }
  });

  it('the target does not move during an episode of random actions', () => {
    const e = env('reacher');
    const rng = new Rng('reacher/target');
    const a = new Float64Array(2);
    e.reset(11);
    const start = e.getState();
    for (let t = 0; t < 200; t++) {
      rng.fillUniform(a, -1, 1);
      e.step(a);
    }
    const end = e.getState();
    expect(end.qpos[2]).toBe(start.qpos[2]);
    expect(end.qpos[3]).toBe(start.qpos[3]);
    expect(end.qvel[2]).toBe(0);
    expect(end.qvel[3]).toBe(0);
    // ...while the arm did move.
    expect(Math.abs(end.qpos[0] - start.qpos[0]) + Math.abs(end.qpos[1] - start.qpos[1])).toBeGreaterThan(0.05);
  });
});

describe.each([
  ['hopper-hop', 2] as const,
  ['walker-walk', 2] as const,
])('%s', (id, pitchQ) => {
  // qpos = [root x, root z offset, root pitch, joints...]; torso centre at 1.2 m when standing.
  it('does not terminate while standing still at the initial pose for a few steps', () => {
    const e = env(id);
    for (let seed = 0; seed < 3; seed++) {
      e.reset(seed);
      for (let t = 0; t < 10; t++) {
        const r = e.step(zeros(e));
        expect(r.terminated).toBe(false);
        expect(term(e, r, 'healthy')).toBe(1);
        expect(Math.abs(term(e, r, 'forward_velocity'))).toBeLessThan(0.3);
      }
    }
  });

  it('terminates when knocked flat', () => {
    const e = env(id);
    e.reset(0);
    // Lying on its back: pitched 90 degrees and lowered so the torso centre is near the floor.
    e.setState(withQpos(e, { 1: -0.9, [pitchQ]: -Math.PI / 2 }));
    const r = e.step(zeros(e));
    expect(r.terminated).toBe(true);
    expect(r.truncated).toBe(false);
    expect(term(e, r, 'healthy')).toBe(0);
    expect(r.info.success).toBe(0);
    expect(() => e.step(zeros(e))).toThrow(/after the episode ended/);
  });

  it('terminates after a hard shove and falls within a second or two', () => {
    const e = env(id);
    e.reset(0);
    const s = e.getState();
    const qvel = Float64Array.from(s.qvel);
    qvel[pitchQ] = 4; // rad/s, tipping forward
    e.setState({ ...s, qvel });
    let steps = 0;
    for (;;) {
      const r = e.step(zeros(e));
      steps++;
      if (r.terminated || r.truncated) {
        expect(r.terminated).toBe(true);
        break;
      }
    }
    expect(steps).toBeLessThan(100);
  });

  it('reports forward velocity and scaled success while moving forward', () => {
    const e = env(id);
    e.reset(0);
    const s = e.getState();
    const qvel = new Float64Array(s.qvel.length);
    qvel[0] = 1.0; // m/s forward, for one step
    e.setState({ ...s, qvel });
    const r = e.step(zeros(e));
    expect(term(e, r, 'forward_velocity')).toBeGreaterThan(0.8);
    expect(r.info.success).toBeGreaterThan(0.2);
  });
});

describe('pusher', () => {
  // qpos = [shoulder, elbow, wrist, puck x, puck y, goal x, goal y]. With all joints at 0 the
  // arm lies along +x and its finger is at x = 0.47 m.
  it('starts with the finger away from the puck and the goal away from the puck', () => {
    const e = env('pusher');
    for (let seed = 0; seed < 10; seed++) {
      const obs = e.reset(seed);
      const q = e.getState().qpos;
      expect(obs[11]).toBeCloseTo(q[3], 6); // puck x in obs
      expect(obs[16]).toBeCloseTo(q[6], 6); // goal y in obs
      expect(Math.hypot(obs[17], obs[18])).toBeGreaterThanOrEqual(0.12); // puck minus finger
      expect(q[3]).toBeGreaterThan(0.1);
      const d = Math.hypot(q[5] - q[3], q[6] - q[4]);
      expect(d).toBeGreaterThanOrEqual(0.2);
      expect(d).toBeLessThanOrEqual(0.24);
      // Success falls from 1 at the disc's edge (0.05 m) to 0 at 0.4 m: 1 - (d - 0.05) / 0.35,
      // between 0.457 (d = 0.24) and 0.571 (d = 0.2) at the start.
      expect(e.success!()).toBeCloseTo(1 - (d - 0.05) / 0.35, 5);
      expect(e.success!()).toBeGreaterThan(0.45);
      expect(e.success!()).toBeLessThan(0.58);
    }
  });

  it('puck_to_goal decreases as the puck is moved toward the goal; at the goal success is 1', () => {
    const e = env('pusher');
    e.reset(4);
    const q0 = e.getState().qpos;
    const [px, py, gx, gy] = [q0[3], q0[4], q0[5], q0[6]];
    const d0 = Math.hypot(gx - px, gy - py);
    let prev = Infinity;
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      // Arm folded back, away from the puck's path.
      e.setState(withQpos(e, { 0: Math.PI, 1: 0, 2: 0, 3: px + f * (gx - px), 4: py + f * (gy - py) }));
      const r = e.step(zeros(e));
      const d = term(e, r, 'puck_to_goal');
      expect(d).toBeCloseTo((1 - f) * d0, 3);
      expect(d).toBeLessThan(prev);
      prev = d;
      if (f === 1) {
        expect(term(e, r, 'puck_at_goal')).toBe(1);
        expect(r.info.success).toBe(1);
      } else if (f <= 0.5) {
        expect(term(e, r, 'puck_at_goal')).toBe(0);
        expect(r.info.success).toBeCloseTo(1 - (d - 0.05) / 0.35, 5);
      }
    }
  });

  it('success is 0 from 0.4 m and keeps falling as the puck is pushed away from the goal', () => {
    const e = env('pusher');
    e.reset(4);
    const q0 = e.getState().qpos;
    const [gx, gy] = [q0[5], q0[6]];
    // Puck placed 0.1, 0.225, 0.4 and 0.5 m from the goal centre along -x (arm folded back).
    const expected = [1 - 0.05 / 0.35, 1 - 0.175 / 0.35, 0, 0];
    let i = 0;
    for (const dist of [0.1, 0.225, 0.4, 0.5]) {
      e.setState(withQpos(e, { 0: Math.PI, 1: 0, 2: 0, 3: gx - dist, 4: gy }));
      const r = e.step(zeros(e));
      expect(term(e, r, 'puck_to_goal')).toBeCloseTo(dist, 3);
      expect(r.info.success).toBeCloseTo(expected[i++], 2);
    }
  });

  it('hand_to_puck is the finger-to-puck distance and 0.06 m when touching', () => {
    const e = env('pusher');
    e.reset(0);
    e.setState(withQpos(e, { 0: 0, 1: 0, 2: 0, 3: 0.53, 4: 0 }));
    const r = e.step(zeros(e));
    expect(term(e, r, 'hand_to_puck')).toBeCloseTo(0.06, 3);
    expect(r.obs[17]).toBeCloseTo(0.06, 3); // puck minus finger, x
  });

  it('the finger pushes the puck by contact without passing through it', () => {
    const e = env('pusher');
    e.reset(0);
    // Arm straight along -20 degrees, puck on the +x axis at the finger's radius: sweeping the
    // shoulder counter-clockwise brings the finger into the puck.
    e.setState(withQpos(e, { 0: -0.35, 1: 0, 2: 0, 3: 0.45, 4: 0, 5: -0.1, 6: 0.3 }));
    let minGap = Infinity;
    for (let t = 0; t < 10; t++) {
      const r = e.step([1, 0, 0]);
      minGap = Math.min(minGap, Math.hypot(r.obs[17], r.obs[18]) - 0.06);
    }
    expect(minGap).toBeGreaterThan(-0.005); // soft contact: at most a few mm of overlap
    expect(minGap).toBeLessThan(0.005); // ...and they did touch
    const s = e.getState();
    expect(s.qpos[4]).toBeGreaterThan(0.05); // puck pushed towards +y
    expect(s.qpos[5]).toBe(-0.1);
    expect(s.qpos[6]).toBe(0.3);
  });

  it('the links pass over the puck without touching it', () => {
    const e = env('pusher');
    e.reset(0);
    // Puck under the forearm's sweep (radius 0.3 m); the finger sweeps at 0.47 m.
    e.setState(withQpos(e, { 0: -0.6, 1: 0, 2: 0, 3: 0.3, 4: 0 }));
    for (let t = 0; t < 10; t++) e.step([1, 0, 0]);
    const s = e.getState();
    expect(s.qpos[0]).toBeGreaterThan(0.6); // the arm swept over the puck
    expect(s.qpos[3]).toBe(0.3);
    expect(s.qpos[4]).toBe(0);
  });

  it('the goal stays fixed and the puck comes to rest under random actions', () => {
    const e = env('pusher');
    const rng = new Rng('pusher/goal');
    const a = new Float64Array(3);
    for (let ep = 0; ep < 3; ep++) {
      e.reset(20 + ep);
      const start = e.getState();
      for (let t = 0; t < 200; t++) {
        rng.fillUniform(a, -1, 1);
        e.step(a);
      }
      const end = e.getState();
      expect(end.qpos[5]).toBe(start.qpos[5]);
      expect(end.qpos[6]).toBe(start.qpos[6]);
      expect(end.qvel[5]).toBe(0);
      expect(end.qvel[6]).toBe(0);
      expect(Math.hypot(end.qpos[3], end.qpos[4])).toBeLessThan(0.8);
    }
    // Left alone, dry friction stops a sliding puck.
    e.reset(1);
    e.setState(withQpos(e, { 0: Math.PI, 1: 0, 2: 0 }));
    const s = e.getState();
    const qvel = new Float64Array(s.qvel.length);
    qvel[3] = 0.5;
    e.setState({ ...s, qvel });
    for (let t = 0; t < 20; t++) e.step(zeros(e));
    const end = e.getState();
    expect(end.qvel[3]).toBeCloseTo(0, 6);
    expect(end.qpos[3] - s.qpos[3]).toBeGreaterThan(0.01);
    expect(end.qpos[3] - s.qpos[3]).toBeLessThan(0.2);
  });
});
