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


def elf_sections(data: bytes) -> dict[str, bytes]:
    """The sections of a 64-bit little-endian ELF file: name -> contents."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit little-endian ELF"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def header(i):
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)  # name, type, flags, addr, offset, size
    _, _, _, _, str_off, str_size = header(shstrndx)
    names = data[str_off:str_off + str_size]
    return {names[h[0]:names.index(b"\0", h[0])].decode(): data[h[4]:h[4] + h[5]] for h in map(header, range(shnum))}


def glibc_versions(lib: bytes) -> set[tuple[int, ...]]:
    """The GLIBC_x.y symbol versions the library needs (named in its dynamic string table)."""
    return {tuple(map(int, v.split(b"."))) for v in re.findall(rb"\0GLIBC_([0-9.]+)\0", elf_sections(lib)[".dynstr"])}


# The oldest glibc the wheel installs on (Makefile WHEEL_GLIBC: zig links the library against it).
WHEEL_GLIBC = (2, 17)


def test_wheel_is_manylinux2014_abi3_with_a_stripped_library(wheel):
    tag = wheel.name[len(f"persisting-{VERSION}-"):-len(".whl")]
    # glibc 2.17 (RHEL 7+, Debian 9+, Ubuntu 18.04+), not the build machine's 2.3x; one wheel for
    # every CPython >= 3.10: its extension module (persisting/_put.c) uses the limited API of 3.10
    assert tag == "cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64", tag
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        lib = z.read("persisting/libpersisting.so")
        extension = z.read("persisting/_put.abi3.so")
        program = z.read("persisting/persisting")
        program_mode = z.getinfo("persisting/persisting").external_attr >> 16
        wheel_meta = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    needed = glibc_versions(lib)
    assert needed and max(needed) <= WHEEL_GLIBC, f"the library needs glibc {max(needed)}, the tag says {WHEEL_GLIBC}"
    assert max(glibc_versions(extension), default=(0,)) <= WHEEL_GLIBC, glibc_versions(extension)
    assert b"libpersisting" not in elf_sections(extension)[".dynstr"], "it must call the library ctypes loaded, not link one"
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


def test_wheel_holds_the_package_the_library_and_the_header_only(wheel, tmp_path):
    sources = {f"persisting/{p.name}" for p in (REPO / "python/persisting").glob("*.py")}
    shipped = {"persisting/libpersisting.so", "persisting/persisting", "persisting/include/persisting.h",
               "persisting/_put.abi3.so"}  # no _put.c: the sdist carries it
    meta = {f"persisting-{VERSION}.dist-info/{n}" for n in ("METADATA", "WHEEL", "entry_points.txt", "top_level.txt", "RECORD")}
    with zipfile.ZipFile(wheel) as z:
        assert set(z.namelist()) - {n for n in z.namelist() if n.endswith("/")} == sources | shipped | meta
        assert z.read("persisting/include/persisting.h") == (REPO / "include/persisting.h").read_bytes()
        z.extract("persisting/libpersisting.so", tmp_path)
    # one authority each: the library exports exactly the header's functions and has no test hooks
    lib = tmp_path / "persisting/libpersisting.so"
    run([REPO / "tests/header/exports.sh", lib], env=dict(os.environ))
    run([REPO / "tests/header/no_test_hooks.sh", lib], env=dict(os.environ))


def test_metadata_claims_what_was_tested(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(f"persisting-{VERSION}.dist-info/METADATA").decode()
    assert "Requires-Python: >=3.10" in meta
    requires = sorted(line.split(": ", 1)[1] for line in meta.splitlines() if line.startswith("Requires-Dist: ") and "extra ==" not in line)
    # pyarrow 14 and 15 were built against numpy 1 and fail to import beside numpy 2, which pip picks
    assert requires == ["numpy>=1.22", f"pyarrow>={OLDEST_PYARROW}"], requires


OLDEST_PYARROW = "16"  # == 16 is 16.0.0


def install(wheel: Path, venv: Path, *requirements: str) -> Path:
    """A fresh virtualenv with no Go and no C compiler on PATH, holding the
    wheel and ``requirements`` (and their dependencies, binary only) from PyPI."""
    make_venv(venv)
    env = bare_env(venv)
    for tool in ("go", "cc", "gcc", "clang"):
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is on PATH"
    run([venv / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--only-binary", ":all:", wheel, *requirements], env=env)
    return venv


# pulsing 0.1.0 (pulsing.queue) and the newest (pulsing.streaming); pylance reads what the wheel wrote.
@pytest.fixture(scope="module", params=["pulsing==0.1.0", "pulsing"])
def installed(wheel, tmp_path_factory, request) -> Path:
    return install(wheel, tmp_path_factory.mktemp("wheel") / "venv", request.param, "pylance")


@pytest.fixture(scope="module")
def installed_oldest(wheel, tmp_path_factory) -> Path:
    """The wheel with the oldest pyarrow it claims to work with, and the numpy pip picks for it."""
    return install(wheel, tmp_path_factory.mktemp("wheel") / "venv", f"pyarrow=={OLDEST_PYARROW}")


def package_dir(venv: Path) -> Path:
    """Where the wheel installed the package (the library and include/ are in it)."""
    code = "import persisting, pathlib; print(pathlib.Path(persisting.__file__).parent)"
    return Path(run([venv / "bin/python", "-c", code], env=bare_env(venv)).stdout.strip())


def test_wheel_installs_and_runs_the_quickstart_without_go_or_a_compiler(installed, tmp_path):
    venv, env = installed, bare_env(installed)
    readme = (REPO / "README.md").read_text()
    quickstart = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert 'storage_path="events"' in quickstart  # relative: run in tmp_path, it writes there
    store = tmp_path / "events"
    (tmp_path / "quickstart.py").write_text(quickstart)
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
    dataset, = store.rglob("data.lance")  # the one bucket the record went to
    read = "import lance, sys; print(lance.dataset(sys.argv[1]).to_table().to_pylist())"
    assert run([venv / "bin/python", "-c", read, dataset], env=env).stdout.strip() == "[{'id': 'u1', 'clicks': 3}]"


BACKEND_ROUND_TRIP = """
import asyncio, sys
from persisting.queue import LanceBackend
async def main():
    backend = LanceBackend(0, sys.argv[1])
    await backend.put({"id": "a", "v": [1.5, 2.5]})
    await backend.put_batch([{"id": "b", "v": []}])
    await backend.flush()
    print(await backend.get(limit=10), (await backend.get_arrow()).num_rows, sorted(await backend.stats()))
    await backend.aclose()
