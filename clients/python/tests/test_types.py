"""The package is typed (py.typed): mypy --strict passes on it and on the examples that use it, and catches a
misspelt option or a misread answer field in code that uses it."""
import subprocess
import sys
from pathlib import Path

from conftest import CLIENT_DIR, REPO_DIR

MISUSE = '''
from mini_kafka import Consumer, Producer
Producer("http://localhost:8000", api_kye="secret")
msg = Consumer("http://localhost:8000", "c", "t").poll()
if msg:
    print(msg["mesage_id"])
'''


def mypy(cache: Path, *paths: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *paths],
        cwd=CLIENT_DIR, env={"MYPYPATH": str(CLIENT_DIR / "src"), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300,
    )


def test_mypy_strict(tmp_path):
    examples = [str(REPO_DIR / "examples/python" / name) for name in ("async_example.py", "group_worker.py")]
    done = mypy(tmp_path, str(CLIENT_DIR / "src/mini_kafka"), *examples)
    assert done.returncode == 0, done.stdout + done.stderr

    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE, encoding="utf8")
    done = mypy(tmp_path, str(misuse))
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'Unexpected keyword argument "api_kye"' in done.stdout
    assert '"PolledMessage" has no key "mesage_id"' in done.stdout
