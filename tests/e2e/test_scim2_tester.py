"""Issue 3: the independent RFC 7643/7644 checker scim2-tester (run through
scim2-cli 0.6.0) passes every check against the Worker."""

import os
import re
import subprocess
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def run_scim2_tester(directory) -> str:
    env = {**os.environ, "SCIM_CLI_HEADERS": f"Authorization: Bearer {directory.token}"}
    proc = subprocess.run(
        [str(VENV_BIN / "scim2"), "--url", directory.base, "test"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    return proc.stdout + proc.stderr


def test_scim2_tester_passes_every_check(worker):
    directory = worker.new_directory(provider="generic", name="scim2-tester")
    out = run_scim2_tester(directory)
    statuses = re.findall(r"^(SUCCESS|ERROR|CRITICAL|WARNING|SKIPPED)\b", out, flags=re.M)
    summary = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"scim2-tester summary: {summary}")
    Path(os.environ.get("SCIM2_TESTER_REPORT", "/tmp/scim2-tester-report.txt")).write_text(out)
    lines = out.splitlines()
    failures = [f"{l}: {lines[i + 1] if i + 1 < len(lines) else ''}" for i, l in enumerate(lines) if l.startswith(("ERROR", "CRITICAL"))]
    assert summary.get("SUCCESS", 0) >= 100, out[-3000:]
    assert not failures, "\n".join(failures)
