"""The course in docs/tutorial/ runs as written.

tests/test_docs.py checks the course's links like any page's; this module runs it:

* every console block's command runs, and prints what the block quotes (the rules of
  tests/test_docs.py: ``...`` lines, timings masked), each command once whatever quotes it;
* every command the prose asks a student to run (an inline ```mhmailbox ...``` span, in an
  exercise, say) runs, and does not fail;
* every other inline code span is either something the tool knows by name (a property, a
  variant, a memory model, a guest or host behaviour, a shared field, a litmus test) or text
  that one of the lesson's own commands prints: a trace excerpt quoted in the prose cannot drift
  from what the student will see;
* each lesson has its question, command, what to look at, and exercises whose answers sit in
  answers.md, under the lesson's heading, and nowhere in the lesson itself.
"""
from __future__ import annotations

import re
import shlex
from functools import lru_cache
from pathlib import Path

import pytest

from mhmailbox.cli import main
from test_docs import matches
from mhmailbox.model import layout
from mhmailbox.model.broken import MUTANTS
from mhmailbox.model.compare import RANK, STATUSES
from mhmailbox.model.litmus import TESTS
from mhmailbox.model.memory import MODELS
from mhmailbox.model.properties import BY_ID, GUESTS, HOSTS
from mhmailbox.model.variants import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "docs" / "tutorial"
LESSONS = sorted(COURSE.glob("0*.md"))
ANSWERS = COURSE / "answers.md"

FENCE = re.compile(r"^```[a-z]*\n.*?^```\n", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+)`")
FENCE_CONSOLE = re.compile(r"^```console\n(.*?)^```", re.M | re.S)
CONSOLE = re.compile(r"^```console\n\$ (mhmailbox [^\n]*)\n", re.M)


def prose(text: str) -> str:
    """The text outside fenced blocks (tests/test_docs.py checks the blocks)."""
    return FENCE.sub("", text)


def lesson_number(path: Path) -> int:
    return int(path.name[:2])


def answer_section(n: int) -> str:
    text = ANSWERS.read_text()
    m = re.search(rf"^## Lesson {n}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"answers.md has no section '## Lesson {n}'"
    return m.group(1)


def inline_commands(text: str) -> list[str]:
    return [s for s in SPAN.findall(prose(text)) if s.startswith("mhmailbox ")]


@lru_cache(maxsize=None)
def output_of(command: str) -> tuple[int, str]:
    """Run one course command in-process from the repository root, as a student would."""
    import contextlib
    import io
    import os

    buf, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
            code = main(shlex.split(command)[1:])
    finally:
        os.chdir(cwd)
    return code, buf.getvalue()


def known_names() -> set[str]:
    """Names the tool itself defines: a span naming one is checked against the catalog, not an output."""
    names = set(BY_ID) | set(VARIANTS) | set(MUTANTS) | set(MODELS) | set(GUESTS) | set(HOSTS) | set(TESTS)
    names |= set(layout.FIELDS) | {"hdr.data", "cmd_type"}
    names |= set(RANK) | set(STATUSES) | set(subcommands())
    names |= {"broken:NAME", "PATH.py:Class", "--variant PATH.py:Class", "Rfc", "Hardened"}
    return names


def subcommands() -> dict:
    from mhmailbox.cli import build_parser

    return build_parser()._subparsers._group_actions[0].choices


def is_command_form(span: str) -> bool:
    """``verify --engine kind``: a subcommand with options it has (the prose names a way to run it)."""
    name, *rest = span.split(" ", 1)
    return name in subcommands() and bool(rest) and is_option(rest[0], subcommands()[name])


def is_repository_file(span: str) -> bool:
    """A file the lesson names (``examples/tutorial/barriers.py``, or ``barriers.py`` beside it)."""
    return bool(re.fullmatch(r"[\w./-]+\.py", span)) and (
        (ROOT / span).is_file() or (ROOT / "examples" / "tutorial" / span).is_file())


def is_option(span: str, command=None) -> bool:
    """``--flag`` or ``--flag value``: an option of ``command`` (any ``mhmailbox`` command when None),
    with a value it accepts."""
    flag, _, value = span.partition(" ")
    for sub in [command] if command is not None else subcommands().values():
        for action in sub._actions:
            if flag in action.option_strings:
                if not value:
                    return True
                if action.choices is not None:
                    return value in action.choices
                try:
                    (action.type or str)(value)
                except Exception:  # argparse's own check of the value: a variant that is not there, ...
                    return False
                return True
    return False


def protocol_terms() -> str:
    """The protocol pages' text: code they name (``smp_rmb()``, ...) that no command prints on its own
    may be quoted, so that the course and those pages speak of the same code."""
    return "\n".join((ROOT / "docs" / name).read_text() for name in ("protocol.md", "hardened.md"))


def _blocks():
    out = []
    for path in sorted(COURSE.glob("*.md")):
        for block in FENCE_CONSOLE.findall(path.read_text()):
            first, *expected = block.rstrip("\n").split("\n")
            assert first.startswith("$ mhmailbox "), f"{path.name}: a console block starts with its command"
            out.append(pytest.param(path.name, first[2:], expected, id=f"{path.name}: {first[2:]}"))
    return out


@pytest.mark.parametrize("where,command,expected", _blocks())
def test_console_block_shows_what_the_command_prints(where: str, command: str, expected: list[str]) -> None:
    code, out = output_of(command)
    assert code == 0, f"{where}: `{command}` exited {code}"
    why = matches(expected, out.rstrip("\n").split("\n"))
    assert why is None, f"{where}, `{command}`: {why}"


SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)


