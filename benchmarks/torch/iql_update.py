"""PyTorch reference for `prefrl bench agents`: one IQL update, as CORL's algorithms/offline/iql.py.

The same work as prefrl's `Iql.update` (agents/iql.ts), in CORL's structure:
  - TwinQ (two MLPs obs + act -> 256 -> 256 -> 1), ValueFunction (obs -> 256 -> 256 -> 1) and
    GaussianPolicy (obs -> 256 -> 256 -> act, tanh output, state-independent log-std), ReLU,
    PyTorch's default initialisation; a deep-copied target TwinQ;
  - Adam (lr 3e-4) for V, for the twin Q, for the actor; cosine annealing of the actor's rate;
  - an update = sample 256 indices uniformly from a synthetic dataset (normalised observations,
    actions in [-1, 1], rewards, terminals), v' = V(s'), V step (expectile 0.7 on
    min target Q - V), Q step (mean of both MSEs to r + 0.99 (1 - d) v'), Polyak update 0.005,
    actor step (min(exp(3 A), 100) times the Gaussian NLL), with CORL's per-step `.item()` logging.
Timing: `warmup` untimed updates, then the median of `repeats` single updates.

Prints one JSON object on the last line of stdout.
"""
import argparse
import copy
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal
from torch.optim.lr_scheduler import CosineAnnealingLR

from bench_common import print_result, setup_torch, timed_runs

EXP_ADV_MAX = 100.0
LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0


def mlp(dims, output_activation=None):
    layers = []
    for i in range(len(dims) - 2):
        layers += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU()]
    layers.append(nn.Linear(dims[-2], dims[-1]))
    if output_activation is not None:
        layers.append(output_activation())
    return nn.Sequential(*layers)


class GaussianPolicy(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden):
        super().__init__()
        self.net = mlp([obs_dim, hidden, hidden, act_dim], nn.Tanh)
        self.log_std = nn.Parameter(torch.zeros(act_dim, dtype=torch.float32))

    def forward(self, obs):
        return Normal(self.net(obs), torch.exp(self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)))


class TwinQ(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden):
        super().__init__()
        self.q1 = mlp([obs_dim + act_dim, hidden, hidden, 1])
        self.q2 = mlp([obs_dim + act_dim, hidden, hidden, 1])

    def both(self, s, a):
        sa = torch.cat([s, a], 1)
        return self.q1(sa).squeeze(-1), self.q2(sa).squeeze(-1)

    def forward(self, s, a):
        return torch.min(*self.both(s, a))


class ValueFunction(nn.Module):
    def __init__(self, obs_dim, hidden):
        super().__init__()
        self.v = mlp([obs_dim, hidden, hidden, 1])

    def forward(self, s):
        return self.v(s).squeeze(-1)


def asymmetric_l2_loss(u, tau):
    return torch.mean(torch.abs(tau - (u < 0).float()) * u**2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--obs-dim", type=int, default=17)
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--dataset", type=int, default=100_000)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    setup_torch(a.threads, a.seed)
    np.random.seed(a.seed)
    n = a.dataset
    states = torch.randn(n, a.obs_dim)
    actions = torch.rand(n, a.act_dim) * 2 - 1
    rewards = torch.randn(n, 1)
    next_states = torch.randn(n, a.obs_dim)
    dones = torch.zeros(n, 1)

    qf = TwinQ(a.obs_dim, a.act_dim, a.hidden)
    q_target = copy.deepcopy(qf).requires_grad_(False)
    vf = ValueFunction(a.obs_dim, a.hidden)
    actor = GaussianPolicy(a.obs_dim, a.act_dim, a.hidden)
    v_opt = torch.optim.Adam(vf.parameters(), lr=3e-4)
    q_opt = torch.optim.Adam(qf.parameters(), lr=3e-4)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
    schedule = CosineAnnealingLR(actor_opt, 1_000_000)
    iql_tau, beta, discount, tau = 0.7, 3.0, 0.99, 0.005

    def update():
        t0 = time.perf_counter()
        idx = np.random.randint(0, n, size=a.batch)
        s, act, r, s2, d = states[idx], actions[idx], rewards[idx], next_states[idx], dones[idx]
        log = {}
        with torch.no_grad():
            next_v = vf(s2)
        with torch.no_grad():
            target_q = q_target(s, act)
        v = vf(s)
        adv = target_q - v
        v_loss = asymmetric_l2_loss(adv, iql_tau)
        log["value_loss"] = v_loss.item()
        v_opt.zero_grad()
        v_loss.backward()
        v_opt.step()
        r, d = r.squeeze(-1), d.squeeze(-1)
        targets = r + (1.0 - d.float()) * discount * next_v.detach()
        qs = qf.both(s, act)
        q_loss = sum(F.mse_loss(q, targets) for q in qs) / len(qs)
        log["q_loss"] = q_loss.item()
        q_opt.zero_grad()
        q_loss.backward()
        q_opt.step()
        with torch.no_grad():
            for tp, sp in zip(q_target.parameters(), qf.parameters()):
                tp.data.copy_((1 - tau) * tp.data + tau * sp.data)
        exp_adv = torch.exp(beta * adv.detach()).clamp(max=EXP_ADV_MAX)
        bc_losses = -actor(s).log_prob(act).sum(-1, keepdim=False)
        policy_loss = torch.mean(exp_adv * bc_losses)
        log["actor_loss"] = policy_loss.item()
        actor_opt.zero_grad()
        policy_loss.backward()
        actor_opt.step()
        schedule.step()
        return (time.perf_counter() - t0) * 1000

    times = timed_runs(update, a.warmup, a.repeats)
    print_result(update_ms=statistics.median(times), update_ms_all=times)


if __name__ == "__main__":
    main()
