"""Automatic checks for the book's coding exercises (see :mod:`.checking`).

Each chapter's exercises live in a module of this package named after the
chapter; importing the package imports them all, which registers them.
"""

import importlib
import pkgutil

from .checking import REGISTRY, Case, CheckResult, Exercise, check, evaluate, get_exercise
from .time_limit import TimeLimitExceeded

for _chapter in pkgutil.iter_modules(__path__):
    if _chapter.name not in ("checking", "time_limit"):
        importlib.import_module(f"{__name__}.{_chapter.name}")

__all__ = ["REGISTRY", "Case", "CheckResult", "Exercise", "TimeLimitExceeded", "check",
           "evaluate", "get_exercise"]
