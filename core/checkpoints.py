"""PyTorch checkpoints read as weights only, whatever their authors pickled beside the weights.

Release checkpoints hold more than tensors: Lightning's extras (hyper-parameters as OmegaConf
``DictConfig``, ``pathlib`` paths, callback state with numpy scalars) or a pickled yacs ``CfgNode``.
The pickle is read by a restricted unpickler: torch's own weights-only globals (tensor and storage
rebuilding) are the only callables it resolves; classes from data-only libraries become inert
placeholders, so none of their code runs; any other global (``os.system``, ``builtins.eval``, a
pickled ``nn.Module``) refuses the file before anything is called.
"""

from __future__ import annotations

import pickle
import types
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import IO, Any

import torch
from torch import _weights_only_unpickler

from core.errors import ModelFormatError
from core.safe_pickle import python3_name

# Libraries whose pickled objects are configuration or bookkeeping: read as inert placeholders.
_DATA_MODULES = frozenset(
    {
        "omegaconf",
        "yacs",
        "pytorch_lightning",
        "lightning",
        "lightning_fabric",
        "torchmetrics",
        "munch",
        "pathlib",
        "typing",
        "numpy",
        "argparse",
        "collections",
        "datetime",
        "enum",
    }
)
# types named as values (OmegaConf records a node's type as builtins.int); read as placeholders too
_DATA_BUILTINS = frozenset(
    {"set", "frozenset", "slice", "complex", "bytearray", "range", "dict", "list", "tuple", "int", "float", "str"}
    | {"bool", "bytes", "object", "NoneType"}
)


def _is_data_global(module: str, name: str) -> bool:
    if module == "builtins":
        return name in _DATA_BUILTINS
    return module.split(".")[0] in _DATA_MODULES


class _Inert(dict):
    """Stands in for any data class: accepts construction, state, items and appends, and does nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __setstate__(self, state: Any) -> None:
        return None

    def __setitem__(self, key: Any, value: Any) -> None:
        return None

    def append(self, item: Any) -> None:
        return None

    def extend(self, items: Any) -> None:
        return None


@cache
def _inert(module: str, name: str) -> type:
    return type(name, (_Inert,), {"__module__": module, "__qualname__": name})


class _WeightsUnpickler(pickle.Unpickler):
    """Resolves torch's weights-only globals; data classes as placeholders; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        module, name = python3_name(module, name)
        real = _weights_only_unpickler._get_allowed_globals().get(f"{module}.{name}")
        if real is not None:
            return real
        if _is_data_global(module, name):
            return _inert(module, name)
        raise _CodeBearing(f"{module}.{name}")


class _CodeBearing(Exception):
    pass


def _pickle_module() -> types.ModuleType:
    """What ``torch.load(pickle_module=...)`` needs: an ``Unpickler`` class and a ``load`` function."""
    module = types.ModuleType("mouthpiece_weights_pickle")

    def load(file: IO[bytes], **kwargs: Any) -> Any:
        return _WeightsUnpickler(file, **kwargs).load()

    module.Unpickler = _WeightsUnpickler  # type: ignore[attr-defined]
    module.load = load  # type: ignore[attr-defined]
    return module


def load_weights_file(path: Path, what: str) -> Any:
    """The checkpoint's objects, with tensors as tensors and other objects as inert placeholders.

    ``what`` names the model in messages ("EMOTE checkpoint"). Raises :class:`ModelFormatError`.
    """
    try:
        # weights_only=False hands unpickling to our module, which is stricter than torch's own
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_pickle_module())
    except _CodeBearing as exc:
        raise ModelFormatError(
            f"{path} holds code-bearing objects ({exc.args[0]}); it is refused and nothing in it was run"
        ) from None
    except OSError as exc:
        raise ModelFormatError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        MemoryError,  # a damaged pickle declaring a huge object
    ) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0].split(". ")[0]
        raise ModelFormatError(f"{path} is not a readable {what}, or is cut short ({first[:120]})") from None


def tensor_entry(obj: Any, key: str | None, path: Path, what: str) -> dict[str, torch.Tensor]:
    """``obj[key]`` (or ``obj`` itself for ``None``) as a name → tensor dict; anything else is refused."""
    if not isinstance(obj, Mapping):
        raise ModelFormatError(f"{path} is not a {what}: it holds a {type(obj).__name__}, not a dictionary")
    state = obj if key is None else obj.get(key)
    if key in obj and not isinstance(state, Mapping):
        raise ModelFormatError(f"{path} is not a {what}: its '{key}' is a {type(state).__name__}, not a dictionary")
    if not isinstance(state, Mapping):
        top = ", ".join(sorted(str(k) for k in obj)[:6])
        raise ModelFormatError(f"{path} is not a {what}: it has no '{key}' entry (top-level keys: {top})")
    bad = sorted(str(k) for k, v in state.items() if not isinstance(v, torch.Tensor))
    if bad:
        raise ModelFormatError(f"{path} is not a {what}: '{key}' holds values that are not tensors ({bad[0]})")
    return {str(k): v for k, v in state.items()}


def listed(label: str, keys: list[str], limit: int = 6) -> str:
    """``label (N): a, b, c …`` for an error message."""
    return f"{label} ({len(keys)}): {', '.join(keys[:limit])}{' …' if len(keys) > limit else ''}"


def check_state_dict(
    expected: Mapping[str, tuple[int, ...]],
    got: Mapping[str, torch.Tensor],
    name: str,
    model: str,
    optional: Callable[[str], bool] = lambda _key: False,
) -> None:
    """Raise :class:`ModelFormatError` naming the missing, unexpected and wrongly shaped keys of ``got``.

    The one check of every loader: ``name`` is the file, ``model`` whose layout it must have ("StyleTalk");
    ``expected`` maps each key to its shape; keys for which ``optional`` is true may be absent.
    """
    missing = sorted(k for k in expected if k not in got and not optional(k))
    unexpected = sorted(k for k in got if k not in expected)
    wrong = sorted(
        f"{k} {tuple(got[k].shape)}≠{tuple(shape)}"
        for k, shape in expected.items()
        if k in got and tuple(got[k].shape) != tuple(shape)
    )
    problems = [
        listed(label, keys)
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if keys
    ]
    if problems:
        raise ModelFormatError(f"{name} does not match {model}'s layout ({'; '.join(problems)})")


def shapes_of(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """Key → shape of a module's state dict (works on meta-device modules too)."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}
