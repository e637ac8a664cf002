"""Interleaved A/B timing: the one way every benchmark here compares two implementations.

On a shared 2-core machine the absolute speed moves by up to 30 % from one minute to the next, so timing
A for a minute and then B for a minute measures the machine as much as the code. Here A and B take turns
instead, round after round, in the order A B, B A, A B, … (so neither always runs first, on a warmer cache
or a cooler core), after a warm-up that is not counted. Each round gives one ratio of their speeds, both
measured within a second or two of each other; the result is the median ratio and its spread over the
rounds, which says whether a difference is real: a spread that lies clear of 1.0 is.

    comparison = interleave({"ours": run_ours, "reference": run_reference}, rounds=10)
    print(comparison.ratio_line("ours", "reference"))   # ours / reference 1.23 (1.18–1.27, 10 rounds)

Each `run` does one round's work and returns how much it did (tokens, words, 1.0 …), so the speed is that
amount per second.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

Workload = Callable[[], float]  # does one round's work, returns how much was done


@dataclass
class Timings:
    """Per-round speeds (work per second) of each contender, in the same round order."""

    speeds: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def median_speed(self, name: str) -> float:
        return statistics.median(self.speeds[name])

    def ratios(self, a: str, b: str) -> list[float]:
        """Speed of a over speed of b, one value per round: above 1, a is faster."""
        return [speed_a / speed_b for speed_a, speed_b in zip(self.speeds[a], self.speeds[b])]

    def ratio(self, a: str, b: str) -> tuple[float, float, float]:
        """(median, lower quartile, upper quartile) of the per-round ratios a / b."""
        return median_and_quartiles(self.ratios(a, b))

    def ratio_line(self, a: str, b: str) -> str:
        median, low, high = self.ratio(a, b)
        return f"{a} / {b} {median:.2f} ({low:.2f}–{high:.2f}, {len(self.speeds[a])} rounds)"


def format_ratio(ratio: tuple[float, float, float]) -> str:
    """(median, lower quartile, upper quartile) → '1.23 (1.18–1.27)'."""
    median, low, high = ratio
    return f"{median:.2f} ({low:.2f}–{high:.2f})"


def median_and_quartiles(values: list[float]) -> tuple[float, float, float]:
    """The median and the middle half's bounds (lower and upper quartile); one value is all three."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    low, median, high = statistics.quantiles(values, n=4, method="inclusive")
    return median, low, high


def interleave(workloads: dict[str, Workload], rounds: int = 10, warmup: int = 1,
               clock: Callable[[], float] = time.perf_counter) -> Timings:
    """Run every workload once per round, alternating their order, and time each run.

    `warmup` rounds run first and are not counted (first calls allocate memory and pick kernels). With more
    than two workloads the order rotates, so each takes each place equally often.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    names = list(workloads)
    timings = Timings({name: [] for name in names}, {name: [] for name in names})
    for round_index in range(warmup + rounds):
        for name in rotated(names, round_index):
            start = clock()
            work = workloads[name]()
            seconds = clock() - start
            if round_index >= warmup:
                timings.speeds[name].append(work / seconds)
                timings.seconds[name].append(seconds)
    return timings


def rotated(names: list[str], round_index: int) -> list[str]:
    """The run order of one round, rotated each round: A B, B A, A B … or A B C, B C A, C A B …"""
    shift = round_index % len(names)
    return names[shift:] + names[:shift]
