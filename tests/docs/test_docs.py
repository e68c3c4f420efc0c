"""Runs every code block of docs/*.md and README.md, so the documentation cannot drift from the code.

    python -m pytest -q tests/docs

Fenced blocks are taken by language:

- ```python   written to block.py in a new temporary directory (the cwd) and run by
  a fresh interpreter (``python block.py``, a subprocess, never a fork). Top-level
  ``await`` is allowed: such a block is compiled with ``PyCF_ALLOW_TOP_LEVEL_AWAIT``
  and run with ``asyncio.run``, as ``python -m asyncio`` would.
- ```c        compiled as C99 with -Wall -Wextra -Werror -pedantic against
  ``include/persisting.h`` and the library (``cc -Iinclude -Lbuild -lpersisting``),
  then run in a temporary directory.
- ```sh       run by ``bash -euo pipefail`` in a temporary directory that holds
  symlinks ``include``, ``build`` (the library's directory), ``python`` and
  ``examples``, so commands written for the repository's root work unchanged.
- ```text     output or a file listing: not code, not run.

A block preceded by ``<!-- no-run: reason -->`` is not run. Only ``sh`` blocks of
install or build commands may be marked so (checked below), and the count is
reported. Any other language, or a block without one, fails the test.

A block preceded by ``<!-- known-bug: what -->`` shows documented behaviour that a
reported bug breaks for now: it runs as a strict expected failure, so the test
fails once the bug is fixed and the mark (and the page's warning) must go.

Which library: ``PERSISTING_LIB`` when set; else ``build/libpersisting.so`` when it
exists (``./build.sh``) - both with the package of this checkout (``python/``, or
``PERSISTING_PYTHON_SRC``) on ``PYTHONPATH``; else the installed ``persisting``
package with its bundled library (forced with ``PERSISTING_DOCS_INSTALLED=1``, to test a
wheel). Every block gets a timeout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
INCLUDE = REPO / "include"
TIMEOUT = 60  # seconds per block

#: languages whose blocks run, and those that are not code
RUNNABLE = {"python", "c", "sh"}
NOT_CODE = {"text"}

#: the only commands a no-run block may hold (installing or building, which a test
#: must not redo in the tree others work in)
NO_RUN_COMMANDS = ("pip install", "python3 -m pip install", "python -m pip install", "pip wheel", "./build.sh",
                   "make lib", "make demo", "make test", "make wheel", "PERSISTING_LIB=", "CC=", "GO=",
                   "go build", "git clone", "cd ")
#: upper bound on no-run blocks, so the exception stays an exception
MAX_NO_RUN = 8

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+)(?P<info>[^`]*)$")
NO_RUN = re.compile(r"^\s*<!--\s*no-run:\s*(?P<reason>.+?)\s*-->\s*$")
KNOWN_BUG = re.compile(r"^\s*<!--\s*known-bug:\s*(?P<reason>.+?)\s*-->\s*$")


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    no_run: str | None  # the reason, when marked no-run
    known_bug: str | None = None  # the bug, when marked known-bug

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}-{self.lang or 'none'}"


def extract(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown page, with the no-run mark before each."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m.group("indent"), m.group("fence")
        lang = m.group("info").strip().split()[0] if m.group("info").strip() else ""
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            text = lines[i]
            body.append(text[len(indent):] if text.startswith(indent) else text.lstrip())
            i += 1
        if i >= len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: unclosed code block")
        i += 1
        no_run = known_bug = None
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and (mark := NO_RUN.match(lines[j])):
            no_run = mark.group("reason")
        if j >= 0 and (mark := KNOWN_BUG.match(lines[j])):
            known_bug = mark.group("reason")
        blocks.append(Block(path.name, start + 1, lang, "\n".join(body) + "\n", no_run, known_bug))
    return blocks


PAGES = sorted(DOCS.glob("*.md"))
README = REPO / "README.md"  # its blocks and links are held to the same rules
BLOCKS = [b for page in [README, *PAGES] for b in extract(page)]


# ---- the library and package the blocks use ---------------------------------------------------
def _setup() -> tuple[dict[str, str], Path]:
    """(environment for every block, directory holding libpersisting.so)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONSTARTUP", "PYTHONINSPECT", "PERSISTING_TEST_CRASH_AT")}
    lib = os.environ.get("PERSISTING_LIB")
    installed = os.environ.get("PERSISTING_DOCS_INSTALLED") == "1"  # test the installed wheel
    if not lib and not installed and (REPO / "build" / "libpersisting.so").is_file():
        lib = str(REPO / "build" / "libpersisting.so")
    if lib:
        lib_path = Path(lib).resolve()
        src = os.environ.get("PERSISTING_PYTHON_SRC", str(REPO / "python"))
        env["PERSISTING_LIB"] = str(lib_path)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        return env, lib_path.parent
    found = subprocess.run(
        [sys.executable, "-c", "import persisting._native as n; print(n.library_path())"],
        capture_output=True, text=True, env=env)
    if found.returncode != 0:
        pytest.exit("libpersisting.so not found: run ./build.sh, `pip install ./python`, "
                    "or set PERSISTING_LIB", returncode=2)
    return env, Path(found.stdout.strip()).parent


