"""Import/export adapters: EMOTE .pkl, StyleTalk .npy, SadTalker .mat, Live Link Face CSV, dispatcher."""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import loadmat, savemat
from scipy.spatial.transform import Rotation

from core.adapters import export_track, import_track, kind_for
from core.adapters.arkit_csv import read_arkit_csv, write_arkit_csv
from core.adapters.emote_pkl import read_emote_pkl, write_emote_pkl
from core.adapters.sadtalker_mat import read_sadtalker_mat, write_sadtalker_mat
from core.adapters.styletalk_npy import read_styletalk_npy, write_styletalk_npy
from core.arkit import ARKIT_CHANNELS
from core.errors import InputError
from core.track import Track

LIGHT = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
"""For round trips: their examples share the test's tmp_path, each writing its file whole before reading it."""

# Live Link Face's header as its app writes it (note JawRight before JawLeft, MouthRight before MouthLeft).
LLF_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)


def deep3d_rotation(angles: np.ndarray) -> np.ndarray:
    """Deep3DFaceRecon's compute_rotation for one frame, written out: Rz @ Ry @ Rx (column vectors)."""
    x, y, z = angles
    rx = np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(z), -math.sin(z), 0], [math.sin(z), math.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def pose_coeffs(rng: np.random.Generator, t: int, width: int) -> np.ndarray:
    """(T,width) rows: 64 exp, 3 Euler angles inside the unique range, then translations/crops."""
    arr = rng.normal(size=(t, width)).astype(np.float32)
    arr[:, 64:67] = rng.uniform(-1.2, 1.2, size=(t, 3))
    return arr


# ---- StyleTalk .npy ------------------------------------------------------------------------------------


@LIGHT
@given(st.integers(0, 40), st.integers(0, 2**16))
def test_styletalk_round_trip(tmp_path: Path, t: int, seed: int) -> None:
    arr = pose_coeffs(np.random.default_rng(seed), t, 73)
    path = tmp_path / "clip.npy"
    np.save(path, arr)
    track = read_styletalk_npy(path)
    assert (track.fps, track.rig, track.num_frames) == (30.0, "bfm", t)
    assert track.channels[:64] == [f"exp{i:02d}" for i in range(64)]
    np.testing.assert_array_equal(track.values[:, :64], arr[:, :64])
    np.testing.assert_array_equal(track.values[:, 64:], arr[:, 70:73])
    np.testing.assert_array_equal(track.translation, arr[:, 67:70])
    write_styletalk_npy(track, path)
    again = np.load(path)
    assert again.dtype == np.float32 and again.shape == (t, 73)
    np.testing.assert_array_equal(again[:, :64], arr[:, :64])
    np.testing.assert_array_equal(again[:, 67:], arr[:, 67:])
    np.testing.assert_allclose(again[:, 64:67], arr[:, 64:67], atol=2e-6)


def test_styletalk_reads_a_real_sample_with_deep3d_rotation_order(samples_dir: Path, tmp_path: Path) -> None:
    mat = loadmat(samples_dir / "source_video" / "3DMM" / "KristiNoem.mat")
    coeff, crop = mat["coeff"][:90], mat["transform_params"][:90, -3:]
    arr = np.concatenate([coeff[:, 80:144], coeff[:, 224:227], coeff[:, 254:257], crop], axis=1)
    np.save(tmp_path / "kristi.npy", arr)
    track = read_styletalk_npy(tmp_path / "kristi.npy")
    np.testing.assert_array_equal(track.values[:, :64], coeff[:, 80:144])
    np.testing.assert_array_equal(track.values[:, 64:], crop)
    assert track.channels[64:] == ["crop_scale", "crop_x", "crop_y"]
    got = Rotation.from_rotvec(track.rotations["head"]).as_matrix()
    for k in (0, 45, 89):
        np.testing.assert_allclose(got[k], deep3d_rotation(coeff[k, 224:227].astype(np.float64)), atol=1e-6)


def test_styletalk_writes_a_default_crop_and_resamples_to_30fps(tmp_path: Path) -> None:
    t = 26
    values = np.arange(t * 64, dtype=np.float32).reshape(t, 64)
    track = Track(fps=25, rig="bfm", channels=[f"exp{i:02d}" for i in range(64)], values=values)
    write_styletalk_npy(track, tmp_path / "out.npy")
    arr = np.load(tmp_path / "out.npy")
    assert arr.shape == (31, 73)  # 25 fps frames 0..25 span 1 s: 30 fps frames 0..30
    np.testing.assert_array_equal(arr[::6, :64], values[::5])  # shared times: 0, 0.2, 0.4, ... s
    np.testing.assert_array_equal(arr[:, 64:70], 0)
    np.testing.assert_array_equal(arr[:, 70:], np.tile([1.0, 128.0, 128.0], (31, 1)))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((5, 70), np.float32), r"\(T,73\).*got float32 \(5, 70\)"),
        (np.zeros(73, np.float32), r"\(T,73\)"),
        (np.full((2, 73), np.nan, np.float32), "NaN"),
        (np.array([["a"] * 73]), r"\(T,73\) number array"),
    ],
)
def test_styletalk_errors_name_the_file(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(InputError, match=f"bad.npy: .*{message}"):
        read_styletalk_npy(path)


def test_styletalk_refuses_pickled_npy_and_missing_files(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"obj\.npy: not a numeric \.npy"):
        read_styletalk_npy(tmp_path / "obj.npy")
    with pytest.raises(InputError, match=r"absent\.npy: file not found"):
        read_styletalk_npy(tmp_path / "absent.npy")


def test_bfm_writers_need_the_bfm_channels(tmp_path: Path) -> None:
    track = Track(fps=30, rig="arkit", channels=["jawOpen"], values=np.zeros((3, 1)))
    with pytest.raises(InputError, match=r"out.npy: .*rig 'arkit'.*exp00..exp63"):
        write_styletalk_npy(track, tmp_path / "out.npy")
    with pytest.raises(InputError, match=r"out.mat: .*exp00..exp63"):
        write_sadtalker_mat(track, tmp_path / "out.mat")


# ---- SadTalker .mat ------------------------------------------------------------------------------------


@LIGHT
@given(st.integers(1, 40), st.integers(0, 2**16))
def test_sadtalker_round_trip(tmp_path: Path, t: int, seed: int) -> None:
    arr = pose_coeffs(np.random.default_rng(seed), t, 70)
    path = tmp_path / "clip.mat"
    savemat(path, {"coeff_3dmm": arr, "other": np.zeros(3)})
    track = read_sadtalker_mat(path)
    assert (track.fps, track.rig, track.num_frames) == (25.0, "bfm", t)
    assert track.channels == [f"exp{i:02d}" for i in range(64)]
    np.testing.assert_array_equal(track.values, arr[:, :64])
    np.testing.assert_array_equal(track.translation, arr[:, 67:70])
    for k in (0, t - 1):
        np.testing.assert_allclose(
            Rotation.from_rotvec(track.rotations["head"][k]).as_matrix(),
            deep3d_rotation(arr[k, 64:67].astype(np.float64)),
            atol=1e-6,
        )
    write_sadtalker_mat(track, path)
    again = loadmat(path)["coeff_3dmm"]
    assert again.dtype == np.float32 and again.shape == (t, 70)
    np.testing.assert_array_equal(again[:, :64], arr[:, :64])
    np.testing.assert_array_equal(again[:, 67:], arr[:, 67:])
    np.testing.assert_allclose(again[:, 64:67], arr[:, 64:67], atol=2e-6)


def test_sadtalker_writer_resamples_to_25fps(tmp_path: Path) -> None:
    values = np.random.default_rng(1).normal(size=(11, 64))
    track = Track(fps=50, rig="bfm", channels=[f"exp{i:02d}" for i in range(64)], values=values)
    write_sadtalker_mat(track, tmp_path / "half.mat")
    back = read_sadtalker_mat(tmp_path / "half.mat")
    assert back.num_frames == 6
    np.testing.assert_array_equal(back.values, track.values[::2])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"coeff": np.zeros((3, 257))}, r"has no 'coeff_3dmm' array \(keys: \['coeff'\]\)"),
        ({"coeff_3dmm": np.zeros((3, 73))}, r"'coeff_3dmm' must be a \(T,70\).*\(3, 73\)"),
        ({"coeff_3dmm": np.full((3, 70), np.inf)}, "'coeff_3dmm' contains NaN or infinite"),
    ],
)
def test_sadtalker_errors_name_the_file(tmp_path: Path, content: dict, message: str) -> None:
    savemat(tmp_path / "bad.mat", content)
    with pytest.raises(InputError, match=f"bad.mat: {message}"):
        read_sadtalker_mat(tmp_path / "bad.mat")