asyncio.run(main())
"""


def test_the_oldest_pyarrow_claimed_works_with_the_numpy_pip_picks(installed_oldest, tmp_path):
    venv = installed_oldest
    out = run([venv / "bin/python", "-c", BACKEND_ROUND_TRIP, tmp_path / "bucket"], env=bare_env(venv)).stdout
    assert out.startswith("[{'id': 'a', 'v': [1.5, 2.5]}, {'id': 'b', 'v': []}] 2 "), out
    assert "boundary" not in out  # the test build's stats key: no test hooks in the wheel


def find_python(name: str) -> str | None:
    """An interpreter called ``name`` that runs: on PATH (a pyenv shim runs only its active
    versions), else one of pyenv's."""
    found = [shutil.which(name), *map(str, sorted(Path.home().glob(f".pyenv/versions/*/bin/{name}")))]
    for python in filter(None, found):
        if subprocess.run([python, "-c", "import venv"], capture_output=True).returncode == 0:
            return python
    return None


@pytest.mark.parametrize("python, supported", [("python3.10", True), ("python3.13", True), ("python3.9", False)])
def test_requires_python_is_the_oldest_python_that_works(wheel, tmp_path, python, supported):
    """The tag (cp310-abi3) and Requires-Python claim every CPython >= 3.10: the oldest, a newer one
    than the wheel was built with, and one too old, refused."""
    base = find_python(python)
    if base is None:
        pytest.skip(f"no {python} here to try (PATH, pyenv)")
    venv = tmp_path / "venv"
    run([base, "-m", "venv", venv], env=dict(os.environ))
    proc = subprocess.run([venv / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--only-binary", ":all:", wheel], env=bare_env(venv), capture_output=True, text=True,
                          timeout=TIMEOUT)
    if not supported:
        assert proc.returncode != 0 and "is not a supported wheel on this platform" in proc.stderr, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    out = run([venv / "bin/python", "-c", BACKEND_ROUND_TRIP, tmp_path / "bucket"], env=bare_env(venv)).stdout
    assert out.startswith("[{'id': 'a', 'v': [1.5, 2.5]}, {'id': 'b', 'v': []}] 2 "), out


def test_c_programs_build_and_run_against_the_installed_library(installed_oldest, tmp_path):
    """docs/installation.md: the wheel's include/ and library, with the machine's compiler."""
    pkg = package_dir(installed_oldest)
    cc = os.environ.get("CC", "cc")
    env = dict(os.environ)
    run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{pkg}/include", REPO / "examples/c/example.c",
         f"-L{pkg}", "-lpersisting", f"-Wl,-rpath,{pkg}", "-o", tmp_path / "example_c"], env=env)
    out = run([tmp_path / "example_c", tmp_path / "bucket"], env=env).stdout
    assert re.search(r"example-c: [1-9]\d* passed, 0 failed", out), out


