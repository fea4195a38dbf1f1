"""Checking an experiment's Config before anything is written, in one place for every experiment.

The command line's parser (tyro) checks types; each ``Config.__post_init__`` checks its own ranges. What every
field of every experiment shares is checked here, walking the dataclass's type hints:

- floats are finite (NaN and ±inf are refused) unless the field's docstring names the word
  ``inf`` (e.g. 'patience in epochs (inf: never stop)');
- integers fit: ``|n| <= 2**31 - 1`` (a count, a size or a number of steps beyond that cannot run here);
- seeds (fields named ``seed`` or ending in ``_seed``) are integers in ``[0, 2**32 - 1]`` (numpy's range);
- tuples are checked element by element, and values have the annotated type (a config.json edited by hand);
- the Config is rebuilt from its fields, so ``__post_init__`` runs again on exactly these values.

Every failure is one :class:`~udl.errors.UsageError` naming the field and the valid range (exit code 2).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import math
import re
import textwrap
import types
import typing
from typing import Any

from udl.errors import UsageError

INT_LIMIT = 2**31 - 1
SEED_LIMIT = 2**32 - 1


def field_docs(config_class: type) -> dict[str, str]:
    """Each field's docstring (the string literal right after it), from the class source; {} if unavailable."""
    docs: dict[str, str] = {}
    for klass in reversed(config_class.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = after.value.value
    return docs


def allows_inf(doc: str) -> bool:
    """A field documents that it takes infinity by naming the word ``inf`` (e.g. "inf: no limit")."""
    return re.search(r"\binf\b", doc) is not None


def _check(name: str, value: Any, annotation: Any, *, allow_inf: bool) -> None:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in args:
            try:
                _check(name, value, arg, allow_inf=allow_inf)
                return
            except UsageError as e:
                errors.append(str(e))
        raise UsageError(errors[-1] if errors else f"{name}: invalid value {value!r}")
    if annotation is type(None):
        if value is not None:
            raise UsageError(f"{name} must be empty (None), got {value!r}")
        return
    if origin is typing.Literal:
        if value not in args:
            raise UsageError(f"{name} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return
    if origin is tuple:
        if not isinstance(value, tuple):
            raise UsageError(f"{name} must be a tuple, got {type(value).__name__} {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            for i, v in enumerate(value):
                _check(f"{name}[{i}]", v, args[0], allow_inf=allow_inf)
        elif args:
            if len(value) != len(args):
                raise UsageError(f"{name} must have {len(args)} values, got {len(value)}")
            for i, (v, a) in enumerate(zip(value, args, strict=True)):
                _check(f"{name}[{i}]", v, a, allow_inf=allow_inf)
        return
    if annotation is bool:
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be True or False, got {value!r}")
        return
    if annotation is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise UsageError(f"{name} must be an integer, got {value!r}")
        base = name.split("[")[0]
        if base == "seed" or base.endswith("_seed"):
            if not 0 <= value <= SEED_LIMIT:
                raise UsageError(f"{name} must be a seed in [0, {SEED_LIMIT}], got {value}")
        elif abs(value) > INT_LIMIT:
            raise UsageError(f"{name} must be an integer in [-{INT_LIMIT}, {INT_LIMIT}], got {value}")
        return
    if annotation is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UsageError(f"{name} must be a number, got {value!r}")
        if math.isnan(value) or (math.isinf(value) and not allow_inf):
            valid = "a number or inf" if allow_inf else "a finite number"
            raise UsageError(f"{name} must be {valid}, got {value!r}")
        return
    if annotation is str:
        if not isinstance(value, str):
            raise UsageError(f"{name} must be a string, got {value!r}")
        return
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise UsageError(f"{name} must be a {annotation.__name__}, got {value!r}")


def check_fields(cfg: Any) -> None:
    """The shared field checks alone (no reconstruction): a UsageError naming the first bad field."""
    config_class = type(cfg)
    hints = typing.get_type_hints(config_class)
    docs = field_docs(config_class)
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        _check(f.name, value, hints.get(f.name, Any), allow_inf=allows_inf(docs.get(f.name, "")))


def checked_first(config_class: type) -> type:
    """Make ``config_class`` run :func:`check_fields` before its own ``__post_init__`` (idempotent).

    The registry applies it to every experiment's Config, so a value such as ``inf`` or ``10**23`` is refused in
    one line before the Config's own range checks compute with it (``round(inf)``, ``W ** 10**23``).
    """
    if getattr(config_class, "_udl_checked_first", False):
        return config_class
    own = getattr(config_class, "__post_init__", None)

    def __post_init__(self: Any) -> None:
        check_fields(self)
        if own is not None:
            own(self)

    config_class.__post_init__ = __post_init__  # type: ignore[attr-defined]
    config_class._udl_checked_first = True  # type: ignore[attr-defined]
    return config_class


def validate_config(cfg: Any) -> Any:
    """``cfg`` if every field passes the shared checks and ``__post_init__`` accepts it; else a UsageError."""
    config_class = type(cfg)
    if not dataclasses.is_dataclass(cfg):
        raise UsageError(f"{config_class.__name__} is not a dataclass config")
    check_fields(cfg)
    values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    try:
        return config_class(**values)
    except (TypeError, ValueError, ArithmeticError) as e:
        raise UsageError(str(e)) from None