def test_sadtalker_refuses_non_mat_files(tmp_path: Path) -> None:
    (tmp_path / "text.mat").write_text("hello")
    with pytest.raises(InputError, match=r"text\.mat: not a MATLAB \.mat file"):
        read_sadtalker_mat(tmp_path / "text.mat")
    with pytest.raises(InputError, match=r"none\.mat: file not found"):
        read_sadtalker_mat(tmp_path / "none.mat")


# ---- EMOTE .pkl ----------------------------------------------------------------------------------------


def emote_dict(rng: np.random.Generator, t: int, size: int, shape_rows: int) -> dict:
    return {
        "expression": rng.normal(size=(t, size)).astype(np.float32),
        "jaw_pose": rng.normal(size=(t, 3)).astype(np.float32) * 0.2,
        "global_pose": rng.normal(size=(t, 3)).astype(np.float32) * 0.2,
        "shape": np.tile(rng.normal(size=(1, 300)).astype(np.float32), (shape_rows, 1)),
    }


@LIGHT
@given(st.integers(0, 30), st.sampled_from([50, 100]), st.booleans(), st.sampled_from([2, 4]), st.integers(0, 2**16))
def test_emote_round_trip(tmp_path: Path, t: int, size: int, per_frame_shape: bool, protocol: int, seed: int) -> None:
    data = emote_dict(np.random.default_rng(seed), t, size, t if per_frame_shape and t else 1)
    path = tmp_path / "clip.pkl"
    with path.open("wb") as f:
        pickle.dump(data, f, protocol=protocol)
    track = read_emote_pkl(path)
    assert (track.fps, track.rig, track.num_frames) == (25.0, "flame", t)
    assert track.channels == [f"exp{i:03d}" for i in range(size)]
    np.testing.assert_array_equal(track.values, data["expression"])
    np.testing.assert_array_equal(track.rotations["jaw"], data["jaw_pose"])
    np.testing.assert_array_equal(track.rotations["head"], data["global_pose"])
    np.testing.assert_array_equal(track.meta["flame_shape"], data["shape"][0])
    assert "warnings" not in track.meta
    write_emote_pkl(track, path)
    with path.open("rb") as f:
        again = pickle.load(f)
    assert set(again) == {"expression", "jaw_pose", "global_pose", "shape"}
    for key in ("expression", "jaw_pose", "global_pose"):
        np.testing.assert_array_equal(again[key], data[key])
    np.testing.assert_array_equal(again["shape"], data["shape"][:1])
    assert read_emote_pkl(path).values.shape == (t, size)