_ENV: dict[str, str] | None = None
_LIBDIR: Path | None = None


def environment() -> tuple[dict[str, str], Path]:
    global _ENV, _LIBDIR
    if _ENV is None:
        _ENV, _LIBDIR = _setup()
    return dict(_ENV), _LIBDIR


# ---- running one block ---------------------------------------------------------------------------
PY_RUNNER = r"""
import ast, asyncio, inspect, sys
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    source = f.read()
code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
scope = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
if code.co_flags & inspect.CO_COROUTINE:
    asyncio.run(eval(code, scope))
else:
    exec(code, scope)
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str], block: Block) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                                timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{block.id}: timed out after {TIMEOUT}s\n--- stdout\n{exc.stdout}\n--- stderr\n{exc.stderr}")
    if result.returncode != 0:
        pytest.fail(
            f"{block.id}: {' '.join(cmd[:2])} exited with {result.returncode}\n"
            f"--- block\n{block.code}--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
    if "was never awaited" in result.stderr:
        pytest.fail(f"{block.id}: a coroutine was never awaited\n{result.stderr}")
    return result


def _awaits(code: str) -> bool:
    """Whether the block uses top-level await (then it needs the runner)."""
    import ast
    import inspect
    compiled = compile(code, "block.py", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    return bool(compiled.co_flags & inspect.CO_COROUTINE)


def run_python(block: Block, cwd: Path, env: dict[str, str]) -> None:
    (cwd / "block.py").write_text(block.code, encoding="utf-8")
    if _awaits(block.code):
        _run([sys.executable, "-c", PY_RUNNER, "block.py"], cwd, env, block)
    else:  # a plain script, run as one (multiprocessing's spawn re-imports __main__)
        _run([sys.executable, "block.py"], cwd, env, block)


def run_c(block: Block, cwd: Path, env: dict[str, str], libdir: Path) -> None:
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:  # the project needs one to build at all: never pass a C page unrun
        pytest.fail("no C compiler (cc) to compile the page's C blocks; install gcc")
    (cwd / "example.c").write_text(block.code, encoding="utf-8")
    _run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{INCLUDE}", "example.c",
          f"-L{libdir}", "-lpersisting", f"-Wl,-rpath,{libdir}", "-o", "example"], cwd, env, block)
    _run([str(cwd / "example")], cwd, env, block)


def run_sh(block: Block, cwd: Path, env: dict[str, str], libdir: Path) -> None:
    for name, target in (("include", INCLUDE), ("build", libdir), ("python", REPO / "python"),
                         ("examples", REPO / "examples")):
        (cwd / name).symlink_to(target, target_is_directory=True)
    env["PYTHON"] = sys.executable
    # `python`/`python3` in a block are this interpreter: scripts that exec it, not symlinks
    # (a symlink to a venv's python starts the base interpreter, without the venv's packages,
    # when the venv's python is itself a symlink outside the venv, as pyenv's are)
    bindir = cwd / ".bin"
    bindir.mkdir()
    for name in ("python", "python3"):
        (bindir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        (bindir / name).chmod(0o755)
    # `persisting` is the console script the package installs (docs/cli.md)
    (bindir / "persisting").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m persisting "$@"\n')
    (bindir / "persisting").chmod(0o755)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    (cwd / "block.sh").write_text(block.code, encoding="utf-8")
    _run(["bash", "-euo", "pipefail", "block.sh"], cwd, env, block)


# ---- the tests -----------------------------------------------------------------------------------
def test_docs_exist():
    assert PAGES, f"no pages in {DOCS}"
    assert BLOCKS, "the docs have no code blocks"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in RUNNABLE and not b.no_run],
                         ids=lambda b: b.id)
def test_block_runs(block: Block):
    env, libdir = environment()
    with tempfile.TemporaryDirectory(prefix="persisting-docs-") as tmp:
        cwd = Path(tmp)
        try:
            if block.lang == "python":
                run_python(block, cwd, env)
            elif block.lang == "c":
                run_c(block, cwd, env, libdir)
            else:
                run_sh(block, cwd, env, libdir)
        except pytest.fail.Exception as exc:
            if block.known_bug:
                last = [line for line in str(exc).splitlines() if line.strip()][-1:]
                pytest.xfail(f"known bug: {block.known_bug}: {' '.join(last)}")
            raise
    if block.known_bug:
        pytest.fail(f"{block.id} passes now: the known bug ({block.known_bug}) seems fixed; "
                    "remove the known-bug mark and the page's warning")


def test_every_block_is_runnable_or_marked():
    """No block escapes: every one is run, or is output (``text``), or is an install
    command marked no-run."""
    problems = []
    for b in BLOCKS:
        if b.no_run is not None:
            if b.lang != "sh":
                problems.append(f"{b.id}: only sh blocks may be no-run")
            for line in b.code.splitlines():
                cmd = line.split("#", 1)[0].strip()
                if cmd and not cmd.startswith(NO_RUN_COMMANDS):
                    problems.append(f"{b.id}: no-run block holds a command that is not an install/build "
                                    f"step: {cmd!r}")
        elif b.lang not in RUNNABLE | NOT_CODE:
            problems.append(f"{b.id}: block language {b.lang or '(none)'!r} is neither run nor output "
                            f"(use one of {sorted(RUNNABLE | NOT_CODE)})")
    assert not problems, "\n".join(problems)


def test_no_run_blocks_are_few(capsys):
    marked = [b for b in BLOCKS if b.no_run is not None]
    with capsys.disabled():
        print(f"\ndocs: {len(BLOCKS)} blocks, "
              f"{sum(b.lang in RUNNABLE and not b.no_run for b in BLOCKS)} run, "
              f"{sum(b.lang in NOT_CODE for b in BLOCKS)} output, {len(marked)} no-run: "
              + ", ".join(f"{b.id} ({b.no_run})" for b in marked)
              + "".join(f"; known bug: {b.id} ({b.known_bug})" for b in BLOCKS if b.known_bug))
    assert len(marked) <= MAX_NO_RUN, [b.id for b in marked]


def test_every_c_function_is_documented():
    """api-c.md names every function include/persisting.h declares."""
    header = (INCLUDE / "persisting.h").read_text(encoding="utf-8")
    declared = set(re.findall(r"^(?:int|void|const char\*)\s+(persisting_\w+)\(", header, re.M))
    assert declared, "no declarations found in include/persisting.h"
    page = (DOCS / "api-c.md").read_text(encoding="utf-8")
    missing = sorted(n for n in declared if not re.search(rf"`[^`]*\b{n}\b[^`]*`", page))
    assert not missing, f"api-c.md does not document: {missing}"


# ---- links ----------------------------------------------------------------------------------------
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(?P<title>.+?)\s*#*\s*$")


def _prose(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside code blocks."""
    out, fence = [], None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group("fence")
            continue
        if fence is not None:
            if line.strip() == fence:
                fence = None
            continue
        out.append((n, line))
    return out


