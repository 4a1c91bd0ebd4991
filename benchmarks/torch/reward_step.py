"""PyTorch reference for `prefrl bench reward`: one training step of the reward ensemble.

The same work as prefrl's reward/train.ts step, written the way a PyTorch user would:
  - `members` MLPs in_dim -> hidden... -> 1, hidden activation (leaky-relu slope 0.01 or
    relu), output activation (tanh or linear), PyTorch's default nn.Linear initialisation;
  - one Adam optimizer per member (lr 3e-4, betas 0.9/0.999, eps 1e-8);
  - a batch of `pairs` pairs of two `length`-step segments (rows [2, pairs, length, in_dim]),
    per-step outputs summed over each segment, logit d = S(a) - S(b), soft-label Bradley-Terry
    loss softplus(d) - y d averaged over pairs;
  - a step = for every member: zero_grad, forward, backward, optimizer step.
Timing: `warmup` untimed steps, then the median of `repeats` timed steps (wall clock).
Relabelling: the ensemble's forward pass (no grad) over `relabel` transitions in chunks of
`chunk`, transitions per second (median of 3).

Prints one JSON object on the last line of stdout.
"""
import argparse
import statistics
import time

import torch
from torch import nn

from bench_common import print_result, setup_torch, timed_runs


def make_mlp(in_dim, hidden, activation, output_activation):
    layers = []
    d = in_dim
    for h in hidden:
        layers.append(nn.Linear(d, h))
        layers.append(nn.LeakyReLU(0.01) if activation == "leaky-relu" else nn.ReLU())
        d = h
    layers.append(nn.Linear(d, 1))
    if output_activation == "tanh":
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--hidden", default="256,256")
    p.add_argument("--in-dim", type=int, default=23)
    p.add_argument("--pairs", type=int, default=128)
    p.add_argument("--length", type=int, default=50)
    p.add_argument("--activation", default="leaky-relu", choices=["leaky-relu", "relu"])
    p.add_argument("--output-activation", default="tanh", choices=["tanh", "linear"])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave torch's default)")
    p.add_argument("--relabel", type=int, default=0, help="transitions for the relabelling throughput (0: skip)")
    p.add_argument("--chunk", type=int, default=8192)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    setup_torch(a.threads, a.seed)
    hidden = [int(h) for h in a.hidden.split(",") if h]
    nets = [make_mlp(a.in_dim, hidden, a.activation, a.output_activation) for _ in range(a.members)]
    opts = [torch.optim.Adam(n.parameters(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8) for n in nets]
    x = torch.randn(2 * a.pairs * a.length, a.in_dim)
    y = torch.tensor([(i % 3) / 2 for i in range(a.pairs)], dtype=torch.float32)

    def step():
        for net, opt in zip(nets, opts):
            opt.zero_grad(set_to_none=True)
            r = net(x).reshape(2, a.pairs, a.length).sum(dim=2)
            d = r[0] - r[1]
            loss = (nn.functional.softplus(d) - y * d).mean()
            loss.backward()
            opt.step()

    def timed_step():
        t0 = time.perf_counter()
        step()
        return (time.perf_counter() - t0) * 1000

    times = timed_runs(timed_step, a.warmup, a.repeats)

    relabel_per_s = None
    if a.relabel > 0:
        xs = torch.randn(a.relabel, a.in_dim)
        rates = []
        with torch.no_grad():
            for n in nets:
                n(xs[: a.chunk])
            for _ in range(3):
                t0 = time.perf_counter()
                for s in range(0, a.relabel, a.chunk):
                    c = xs[s : s + a.chunk]
                    torch.stack([n(c).reshape(-1) for n in nets]).mean(dim=0)
                rates.append(a.relabel / (time.perf_counter() - t0))
        relabel_per_s = statistics.median(rates)

    print_result(step_ms=statistics.median(times), step_ms_all=times, relabel_per_s=relabel_per_s, relabel_transitions=a.relabel)


if __name__ == "__main__":
    main()
