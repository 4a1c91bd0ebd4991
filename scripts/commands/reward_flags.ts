/**
 * Reward-model flags shared by `prefrl train` and `prefrl offline` (same names, defaults and
 * help text in both).
 */
import { flags } from '../../core/config.js';
import { REWARD_INPUTS } from '../../reward/network.js';
import { MAX_AUTO_SELECTION_WORKERS } from '../../reward/select.js';
import { TRAIN_DEFAULTS } from '../../reward/train.js';

export const rewardTrainingFlags = {
  rewardInput: flags.choice(REWARD_INPUTS, {
    doc: 'reward model: what it sees of a transition (obs-next-obs: the state reached too, the frame a final-frame teacher judges)',
    default: 'obs-action',
  }),
  rewardFlipRate: flags.float({
    doc: 'reward model: label flip rate of the noise-robust preference loss, for a teacher known to make mistakes (0: plain Bradley-Terry, as in RL-VLM-F)',
    default: TRAIN_DEFAULTS.flipRate,
    min: 0,
    max: 0.49,
  }),
  rewardLr: flags.float({ doc: 'reward model: Adam learning rate', default: TRAIN_DEFAULTS.lr, min: 0 }),
  rewardWeightDecay: flags.float({ doc: 'reward model: L2 penalty on its weight matrices (c / 2 x sum of squared weights added to the loss)', default: TRAIN_DEFAULTS.weightDecay, min: 0 }),
  rewardInputL1: flags.float({ doc: "reward model: group-lasso penalty on its first layer (c x the sum over input features of the norm of each feature's weights), so it relies on few inputs", default: TRAIN_DEFAULTS.inputL1, min: 0 }),
  rewardInputProx: flags.float({
    doc: "reward model: proximal group lasso on its first layer (after every step each input feature's weights shrink by lr x c in norm, reaching exactly 0 when the labels do not hold them up), so it switches unused inputs off",
    default: TRAIN_DEFAULTS.inputProx,
    min: 0,
  }),
  rewardSelectWorkers: flags.int({
    doc: 'with --reward-select-inputs: worker threads that score candidate input sets at the same time (the choice does not depend on it; 0: one after another in the main thread)',
    optional: true,
    min: 0,
    defaultDoc: `one per CPU core, at most ${MAX_AUTO_SELECTION_WORKERS} (0 on one core or with a native TensorFlow backend)`,
  }),
};
