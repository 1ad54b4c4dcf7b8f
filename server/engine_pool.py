"""Engines built once per server and kept warm, each tied to the device whose worker runs it."""

from __future__ import annotations

import importlib.util
import logging
import threading

from core.engines import ENGINES, Engine, engine_names, get_engine
from core.errors import InputError, MouthpieceError

log = logging.getLogger("mouthpiece.server")

CPU_ONLY_ENGINES = frozenset({"builtin"})
"""Engines that never touch torch: they run on the CPU worker so GPU jobs do not hold them up."""


class EngineUnavailable(MouthpieceError):
    """The engine's code is present but fails to load (a broken install or a bug)."""


class EnginePool:
    """Builds each engine on first use (models load once) and hands out the same instance after."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._engines: dict[str, Engine] = {}
        self._locks = {name: threading.Lock() for name in ENGINES}

    def device_for(self, name: str) -> str:
        return "cpu" if name in CPU_ONLY_ENGINES else self.device

    def devices(self) -> list[str]:
        """The devices that need a worker, CPU first."""
        return sorted({self.device_for(n) for n in engine_names()}, key=lambda d: d != "cpu")

    def loaded(self) -> list[str]:
        return [n for n in engine_names() if n in self._engines]

    def get(self, name: str) -> Engine:
        """The warm engine ``name``; raises a :class:`MouthpieceError` saying why it cannot be built."""
        if name not in ENGINES:
            raise InputError(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}")
        engine = self._engines.get(name)
        if engine is not None:
            return engine
        with self._locks[name]:
            if name not in self._engines:
                try:
                    self._engines[name] = get_engine(name, device=self.device_for(name))
                except ModuleNotFoundError as exc:
                    if exc.name and exc.name.partition(".")[0] in ("core", "server"):
                        raise self._unavailable(name, exc) from None
                    raise InputError(
                        f"engine '{name}' needs the Python package '{exc.name}'; "
                        "install it with: pip install 'mouthpiece[models]'"
                    ) from None
                except MouthpieceError:
                    raise
                except Exception as exc:
                    raise self._unavailable(name, exc) from None
            return self._engines[name]

    @staticmethod
    def _unavailable(name: str, exc: Exception) -> EngineUnavailable:
        log.error("engine %s failed to load", name, exc_info=exc)
        return EngineUnavailable(
            f"engine '{name}' is installed but failed to load ({type(exc).__name__}: {exc}); the server log has details"
        )

    def report(self, name: str) -> dict:
        """What GET /v1/models says about one engine: installed, ready, where weights go, options."""
        base = {"name": name, "device": self.device_for(name), "loaded": name in self._engines}
        if importlib.util.find_spec(ENGINES[name].partition(":")[0]) is None:
            message = f"engine '{name}' is not installed in this version"
            return {**base, "installed": False, "ready": False, "message": message}
        try:
            engine = self.get(name)
        except InputError as exc:
            return {**base, "installed": False, "ready": False, "message": str(exc)}
        except MouthpieceError as exc:
            return {**base, "installed": True, "ready": False, "message": str(exc)}
        ready, message = engine.status()
        return {
            **base,
            "loaded": True,
            "installed": True,
            "ready": bool(ready),
            "message": message,
            "rig": engine.rig,
            "native_fps": float(engine.native_fps),
            "options": engine.describe(),
        }
