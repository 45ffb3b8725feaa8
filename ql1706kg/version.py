"""The software's version, from the installed distribution (a source tree says so).

Its own module so that any step can cite the version in provenance without importing the
package's public API, which sits on top of every step.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ql1706kg")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
