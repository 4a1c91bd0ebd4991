"""Read the event files `prefrl tensorboard` wrote with TensorBoard's own reader and check them
against the runs' metrics.jsonl: every numeric value at its step (as float32), nothing more.

Needs the `tensorboard` Python package (not a dependency of prefrl; e.g. `pip install tensorboard`
in a virtual environment). Usage: python3 benchmarks/tensorboard_read.py <run folder>...
(each run's event file in <run>/tensorboard/, as `prefrl tensorboard <run>` writes it).
"""
import json
import math
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator as ea


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def expected(run):
    want = {}
    with open(f'{run}/metrics.jsonl') as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            step = row.get('step')
            for k, v in row.items():
                if k == 'step' or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    continue
                want.setdefault(k, []).append((step, f32(v)))
    return want


bad = 0
for run in sys.argv[1:]:
    acc = ea.EventAccumulator(f'{run}/tensorboard', size_guidance={ea.SCALARS: 0})
    acc.Reload()
    got = {t: sorted((e.step, e.value) for e in acc.Scalars(t)) for t in acc.Tags()['scalars']}
    want = {k: sorted(v) for k, v in expected(run).items()}
    same = got == want
    bad += not same
    print(f'{run}: {len(got)} tags, {sum(map(len, got.values()))} points read by TensorBoard; metrics.jsonl: {len(want)} metrics, {sum(map(len, want.values()))} numeric values; {"same" if same else "DIFFERENT"}')
    if not same:
        for k in sorted(set(got) | set(want)):
            if got.get(k) != want.get(k):
                print(f'  {k}: tensorboard {got.get(k)} vs metrics.jsonl {want.get(k)}')
sys.exit(1 if bad else 0)
