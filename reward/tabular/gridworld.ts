/**
 * Delivery-style gridworlds for the tabular regret-vs-partial-return experiments, written from
 * the description of the delivery domain in Knox et al. 2022 ("Models of human preference for
 * learning reward functions"): a vehicle moves on a grid towards a destination; every step
 * costs something, reaching the destination pays a large reward and ends the episode, running
 * into a sheep costs a large penalty and ends it too, coins pay a small bonus and roadblocks a
 * small extra cost. Rewards are linear in cell-type features, as in the paper's setup.
 *
 * Manual
 * - State: the agent's cell (row-major index r * width + c). Goal and sheep cells are terminal.
 * - Actions: 0 up, 1 right, 2 down, 3 left; deterministic; moving into the border leaves the
 *   agent where it is (and still pays the step and the cell it stays on).
 * - Features of a transition (s, a, s'), [5]: step (always 1), goal, sheep, coin, roadblock
 *   (1 when s' has that type). r(s, a, s') = w . phi(s, a, s'). Coins are not used up (the
 *   state is only the cell), so a bonus is paid on every step that ends on a coin.
 * - Start states: uniform over non-terminal cells. Discount gamma (default 0.99): the paper's
 *   delivery task is episodic and undiscounted, but a learned reward may make a never-ending
 *   policy optimal (V* infinite at gamma = 1), so every quantity here (true and learned) uses
 *   the same gamma < 1. A world built with gamma = 1 has exact V*, J* and regret labels for its
 *   true reward (policy iteration starts from a policy that ends its episodes), but the regret
 *   learner refuses it and a learned reward whose optimal policy never ends is an error.
 *
 * Sizes. The fixed domain is 10 x 10 (100 states, 4 actions), the scale of the paper's delivery
 * gridworld; random MDPs are 5..10 cells a side with the same cell types, random layouts and
 * random reward weights, so exact dynamic programming on them takes a millisecond.
 */
import type { Rng } from '../../core/rng.js';
import { buildMdp, entryCount, expectedReturn, greedyPolicy, linearReward, policyIteration, type TabularMdp, uniformRandomPolicy } from './mdp.js';

export const CELL_ROAD = 0;
export const CELL_GOAL = 1;
export const CELL_SHEEP = 2;
export const CELL_COIN = 3;
export const CELL_ROADBLOCK = 4;

/** Feature order of phi(s, a, s'); also the order of reward weights. */
export const FEATURE_NAMES = ['step', 'goal', 'sheep', 'coin', 'roadblock'] as const;
export const FEATURE_DIM = FEATURE_NAMES.length;

/** Layout characters: road, goal (destination), sheep, coin, roadblock. */
const CHARS = ['.', 'G', 'S', 'c', 'x'] as const;

/** Row, column offsets of actions up, right, down, left. */
const MOVES: readonly (readonly [number, number])[] = [
  [-1, 0],
  [0, 1],
  [1, 0],
  [0, -1],
];

export const ACTION_NAMES = ['up', 'right', 'down', 'left'] as const;

/** A gridworld: its MDP, per-transition features and true reward. */
export interface GridWorld {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** [height * width] cell types (CELL_*), row-major. */
  readonly cells: Uint8Array;
  readonly mdp: TabularMdp;
  /** [T, FEATURE_DIM] features of every (s, a, s') entry of the MDP. */
  readonly features: Float64Array;
  readonly dim: number;
  /** True reward weights [FEATURE_DIM]. */
  readonly trueWeights: Float64Array;
  /** True reward per entry [T] = features . trueWeights. */
  readonly trueReward: Float64Array;
}

/** The weights of the fixed delivery domain: step -1, destination +50, sheep -50, coin +1, roadblock -1. */
export const DELIVERY_WEIGHTS: readonly number[] = [-1, 50, -50, 1, -1];

/**
 * The fixed 10 x 10 delivery layout (row 0 at the top). One destination on the right edge,
 * sheep scattered so that the short routes pass next to them, roadblocks forming partial walls
 * that make detours worth comparing, coins off the shortest paths.
 */
export const DELIVERY_LAYOUT: readonly string[] = [
  '...x....c.',
  '.S.x..S...',
  '.....x..x.',
  'c.xx...Sx.',
  '.....c...G',
  'xx.S.xx...',
  '........S.',
  '.c.x.S....',
  '...x...x.c',
  'S......x..',
];

