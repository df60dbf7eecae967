"""What one personal-code check costs: the current hasher against Argon2id candidates.

For each parameter set: the median of ``--checks`` checks of a right code (one core, as a
login does), then the same checks run by ``--procs`` processes at once (the machine's cores
all busy, as at the peak hour), the checks per second that gives, and what that means for
``--members`` members logging in at the rate of the load test (one each over ``--ramp``
seconds). Argon2's memory is per check at once: m × the number of checks in flight.

    .venv/bin/python bench/login_bench.py [--checks 20] [--procs 2] [--force]
"""

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

from runs import add_run_arguments, require_quiet  # noqa: E402

# (label, algorithm, parameters): PBKDF2 as it was, then OWASP's Argon2id rows.
CANDIDATES = [
    ("PBKDF2-SHA256 1,000,000 (before)", "pbkdf2", {"iterations": 1_000_000}),
    ("Argon2id m=46 MiB t=1 p=1", "argon2", {"memory_cost": 46 * 1024, "time_cost": 1}),
    ("Argon2id m=19 MiB t=2 p=1 (chosen)", "argon2", {"memory_cost": 19 * 1024, "time_cost": 2}),
    ("Argon2id m=12 MiB t=3 p=1", "argon2", {"memory_cost": 12 * 1024, "time_cost": 3}),
    ("Argon2id m=9 MiB t=4 p=1", "argon2", {"memory_cost": 9 * 1024, "time_cost": 4}),
]


def hasher_for(algorithm: str, params: dict):
    import django

    django.setup()
    from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher

    if algorithm == "pbkdf2":
        return type("H", (PBKDF2PasswordHasher,), params)()
    return type("H", (Argon2PasswordHasher,), {"parallelism": 1, **params})()


def timed_checks(algorithm: str, params: dict, checks: int) -> list[float]:
    hasher = hasher_for(algorithm, params)
    encoded = hasher.encode("123456", hasher.salt())
    times = []
    for _ in range(checks):
        start = time.perf_counter()
        assert hasher.verify("123456", encoded)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=20, help="checks per parameter set")
    parser.add_argument("--procs", type=int, default=2, help="processes at once (cores)")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--ramp", type=float, default=40.0)
    parser.add_argument("--skip-pbkdf2", action="store_true", help="skip the slow baseline")
    add_run_arguments(parser, runs=1)
    args = parser.parse_args()
    require_quiet(args)
    rate = args.members / args.ramp
    print(
        f"{args.checks} checks of a right code per set; {args.procs} processes at once; "
        f"{args.members} members logging in over {args.ramp:.0f} s = {rate:.1f} logins/s"
    )
    header = f"{'parameters':38} {'1 check':>9} {'p95':>8} {'busy':>8} {'checks/s':>9} {'cores':>6}"
    print(header)
    with ProcessPoolExecutor(args.procs) as pool:
        for label, algorithm, params in CANDIDATES:
            if algorithm == "pbkdf2" and args.skip_pbkdf2:
                continue
            checks = max(3, args.checks // 5) if algorithm == "pbkdf2" else args.checks
            alone = timed_checks(algorithm, params, checks)
            start = time.perf_counter()
            futures = [
                pool.submit(timed_checks, algorithm, params, checks) for _ in range(args.procs)
            ]
            busy = [t for future in futures for t in future.result()]
            elapsed = time.perf_counter() - start
            per_second = len(busy) / elapsed
            median = statistics.median(alone)
            p95 = sorted(alone)[int(0.95 * (len(alone) - 1))]
            print(
                f"{label:38} {median * 1000:7.1f}ms {p95 * 1000:6.1f}ms "
                f"{statistics.median(busy) * 1000:6.1f}ms {per_second:9.1f} "
                f"{rate * median:6.2f}",
                flush=True,
            )
    print(
        "1 check: median alone on one core; busy: median with every process checking at once; "
        "checks/s: the machine's throughput then; cores: the cores the login rate above keeps "
        "busy with checks alone."
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
