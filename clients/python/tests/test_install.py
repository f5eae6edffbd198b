"""`pip install` works offline, exactly as the README says, and the installed package is typed (py.typed)."""
import os
import shutil
import subprocess
import sys

from conftest import CLIENT_DIR


def test_pip_install_offline_into_a_venv(tmp_path, broker_url, topic):
    # A copy, so the in-tree build (build/, *.egg-info) lands in tmp_path, not in the repository.
    shutil.copytree(CLIENT_DIR, tmp_path / "clients/python", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONPATH="")

    def run(*args):
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    # The README's two lines.
    run(sys.executable, "-m", "venv", "--system-site-packages", ".venv")
    run(".venv/bin/pip", "install", "--no-build-isolation", "--no-index", "./clients/python")

    script = (
        "import sys, pathlib, mini_kafka\n"
        "assert 'site-packages' in mini_kafka.__file__, mini_kafka.__file__\n"
        "assert (pathlib.Path(mini_kafka.__file__).parent / 'py.typed').exists()\n"
        f"print(mini_kafka.Producer(sys.argv[1]).send({topic!r}, 'installed'))\n"
    )
    assert run(".venv/bin/python", "-c", script, broker_url).strip() == "0"
