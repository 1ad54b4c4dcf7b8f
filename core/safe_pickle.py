"""A restricted unpickler: numpy arrays plus an explicit allow-list, nothing else.

Pickles can run arbitrary code when loaded (any global may be called). :func:`safe_load` resolves
only the globals needed to rebuild numpy arrays and the ``(module, name)`` pairs the caller maps
to its own callables; any other global (``os.system``, ``builtins.eval``, ...) is refused with an
:class:`InputError` naming it, before anything is called.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import io
import pickle
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

from core.array_caps import check_declared
from core.errors import InputError

Allowed = Mapping[tuple[str, str], Callable[..., Any] | type]


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes; latin-1 only."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise InputError(f"refused to decode pickled bytes with encoding '{encoding}'")
    return text.encode("latin1")


def _capped_reconstruct(reconstruct: Callable[..., Any]) -> Callable[..., Any]:
    """numpy's ``_reconstruct`` allocates the shape it is given: refuse one over the array cap first."""

    def capped(subtype: Any, shape: Any, dtype: Any) -> Any:
        check_declared(shape if isinstance(shape, tuple | list) else (shape,), dtype, "pickled array")
        return reconstruct(subtype, shape, dtype)

    return capped


def capped_bytes(*args: Any) -> bytes:
    """``bytes(...)`` as pickles call it, refusing a size over the array cap (``bytes(10**12)``)."""
    if args and isinstance(args[0], int):
        check_declared((args[0],), np.uint8, "pickled bytes")
    return bytes(*args)


def _numpy_globals() -> dict[tuple[str, str], Callable[..., Any] | type]:
    table: dict[tuple[str, str], Callable[..., Any] | type] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
    }
    # numpy's stubs leave out these private pickle helpers, so the modules are looked up untyped.
    multiarray: Any = np.core.multiarray
    numeric: Any = np.core.numeric
    # numpy 1.x pickles name numpy.core.multiarray; numpy 2.x names numpy._core.multiarray.
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = _capped_reconstruct(multiarray._reconstruct)
        table[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    return table


NUMPY_GLOBALS = _numpy_globals()


def python3_name(module: str, name: str) -> tuple[str, str]:
    """A global's Python 3 spelling: Python 2 names (``copy_reg``, ``__builtin__.long``) do not exist in 3."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], allowed: Mapping[tuple[str, str], Any], encoding: str) -> None:
        super().__init__(file, encoding=encoding)
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        target = self._allowed.get(python3_name(module, name), self._allowed.get((module, name)))
        if target is None:
            raise InputError(f"refused to load a pickle that names '{module}.{name}' (not an allowed global)")
        return target

    def persistent_load(self, pid: Any) -> Any:
        raise InputError("refused to load a pickle with persistent references")


def safe_load(fileobj: IO[bytes], allowed: Allowed | None = None, *, encoding: str = "latin1") -> Any:
    """Unpickle ``fileobj`` allowing numpy array reconstruction and ``allowed`` only.

    ``allowed`` maps ``(module, name)`` as written in the pickle (Python 2 or 3 spelling) to the
    callable or class to use instead. ``encoding`` decodes Python 2 ``str`` (latin1 keeps numpy
    array bytes intact). Raises :class:`InputError` for refused globals and for data that is not
    a pickle.
    """
    table = {**NUMPY_GLOBALS, **(allowed or {})}
    # from memory: a length field read from a file object makes it allocate that length up front
    data = io.BytesIO(fileobj.read())
    try:
        return _RestrictedUnpickler(data, table, encoding).load()
    except InputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise InputError(f"not a readable pickle file ({type(exc).__name__}: {exc})") from None
    except MemoryError:
        raise InputError("not a readable pickle file: it declares more data than fits in memory") from None
    except RecursionError:
        raise InputError("not a readable pickle file: its objects are nested too deeply") from None
