"""Build a user's C file, unedited, into a program the suite drives (a host, or a helper).

The user's files are copied to a temporary directory (``--define NAME=VALUE`` rewrites
the copy's own ``#define NAME`` line, never the original; every override is reported),
compiled with ``-fsanitize=thread`` (a call before every load and store) and
``-fno-builtin`` (copies become calls the runtime sees), against the stand-in headers
of ``include/``, and linked *without* the sanitizer's library, against the kit's own
runtime (``runtime/mhkit_runtime.c``), which turns accesses to the shared area into
scheduling points. The file's own directory stays on the quoted include path, so its
headers are read from where they are. A helper is also linked against the EDK2 stand-ins
(``runtime/mhkit_edk2.c``), BaseCryptLib with OpenSSL's libcrypto when its development
files are installed (``runtime/mhkit_crypto.c``), and a two-line shim that calls its entry.
"""
from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from typing import Sequence

import attrs

from mhmailbox.errors import UsageError

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TRACE_CALL = re.compile(r"\b(trace_[A-Za-z0-9_]+)\s*\(")
#: Entry points the runtime calls, by the names its ``--entries`` prints.
ENTRIES = {"init": "cgs_mh_init", "save": "cgs_mh_save_encrypted_page", "load": "cgs_mh_load_encrypted_page",
           "cleanup": "cgs_mh_cleanup"}
#: A helper's entry unless ``--entry`` names another.
HELPER_ENTRY = "MigrationHandlerMain"
#: What a helper build lacks when libcrypto's development files are missing.
CRYPTO_FUNCTIONS = ("AeadAesGcmEncrypt", "AeadAesGcmDecrypt", "HkdfSha256ExtractAndExpand")
_UNDEFINED = re.compile(r"undefined reference to `([A-Za-z0-9_]+)'")


@attrs.frozen
class Override:
    """One ``--define``: the file and the line it rewrote, and the new value."""

    file: str
    name: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.name}={self.new} (was {self.old} in {os.path.basename(self.file)})"


@attrs.frozen
class Build:
    """A built C host or helper: the program, what it defines, and how it was built."""

    binary: str
    sources: tuple[str, ...]
    entries: frozenset[str]
    overrides: tuple[Override, ...]
    compiler: str
    cflags: tuple[str, ...]
    side: str = "host"
    entry: str = ""  # a helper's entry function