def _shell_commands():
    out = []
    for path in sorted(COURSE.glob("*.md")):
        for block in SH_BLOCK.findall(path.read_text()):
            for line in block.splitlines():
                if line.strip() and not line.startswith("#"):
                    assert line.startswith("mhmailbox "), f"{path.name}: a shell block runs mhmailbox only: {line}"
                    out.append(pytest.param(path.name, line, id=f"{path.name}: {line}"))
    return out


@pytest.mark.parametrize("where,line", _shell_commands())
def test_every_shell_block_command_runs(where: str, line: str, tmp_path: Path) -> None:
    """``mhmailbox ... > FILE``: the command succeeds and FILE gets what it should (a viewer page
    for ``--trace-format html``); the file goes to a temporary directory, not the repository."""
    command, _, target = line.partition(" > ")
    code, out = output_of(command)
    assert code == 0, f"{where}: `{command}` exited {code}"
    if target:
        (tmp_path / target.strip()).write_text(out)
    if "--trace-format html" in command:
        assert out.lstrip().lower().startswith("<!doctype html") and "</html>" in out


def _lesson_ids(paths):
    return [p.name for p in paths]


def test_the_course_has_its_lessons_and_answers() -> None:
    assert len(LESSONS) >= 5 and ANSWERS.exists()
    index = (COURSE / "README.md").read_text()
    for lesson in LESSONS:
        assert f"({lesson.name})" in index, f"the course's index does not link {lesson.name}"


@pytest.mark.parametrize("lesson", LESSONS, ids=_lesson_ids(LESSONS))
def test_each_lesson_asks_runs_shows_and_sets_exercises(lesson: Path) -> None:
    text = lesson.read_text()
    n = lesson_number(lesson)
    for part in ("**Question.**", "**Run.**", "**Look at.**"):
        assert part in text, f"{lesson.name} has no {part} part"
    assert CONSOLE.search(text), f"{lesson.name} has no command to run"
    exercises = re.findall(rf"\*\*Exercise ({n}\.\d+)\.\*\*", text)
    assert exercises, f"{lesson.name} sets no exercise"
    answers = answer_section(n)
    for e in exercises:
        assert f"**{e}.**" in answers, f"exercise {e} has no answer in answers.md"
        assert f"**{e}.**" not in text, f"the answer to {e} sits in the lesson itself"
    assert f"answers.md#lesson-{n}" in text, f"{lesson.name} does not point at its answers"


def _commands():
    out = []
    for path in LESSONS + [ANSWERS]:
        for c in inline_commands(path.read_text()):
            out.append(pytest.param(path.name, c, id=f"{path.name}: {c}"))
    return out


@pytest.mark.parametrize("where,command", _commands())
def test_every_command_the_prose_asks_for_runs(where: str, command: str) -> None:
    code, out = output_of(command)
    assert code == 0, f"{where}: `{command}` exited {code}: {out.strip().splitlines()[-1:]}"
    assert "Traceback" not in out


def _spans():
    out = []
    for lesson in LESSONS:
        n = lesson_number(lesson)
        for span in SPAN.findall(prose(lesson.read_text())):
            if not span.startswith("mhmailbox "):
                out.append(pytest.param(lesson, n, span, id=f"{lesson.name}: {span}"))
    return out


def _lesson_commands(lesson: Path, n: int) -> list[str]:
    own = lesson.read_text() + answer_section(n)
    return CONSOLE.findall(own) + inline_commands(own)


@pytest.mark.parametrize("lesson,n,span", _spans())
def test_every_quoted_output_is_printed_by_the_lessons_commands(lesson: Path, n: int, span: str) -> None:
    if (span in known_names() or span.split("=")[0] in layout.FIELDS or (span.startswith("--") and is_option(span))
            or is_command_form(span) or is_repository_file(span)):
        return
    if span.endswith(".*"):  # a family of properties: `guest.*`
        assert any(p.startswith(span[:-1]) for p in BY_ID), f"{lesson.name}: no property matches `{span}`"
        return
    outputs = "\n".join(output_of(c)[1] for c in _lesson_commands(lesson, n))
    if span in outputs:
        return
    assert span in protocol_terms(), (
        f"{lesson.name} quotes `{span}`, which none of the lesson's commands prints and which is "
        "neither a name the tool knows nor code of docs/protocol.md or docs/hardened.md")


def test_the_quote_check_can_fail() -> None:
    """A quote that no command prints is caught (the check is not vacuous)."""
    outputs = output_of("mhmailbox litmus")[1]
    assert "MP+wmb+rmb" in outputs and "MP+rmb+wmb" not in outputs
    assert "MP+rmb+wmb" not in known_names() and "MP+rmb+wmb" not in protocol_terms()
    assert is_option("--variant hardened") and not is_option("--variant nonesuch") and not is_option("--colour")
    assert is_command_form("verify --engine kind") and not is_command_form("verify --engine magic")
    assert is_repository_file("examples/tutorial/barriers.py") and not is_repository_file("examples/tutorial/nonesuch.py")
