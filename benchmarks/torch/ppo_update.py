"""PyTorch reference for `prefrl bench agents`: one PPO update, as CleanRL's ppo_continuous_action.py.

The same work as prefrl's `ppoUpdate` (agents/ppo.ts), written the way CleanRL writes it:
  - Agent: actor mean obs -> 64 -> 64 -> act and critic obs -> 64 -> 64 -> 1 (tanh hidden
    layers), a state-independent log-std parameter; Adam (lr 3e-4, eps 1e-5) over all of it;
  - a synthetic batch of `batch` steps (normalised observations ~ N(0, 1), actions sampled from
    the current policy with their log-probabilities and values, advantages ~ N(0, 1),
    returns = values + advantages);
  - an update = `epochs` passes over the batch in `minibatches` shuffled minibatches, each:
    new log-probs, entropy and values, clipped surrogate (0.2) with per-minibatch advantage
    normalisation, clipped value loss, loss = pg - 0 * entropy + 0.5 * v, backward,
    clip_grad_norm_(0.5), Adam step; approx-KL and clip fractions as CleanRL logs them.
Each timed repeat restores the initial weights and a fresh optimizer, so every repeat does the
identical computation. Timing: `warmup` untimed updates, then the median of `repeats`.

Prints one JSON object on the last line of stdout.
"""
import argparse
import copy
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.distributions.normal import Normal

from bench_common import print_result, setup_torch, timed_runs


class Agent(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden):
        super().__init__()
        self.critic = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.actor_mean = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, act_dim))
        self.actor_logstd = nn.Parameter(torch.zeros(1, act_dim))

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        action_mean = self.actor_mean(x)
        action_logstd = self.actor_logstd.expand_as(action_mean)
        probs = Normal(action_mean, torch.exp(action_logstd))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--obs-dim", type=int, default=17)
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--minibatches", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    setup_torch(a.threads, a.seed)
    np.random.seed(a.seed)
    clip_coef, ent_coef, vf_coef, max_grad_norm = 0.2, 0.0, 0.5, 0.5

    agent = Agent(a.obs_dim, a.act_dim, a.hidden)
    initial = copy.deepcopy(agent.state_dict())
    b_obs = torch.randn(a.batch, a.obs_dim)
    with torch.no_grad():
        b_actions, b_logprobs, _, b_values = agent.get_action_and_value(b_obs)
        b_values = b_values.view(-1)
    b_advantages = torch.randn(a.batch)
    b_returns = b_values + b_advantages
    mb = a.batch // a.minibatches

    def update():
        agent.load_state_dict(initial)
        optimizer = torch.optim.Adam(agent.parameters(), lr=3e-4, eps=1e-5)
        b_inds = np.arange(a.batch)
        clipfracs = []
        t0 = time.perf_counter()
        for _ in range(a.epochs):
            np.random.shuffle(b_inds)
            for start in range(0, a.batch, mb):
                mb_inds = b_inds[start : start + mb]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > clip_coef).float().mean().item()]
                mb_advantages = b_advantages[mb_inds]
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()
                newvalue = newvalue.view(-1)
                v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                v_clipped = b_values[mb_inds] + torch.clamp(newvalue - b_values[mb_inds], -clip_coef, clip_coef)
                v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - ent_coef * entropy_loss + v_loss * vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
                optimizer.step()
        y_pred, y_true = b_values.numpy(), b_returns.numpy()
        var_y = np.var(y_true)
        _ = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y
        _ = approx_kl.item()
        return (time.perf_counter() - t0) * 1000

    times = timed_runs(update, a.warmup, a.repeats)
    print_result(update_ms=statistics.median(times), update_ms_all=times)


if __name__ == "__main__":
    main()