def parse_define(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` (VALUE may be empty); a UsageError otherwise."""
    name, eq, value = text.partition("=")
    if not eq or not _IDENT.match(name.strip()):
        raise UsageError(f"--define {text!r}: expected NAME=VALUE with NAME a C identifier")
    return name.strip(), value.strip()


def find_compiler() -> str:
    """``$CC`` if set, else gcc, else clang (a one-line UsageError when there is none)."""
    cc = os.environ.get("CC")
    for cand in ([cc] if cc else []) + ["gcc", "clang"]:
        path = shutil.which(cand)
        if path:
            return path
    raise UsageError("no C compiler found: install gcc or clang (or set CC) to check a C implementation")


def apply_defines(text: str, defines: Sequence[tuple[str, str]], path: str) -> tuple[str, list[Override], set[str]]:
    """Rewrite the object-like ``#define NAME ...`` lines of ``text``; the overrides made and the names found."""
    out: list[Override] = []
    found: set[str] = set()
    for name, value in defines:
        pat = re.compile(rf"^([ \t]*#[ \t]*define[ \t]+{re.escape(name)})(?![A-Za-z0-9_(])([ \t]+(.*?))?[ \t]*$", re.M)
        m = pat.search(text)
        if m is None:
            continue
        found.add(name)
        out.append(Override(path, name, (m.group(3) or "").strip(), value))
        text = text[:m.start()] + f"{m.group(1)} {value}" + text[m.end():]
    return text, out, found


def _kit_file(*parts: str) -> str:
    return str(resources.files("mhmailbox.conformance.ckit").joinpath(*parts))


def _first_error(stderr: str) -> str:
    for line in stderr.splitlines():
        if "error" in line or "undefined reference" in line:
            return line.strip()
    lines = [x.strip() for x in stderr.splitlines() if x.strip()]
    return lines[0] if lines else "no message"


def _run(cmd: list[str], what: str) -> str:
    """Run a compiler step; UsageError with its first error line; its stderr otherwise."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise UsageError(f"{what} failed: {_first_error(p.stderr)}")
    return p.stderr


@functools.lru_cache(maxsize=None)
def _runtime_object(cc: str) -> str:
    """The kit's runtime, compiled once per compiler and process (no sanitizer, no builtins)."""
    work = tempfile.mkdtemp(prefix="mhkit-rt-")
    atexit.register(shutil.rmtree, work, True)
    rt = os.path.join(work, "mhkit_runtime.o")
    _run([cc, "-c", "-O2", "-fno-builtin", "-fno-tree-loop-distribute-patterns", "-w",
          _kit_file("runtime", "mhkit_runtime.c"), "-o", rt], "compiling the kit's runtime")
    return rt


@functools.lru_cache(maxsize=None)
def _helper_objects(cc: str) -> tuple[tuple[str, ...], str | None]:
    """The EDK2 stand-ins, and BaseCryptLib if libcrypto's headers are there: (objects, why not crypto)."""
    work = os.path.dirname(_runtime_object(cc))
    objs = []
    for name in ("mhkit_edk2", "mhkit_crypto"):
        obj = os.path.join(work, name + ".o")
        p = subprocess.run([cc, "-c", "-O2", "-fno-builtin", "-fno-tree-loop-distribute-patterns", "-w",
                            "-I", _kit_file("include"), _kit_file("runtime", name + ".c"), "-o", obj],
                           capture_output=True, text=True)
        if p.returncode != 0:
            if name == "mhkit_crypto":
                return tuple(objs), _first_error(p.stderr)
            raise UsageError(f"compiling the kit's EDK2 stand-ins failed: {_first_error(p.stderr)}")
        objs.append(obj)
    return tuple(objs), None


def crypto_missing(compiler: str | None = None) -> str | None:
    """Why the kit cannot give helpers BaseCryptLib here (no libcrypto headers), or None."""
    return _helper_objects(compiler or find_compiler())[1]


def build(sources: Sequence[str], *, defines: Sequence[str] = (), cflags: Sequence[str] = (),
          compiler: str | None = None, helper_entry: str | None = None,
          runtime: str | None = None) -> Build:
    """Copy, override, compile and link ``sources`` (a host; a helper with ``helper_entry``);
    UsageError (one line) on any problem. ``runtime``: an object to link instead of the kit's
    runtime (``mhmailbox stress`` links its own, which defines the same entry points)."""
    if not sources:
        raise UsageError("no C file given")
    for s in sources:
        if not os.path.isfile(s):
            raise UsageError(f"{s}: no such file")
        if not s.endswith(".c"):
            raise UsageError(f"{s}: expected a C source file (.c)")
    pairs = [parse_define(d) for d in defines]
    cc = compiler or find_compiler()
    work = tempfile.mkdtemp(prefix="mhkit-")
    atexit.register(shutil.rmtree, work, True)
    gen = os.path.join(work, "include")
    os.makedirs(gen)
    overrides: list[Override] = []
    found: set[str] = set()
    copies: list[str] = []
    traces: set[str] = set()
    for i, src in enumerate(sources):
        with open(src, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        text, made, names = apply_defines(text, pairs, src)
        overrides += made
        found |= names
        traces |= set(_TRACE_CALL.findall(text))
        dst = os.path.join(work, f"{i}-{os.path.basename(src)}")
        with open(dst, "w", encoding="utf-8") as fh:
            fh.write(text)
        copies.append(dst)
    missing = [n for n, _ in pairs if n not in found]
    if missing:
        raise UsageError(f"--define {missing[0]}: no `#define {missing[0]}` line in {', '.join(sources)} to override")
    with open(os.path.join(gen, "trace.h"), "w") as fh:  # QEMU's generated trace points: no-ops
        fh.write('#include "qemu/osdep.h"\n' + "".join(f"#define {t}(...) ((void)0)\n" for t in sorted(traces)))
    objs = []
    for src, copy in zip(sources, copies):
        obj = copy + ".o"
        _run([cc, "-c", "-fsanitize=thread", "-O1", "-g", "-fno-builtin", "-w", "-I", gen, "-I", _kit_file("include"),
              "-iquote", os.path.dirname(os.path.abspath(src)), f"-fmacro-prefix-map={copy}={os.path.abspath(src)}",
              *cflags, copy, "-o", obj], f"compiling {src}")  # __FILE__ (an ASSERT's message) names the user's file
        objs.append(obj)
    rt = runtime or _runtime_object(cc)
    if helper_entry is not None:
        return _link_helper(cc, work, list(sources), objs, rt, helper_entry, overrides, cflags)
    binary = os.path.join(work, "host-under-test")
    _run([cc, *objs, rt, "-o", binary], f"linking {', '.join(sources)} with the kit's stand-ins")
    p = subprocess.run([binary, "--entries"], capture_output=True, text=True, timeout=30)
    entries = frozenset(p.stdout.split()) & set(ENTRIES)
    if "save" not in entries:
        raise UsageError(f"{', '.join(sources)}: no {ENTRIES['save']} function to check")
    return Build(binary, tuple(sources), entries, tuple(overrides), cc, tuple(cflags))


def _link_helper(cc: str, work: str, sources: list[str], objs: list[str], rt: str, entry: str,
                 overrides: list[Override], cflags: Sequence[str]) -> Build:
    """Link a helper: its objects, a shim calling ``entry``, the runtime and the EDK2 stand-ins."""
    if not _IDENT.match(entry):
        raise UsageError(f"--entry {entry!r}: expected the name of a C function")
    shim = os.path.join(work, "mhkit-entry.c")
    with open(shim, "w") as fh:  # the entry, as EDK2 calls an image's (no handle, no table: the helper needs neither)
        fh.write(f"void *{entry}(void *ImageHandle, void *SystemTable);\n"
                 f"int mhkit_guest_entry(void) {{ return (int)(long){entry}((void *)0, (void *)0); }}\n")
    _run([cc, "-c", "-O1", "-w", shim, "-o", shim + ".o"], "compiling the kit's entry shim")
    extra, no_crypto = _helper_objects(cc)
    binary = os.path.join(work, "helper-under-test")
    what = ", ".join(sources)
    p = subprocess.run([cc, *objs, shim + ".o", rt, *extra, *([] if no_crypto else ["-lcrypto"]), "-o", binary],
                       capture_output=True, text=True)
    if p.returncode != 0:
        missing = _UNDEFINED.findall(p.stderr)
        if entry in missing:
            raise UsageError(f"{what}: no function {entry} (the helper's entry; name another with --entry)")
        crypto = [m for m in missing if m in CRYPTO_FUNCTIONS]
        if crypto and no_crypto:
            raise UsageError(f"{what} calls {crypto[0]} (BaseCryptLib): the kit implements it with OpenSSL's "
                             f"libcrypto, whose development files are missing (install libssl-dev): {no_crypto}")
        raise UsageError(f"linking {what} with the kit's stand-ins failed: {_first_error(p.stderr)}")
    return Build(binary, tuple(sources), frozenset({entry}), tuple(overrides), cc, tuple(cflags), "helper", entry)