def test_emote_accepts_a_batch_axis_and_warns_about_varying_identity(tmp_path: Path) -> None:
    data = emote_dict(np.random.default_rng(0), 8, 100, 8)
    data["shape"][3] += 1
    data = {k: v[None] for k, v in data.items()}
    with (tmp_path / "batched.pkl").open("wb") as f:
        pickle.dump(data, f)
    track = read_emote_pkl(tmp_path / "batched.pkl")
    assert track.values.shape == (8, 100)
    assert track.meta["warnings"] == ["the identity 'shape' varies per frame; kept the first frame's"]


def test_emote_writer_pads_channels_and_needs_flame_channels(tmp_path: Path) -> None:
    track = Track(fps=50, rig="flame", channels=["exp001", "exp060"], values=[[1, 2], [3, 4], [5, 6]])
    write_emote_pkl(track, tmp_path / "out.pkl")
    with (tmp_path / "out.pkl").open("rb") as f:
        data = pickle.load(f)
    assert data["expression"].shape == (2, 100)  # 50 fps frames 0,1,2 → 25 fps frames 0,1
    np.testing.assert_array_equal(data["expression"][:, [1, 60]], [[1, 2], [5, 6]])
    np.testing.assert_array_equal(data["jaw_pose"], np.zeros((2, 3)))
    np.testing.assert_array_equal(data["shape"], np.zeros((1, 300)))
    with pytest.raises(InputError, match=r"out.pkl: .*no FLAME expression channels"):
        write_emote_pkl(Track(fps=25, rig="arkit", channels=["jawOpen"], values=[[0]]), tmp_path / "out.pkl")


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"expression": Exploit()}, "refused to load a pickle that names 'posix.system'"),
        ([1, 2], "holds a dict, this one holds list"),
        ({"expression": np.zeros((3, 50))}, r"missing \['jaw_pose', 'global_pose'\]"),
        ({"expression": np.zeros((3, 60)), "jaw_pose": 0, "global_pose": 0}, r"\(T,50\) or \(T,100\)"),
        ({"expression": np.zeros((3, 50)), "jaw_pose": np.zeros((2, 3)), "global_pose": 0},
         r"'jaw_pose' must be \(3,3\)"),
        ({"expression": [[0.0] * 50], "jaw_pose": 0, "global_pose": 0},
         "'expression' must be a numeric numpy array"),
        ({"expression": np.zeros((1, 50)), "jaw_pose": np.zeros((1, 3)),
          "global_pose": np.full((1, 3), np.nan)}, "'global_pose' contains NaN"),
        (
            {"expression": np.zeros((4, 50)), "jaw_pose": np.zeros((4, 3)), "global_pose": np.zeros((4, 3)),
             "shape": np.zeros((2, 300))},
            r"'shape' must be \(1,S\) or \(4,S\)",
        ),
    ],
)  # fmt: skip
def test_emote_errors_name_the_file(tmp_path: Path, payload: object, message: str) -> None:
    path = tmp_path / "bad.pkl"
    with path.open("wb") as f:
        pickle.dump(payload, f, protocol=2)
    with pytest.raises(InputError, match=f"bad.pkl: .*{message}"):
        read_emote_pkl(path)


