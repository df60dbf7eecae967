"""The load test's CPU accounting (bench/cpu.py): read from /proc, it must see the CPU a
process spends, in the right part, and report per request."""

import subprocess
import sys
import time

import pytest

from bench import cpu

pytestmark = pytest.mark.skipif(not cpu.available(), reason="no /proc on this system")


def test_cpu_spent_by_the_bench_itself_and_by_the_server_is_reported():
    code = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\ntime.sleep(5)"
    server = subprocess.Popen([sys.executable, "-c", code])
    try:
        before = cpu.snapshot(server.pid)
        end = time.process_time() + 0.3
        while time.process_time() < end:  # this process: the load generator's part
            pass
        time.sleep(0.7)  # the server's busy loop has run by now
        after = cpu.snapshot(server.pid)
    finally:
        server.kill()
        server.wait()
    spent = {name: after.parts[name] - before.parts[name] for name in after.parts}
    assert spent["this bench (load generator)"] >= 0.25
    assert spent["web server"] >= 0.2
    report = cpu.report(before, after, requests=100)
    assert "ms per request in all" in report and "web server" in report
    assert after.cores >= 1
