"""What a trained model depends on, as a dict of readable names and short values (``zoo.trained``'s key).

``fingerprint(build, train)`` follows the code that builds and trains a model: the source of each
function, of the functions and classes it uses (the notebook's and this package's), and the values
of the variables it reads (numbers, strings, settings dataclasses, tensors). Any edit of that code
or of those values changes the fingerprint, so a saved model is reused only when it would come out
the same; :func:`describe_changes` says in words what changed between two fingerprints.

Formatting is ignored: comments, blank lines and spaces inside a line do not count. Third-party
code (torch, numpy...) is identified by name only, not followed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import dis
import hashlib
import inspect
import io
import textwrap
import tokenize
import types
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

OURS = ("__main__", "vae_helpers")  # modules whose code is followed: the notebook's and this package's
# packages that only show things: they do not change what a model learns, and which of their classes a name
# stands for depends on the front end (tqdm.auto.tqdm is a widget bar in Jupyter, a text bar in a terminal)
DISPLAY_ONLY = ("tqdm",)
_PLAIN = (type(None), bool, int, float, complex, str, bytes)
_MAX_DEPTH = 12
_LOADS = {"LOAD_GLOBAL", "LOAD_NAME"}
_ATTRS = {"LOAD_ATTR", "LOAD_METHOD"}


def _is_ours(obj: Any) -> bool:
    module = (obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)) or ""
    return module.split(".")[0] in OURS


def _digest(text: str | bytes) -> str:
    return hashlib.sha1(text.encode() if isinstance(text, str) else text).hexdigest()[:12]


def normalized_source(source: str) -> str:
    """``source`` as its tokens, without comments, blank lines or spacing (indentation kept as structure)."""
    source = textwrap.dedent(source)
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER):
                continue
            if tok.type == tokenize.INDENT:
                out.append("<indent>")
            elif tok.type == tokenize.DEDENT:
                out.append("<dedent>")
            elif tok.type == tokenize.NEWLINE:
                out.append("\n")
            else:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):  # a lambda's line cut out of a longer statement
        return "\n".join(line.rstrip() for line in source.splitlines() if line.strip())
    return " ".join(out)


def _code_text(fn: Callable) -> str:
    """The function's normalized source, or (where there is none, e.g. code made by exec) its bytecode."""
    try:
        return normalized_source(inspect.getsource(fn))
    except (OSError, TypeError):
        code = fn.__code__
        return repr(
            (code.co_code, code.co_names, code.co_varnames, [c for c in code.co_consts if isinstance(c, _PLAIN)])
        )


def _global_loads(code: types.CodeType) -> list[tuple[str, str | None]]:
    """``(global name, attribute read from it or None)`` for every global the code (and code nested in it) reads."""
    found: list[tuple[str, str | None]] = []
    instructions = list(dis.get_instructions(code))
    for i, ins in enumerate(instructions):
        if ins.opname in _LOADS:
            attr = None
            nxt = instructions[i + 1] if i + 1 < len(instructions) else None
            if nxt is not None and nxt.opname in _ATTRS:
                attr = nxt.argval
            found.append((ins.argval, attr))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found += _global_loads(const)
    return found


