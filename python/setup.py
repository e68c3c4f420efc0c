"""Build hook of the persisting package.

``pip install ./python`` (or ``pip wheel ./python``) runs ``build_py`` below,
which puts ``libpersisting.so``, the command line program ``persisting`` and
the C header ``include/persisting.h`` (build.sh writes both beside the library;
C programs compile against the installed copy with it) into the package:

- ``PERSISTING_LIB=/path/to/libpersisting.so``: that prebuilt library and the
  program and header beside it are copied (CI, or ``make lib``'s build);
- otherwise the library is compiled with the machine's Go, from the Go module
  ``go/`` beside this file (an sdist carries it there: ``make wheel`` stages
  it), else the repository that contains this directory (``python/..``);
  override with ``PERSISTING_GO_MODULE=/path/to/repo``:
  the module's ``build.sh release`` (``go build -buildmode=c-shared`` with the
  exported-symbol version script, stripped) and bundles the library it writes,
  with the version of ``persisting/_version.py``.
  cgo needs a C compiler (``cc``) as well.

It also compiles the package's one extension module, ``persisting._put``
(``persisting/_put.c``: the put path's C call without ctypes), against CPython
3.10's limited API, so the wheel is tagged ``cp310-abi3-<platform>`` and serves
every CPython >= 3.10; a free-threaded interpreter has no limited API, and gets
a wheel for its own version. That needs the interpreter's C headers (Debian:
``python3-dev``). Editable installs are not supported; for development
``make lib`` builds the library into ``build/`` and the module in place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.errors import BaseError
from setuptools.command.build_ext import build_ext as _build_ext
from setuptools.command.build_py import build_py as _build_py

try:  # setuptools >= 70.1 ships bdist_wheel itself
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # older setuptools: the wheel package's
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel

HERE = Path(__file__).resolve().parent
LIBRARY = "libpersisting.so"
PROGRAM = "persisting"  # the command line (cmd/persisting), run by persisting/cli.py
HEADER = "include/persisting.h"  # the C API, beside the library (build.sh) and in the package


class BuildError(BaseError):
    """setuptools reports it as ``error: <message>``, without a traceback (what pip shows)."""


def _module_root() -> Path:
    env = os.environ.get("PERSISTING_GO_MODULE")
    root = Path(env).resolve() if env else (HERE / "go" if (HERE / "go" / "go.mod").is_file() else HERE.parent)
    if not (root / "go.mod").is_file() or not (root / "capi").is_dir():
        raise BuildError(
            f"cannot build {LIBRARY}: {root} is not the persisting Go module (no go.mod and capi/). "
            "Install from a checkout of the repository, set PERSISTING_GO_MODULE to one, "
            f"or set PERSISTING_LIB to a prebuilt {LIBRARY}."
        )
    return root


def _bundle(built: Path, dest: Path) -> None:
    """Copies the library ``built`` and the program and header beside it into ``dest``'s directory."""
    for name in (PROGRAM, HEADER):
        if not (built.parent / name).is_file():
            raise BuildError(f"{built.parent / name} is missing: build.sh writes it beside {built.name}; "
                             "rebuild with `make lib`")
    (dest.parent / HEADER).parent.mkdir(exist_ok=True)
    for src, to, mode in ((built, dest, 0o755), (built.parent / PROGRAM, dest.parent / PROGRAM, 0o755),
                          (built.parent / HEADER, dest.parent / HEADER, 0o644)):
        shutil.copyfile(src, to)
        to.chmod(mode)


def build_library(dest: Path) -> None:
    """Writes libpersisting.so to ``dest``, the program and header beside it (copied or compiled)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    prebuilt = os.environ.get("PERSISTING_LIB")
    if prebuilt:
        src = Path(prebuilt).expanduser()
        if not src.is_file():
            raise BuildError(f"PERSISTING_LIB={prebuilt!r} is not a file")
        print(f"persisting: bundling prebuilt {src} and the {PROGRAM} and {HEADER} beside it", file=sys.stderr)
        _bundle(src, dest)
        return
    go = shutil.which(os.environ.get("GO", "go"))
    if go is None:
        raise BuildError(
            f"cannot build {LIBRARY}: Go is not installed (no `go` on PATH). Install Go >= 1.26 "
            f"and a C compiler, or set PERSISTING_LIB to a prebuilt {LIBRARY}. (persisting's wheels, which "
            "need no Go, are for Linux x86_64 with glibc >= 2.17.)"
        )
    root = _module_root()
    with tempfile.TemporaryDirectory() as tmp:
        # build.sh holds the one definition of how the library is built (flags,
        # the exported-symbol version script), so the wheel gets the same .so.
        env = dict(os.environ, CGO_ENABLED="1", GO=go, OUT=tmp, PERSISTING_VERSION=_version())
        out = Path(tmp) / LIBRARY
        cmd = ["bash", str(root / "build.sh"), "release"]
        print(f"persisting: {' '.join(cmd)} (OUT={tmp})", file=sys.stderr)
        result = subprocess.run(cmd, cwd=root, env=env)
        if result.returncode != 0 or not out.is_file():
            raise BuildError(f"`{' '.join(cmd)}` failed in {root} (exit {result.returncode})")
        _bundle(out, dest)


def _version() -> str:
    """persisting/_version.py's version (the one source of it), read without importing the package."""
    text = (HERE / "persisting" / "_version.py").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("__version__ = "):
            return line.split("=", 1)[1].strip().strip('"')
    raise BuildError("persisting/_version.py holds no __version__")


class build_py(_build_py):
    def run(self) -> None:
        super().run()
        build_library(Path(self.build_lib) / "persisting" / LIBRARY)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        built = [str(Path(self.build_lib) / "persisting" / name) for name in (LIBRARY, PROGRAM, HEADER)]
        return outputs + [p for p in built if p not in outputs]


FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))  # no limited API there


class build_ext(_build_ext):
    def run(self) -> None:
        header = Path(sysconfig.get_paths()["include"]) / "Python.h"
        if not header.is_file():
            raise BuildError(
                f"cannot build persisting's extension module persisting/_put.c: {sys.executable} has no C "
                f"headers ({header} is missing). Install them (Debian/Ubuntu: apt-get install python3-dev; "
                "Fedora: python3-devel), or install a persisting wheel, which needs none.")
        super().run()


class bdist_wheel(_bdist_wheel):
    def get_tag(self) -> tuple[str, str, str]:
        python, abi, plat = super().get_tag()
        return (python, abi, plat) if FREE_THREADED else ("cp310", "abi3", plat)  # _put.c: Py_LIMITED_API 3.10


# _put.c defines Py_LIMITED_API itself (unless free-threaded); py_limited_api names the file .abi3.so.
PUT = Extension("persisting._put", ["persisting/_put.c"], py_limited_api=not FREE_THREADED)
setup(ext_modules=[PUT], cmdclass={"build_py": build_py, "build_ext": build_ext, "bdist_wheel": bdist_wheel})