def test_emote_refuses_non_pickles(tmp_path: Path) -> None:
    (tmp_path / "text.pkl").write_text("not a pickle at all")
    with pytest.raises(InputError, match=r"text\.pkl: not a readable pickle"):
        read_emote_pkl(tmp_path / "text.pkl")
    with pytest.raises(InputError, match=r"gone\.pkl: file not found"):
        read_emote_pkl(tmp_path / "gone.pkl")


# ---- Live Link Face CSV --------------------------------------------------------------------------------


def arkit_track(rng: np.random.Generator, t: int, fps: float, rotations: tuple[str, ...]) -> Track:
    return Track(
        fps=fps,
        rig="arkit",
        channels=list(ARKIT_CHANNELS),
        values=rng.random((t, 52)),
        rotations={name: Rotation.random(t, random_state=rng).as_rotvec() * 0.5 if t else np.zeros((0, 3))
                   for name in rotations},
    )  # fmt: skip


def assert_same_rotations(a: np.ndarray, b: np.ndarray) -> None:
    if len(a):
        angle = (Rotation.from_rotvec(a).inv() * Rotation.from_rotvec(b)).magnitude()
        assert angle.max() < 1e-5


@LIGHT
@given(
    st.integers(0, 90),
    st.sampled_from([24.0, 25.0, 30.0, 50.0, 60.0]),
    st.lists(st.sampled_from(["head", "eye_L", "eye_R"]), unique=True),
    st.integers(0, 2**16),
)
def test_arkit_csv_round_trip(tmp_path: Path, t: int, fps: float, rotations: list, seed: int) -> None:
    track = arkit_track(np.random.default_rng(seed), t, fps, tuple(rotations))
    path = tmp_path / "clip.csv"
    write_arkit_csv(track, path)
    back = read_arkit_csv(path, fps=fps)
    assert (back.fps, back.rig, back.channels) == (fps, "arkit", list(ARKIT_CHANNELS))
    np.testing.assert_array_equal(back.values, track.values)
    assert set(back.rotations) == {"head", "eye_L", "eye_R"}
    for name in ("head", "eye_L", "eye_R"):
        expected = track.rotations.get(name, np.zeros((t, 3), np.float32))
        assert_same_rotations(back.rotations[name], expected)
    assert "warnings" not in back.meta


