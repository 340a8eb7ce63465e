"""Automatic checks for the book's coding exercises (see :mod:`.checking`).

Importing this package registers every chapter's exercises.
"""

from . import gradient_descent  # noqa: F401  (registers the chapter's exercises)
from .checking import REGISTRY, Case, CheckResult, Exercise, check, evaluate, get_exercise

__all__ = ["REGISTRY", "Case", "CheckResult", "Exercise", "check", "evaluate", "get_exercise"]
