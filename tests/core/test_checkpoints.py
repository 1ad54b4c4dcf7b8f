"""Reading checkpoints as weights only: data-only extras pass, anything that could run code is refused unrun."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.checkpoints import check_state_dict, load_weights_file, tensor_entry  # noqa: E402
from core.errors import ModelFormatError  # noqa: E402


class _Call:
    """Pickles as a call of ``func(*args)``: what a malicious checkpoint does."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _extras() -> dict:
    from omegaconf import OmegaConf
    from yacs.config import CfgNode

    return {
        "hyper_parameters": OmegaConf.create({"model": {"lr": 1e-4, "layers": [1, 2]}}),
        "cfg": CfgNode({"TRAIN": CfgNode({"LR": 0.1})}),
        "path": Path("/data/run"),
        "score": np.float32(0.5),
        "array": np.arange(3),
        "seen": {1, 2},
    }


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_data_extras_are_placeholders_and_tensors_come_back(tmp_path: Path, zipped: bool) -> None:
    sd = {"a.weight": torch.arange(6.0).reshape(2, 3), "b": torch.nn.Parameter(torch.ones(2))}
    path = tmp_path / "x.ckpt"
    torch.save({"state_dict": sd, **_extras()}, path, _use_new_zipfile_serialization=zipped)
    obj = load_weights_file(path, "test checkpoint")
    got = tensor_entry(obj, "state_dict", path, "test checkpoint")
    assert sorted(got) == ["a.weight", "b"]
    assert torch.equal(got["a.weight"], sd["a.weight"]) and torch.equal(got["b"], torch.ones(2))
    assert type(obj["hyper_parameters"]).__name__ == "DictConfig"  # a placeholder, not OmegaConf's class
    assert type(obj["hyper_parameters"]).__module__ == "omegaconf.dictconfig"
    assert not hasattr(obj["hyper_parameters"], "_content")


@pytest.mark.parametrize(
    "payload",
    [
        lambda marker: _Call(os.system, f"touch {marker}"),
        lambda marker: _Call(eval, f"open({str(marker)!r}, 'w')"),
        lambda marker: _Call(subprocess.call, ["touch", str(marker)]),
        lambda marker: torch.nn.Linear(2, 2),  # a pickled module: code-bearing too
    ],
    ids=["os.system", "eval", "subprocess", "nn.Module"],
)
@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_code_bearing_objects_are_refused_without_running(tmp_path: Path, payload, zipped: bool) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": payload(marker)}, path, _use_new_zipfile_serialization=zipped)
    with pytest.raises(ModelFormatError, match=r"holds code-bearing objects \(.+\); it is refused") as err:
        load_weights_file(path, "test checkpoint")
    assert "weights_only" not in str(err.value)
    assert not marker.exists()


def test_unreadable_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelFormatError, match=r"junk\.ckpt is not a readable test checkpoint"):
        load_weights_file(junk, "test checkpoint")
    with pytest.raises(ModelFormatError, match="cannot read test checkpoint"):
        load_weights_file(tmp_path / "absent.ckpt", "test checkpoint")
    torch.save([torch.zeros(1)], junk)
    with pytest.raises(ModelFormatError, match="holds a list, not a dictionary"):
        tensor_entry(load_weights_file(junk, "test checkpoint"), "state_dict", junk, "test checkpoint")


def test_state_dict_check_names_every_problem() -> None:
    expected = {"a": (2,), "b": (3, 3), "c.num_batches_tracked": ()}
    got = {"a": torch.zeros(2), "b": torch.zeros(3, 4), "z": torch.zeros(1)}
    with pytest.raises(ModelFormatError) as err:
        check_state_dict(expected, got, "f.pt", "TheNet")
    assert str(err.value) == (
        "f.pt does not match TheNet's layout (missing (1): c.num_batches_tracked; unexpected (1): z; "
        "wrong shape (1): b (3, 4)≠(3, 3))"
    )
    got = {"a": torch.zeros(2), "b": torch.zeros(3, 3)}
    check_state_dict(expected, got, "f.pt", "TheNet", optional=lambda k: k.endswith("num_batches_tracked"))


def test_state_dict_check_lists_six_keys_of_each_kind() -> None:
    expected = {f"k{i}": (1,) for i in range(8)}
    with pytest.raises(ModelFormatError) as err:
        check_state_dict(expected, {}, "f.pt", "TheNet")
    assert str(err.value) == "f.pt does not match TheNet's layout (missing (8): k0, k1, k2, k3, k4, k5 …)"