def test_arkit_csv_layout_and_timecodes(tmp_path: Path) -> None:
    track = Track(
        fps=30,
        rig="arkit",
        channels=["jawRight", "mouthLeft", "notArkit"],
        values=np.tile([0.25, 0.5, 9.0], (65, 1)),
        rotations={"head": np.tile([0.0, 0.1, 0.0], (65, 1))},
    )
    write_arkit_csv(track, tmp_path / "take.csv")
    lines = (tmp_path / "take.csv").read_text().splitlines()
    assert lines[0] == LLF_HEADER
    assert len(lines) == 66
    first, last = lines[1].split(","), lines[65].split(",")
    assert first[:2] == ["00:00:00:00.000", "61"]
    assert last[0] == "00:00:02:04.000"  # frame 64 at 30 fps = 2 s + 4 frames
    header = LLF_HEADER.split(",")
    assert float(first[header.index("JawRight")]) == 0.25
    assert float(first[header.index("MouthLeft")]) == 0.5
    assert float(first[header.index("JawLeft")]) == 0.0
    assert float(first[header.index("HeadYaw")]) == pytest.approx(0.1, abs=1e-7)  # about +Y: yaw
    back = read_arkit_csv(tmp_path / "take.csv")  # a take over a second long: rate read from the timecodes
    assert back.fps == 30.0 and "warnings" not in back.meta
    np.testing.assert_array_equal(back.channel("jawRight"), 0.25)


def llf_rows(timecodes: list[str], jaw: list[float], extra: str = "") -> str:
    header = "Timecode,BlendShapeCount,JawOpen,HeadYaw,HeadPitch,HeadRoll" + extra
    rows = [f"{tc},61,{j},0.1,0,0" + (",7" if extra else "") for tc, j in zip(timecodes, jaw, strict=True)]
    return "\n".join([header, *rows]) + "\n"


def test_arkit_csv_reads_a_live_link_face_take(tmp_path: Path) -> None:
    """Timecodes from the device clock with a constant sub-frame, an extra column, across a second."""
    timecodes = [f"14:03:52:{ff:02d}.207" for ff in range(57, 60)] + [f"14:03:53:{ff:02d}.207" for ff in range(3)]
    (tmp_path / "take.csv").write_text(llf_rows(timecodes, [0, 0.1, 0.2, 0.3, 0.4, 0.5], ",Confidence"))
    track = read_arkit_csv(tmp_path / "take.csv")
    assert track.fps == 60.0
    assert track.channels == ["jawOpen"]
    np.testing.assert_allclose(track.channel("jawOpen"), [0, 0.1, 0.2, 0.3, 0.4, 0.5], atol=1e-7)
    np.testing.assert_allclose(track.rotations["head"], np.tile([0, 0.1, 0], (6, 1)), atol=1e-7)
    assert track.meta["timecode_start"] == "14:03:52:57.207"
    assert track.meta["warnings"] == ["ignored 1 unknown CSV column(s): Confidence"]


def test_arkit_csv_resamples_uneven_rows_and_warns(tmp_path: Path) -> None:
    timecodes = ["00:00:01:00", "00:00:01:01", "00:00:01:03", "00:00:01:04", "00:00:01:29", "00:00:02:00"]
    (tmp_path / "gaps.csv").write_text(llf_rows(timecodes, [0, 1, 3, 4, 29, 30]))
    track = read_arkit_csv(tmp_path / "gaps.csv")
    assert track.fps == 30.0
    np.testing.assert_allclose(track.channel("jawOpen"), np.arange(31), atol=1e-5)  # linear in time
    assert track.meta["warnings"] == ["rows were not evenly spaced; resampled 6 rows to 31 frames"]


