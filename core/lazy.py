"""Lazy re-exports for package ``__init__`` modules (PEP 562).

Importing one submodule (``mixer.decode``) must not pay for the others (librosa, onnxruntime and torch take
seconds to import), yet ``mixer.detect_speech`` should work. Each package lists its public names and the
module that defines them; the first attribute access imports that module.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` re-exporting ``exports`` (name → defining module)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__
