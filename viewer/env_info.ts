/**
 * What the viewer needs to know about the env of a label store: the goal text, reward terms
 * and step time (shown to teachers, used by HERON), and the model files the page compiles
 * with MuJoCo WASM to replay the clips. Server side (Node).
 *
 * Models by env kind:
 *   built-in MuJoCo envs   the MJCF text of envs/assets/<file>
 *   bring-your-own models  every file of the model's folder that MuJoCo may read (includes,
 *                          meshes, textures), as `modelFiles(path)` lists them
 *   toy-reach              a small MJCF written here whose qpos layout matches the toy's
 *                          state (point x, y; goal x, y), so toy clips replay like any other
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError, parseJson, UsageError } from '../core/errors.js';
import { type EnvConfig, makeEnv, registeredEnv } from '../envs/registry.js';
import { modelFiles } from '../envs/mujoco/runtime.js';
import { builtinModel } from '../envs/tasks/common.js';
import type { EnvSpec } from '../envs/types.js';
import { bytesToBase64, MAX_SERVER_MESSAGE_BYTES, type ModelPayload, type TermInfo, utf8Length } from './protocol.js';

export interface ViewerEnv {
  readonly config: EnvConfig;
  readonly spec: EnvSpec;
  /** The model id pairs refer to (the env's model hash, made id-safe). */
  readonly modelId: string;
  readonly model: ModelPayload;
  readonly terms: TermInfo[];
}

/** MJCF for toy-reach: qpos = [x, y, goal_x, goal_y] as in envs/toy.ts; the arena is [-1, 1]^2. */
export const TOY_REACH_MJCF = `<mujoco model="toy-reach">
  <option gravity="0 0 0"/>
  <worldbody>
    <light pos="0 0 3" dir="0 0 -1" directional="true"/>
    <camera name="top" pos="0 -0.3 3" xyaxes="1 0 0 0 0.995 0.1"/>
    <geom name="floor" type="plane" size="1.1 1.1 0.05" rgba="0.3 0.35 0.4 1"/>
    <geom name="wall_px" type="box" pos="1.05 0 0.03" size="0.02 1.07 0.03" rgba="0.5 0.5 0.55 1"/>
    <geom name="wall_nx" type="box" pos="-1.05 0 0.03" size="0.02 1.07 0.03" rgba="0.5 0.5 0.55 1"/>
    <geom name="wall_py" type="box" pos="0 1.05 0.03" size="1.07 0.02 0.03" rgba="0.5 0.5 0.55 1"/>
    <geom name="wall_ny" type="box" pos="0 -1.05 0.03" size="1.07 0.02 0.03" rgba="0.5 0.5 0.55 1"/>
    <body name="point" pos="0 0 0.05">
      <joint name="x" type="slide" axis="1 0 0"/>
      <joint name="y" type="slide" axis="0 1 0"/>
      <geom name="point" type="sphere" size="0.05" rgba="0.9 0.55 0.25 1"/>
    </body>
    <body name="goal" pos="0 0 0.005">
      <joint name="goal_x" type="slide" axis="1 0 0"/>
      <joint name="goal_y" type="slide" axis="0 1 0"/>
      <geom name="goal" type="cylinder" size="0.1 0.005" rgba="0.3 0.85 0.35 0.5" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
</mujoco>
`;

/** A model hash made safe for ids. */
export function modelIdOf(hash: string): string {
  return `m-${hash.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 120)}`;
}

/** The model files of an env, for the page. */
export function modelPayload(config: EnvConfig): ModelPayload {
  if (config.id === 'custom') {
    if (!config.model) throw new UsageError('custom env: a model path is required');
    const main = basename(config.model);
    const files = modelFiles(config.model).map((f) => ({ name: f.name, b64: bytesToBase64(f.bytes) }));
    if (!files.some((f) => f.name === main)) files.push({ name: main, b64: bytesToBase64(new Uint8Array(readFileSync(config.model))) });
    return { kind: 'files', name: config.model, main, files };
  }
  const entry = registeredEnv(config.id);
  if (!entry) throw new UsageError(`unknown env ${JSON.stringify(config.id)}`);
  // prefrl's own models take the viewer's floor grid instead of their floor textures (ModelPayload).
  if (entry.kind === 'toy') return { kind: 'xml', name: 'toy-reach (viewer model)', xml: TOY_REACH_MJCF, floorGrid: true };
  if (!entry.modelFile) throw new Error(`registry entry ${entry.id} has no model file`);
  const src = builtinModel(entry.modelFile);
  if (src.kind !== 'xml') throw new Error(`built-in model ${entry.modelFile} is not XML`);
  return { kind: 'xml', name: src.name, xml: src.xml, floorGrid: true };
}

/**
 * Check that the labelling page can take a model: its `model` message (the model's files as
 * base64, in JSON) must fit the page's limit per message, or the page could never show a pair.
 * Throws an InputError naming the model.
 */
export function checkModelMessage(payload: ModelPayload, limit: number = MAX_SERVER_MESSAGE_BYTES): void {
  const bytes = utf8Length(JSON.stringify({ type: 'model', modelId: modelIdOf('0'.repeat(64)), model: payload }));
  if (bytes <= limit) return;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  throw new InputError(payload.name, `its files come to ${mib(bytes)} MiB as the labelling page receives them (base64), over the page's limit of ${mib(limit)} MiB; keep only the files the model uses in its folder, or make its textures and meshes smaller`);
}

/** Build the env once to read its spec, and collect its model files (checked to fit the page). */
export async function loadViewerEnv(config: EnvConfig): Promise<ViewerEnv> {
  const env = await makeEnv(config);
  let spec: EnvSpec;
  try {
    spec = env.spec;
  } finally {
    env.dispose();
  }
  const model = modelPayload(config);
  checkModelMessage(model);
  return {
    config,
    spec,
    modelId: modelIdOf(spec.modelHash),
    model,
    terms: spec.rewardTerms.map((t) => ({ name: t.name, weight: t.weight, doc: t.doc })),
  };
}

/**
 * The env config of a label store when none is given: a built-in id recorded in the store,
 * or, for a bring-your-own model, the `envConfig` of the run folder the store lives in
 * (`prefrl train` writes labels.sqlite next to config.json; other data passes its run's config.json).
 */
export function envConfigForStore(storePath: string, storeEnvId: string | undefined, cfgFile = join(dirname(resolve(storePath)), 'config.json')): EnvConfig {
  if (storeEnvId === undefined) throw new UsageError(`${storePath} holds no segments yet, so its env is unknown; pass --env`);
  if (registeredEnv(storeEnvId)) return { id: storeEnvId };
  if (existsSync(cfgFile)) {
    const cfg = parseJson(readFileSync(cfgFile, 'utf8'), cfgFile);
    const ec = (cfg as { envConfig?: EnvConfig }).envConfig;
    if (ec && ec.id === 'custom' && typeof ec.model === 'string') {
      if (!existsSync(ec.model)) throw new InputError(cfgFile, `model file ${ec.model} no longer exists; pass --env path/to/model.xml`, 'envConfig.model');
      return { id: 'custom', model: ec.model, ...(typeof ec.task === 'string' ? { task: ec.task } : {}) };
    }
  }
  throw new UsageError(`${storePath} holds segments of ${storeEnvId}, a bring-your-own model; pass --env path/to/model.xml (and --task if it has one)`);
}
