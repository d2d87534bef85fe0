"""README's run command works: everything starts, the demo resident logs in, sees activities."""

from __future__ import annotations

import subprocess
import sys

from scripts.services import free_port


def test_dev_run_starts_the_product_with_demo_data(tmp_path, redis_url):
    env_db = f"sqlite:///{tmp_path / 'dev.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.dev", "--check", "--api-port", str(free_port()),
         "--mock-port", str(free_port())],
        env={**_clean_env(), "LINLI_DATABASE_URL": env_db, "LINLI_REDIS_URL": redis_url},
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "logged in as demo-resident, 5 activities" in result.stdout
    assert "老年人智能手机课堂" in result.stdout
    assert "notice delivered through the worker" in result.stdout
    assert "mini-program pages at" in result.stdout and "/mp/ served" in result.stdout


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