def test_arkit_csv_short_take_assumes_60fps_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "short.csv").write_text(llf_rows(["00:00:00:00", "00:00:00:01"], [0, 1]))
    track = read_arkit_csv(tmp_path / "short.csv")
    assert track.fps == 60.0
    assert "assumed 60 fps" in track.meta["warnings"][0]
    assert read_arkit_csv(tmp_path / "short.csv", fps=24).fps == 24.0
    (tmp_path / "sixty.csv").write_text(llf_rows(["00:00:00:45", "00:00:00:46"], [0, 1]))
    with pytest.raises(InputError, match=r"sixty\.csv: timecode frame 46 does not fit a rate of 30 fps"):
        read_arkit_csv(tmp_path / "sixty.csv", fps=30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Time,JawOpen\n0,1\n", "not a Live Link Face CSV: the first column must be 'Timecode'"),
        ("Timecode,Foo\n00:00:00:00,1\n", "no ARKit blendshape columns"),
        ("Timecode,JawOpen\n00:00:00:00,1,2\n", "line 2 has 3 fields, the header has 2"),
        ("Timecode,JawOpen\n00:00:00:00,abc\n", "line 2 has a field that is not a number"),
        ("Timecode,JawOpen\n00:00:00:00,nan\n", "line 2 contains NaN"),
        ("Timecode,JawOpen\n12.5,1\n", r"line 2: timecode '12.5' is not HH:MM:SS:FF"),
        ("Timecode,JawOpen\n00:00:00:05,1\n00:00:00:05,1\n", "line 3: the timecode does not advance"),
    ],
)
def test_arkit_csv_errors_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(InputError, match=f"bad.csv: {message}"):
        read_arkit_csv(tmp_path / "bad.csv")


def test_arkit_csv_writer_needs_arkit_channels(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"x.csv: .*rig 'flame'.*no ARKit blendshape"):
        write_arkit_csv(Track(fps=25, rig="flame", channels=["exp000"], values=[[0]]), tmp_path / "x.csv")


# ---- dispatcher ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "track"),
    [
        (".npz", Track(fps=30, rig="arkit", channels=["jawOpen"], values=np.linspace(0, 1, 40)[:, None])),
        (".json", Track(fps=30, rig="arkit", channels=["jawOpen"], values=np.linspace(0, 1, 40)[:, None])),
        (".csv", Track(fps=30, rig="arkit", channels=["jawOpen"], values=np.linspace(0, 1, 40)[:, None])),
        (
            ".pkl",
            Track(fps=25, rig="flame", channels=[f"exp{i:03d}" for i in range(50)], values=np.ones((40, 50))),
        ),
        (
            ".npy",
            Track(fps=30, rig="bfm", channels=[f"exp{i:02d}" for i in range(64)], values=np.ones((40, 64))),
        ),
        (
            ".mat",
            Track(fps=25, rig="bfm", channels=[f"exp{i:02d}" for i in range(64)], values=np.ones((40, 64))),
        ),
    ],
)
def test_dispatch_by_suffix(tmp_path: Path, suffix: str, track: Track) -> None:
    path = tmp_path / f"clip{suffix}"
    export_track(track, path)
    back = import_track(path)
    assert (back.rig, back.fps, back.num_frames) == (track.rig, track.fps, 40)
    for name in track.channels:
        np.testing.assert_array_equal(back.channel(name), track.channel(name))


def test_dispatch_by_kind_and_unknown_kinds(tmp_path: Path) -> None:
    track = Track(fps=30, rig="arkit", channels=["jawOpen"], values=[[0.5]])
    export_track(track, tmp_path / "take.txt", kind="arkit")
    back = import_track(tmp_path / "take.txt", kind="arkit")
    assert back.channels == list(ARKIT_CHANNELS)  # the CSV has every ARKit column
    assert back.channel("jawOpen").tolist() == [0.5]
    assert kind_for("A.CSV") == "arkit"
    with pytest.raises(InputError, match=r"take.fbx: unknown track file type '.fbx'"):
        import_track(tmp_path / "take.fbx")
    with pytest.raises(InputError, match="unknown track format 'maya'"):
        export_track(track, tmp_path / "take.csv", kind="maya")
