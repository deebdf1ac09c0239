"""After a plain (non-editable) ``pip install .``, the package works from the repository root:
no folder there named ``mhmailbox`` shadows the installed one (it did: ModuleNotFoundError
for ``python -m mhmailbox`` and every pasted reproducer)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_nothing_at_the_repository_root_is_named_like_the_package() -> None:
    assert not (ROOT / "mhmailbox").exists() and not (ROOT / "mhmailbox.py").exists()


@pytest.mark.slow
def test_installed_package_runs_from_the_repository_root(tmp_path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout (the tracked files are what `pip install .` gets)")
    # a copy of the tracked files: the working tree itself carries an editable install
    src = tmp_path / "src-copy"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)  # this pip installs into it
    python = env_dir / "bin" / "python"
    # the dependencies come from the environment running the tests (CI's own venv), as a
    # plain path: its .pth files (an editable install's import hook) are not run
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "test-deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                          "--disable-pip-version-check", str(src)], capture_output=True, text=True, env=env, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]

    def run(*argv: str) -> str:
        p = subprocess.run([str(python), *argv], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        return p.stdout

    assert run("-m", "mhmailbox", "--version").strip() == "0.1.0"
    assert "order.response" in run("-m", "mhmailbox", "properties")
    where = run("-c", "import mhmailbox, mhmailbox.conformance.cases as c; "
                      "from mhmailbox.conformance.cases import replay; print(mhmailbox.__file__); print(c.__file__)")
    for path in where.split():
        assert Path(path).is_relative_to(Path(site)), where  # the installed copy, not the checkout
    # the C kit's runtime and stand-ins are package data: the installed copy builds and runs a C file
    if shutil.which("gcc") or shutil.which("cc"):
        for opt, path, case in (("--c-host", "examples/c/hardened-host/confidential-ram.c", "host/honest"),
                                ("--c-guest", "examples/c/rfc-helper/ConfidentialMigrationRfc.c", "guest/honest")):
            protocol = "hardened" if "hardened" in path else "rfc"
            out = run("-m", "mhmailbox", "conform", opt, path, "--protocol", protocol, "--case", case,
                      "--examples", "3", "--json")
            assert '"verdict": "pass"' in out, out[-2000:]
