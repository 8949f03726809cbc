"""The SAML benchmark keeps working: a short run through the real script completes logins that a DV checks, and
reports its figures and targets. (Speed itself is measured by ``make bench``, never asserted in a test.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_short_saml_benchmark_completes_checked_logins_and_reports_every_target(tmp_path: Path) -> None:
    output = tmp_path / "saml.json"
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench-saml.sqlite3'}",
        "SLEUTELBOS_VAR_DIR": str(tmp_path / "var"),
    }
    arguments = ["--logins", "40", "--warmup", "5", "--pysaml2", "3", "--rsa-seconds", "0.1", "--verify-every", "10"]

    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "saml.py"), *arguments, "--output", str(output)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    results = json.loads(output.read_text())
    broker, whole, pysaml2, rsa = results["rows"]
    assert (broker["engine"], broker["count"], broker["checked"]) == ("Sleutelbos IdP", 40, 4)
    assert broker["per_s"] > 0 and whole["per_s"] > 0 and pysaml2["count"] == 3 and rsa["key_bits"] == 2048
    assert broker["session_writes_per_login"] == 0
    assert [target["name"] for target in results["targets"]] == [
        "≥ 150 logins/s on one core",
        "≥ 8× pysaml2",
        "within 4× of two RSA signatures per login",
    ]
    assert "Sleutelbos IdP" in finished.stdout
