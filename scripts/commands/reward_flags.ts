/**
 * Reward-model flags shared by `prefrl train`, `prefrl offline` and `prefrl reward` (same names,
 * defaults and help text in each).
 */
import { flags } from '../../core/config.js';
import { REWARD_INPUTS } from '../../reward/network.js';
import { MAX_AUTO_SELECTION_WORKERS } from '../../reward/select.js';
import { MIN_VALIDATION_PAIRS, REWARD_VAL_FRACTION_MAX, TRAIN_DEFAULTS } from '../../reward/train.js';
import { PREFERENCE_MODELS } from '../../reward/types.js';

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
  rewardValFraction: flags.float({
    doc: `reward model: fraction of the preference labels held out for early stopping (0: none, every epoch trains on every label; none either when under ${MIN_VALIDATION_PAIRS} pairs would be held out, and at least one pair is kept to train on)`,
    default: TRAIN_DEFAULTS.valFraction,
    min: 0,
    max: REWARD_VAL_FRACTION_MAX,
  }),
  rewardSelectWorkers: flags.int({
    doc: 'with --reward-select-inputs: worker threads that score candidate input sets at the same time (the choice does not depend on it; 0: one after another in the main thread)',
    optional: true,
    min: 0,
    defaultDoc: `one per CPU core, at most ${MAX_AUTO_SELECTION_WORKERS} (0 on one core or with a native TensorFlow backend)`,
  }),
};

/**
 * `--reward-members`, the same in train, offline and reward: any positive count, as RewardNet
 * takes (train's stopped at 16 before, a bound no code needs).
 */
export const rewardMembersFlag = flags.int({ doc: 'reward model: ensemble members', default: 3, min: 1 });

/** `--preference-model`, the same in train, offline and reward. */
export const preferenceModelFlag = flags.choice(PREFERENCE_MODELS, { doc: 'preference model the reward network is trained with', default: 'partial-return' });

/** `--reward-hidden`, the same in train, offline and reward. */
export const rewardHiddenFlag = flags.list({ doc: 'reward model: hidden layer widths', default: ['256', '256'] });

/**
 * The reward model's size and training length for training on a fixed set of labels (`prefrl
 * offline`, `prefrl reward`); `prefrl train`, which retrains every round, has its own defaults.
 */
export const fixedLabelRewardFlags = {
  preferenceModel: preferenceModelFlag,
  rewardMembers: rewardMembersFlag,
  rewardHidden: rewardHiddenFlag,
  rewardEpochs: flags.int({ doc: 'max reward-model epochs (early stopping on held-out pairs)', default: 50, min: 1 }),
  rewardPatience: flags.int({ doc: 'reward model: epochs without held-out improvement before a member stops', default: TRAIN_DEFAULTS.patience, min: 1 }),
};
