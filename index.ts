/**
 * prefrl's library entry point: `import { makeEnv, rollout, ... } from 'prefrl'` in scripts that
 * drive the pieces directly instead of through the CLI. It re-exports the modules' own functions
 * and classes; docs/library.md describes each (test/docs_library.test.ts keeps the two in step)
 * and their doc comments have the details. What is not listed here is internal and may change
 * without notice. Worked scripts: README.md "Use it from a script" and docs/examples/.
 */

// Seeded randomness and the tensor backend.
export { Rng, type RngState } from './core/rng.js';
export { type BackendChoice, type BackendInfo, currentBackend, describeBackend, initBackend } from './core/backend.js';
/**
 * `tensorMemory()`: what TensorFlow.js's engine holds now (`numTensors`, `numBytes`, ...), i.e.
 * `tf.memory()` of the engine prefrl's networks use. A script checks that it disposes what it
 * made (a RewardNet, a trainer) by comparing `numTensors` before and after, without importing
 * '@tensorflow/tfjs' itself.
 */
export { memory as tensorMemory, type MemoryInfo as TensorMemoryInfo } from '@tensorflow/tfjs';
export { InputError, UsageError } from './core/errors.js';

// What the pipelines and the PPO trainer take as collaborators: run folders, a logger, a clock.
export { createRunDir, openRunDir, type RunDir } from './core/run.js';
export { Logger, type Metrics, silentLogger, type Sink } from './core/log.js';
export { type Clock, systemClock } from './core/clock.js';

// Environments: the built-in suite, bring-your-own MJCF models, vectorised envs, rollouts.
export { type Env, type EnvSpec, type EnvState, type RewardTermSpec, type StepInfo, type StepResult, ActionError, weightedSum } from './envs/types.js';
export { type EnvConfig, envIds, makeEnv, type MakeEnvOptions, type RegisteredEnv, registeredEnv, registeredEnvs } from './envs/registry.js';
export { createVecEnv, type VecEnv, type VecEnvOptions, type VecObs, type VecStep } from './envs/vec.js';
export { episodeSeed, type Policy, randomPolicy, rollout, type RolloutOptions } from './envs/rollout.js';
export { loadTrajectories, saveTrajectories, stateAt, type StepArrays, type Trajectory, TrajectoryBuilder, type TrajectoryDims, trajectoryReturn } from './envs/trajectory.js';
export { type CheckedEnv, type CheckReport, type CheckResult, checkEnv, type CheckOptions } from './envs/check.js';
export { type BoundTask, defineTask, type MujocoTask } from './envs/mujoco/task.js';
export type { Physics } from './envs/mujoco/physics.js';

// Segments, pairs, teachers, labels.
// A teacher of your own implements Teacher: labels are PreferenceLabel or SkipLabel objects (ids from labelId).
export type { Label, Pair, PreferenceLabel, PreferenceModelKind, RewardInput, Segment, SkipLabel, Teacher, TeacherContext, TransitionBatch } from './reward/types.js';
export { type CutOptions, cutSegments, makePair, sampleSegments, segmentReturn } from './reward/segments.js';
export { makeTeacher, type MakeTeacherOptions, TeacherSpecError } from './reward/teachers/index.js';
export { labelId } from './reward/teachers/synthetic.js';
export type { ValueFunction } from './reward/teachers/regret.js';
export type { PairScope, QueryMethod } from './reward/query.js';
export {
  type AddLabelsResult,
  LabelStore,
  type LabelledPair,
  type NewLabel,
  type OpenOptions as LabelStoreOpenOptions,
  type PutPairsOptions,
  type PutResult,
  SecondLabelError,
  type StoreCounts,
  type StoredLabel,
} from './reward/store.js';

// Preference models and learned rewards.
export { partialReturnProb, regretProb } from './reward/preference.js';
export { RewardNet, type RewardNetConfig, type RewardNetInit, type RewardNetOptions, segmentTransitions } from './reward/network.js';
export { trainRewardModel, type TrainOptions as RewardTrainOptions, type TrainResult as RewardTrainResult } from './reward/train.js';
export { epicDistance, preferenceAccuracy, returnCorrelation } from './reward/metrics.js';
export { relabelDataset, type Relabelling } from './reward/relabel.js';

// Agents: PPO online, IQL and behaviour cloning offline, datasets in the D4RL layout.
export { evaluatePolicy, expertValueFunction, PpoPolicy, PpoTrainer, type PpoConfig, type PpoTrainerOptions } from './agents/ppo.js';
export type { RewardFn } from './agents/types.js';
export { ActorSnapshot } from './agents/actor_snapshot.js';
export type { EvalResult, TrainOfflineResult } from './agents/iql.js';
export { type OfflineAlgo, trainOfflineAgent, type OfflineAgentOptions, type OfflineAgentResult } from './agents/offline_train.js';
export { datasetFromTrajectories, type DatasetMeta, type OfflineDataset, type ReadOptions as ReadDatasetOptions, readDataset, summarizeDataset, writeDataset } from './agents/dataset.js';
export { type LoadPolicyOptions, loadSavedPolicy, type SavedPolicy } from './agents/saved_policy.js';

// The pipelines the CLI runs: online preference learning and the offline pipeline.
export { type LoopOptions, type LoopResume, type LoopSummary, readLoopResume, runPreferenceLoop } from './reward/loop.js';
export type { InputSelectionOptions } from './reward/select.js';
export {
  type OfflineConfig,
  type OfflineConfigInput,
  type OfflineContext,
  type OfflineResult,
  type OfflineRunOptions,
  type OfflineStage,
  type OfflineSummary,
  type OfflineTeacherKind,
  runOffline,
} from './reward/offline.js';
