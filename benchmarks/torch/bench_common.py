"""Helpers shared by the PyTorch reference scripts of `prefrl bench agents` and `bench reward`.

Each script sets torch's threads and seed the same way, times `warmup` untimed calls then
`repeats` timed ones, and prints one JSON object on the last line of stdout: the software it ran
on (torch, Python, threads, BLAS) followed by its own timings. The scripts import this module by
name: Python puts a script's own folder first on sys.path.
"""
import json
import re
import sys

import torch


def setup_torch(threads, seed):
    """torch.set_num_threads(threads) when threads > 0 (else torch's default), then seed torch."""
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)


def timed_runs(run, warmup, repeats):
    """Call `run` (which returns its own milliseconds) `warmup` times untimed, then return its `repeats` timings."""
    for _ in range(warmup):
        run()
    return [run() for _ in range(repeats)]


def software():
    """The software the timings ran on: torch and Python versions, threads, the BLAS torch was
    built with and the BLAS libraries this process actually loaded (Debian's torch links
    libblas.so.3, whose provider update-alternatives picks: reference BLAS, OpenBLAS, BLIS...)."""
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    try:
        with open("/proc/self/maps") as f:
            blas_libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() and "/" in line})
    except OSError:
        blas_libs = []
    return {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "blas": m.group(1) if m else None,
        "blas_libs": blas_libs,
    }


def print_result(**timings):
    """Print the one JSON line the prefrl bench commands read: software() and then `timings`."""
    print(json.dumps({**software(), **timings}))
