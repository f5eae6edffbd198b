"""The package is typed (py.typed): mypy --strict passes on it and on the examples that use it."""
import subprocess
import sys
import tempfile

from conftest import CLIENT_DIR, REPO_DIR


def test_mypy_strict_on_the_package_and_the_examples():
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache, str(CLIENT_DIR / "src/mini_kafka"),
             str(REPO_DIR / "examples/python/async_example.py"), str(REPO_DIR / "examples/python/group_worker.py")],
            cwd=CLIENT_DIR, env={"MYPYPATH": str(CLIENT_DIR / "src"), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 0, done.stdout + done.stderr
