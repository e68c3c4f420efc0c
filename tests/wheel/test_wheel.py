"""The wheel `make wheel` builds installs and runs where there is no Go and no C
compiler; the sdist builds with Go where no wheel fits.

    make wheeltest        (builds dist/ first; or PERSISTING_DIST=dir python -m pytest tests/wheel)

Each test makes a fresh virtualenv and installs into it from dist/ and PyPI
(pulsing, pyarrow): pip's cache keeps repeated runs fast.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("PERSISTING_DIST", REPO / "dist"))
VERSION = re.search(r'__version__ = "([^"]+)"', (REPO / "python/persisting/_version.py").read_text()).group(1)
TIMEOUT = 900


def one(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    if len(found) != 1:
        pytest.fail(f"want exactly one {pattern} in {DIST}, found {[p.name for p in found]}: run `make wheel`")
    return found[0]


@pytest.fixture(scope="module")
def wheel() -> Path:
    return one(f"persisting-{VERSION}-*.whl")


@pytest.fixture(scope="module")
def sdist() -> Path:
    return one(f"persisting-{VERSION}.tar.gz")


def run(cmd: list, env: dict, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    return proc


def bare_env(venv: Path, *extra_dirs: str) -> dict:
    """An environment whose PATH is the virtualenv (plus extra_dirs) only."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PERSISTING_", "PYTHON", "VIRTUAL_ENV", "GO", "CGO_", "CC"))}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *extra_dirs])
    env["VIRTUAL_ENV"] = str(venv)
    return env


def make_venv(path: Path) -> Path:
    # the interpreter this venv's python was made from, so a venv inside .venv works too
    base = Path(getattr(sys, "_base_executable", sys.executable))
    run([base, "-m", "venv", path], env=dict(os.environ))
    return path


def elf_sections(data: bytes) -> set[str]:
    """Names of the sections of a 64-bit little-endian ELF file."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit little-endian ELF"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def header(i):
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)  # name, type, flags, addr, offset, size
    _, _, _, _, str_off, str_size = header(shstrndx)
    names = data[str_off:str_off + str_size]
    return {names[h[0]:names.index(b"\0", h[0])].decode() for h in map(header, range(shnum))}


def test_wheel_is_manylinux_with_a_stripped_library(wheel):
    tag = wheel.name[len(f"persisting-{VERSION}-"):-len(".whl")]
    assert re.fullmatch(r"py3-none-manylinux_2_\d+_x86_64(\.manylinux\w+)*", tag), tag
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        lib = z.read("persisting/libpersisting.so")
        program = z.read("persisting/persisting")
        program_mode = z.getinfo("persisting/persisting").external_attr >> 16
        wheel_meta = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    sections = elf_sections(lib)
    assert ".symtab" not in sections and ".debug_info" not in sections, sorted(sections)
    assert ".dynsym" in sections  # the C API stays exported
    assert len(lib) < 20 << 20, f"library of {len(lib)} bytes"
    # the command line program: stripped, executable, static (no C library to graft)
    assert ".symtab" not in elf_sections(program) and ".debug_info" not in elf_sections(program)
    assert program_mode & 0o111, oct(program_mode)
    assert ".interp" not in elf_sections(program), "the program is linked dynamically"
    assert "Root-Is-Purelib: false" in wheel_meta
    assert "persisting = persisting.cli:run" in entry_points
    assert not any(n.startswith("persisting.libs/") for n in names), "auditwheel grafted libraries in"


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with no Go and no C compiler on PATH, holding the
    wheel and pulsing (and their dependencies, binary only) from PyPI."""
    venv = make_venv(tmp_path_factory.mktemp("wheel") / "venv")
    env = bare_env(venv)
    for tool in ("go", "cc", "gcc", "clang"):
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is on PATH"
    run([venv / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--only-binary", ":all:", wheel, "pulsing"], env=env)
    return venv


def test_wheel_installs_and_runs_the_quickstart_without_go_or_a_compiler(installed, tmp_path):
    venv, env = installed, bare_env(installed)
    readme = (REPO / "README.md").read_text()
    quickstart = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert '"/tmp/events"' in quickstart
    store = tmp_path / "events"
    (tmp_path / "quickstart.py").write_text(quickstart.replace('"/tmp/events"', repr(str(store))))
    out = run([venv / "bin/python", "quickstart.py"], env=env, cwd=tmp_path).stdout
    assert "[{'id': 'u1', 'clicks': 3}]" in out, out

    versions = run([venv / "bin/python", "-c", "import persisting; print(persisting.__version__, persisting.native_version())"],
                   env=env, cwd=tmp_path).stdout.split()
    assert versions == [VERSION, VERSION]
    # the console script, on what the quickstart wrote
    assert run(["persisting", "--version"], env=env).stdout.strip() == f"persisting {VERSION}"
    assert run([venv / "bin/python", "-m", "persisting", "--version"], env=env).stdout.strip() == f"persisting {VERSION}"
    inspected = run(["persisting", "inspect", store, "--json"], env=env).stdout
    assert '"rows": 1' in inspected
    run(["persisting", "verify", store], env=env)


def test_a_library_of_another_version_is_refused_at_load(installed):
    code = ("import persisting._version as v; v.__version__ = '9.9.9'\n"
            "from persisting import _native\n"
            "try:\n    _native.lib()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n")
    out = run([installed / "bin/python", "-c", code], env=bare_env(installed)).stdout
    assert out.startswith("StorageError ") and f"libpersisting {VERSION}" in out and "package is 9.9.9" in out, out


def test_sdist_carries_the_go_module_and_builds_with_go(sdist, tmp_path):
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for needed in ("go/go.mod", "go/go.sum", "go/build.sh", "go/capi/version.c", "go/capi/exports.map",
                   "go/include/persisting.h", "go/cmd/persisting/main.go", "persisting/_version.py", "setup.py",
                   "pyproject.toml"):
        assert needed in names, needed
    assert not any(n.endswith("_test.go") or "/testdata/" in n for n in names)

    go = shutil.which("go")
    cc = shutil.which("cc")
    assert go and cc, "building the sdist needs Go and a C compiler on PATH"
    venv = make_venv(tmp_path / "venv")
    env = bare_env(venv, os.path.dirname(go), os.path.dirname(cc), "/usr/bin", "/bin")
    for key in ("GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "HOME"):
        if key in os.environ:
            env[key] = os.environ[key]
    run([venv / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-binary",
         "persisting", sdist], env=env)
    out = run([venv / "bin/python", "-c", "import persisting; print(persisting.__version__, persisting.native_version())"],
              env=env, cwd=tmp_path).stdout.split()
    assert out == [VERSION, VERSION]
    assert run(["persisting", "--version"], env=env).stdout.strip() == f"persisting {VERSION}"
