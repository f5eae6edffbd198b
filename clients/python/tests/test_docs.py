"""Every Python example in the README's "Python client" section, and examples/python, runs against the broker."""
import os
import re
import subprocess
import sys

import pytest

from conftest import CLIENT_DIR, REPO_DIR


def readme_examples():
    readme = (REPO_DIR / "README.md").read_text(encoding="utf8")
    section = readme.split("\n## Python client\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_python(args, env_extra, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(CLIENT_DIR / "src"), PYTHONDONTWRITEBYTECODE="1", **env_extra)
    done = subprocess.run([sys.executable, *args], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_readme_has_the_three_examples():
    assert len(readme_examples()) == 3


@pytest.mark.parametrize("index", range(3), ids=["sync", "async", "group-worker"])
def test_readme_example_runs(broker_url, index):
    code = readme_examples()[index]
    assert "http://localhost:8000" in code
    out = run_python(["-c", code.replace("http://localhost:8000", broker_url)], {})
    assert out.strip(), "every example prints what it received"


def test_examples_async_example(broker_url, topic):
    out = run_python(["examples/python/async_example.py"], {"BROKER_URL": broker_url, "TOPIC": topic, "COUNT": "5"})
    assert out.splitlines() == [
        "sent 5 orders as messages 0..4",
        "sent a batch as messages [5, 6]",
        "received 7 message(s); committed offset 7, lag 0",
    ]


def test_examples_group_worker(broker_url, topic):
    out = run_python(["examples/python/group_worker.py"], {"BROKER_URL": broker_url, "TOPIC": topic, "STOP_WHEN_IDLE": "true"})
    lines = out.splitlines()
    assert "processed message 0: {'id': 1, 'amount': 10}" in lines
    assert "processed message 2: {'id': 3, 'amount': 7}" in lines
    assert "message 1 failed (negative amount), delivery 2: nacked" in lines
    assert lines[-1] == "2 processed; committed offset 3, dead-lettered 1"