class _TensorHashes:
    """sha1 of a tensor's bytes, remembered while the tensor lives and is not modified in place."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[weakref.ref, int, str]] = {}

    def __call__(self, t: torch.Tensor) -> str:
        key = id(t)
        version = t._version
        hit = self._seen.get(key)
        if hit is not None and hit[0]() is t and hit[1] == version:
            return hit[2]
        arr = t.detach().cpu().contiguous()
        if arr.dtype == torch.bfloat16:
            arr = arr.float()
        value = f"tensor {tuple(t.shape)} {str(t.dtype).replace('torch.', '')} {_digest(arr.numpy().tobytes())}"
        with contextlib.suppress(TypeError):  # a tensor that cannot be weakly referenced: not cached
            self._seen[key] = (weakref.ref(t), version, value)
        return value


_tensor_hash = _TensorHashes()


class _Walker:
    def __init__(self) -> None:
        self.items: dict[str, str] = {}
        # id -> the object itself: holding it keeps it alive for the whole walk, so that a temporary walked
        # earlier (a __fingerprint__() dict, a partial's keywords) cannot lend its id to a later one and
        # make it look already seen
        self.seen: dict[int, Any] = {}

    def add(self, name: str, value: str) -> None:
        key, n = name, 2
        while key in self.items and self.items[key] != value:
            key, n = f"{name}#{n}", n + 1
        self.items[key] = value

    def walk(self, name: str, obj: Any, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(obj, _PLAIN):
            self.add(name, repr(obj))
            return
        if isinstance(obj, (torch.device, types.ModuleType)) or obj is Ellipsis:
            return  # where a model is trained, and modules themselves, do not change what it learns
        if (getattr(obj, "__module__", None) or "").split(".")[0] in DISPLAY_ONLY:
            return
        if id(obj) in self.seen:
            return
        self.seen[id(obj)] = obj
        if hasattr(type(obj), "__fingerprint__") and not isinstance(obj, type):
            self.walk(name, obj.__fingerprint__(), depth + 1)
        elif isinstance(obj, torch.Tensor):
            self.add(name, _tensor_hash(obj))
        elif isinstance(obj, np.ndarray):
            self.add(name, f"array {obj.shape} {obj.dtype} {_digest(np.ascontiguousarray(obj).tobytes())}")
        elif isinstance(obj, (torch.dtype, torch.Size)):
            self.add(name, str(obj))
        elif isinstance(obj, torch.Generator):
            self.add(name, f"generator {_digest(obj.get_state().numpy().tobytes())}")
        elif isinstance(obj, torch.nn.Module):
            self.walk(f"{name}.__class__", type(obj), depth + 1)
            weights = "".join(f"{k}:{_tensor_hash(v)}" for k, v in obj.state_dict().items())
            self.add(name, f"weights {_digest(weights)}")
        elif isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a NamedTuple
            for field_name in obj._fields:
                self.walk(f"{name}.{field_name}", getattr(obj, field_name), depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else list(obj)
            if all(isinstance(v, _PLAIN) for v in items):
                self.add(name, repr(tuple(items) if isinstance(obj, tuple) else items))
            else:
                for i, value in enumerate(items):
                    self.walk(f"{name}[{i}]", value, depth + 1)
        elif isinstance(obj, dict):
            if all(isinstance(v, _PLAIN) for v in obj.values()) and all(isinstance(k, _PLAIN) for k in obj):
                self.add(name, repr(dict(sorted(obj.items(), key=lambda kv: repr(kv[0])))))
            else:
                for key in sorted(obj, key=repr):
                    self.walk(f"{name}[{key!r}]", obj[key], depth + 1)
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            self.walk(f"{name}.__class__", type(obj), depth + 1)
            for f in dataclasses.fields(obj):
                if f.metadata.get("fingerprint", True):
                    self.walk(f"{name}.{f.name}", getattr(obj, f.name), depth + 1)
        elif isinstance(obj, types.MethodType):
            self.walk(name, obj.__func__, depth + 1)
            self.walk(f"{name}.__self__", obj.__self__, depth + 1)
        elif hasattr(obj, "func") and hasattr(obj, "keywords") and hasattr(obj, "args"):  # functools.partial
            self.walk(name, obj.func, depth + 1)
            self.walk(f"{name}(args)", list(obj.args), depth + 1)
            self.walk(f"{name}(kwargs)", dict(obj.keywords), depth + 1)
        elif isinstance(obj, types.FunctionType):
            self.function(name, obj, depth)
        elif isinstance(obj, type):
            self.klass(name, obj, depth)
        elif callable(obj) and not _is_ours(obj):
            self.add(name, f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}")
        else:
            self.add(name, f"object of type {type(obj).__module__}.{type(obj).__qualname__}")

    def function(self, name: str, fn: types.FunctionType, depth: int) -> None:
        fn = inspect.unwrap(fn)
        if not _is_ours(fn):
            self.add(name, f"{fn.__module__}.{fn.__qualname__}")
            return
        self.add(name, "code " + _digest(_code_text(fn)))
        scope = fn.__qualname__ if fn.__module__ == "__main__" else f"{fn.__module__}.{fn.__qualname__}"
        code = fn.__code__
        positional = code.co_varnames[: code.co_argcount][-len(fn.__defaults__ or ()) or len(code.co_varnames) :]
        for key, value in [*zip(positional, fn.__defaults__ or ()), *sorted((fn.__kwdefaults__ or {}).items())]:
            self.walk(f"{scope}({key}=)", value, depth + 1)
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # not assigned yet
                continue
            self.walk(f"{scope}.{var}", value, depth + 1)
        self.uses(fn, depth)

    def uses(self, fn: types.FunctionType, depth: int) -> None:
        """Walk the globals that ``fn`` reads; for a module of ours, the attributes it reads from it."""
        namespace = fn.__globals__
        prefix = "" if namespace.get("__name__") == "__main__" else f"{namespace.get('__name__')}."
        for global_name, attr in _global_loads(fn.__code__):
            if global_name not in namespace:
                continue  # a builtin, or a name not defined yet
            value = namespace[global_name]
            if isinstance(value, types.ModuleType):
                if attr is not None and _is_ours(value) and hasattr(value, attr):
                    self.walk(f"{value.__name__}.{attr}", getattr(value, attr), depth + 1)
            else:
                self.walk(prefix + global_name, value, depth + 1)

    def klass(self, name: str, cls: type, depth: int) -> None:
        if not _is_ours(cls):
            self.add(name, f"class {cls.__module__}.{cls.__qualname__}")
            return
        parts = [f"class {cls.__qualname__}({', '.join(b.__qualname__ for b in cls.__bases__)})"]
        methods = []
        for attr, value in sorted(vars(cls).items()):
            target = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            target = target.fget if isinstance(target, property) else target
            if isinstance(target, types.FunctionType):
                parts.append(f"{attr}: {_code_text(target)}")
                methods.append(target)
            elif isinstance(value, _PLAIN):
                parts.append(f"{attr} = {value!r}")
        label = cls.__qualname__ if cls.__module__ == "__main__" else f"{cls.__module__}.{cls.__qualname__}"
        self.add(label, "class " + _digest("\n".join(parts)))
        for base in cls.__bases__:
            if _is_ours(base):
                self.walk(label + ".__base__", base, depth + 1)
        for method in methods:  # what the methods use; their own code is in the class's digest above
            self.seen[id(method)] = method
            self.uses(method, depth + 1)


def fingerprint(**roots: Any) -> dict[str, str]:
    """``{name: value}`` for everything the given objects depend on (see the module docstring).

    Example: ``fingerprint(build=build, train=train)`` for a model's build and training functions.
    """
    walker = _Walker()
    for name, obj in roots.items():
        walker.walk(name, obj)
    return dict(sorted(walker.items.items()))


def describe_changes(old: dict[str, Any], new: dict[str, Any], limit: int = 6) -> list[str]:
    """What changed from fingerprint ``old`` to ``new``, in words, e.g. ``"lr 0.001 → 0.003"``."""
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        a, b = (a if a is None or isinstance(a, str) else repr(a)), (b if b is None or isinstance(b, str) else repr(b))
        if a == b:
            continue
        short = key.split(".", 2)[-1] if key.startswith("vae_helpers.") else key
        if a is None:
            changes.append(f"it now also uses `{short}`")
        elif b is None:
            changes.append(f"it no longer uses `{short}`")
        elif a.startswith(("code ", "class ")):
            changes.append(f"the code of `{short}` changed")
        elif a.startswith(("tensor ", "array ")):
            changes.append(f"the data in `{short}` changed")
        else:
            changes.append(f"{short} {a} → {b}")
    if len(changes) > limit:
        changes = [*changes[:limit], f"and {len(changes) - limit} more"]
    return changes
