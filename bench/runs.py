"""What every bench shares: a quiet machine, three runs, the median and the spread.

A figure from one run on a busy machine has misled us before (a page target « met » on a busy
machine was missed by six pages on a quiet one), so each bench:

* refuses to start while the machine's 1-minute load average is above ``MAX_LOAD`` (1.0),
  and says so; ``--force`` runs anyway and the printout says it was forced;
* runs its job ``--runs`` times (3 by default), each on fresh or reset data, with its floor
  measured in the same run;
* prints each run, then the median and the spread (min–max) of the job, of the floor and of
  their ratio. A target is judged on the median ratio.

    from runs import add_run_arguments, require_quiet, Runs

    add_run_arguments(parser)
    args = parser.parse_args()
    require_quiet(args)
    runs = Runs("sweep", floor_label="floor (b)", target=1.5)
    for n in range(args.runs):
        runs.add(job=seconds, floor=floor_seconds)
    runs.report()
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass, field

MAX_LOAD = 1.0


def add_run_arguments(parser: argparse.ArgumentParser, *, runs: int = 3) -> None:
    parser.add_argument(
        "--runs", type=int, default=runs, help=f"times the job runs (default {runs})"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"start even if the load average is above {MAX_LOAD} (the figures say so)",
    )


def load_average() -> float:
    return os.getloadavg()[0]


def require_quiet(args: argparse.Namespace) -> float:
    """Exit (status 3) with a sentence when the machine is busy, unless ``--force``."""
    load = load_average()
    if load > MAX_LOAD and not args.force:
        sys.exit(
            f"The machine is busy: load average {load:.2f} > {MAX_LOAD}. Figures taken now "
            "would not be comparable; stop the other jobs (tests, helper sessions, benches) "
            "and wait, or pass --force to run anyway."
        )
    note = " (forced)" if load > MAX_LOAD else ""
    print(f"load average before the runs: {load:.2f}{note}", flush=True)
    return load


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


@dataclass
class Runs:
    """The runs of one bench: the job's and its floor's seconds, in the same runs."""

    job_label: str
    floor_label: str = "floor"
    target: float | None = None
    jobs: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    def add(self, *, job: float, floor: float) -> None:
        self.jobs.append(job)
        self.floors.append(floor)
        self.loads.append(load_average())
        n = len(self.jobs)
        print(
            f"run {n}: {self.job_label} {job:.2f} s, {self.floor_label} {floor:.2f} s, "
            f"ratio {job / floor:.2f} (load average after: {self.loads[-1]:.2f})",
            flush=True,
        )

    @property
    def ratios(self) -> list[float]:
        return [job / floor for job, floor in zip(self.jobs, self.floors, strict=True)]

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.ratios)

    def report(self) -> bool:
        """Print the medians and spreads; True when the median ratio meets the target."""
        print(f"{len(self.jobs)} runs — median (min–max):")
        print(f"  {self.job_label}: {spread(self.jobs)} s")
        print(f"  {self.floor_label}: {spread(self.floors)} s")
        met = self.target is None or self.median_ratio <= self.target
        target = "" if self.target is None else f" (target ≤ {self.target}: "
        target += "" if self.target is None else ("met)" if met else "MISSED)")
        print(f"  ratio: {spread(self.ratios)}{target}", flush=True)
        return met