def test_rust_programs_build_and_run_against_the_installed_library(installed_oldest, tmp_path):
    """examples/rust links the wheel's library through PERSISTING_LIB_DIR (docs/installation.md)."""
    cargo = shutil.which("cargo") or shutil.which("cargo", path=str(Path.home() / ".cargo/bin"))
    assert cargo, "the Rust example needs cargo (.ci/run installs it)"
    pkg = package_dir(installed_oldest)
    env = dict(os.environ, PERSISTING_LIB_DIR=str(pkg))  # examples/rust/target: make examples built the crates
    out = run([cargo, "run", "--quiet", "--locked", "--manifest-path", REPO / "examples/rust/Cargo.toml"],
              env=env, cwd=tmp_path).stdout
    assert re.search(r"example-rust: [1-9]\d* passed, 0 failed", out), out
    assert f"persisting {VERSION} at " in out, out


def test_a_library_of_another_version_is_refused_at_load(installed_oldest):
    code = ("import persisting._version as v; v.__version__ = '9.9.9'\n"
            "from persisting import _native\n"
            "try:\n    _native.lib()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n")
    out = run([installed_oldest / "bin/python", "-c", code], env=bare_env(installed_oldest)).stdout
    assert out.startswith("StorageError ") and f"libpersisting {VERSION}" in out and "package is 9.9.9" in out, out


def test_sdist_carries_the_go_module_and_builds_with_go(sdist, tmp_path):
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for needed in ("go/go.mod", "go/go.sum", "go/build.sh", "go/capi/version.c", "go/capi/exports.map",
                   "go/include/persisting.h", "go/cmd/persisting/main.go", "persisting/_version.py", "setup.py",
                   "pyproject.toml", "persisting/_put.c"):
        assert needed in names, needed
    assert not any(n.endswith(("_test.go", ".so")) or "/testdata/" in n for n in names)

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
    out = run([venv / "bin/python", "-c", BACKEND_ROUND_TRIP, tmp_path / "bucket"], env=env).stdout  # puts: _put.c built
    assert out.startswith("[{'id': 'a', 'v': [1.5, 2.5]}, {'id': 'b', 'v': []}] 2 "), out
    assert (package_dir(venv) / "_put.abi3.so").is_file()
    assert run(["persisting", "--version"], env=env).stdout.strip() == f"persisting {VERSION}"
    assert (package_dir(venv) / "include/persisting.h").read_bytes() == (REPO / "include/persisting.h").read_bytes()


def test_sdist_without_go_fails_with_a_message_not_a_traceback(sdist, tmp_path):
    venv = make_venv(tmp_path / "venv")
    env = bare_env(venv)
    assert shutil.which("go", path=env["PATH"]) is None, "go is on PATH"
    proc = subprocess.run([venv / "bin/python", "-m", "pip", "install", "--disable-pip-version-check", "--no-binary",
                           "persisting", sdist], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "error: cannot build libpersisting.so: Go is not installed" in out, out
    assert "Traceback" not in out, out


NO_HEADERS = """
import runpy, sys, sysconfig
paths = sysconfig.get_paths
sysconfig.get_paths = lambda *a, **k: dict(paths(*a, **k), include="/nonexistent/include")  # no python3-dev
sys.argv = ["setup.py", "build_ext", "--build-lib", sys.argv[1], "--build-temp", sys.argv[1]]
runpy.run_path("setup.py", run_name="__main__")
"""


def test_building_without_pythons_headers_fails_naming_them(tmp_path):
    """setup.py's build of persisting/_put.c, where the interpreter has no C headers:
    an error that says what to install, not a compiler's traceback."""
    venv = make_venv(tmp_path / "venv")
    env = bare_env(venv, "/usr/bin", "/bin")
    run([venv / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "setuptools>=70.1"], env=env)
    proc = subprocess.run([venv / "bin/python", "-c", NO_HEADERS, tmp_path / "build"], cwd=REPO / "python", env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "error: cannot build persisting's extension module persisting/_put.c" in out, out
    assert "/nonexistent/include/Python.h is missing" in out and "apt-get install python3-dev" in out, out
    assert "Traceback" not in out, out