/** Build a gridworld from cell types (row-major) and weights. */
export function makeGridWorld(name: string, width: number, height: number, cells: ArrayLike<number>, weights: ArrayLike<number>, gamma = 0.99): GridWorld {
  if (cells.length !== width * height) throw new RangeError(`makeGridWorld: ${cells.length} cells for a ${width} x ${height} grid`);
  if (weights.length !== FEATURE_DIM) throw new RangeError(`makeGridWorld: ${weights.length} weights, expected ${FEATURE_DIM}`);
  const types = Uint8Array.from(cells);
  for (const t of types) if (t > CELL_ROADBLOCK) throw new RangeError(`makeGridWorld: unknown cell type ${t}`);
  const terminal = Array.from(types, (t) => t === CELL_GOAL || t === CELL_SHEEP);
  if (terminal.every(Boolean)) throw new RangeError('makeGridWorld: every cell is terminal');
  const move = (s: number, a: number): number => {
    const r = Math.floor(s / width) + MOVES[a][0];
    const c = (s % width) + MOVES[a][1];
    return r < 0 || r >= height || c < 0 || c >= width ? s : r * width + c;
  };
  const { mdp } = buildMdp({
    nStates: width * height,
    nActions: MOVES.length,
    gamma,
    terminal,
    outcomes: (s, a) => [{ next: move(s, a), prob: 1 }],
  });
  const features = new Float64Array(entryCount(mdp) * FEATURE_DIM);
  for (let e = 0; e < entryCount(mdp); e++) {
    features[e * FEATURE_DIM] = 1;
    const t = types[mdp.next[e]];
    if (t !== CELL_ROAD) features[e * FEATURE_DIM + t] = 1;
  }
  const trueWeights = Float64Array.from(weights);
  return { name, width, height, cells: types, mdp, features, dim: FEATURE_DIM, trueWeights, trueReward: linearReward(features, FEATURE_DIM, trueWeights) };
}

/** Parse a layout of CHARS rows into cell types. */
export function parseLayout(rows: readonly string[]): { width: number; height: number; cells: Uint8Array } {
  const height = rows.length;
  const width = rows[0]?.length ?? 0;
  if (height === 0 || width === 0) throw new RangeError('parseLayout: empty layout');
  const cells = new Uint8Array(width * height);
  rows.forEach((row, r) => {
    if (row.length !== width) throw new RangeError(`parseLayout: row ${r} has ${row.length} cells, expected ${width}`);
    for (let c = 0; c < width; c++) {
      const t = (CHARS as readonly string[]).indexOf(row[c]);
      if (t < 0) throw new RangeError(`parseLayout: unknown cell ${JSON.stringify(row[c])} at row ${r}, column ${c}`);
      cells[r * width + c] = t;
    }
  });
  return { width, height, cells };
}

/** The layout as CHARS rows (inverse of parseLayout). */
export function renderLayout(world: Pick<GridWorld, 'width' | 'height' | 'cells'>): string[] {
  return Array.from({ length: world.height }, (_, r) => Array.from(world.cells.subarray(r * world.width, (r + 1) * world.width), (t) => CHARS[t]).join(''));
}

/** The fixed delivery domain (DELIVERY_LAYOUT, DELIVERY_WEIGHTS). */
export function deliveryGridworld(gamma = 0.99): GridWorld {
  const { width, height, cells } = parseLayout(DELIVERY_LAYOUT);
  return makeGridWorld('delivery', width, height, cells, DELIVERY_WEIGHTS, gamma);
}

export interface RandomGridOptions {
  /** Smallest and largest side length (inclusive); default 5 and 10. */
  readonly minSide?: number;
  readonly maxSide?: number;
  readonly gamma?: number;
}

/**
 * A random delivery-style MDP. Sides uniform in [minSide, maxSide]; one destination in a
 * random cell; every other cell is a sheep, coin or roadblock with probabilities drawn per MDP
 * from U[0.03, 0.12], U[0.05, 0.15] and U[0.05, 0.25] (road otherwise). Weights: step -1 (sets
 * the scale), destination U[10, 60], sheep U[-60, -10], coin U[0, 1] (never more than the step
 * cost, so no loop is worth more than finishing), roadblock U[-3, 0]. Layouts where the
 * uniformly random policy is as good as the optimal one are redrawn (they cannot be scored).
 */
export function randomGridworld(rng: Rng, name: string, opts: RandomGridOptions = {}): GridWorld {
  const lo = opts.minSide ?? 5;
  const hi = opts.maxSide ?? 10;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 2 && hi >= lo)) throw new RangeError(`randomGridworld: bad side range ${lo}..${hi}`);
  for (let attempt = 0; attempt < 100; attempt++) {
    const width = lo + rng.int(hi - lo + 1);
    const height = lo + rng.int(hi - lo + 1);
    const pSheep = rng.range(0.03, 0.12);
    const pCoin = rng.range(0.05, 0.15);
    const pBlock = rng.range(0.05, 0.25);
    const cells = new Uint8Array(width * height);
    for (let i = 0; i < cells.length; i++) {
      const u = rng.uniform();
      cells[i] = u < pSheep ? CELL_SHEEP : u < pSheep + pCoin ? CELL_COIN : u < pSheep + pCoin + pBlock ? CELL_ROADBLOCK : CELL_ROAD;
    }
    cells[rng.int(cells.length)] = CELL_GOAL;
    if (cells.every((t) => t === CELL_GOAL || t === CELL_SHEEP)) continue;
    const weights = [-1, rng.range(10, 60), -rng.range(10, 60), rng.range(0, 1), -rng.range(0, 3)];
    const world = makeGridWorld(name, width, height, cells, weights, opts.gamma ?? 0.99);
    const { mdp, trueReward } = world;
    const jOpt = expectedReturn(mdp, greedyPolicy(mdp, policyIteration(mdp, trueReward).q), trueReward);
    const jRand = expectedReturn(mdp, uniformRandomPolicy(mdp), trueReward);
    if (jOpt - jRand > 1e-6 * (1 + Math.abs(jOpt))) return world;
  }
  throw new RangeError(`randomGridworld: no scorable layout in 100 draws (sides ${lo}..${hi})`);
}