def slug(title: str) -> str:
    """GitHub's anchor for a heading."""
    title = re.sub(r"`|\*\*|\[|\]\([^)]*\)", "", title).strip().lower()
    title = re.sub(r"[^\w\- ]", "", title)
    return title.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in _prose(path):
        m = HEADING.match(line)
        if m:
            s = slug(m.group("title"))
            k = seen.get(s, 0)
            seen[s] = k + 1
            out.add(s if k == 0 else f"{s}-{k}")
    return out


def links(path: Path) -> list[tuple[int, str]]:
    return [(n, m.group("target")) for n, line in _prose(path) for m in LINK.finditer(line)]


def test_every_page_is_linked_from_index():
    index = DOCS / "index.md"
    assert index.is_file(), "docs/index.md is missing"
    linked = {(DOCS / t.split("#", 1)[0]).resolve() for _, t in links(index)
              if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")}
    missing = [p.name for p in PAGES if p.name != "index.md" and p.resolve() not in linked]
    assert not missing, f"pages not linked from docs/index.md: {missing}"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_relative_links_resolve(page: Path):
    broken = []
    for n, target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{page.name}:{n}: {target} -> {dest} does not exist")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{page.name}:{n}: {target}: no heading #{anchor} in {dest.name}")
    assert not broken, "\n".join(broken)
