"""The version of persisting: the one place it is written.

``build.sh`` reads it into the library (``persisting_version()``), the
package build (``pyproject.toml``) into the wheel's metadata, and the package
compares the two when it loads the library.
"""

__version__ = "0.2.0"
