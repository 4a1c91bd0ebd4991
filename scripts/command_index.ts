/**
 * The CLI's commands: name, one-line summary (what `prefrl --help` lists) and where the command
 * lives. The command modules are loaded only when their command runs: most of them pull in
 * TensorFlow.js or the whole training stack, which took about a second at start-up for every
 * command, `prefrl --help` and `prefrl runs` included. Each module's Command takes its summary
 * from here (commandSummary), so it is written once.
 */
import type { Command } from './command.js';

export interface CommandEntry {
  /** Words after `prefrl`, e.g. "envs" or "bench envs". */
  readonly name: string;
  readonly summary: string;
  /** The command's module, loaded when the command runs. */
  load(): Promise<Command>;
}

export const COMMAND_ENTRIES: readonly CommandEntry[] = [
  { name: "demo", summary: "The main job of `npm start`: a few minutes of online preference learning on reacher, against PPO on the true reward", load: async () => (await import('./commands/demo.js')).demoCommand },
  { name: "tour", summary: "Random-policy rollouts in every built-in robot, saved as trajectories (seconds)", load: async () => (await import('./commands/tour.js')).tourCommand },
  { name: "envs", summary: "List the built-in environments: observation and action sizes, dt, horizon, reward terms and goal.", load: async () => (await import('./commands/envs.js')).envsCommand },
  { name: "check-env", summary: "Run the environment contract checks on a built-in env or an MJCF file", load: async () => (await import('./commands/check_env.js')).checkEnvCommand },
  { name: "rollout", summary: "Run a policy (random, zero or trained) in an env: returns, success, and its episodes in a run folder", load: async () => (await import('./commands/rollout.js')).rolloutCommand },
  { name: "train", summary: "Online preference-based RL (PPO + learned reward), or PPO on the true reward", load: async () => (await import('./commands/train.js')).trainCommand },
  { name: "collect", summary: "Collect an offline dataset (HDF5, D4RL layout) with a random, medium, expert or medium-replay policy", load: async () => (await import('./commands/collect.js')).collectCommand },
  { name: "iql", summary: "Offline RL on a dataset: IQL or behaviour cloning, with the true or a learned reward", load: async () => (await import('./commands/iql.js')).iqlCommand },
  { name: "offline", summary: "Offline preference pipeline: teacher labels on dataset segments -> reward -> relabel -> IQL, vs IQL on the true reward and BC", load: async () => (await import('./commands/offline.js')).offlineCommand },
  { name: "pairs", summary: "Pairs of segments from recorded episodes into a label store, for people to compare in the viewer", load: async () => (await import('./commands/pairs.js')).pairsCommand },
  { name: "serve", summary: "Labelling server: people compare clips in the browser and their answers go to the label store", load: async () => (await import('./commands/serve.js')).serveCommand },
  { name: "label", summary: "A synthetic teacher, HERON or a VLM answers a label store's pairs it has not answered yet", load: async () => (await import('./commands/label.js')).labelCommand },
  { name: "reward", summary: "Train a reward model on a label store's labels (e.g. people's), for train / iql --reward model:<run>", load: async () => (await import('./commands/reward.js')).rewardCommand },
  { name: "render", summary: "Render a stored pair or recorded episodes to video or an image with the viewer's scene (headless Chromium + ffmpeg)", load: async () => (await import('./commands/render.js')).renderCommand },
  { name: "fit-stats", summary: "Compare the partial-return and regret preference models on labelled comparison statistics (k-fold held-out NLL).", load: async () => (await import('./commands/fit_stats.js')).fitStatsCommand },
  { name: "labels export", summary: "Write every label of a label store to a JSONL file (one JSON object per line).", load: async () => (await import('./commands/labels.js')).labelsExportCommand },
  { name: "labels import", summary: "Add labels from a JSONL file to a label store (validated line by line; re-importing adds nothing).", load: async () => (await import('./commands/labels.js')).labelsImportCommand },
  { name: "labels stats", summary: "Per teacher: labels, preferences, ties, skips, answer time, agreement with the true return and with each other, and which reward term decided a HERON teacher's labels", load: async () => (await import('./commands/labels.js')).labelsStatsCommand },
  { name: "runs", summary: "List the run folders: command, env, teacher, seed, finished or not, headline result, how to resume", load: async () => (await import('./commands/runs.js')).runsCommand },
  { name: "plot", summary: "Learning curves of run folders as one SVG (a line per run and metric)", load: async () => (await import('./commands/plot.js')).plotCommand },
  { name: "tensorboard", summary: "Write the scalars of run folders as TensorBoard event files (for tensorboard --logdir)", load: async () => (await import('./commands/tensorboard.js')).tensorboardCommand },
  { name: "bench envs", summary: "Benchmark the built-in MuJoCo envs (WASM vs native steps/s, 1 vs 2 workers)", load: async () => (await import('./commands/bench_envs.js')).benchEnvsCommand },
  { name: "bench reward", summary: "Time one training step and the relabelling throughput of the reward ensemble, next to PyTorch when available.", load: async () => (await import('./commands/bench_reward.js')).benchRewardCommand },
  { name: "bench regret", summary: "Regret vs partial-return preference models on tabular delivery gridworlds (mean scaled return of the learned reward).", load: async () => (await import('./commands/bench_regret.js')).benchRegretCommand },
  { name: "bench agents", summary: "Time one PPO update and one IQL update, next to the same computations in PyTorch when available.", load: async () => (await import('./commands/bench_agents.js')).benchAgentsCommand },
  { name: "bench oracle", summary: "Synthetic-oracle benchmark suites: resumable, shardable cells, summary.md and SVG plots", load: async () => (await import('./commands/bench_oracle.js')).benchOracleCommand },
];

/** The one-line summary of the command `name` (throws for a name that is not a command: a typo in a module). */
export function commandSummary(name: string): string {
  const e = COMMAND_ENTRIES.find((c) => c.name === name);
  if (!e) throw new Error(`commandSummary: no command ${JSON.stringify(name)}`);
  return e.summary;
}
