"""Mutation score of the modules whose faults a user cannot see, with mutmut.

Usage::

    python bench/mutation.py                       # every module, in a work dir under /tmp
    python bench/mutation.py --module impl/host.py --module impl/stream.py
    python bench/mutation.py --sample 30           # the lines of 30 random mutants per module (an estimate)
    python bench/mutation.py --report              # the last run's figures again, no mutants run
    python bench/mutation.py --survivors impl/host.py   # each surviving mutant as a diff line
    (--report and --survivors take the same --workdir and --sample as the run they read)

mutmut rewrites a source file in place for every mutant, so it never runs in the
working tree: this script clones the repository's committed HEAD into ``--workdir``
(``/tmp/mhmailbox-mutation`` by default), builds a virtual environment there without
the system site packages (the project installed editable, plus mutmut 2.5.1), and runs
``mutmut run`` per module with only that module's tests (``HYPOTHESIS_PROFILE=ci``,
``pytest -x``), under ``nice``.

Each mutant's test run goes through a fork server: one process that has imported
pytest, Hypothesis, Z3 and cryptography (never ``mhmailbox``, which would pin the
unmutated code) forks a child per run, so a mutant costs its tests, not a new
interpreter. A run is judged hung by its CPU time (ten times the baseline's), not its
wall time, so a busy machine does not turn slow runs into false timeouts.

The figures: per module, mutants killed (tests failed; mutmut's "suspicious", killed
but slow, counts as killed), timed out (the tests hung: counted as killed, shown
apart; the server's CPU-time stops are listed in ``timeouts.log`` in the work dir), survived, and equivalent: survivors listed in ``bench/mutation_equivalent.txt``
with the reason no test can tell them from the original. The score is killed /
(all - equivalent). ``proofs/houdini.py`` and ``proofs/store.py`` are scored on the code a verdict depends
on (loading, fingerprints, reuse, Houdini; see ``SCOPE``); left out are its offline
mining and maintenance commands (numpy, minutes per run) and ``_explore_drops``, a
shortcut inside Houdini whose drops Houdini's solver would find anyway (a mutant that
weakens it changes the time, not the result).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EQUIVALENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mutation_equivalent.txt")
MUTMUT = "mutmut==2.5.1"

#: module -> the tests that exercise it, the fastest killers first (pytest -x stops at the first failure)
TESTS: dict[str, list[str]] = {
    "impl/host.py": ["tests/test_impl_host_paths.py", "tests/test_impl_host_errors.py", "tests/test_impl_protocol.py",
                     "tests/test_impl_memory.py"],
    "impl/memory.py": ["tests/test_impl_host_paths.py", "tests/test_impl_memory.py", "tests/test_impl_memory_ports.py",
                       "tests/test_impl_protocol.py"],
    "impl/stream.py": ["tests/test_impl_stream_format.py", "tests/test_impl_stream.py"],
    "impl/crypto.py": ["tests/test_impl_crypto.py", "tests/test_impl_protocol.py"],
    "proofs/invariant.py": ["tests/test_proofs_houdini.py"],
    "proofs/houdini.py": ["tests/test_proofs_houdini.py", "tests/test_proofs_invariant_store.py"],
    "proofs/store.py": ["tests/test_proofs_houdini.py", "tests/test_proofs_invariant_store.py"],
    "model/observe.py": ["tests/test_observe_mutants.py", "tests/test_conformance_observer.py",
                         "tests/test_conformance_oracle_faults.py", "tests/test_conformance_regressions.py"],
    "conformance/rig.py": ["tests/test_rig_checks.py", "tests/test_conformance_oracle_faults.py",
                           "tests/test_conformance_observer.py", "tests/test_conformance_regressions.py"],
}
#: module -> the top-level functions mutated (all of the module when absent)
SCOPE: dict[str, list[str]] = {
    "proofs/invariant.py": ["to_json", "from_json", "cell_key"],
    "proofs/houdini.py": ["_evaluators", "_values", "houdini", "fingerprint"],
    "proofs/store.py": ["load", "stored", "with_lemmas", "stored_candidates", "proved"],
}
#: imported once by the fork server (third-party only: never the code under test)
PRELOAD = ["pytest", "hypothesis", "attrs", "z3", "cryptography.hazmat.primitives.ciphers.aead",
           "cryptography.hazmat.primitives.kdf.hkdf", "_pytest.python", "_pytest.assertion.rewrite"]
KILLED = ("ok_killed", "ok_suspicious")


# ---------------------------------------------------------------- fork server (runs in the work venv)
#: the baseline run's reply is held back this long, so that mutmut's own timeout (ten times the
#: baseline's wall time) only fires for a run that the server's CPU-time limit failed to stop
BASELINE_PAD = 60.0
#: a mutant's run is stopped once its CPU time exceeds this many times the baseline's (the
#: machine may be shared: wall time says little, CPU time says whether the tests hang)
CPU_LIMIT = 10.0


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid``."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(sock_path: str, cwd: str) -> None:
    """Answer each connection (a JSON list of pytest arguments) with pytest's exit status.

    The first run is the baseline; a later run whose CPU time passes ``CPU_LIMIT`` times the
    baseline's is stopped, answered as failed (mutmut: killed) and its mutant (the clone's
    diff) appended to ``timeouts.log`` beside the socket."""
    import importlib
    import select

    for name in PRELOAD:
        importlib.import_module(name)
    assert not any(m.startswith("mhmailbox") for m in sys.modules), "the server must not import the code under test"
    pytest = sys.modules["pytest"]
    os.chdir(cwd)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(4)
    baseline: float | None = None
    while True:
        conn, _ = srv.accept()
        with conn:
            args = json.loads(conn.makefile().readline())
            pid = os.fork()
            if pid == 0:  # the child: a fresh pytest run on the current (mutated) sources
                srv.close()
                conn.close()
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                os._exit(int(pytest.main(args)))
            status, used = None, 0.0
            while status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(st)
                    break
                used = _cpu(pid)
                readable, _, _ = select.select([conn], [], [], 0.05)
                over = baseline is not None and used > CPU_LIMIT * max(baseline, 0.5)
                if over or (readable and not conn.recv(1)):  # hung, or the client is gone
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    status = -9
                    if over:
                        diff = subprocess.run(["git", "diff", "-U0"], capture_output=True, text=True).stdout
                        with open(os.path.join(os.path.dirname(sock_path), "timeouts.log"), "a") as fh:
                            fh.write(diff + "\n")
            if baseline is None:
                baseline = max(used, 0.1)
                time.sleep(float(os.environ.get("MUTATION_BASELINE_PAD", BASELINE_PAD)))
            try:
                conn.sendall(f"{status}\n".encode())
            except OSError:
                pass


def client(sock_path: str, args: list[str]) -> int:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall((json.dumps(args) + "\n").encode())
    reply = s.makefile().readline().strip()
    # mutmut 2 counts only exit status 1 as "tests failed"; a mutant that breaks the import
    # (pytest's 2, collection error) or leaves no test to run (5) is killed as well
    return 0 if reply == "0" else 1


# ---------------------------------------------------------------- the work tree
def niced(cmd: list[str]) -> list[str]:
    """``cmd`` at niceness 10 (the house rule for long jobs), not more if this script already runs niced."""
    inc = 10 - os.nice(0)
    return ["nice", "-n", str(inc), *cmd] if inc > 0 else cmd


def sh(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, **kw)


def build(work: str) -> tuple[str, str]:
    """Clone (or update) the committed HEAD into ``work/clone``; venv ``work/venv``; returns (clone, python)."""
    clone, venv = os.path.join(work, "clone"), os.path.join(work, "venv")
    os.makedirs(work, exist_ok=True)
    if not os.path.isdir(os.path.join(clone, ".git")):
        sh(["git", "clone", "-q", ROOT, clone])
    sh(["git", "-C", clone, "fetch", "-q", ROOT, "HEAD"])
    sh(["git", "-C", clone, "reset", "-q", "--hard", "FETCH_HEAD"])
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        sh([sys.executable, "-m", "venv", venv])  # no system site packages
    import hashlib

    # (re)install only when what the install builds from changed (it compiles the C module)
    stamp = hashlib.sha256(b"".join(open(os.path.join(clone, f), "rb").read()
                                    for f in ("pyproject.toml", "impl/_spin.c"))).hexdigest()
    stamp_path = os.path.join(venv, "mhmailbox-install.stamp")
    if not os.path.exists(stamp_path) or open(stamp_path).read() != stamp:
        sh([py, "-m", "pip", "install", "-q", "-e", f"{clone}[test]", MUTMUT, "whatthepatch"],
           stdout=subprocess.DEVNULL)
        with open(stamp_path, "w") as fh:
            fh.write(stamp)
    return clone, py


def scope_lines(clone: str, module: str, names: list[str]) -> set[int]:
    """Line numbers (from 1) of the named top-level functions of ``module``."""
    import ast

    tree = ast.parse(open(os.path.join(clone, module), encoding="utf-8").read())
    found = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    missing = set(names) - set(found)
    if missing:
        raise SystemExit(f"{module}: no function {sorted(missing)} (update SCOPE)")
    return {i for n in names for i in range(found[n].lineno, found[n].end_lineno + 1)}


def sample_lines(clone: str, py: str, module: str, n: int, within: set[int] | None) -> set[int]:
    """The lines of ``n`` of the module's mutants drawn uniformly (seeded: the same lines every
    run); every mutant on a drawn line is then run, so slightly more than ``n`` are."""
    code = ("import json, sys\nfrom mutmut import Context, list_mutations\n"
            "src = open(sys.argv[1], encoding='utf-8').read()\n"
            "print(json.dumps([m.line_number + 1 for m in list_mutations(Context(source=src, filename=sys.argv[1]))]))\n")
    lines = json.loads(subprocess.run([py, "-c", code, module], cwd=clone, capture_output=True, text=True,
                                      check=True).stdout)
    lines = [ln for ln in lines if within is None or ln in within]
    import random

    return set(random.Random(f"{module}:{n}").sample(lines, min(n, len(lines))))


def lines_patch(clone: str, module: str, keep: set[int]) -> str:
    """A patch that 'adds' exactly the lines ``keep`` (from 1) of ``module`` (mutmut --use-patch-file)."""
    import difflib

    src = open(os.path.join(clone, module), encoding="utf-8").read().splitlines(keepends=True)
    without = [line for i, line in enumerate(src, 1) if i not in keep]
    path = os.path.join(clone, ".mutation-scope.patch")
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(difflib.unified_diff(without, src, f"a/{module}", f"b/{module}", n=0))
    return path


def selected_lines(clone: str, py: str, module: str, sample: int | None) -> set[int] | None:
    """The lines whose mutants count for ``module``: its SCOPE, sampled if ``sample``; None: all."""
    within = scope_lines(clone, module, SCOPE[module]) if module in SCOPE else None
    return sample_lines(clone, py, module, sample, within) if sample else within


def run_module(clone: str, py: str, module: str, sock: str, lines: set[int] | None) -> None:
    tests = [t for t in TESTS[module] if os.path.exists(os.path.join(clone, t.split("::")[0]))]
    runner = shlex.join([py, "-S", os.path.join(clone, "bench", "mutation.py"), "--client", sock, "--",
                         "-x", "-q", "-p", "no:cacheprovider", *tests])
    cmd = [os.path.join(os.path.dirname(py), "mutmut"), "run", "--paths-to-mutate", module, "--tests-dir", "tests",
           "--runner", runner, "--no-progress"]
    if lines is not None:
        cmd += ["--use-patch-file", lines_patch(clone, module, lines)]
    t0 = time.time()
    subprocess.run(niced(cmd), cwd=clone, stdout=subprocess.DEVNULL,
                   env={**os.environ, "HYPOTHESIS_PROFILE": "ci"})
    print(f"# {module}: mutmut ran in {time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------- figures
def load_equivalent(path: str = EQUIVALENT) -> dict[tuple[str, str, str], str]:
    """(module, original line, mutated line) -> why: blank-line separated records of
    ``file:``, ``line:``, ``mutant:``, ``why:`` (lines compared without surrounding blanks)."""
    out: dict[tuple[str, str, str], str] = {}
    rec: dict[str, str] = {}
    lines = open(path, encoding="utf-8").read().splitlines() if os.path.exists(path) else []
    for raw in lines + [""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if rec:
                if set(rec) != {"file", "line", "mutant", "why"}:
                    raise SystemExit(f"{path}: incomplete record {rec}")
                out[(rec["file"], rec["line"], rec["mutant"])] = rec["why"]
            rec = {}
            continue
        key, _, val = raw.partition(":")
        rec[key.strip()] = val.strip()
    return out


def mutants(clone: str, py: str, module: str) -> list[dict]:
    """Every mutant of ``module`` in the clone's mutmut cache: status, line number, original and mutated line."""
    code = r"""
import json, sqlite3, subprocess, sys
from mutmut import Context, RelativeMutationID, mutate
module = sys.argv[1]
src = subprocess.check_output(["git", "show", f"HEAD:{module}"], text=True)  # the file may hold a mutant now
db = sqlite3.connect(".mutmut-cache")
rows = db.execute('select l.line, l.line_number, m."index", m.status from Mutant m join Line l on m.line = l.id '
                  'join SourceFile f on l.sourcefile = f.id where f.filename = ? order by l.line_number, m."index"',
                  (module,)).fetchall()
out = []
for line, number, index, status in rows:
    ctx = Context(source=src, filename=module, mutation_id=RelativeMutationID(line, index, number, module))
    new, _ = mutate(ctx)
    new_line = new.split("\n")[number] if new != src else line
    out.append({"status": status, "number": number + 1, "line": line.strip(), "mutant": new_line.strip()})
print(json.dumps(out))
"""
    res = subprocess.run([py, "-c", code, module], cwd=clone, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def server_stops(work: str, module: str) -> int:
    """How many of ``module``'s mutants the fork server stopped for their CPU time (mutmut: killed)."""
    path = os.path.join(work, "timeouts.log")
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    return text.count(f"+++ b/{module}\n")


def score(module: str, ms: list[dict], equivalent: dict, stops: int = 0, lines: set[int] | None = None) -> dict:
    ms = [m for m in ms if lines is None or m["number"] in lines]
    eq = [m for m in ms if m["status"] == "bad_survived" and (module, m["line"], m["mutant"]) in equivalent]
    survived = [m for m in ms if m["status"] == "bad_survived" and m not in eq]
    killed = sum(m["status"] in KILLED for m in ms) - stops
    timeout = sum(m["status"] == "bad_timeout" for m in ms) + stops
    untested = sum(m["status"] in ("untested", "skipped") for m in ms)
    counted = len(ms) - len(eq) - untested
    pct = 100.0 * (killed + timeout) / counted if counted else 0.0
    return {"module": module, "mutants": len(ms), "killed": killed, "timeout": timeout, "survived": len(survived),
            "equivalent": len(eq), "untested": untested, "score": pct, "survivors": survived}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--client"]:
        return client(argv[1], argv[3:] if argv[2:3] == ["--"] else argv[2:])
    if argv[:1] == ["--serve"]:
        serve(argv[1], argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", default="/tmp/mhmailbox-mutation")
    ap.add_argument("--module", action="append", choices=list(TESTS), help="(repeatable) default: all")
    ap.add_argument("--report", action="store_true", help="print the figures of the last run; run nothing")
    ap.add_argument("--survivors", metavar="MODULE", help="list MODULE's surviving mutants (after --report's run)")
    ap.add_argument("--fresh", action="store_true", help="forget earlier results (mutmut's cache) first")
    ap.add_argument("--sample", type=int, metavar="N",
                    help="run (and score) only the lines of N mutants per module drawn at random (seeded), "
                         "for an estimate when a full run would take too long")
    a = ap.parse_args(argv)
    modules = a.module or list(TESTS)
    clone, py = os.path.join(a.workdir, "clone"), os.path.join(a.workdir, "venv", "bin", "python")
    if not (a.report or a.survivors):
        clone, py = build(a.workdir)
        if a.fresh:
            for old in (os.path.join(clone, ".mutmut-cache"), os.path.join(a.workdir, "timeouts.log")):
                if os.path.exists(old):
                    os.unlink(old)
        sock = os.path.join(a.workdir, "pytest.sock")
        if os.path.exists(sock):  # left by an interrupted run: wait for the new server's own
            os.unlink(sock)
        server = subprocess.Popen(niced([py, os.path.join(clone, "bench", "mutation.py"), "--serve", sock, clone]),
                                  env={**os.environ, "HYPOTHESIS_PROFILE": "ci"})
        try:
            while not os.path.exists(sock):
                if server.poll() is not None:
                    raise SystemExit("the fork server did not start")
                time.sleep(0.1)
            for module in modules:
                run_module(clone, py, module, sock, selected_lines(clone, py, module, a.sample))
        finally:
            server.terminate()
            server.wait()
    equivalent = load_equivalent()
    if a.survivors:
        lines = selected_lines(clone, py, a.survivors, a.sample)
        for m in score(a.survivors, mutants(clone, py, a.survivors), equivalent, lines=lines)["survivors"]:
            print(f"{a.survivors}:{m['number']}: {m['line']}  =>  {m['mutant']}")
        return 0
    print(f"{'module':24} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'equiv':>5} {'score':>6}")
    for module in modules:
        lines = selected_lines(clone, py, module, a.sample)
        s = score(module, mutants(clone, py, module), equivalent, server_stops(a.workdir, module), lines)
        note = f"  ({s['untested']} not run)" if s["untested"] else ""
        note += f"  (sample of {a.sample})" if a.sample else ""
        print(f"{module:24} {s['mutants']:7} {s['killed']:6} {s['timeout']:7} {s['survived']:8} {s['equivalent']:5} "
              f"{s['score']:5.1f}%{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
