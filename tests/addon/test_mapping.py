"""Shape-key name mapping: spelling variants, vendor presets, saved user presets."""

from __future__ import annotations

import json

import pytest

from blender_addon import mapping


@pytest.mark.parametrize(
    "name",
    ["jawOpen", "jaw_open", "JawOpen", "Jaw_Open", "JAW-OPEN", "jaw.open", "Jaw Open"],
)
def test_case_and_separator_variants_normalise_alike(name):
    assert mapping.normalise(name) == mapping.normalise("jawOpen") == "jawopen"


@pytest.mark.parametrize("name", ["eyeBlinkLeft", "EyeBlink_L", "eye_blink_left", "L_eyeBlink", "eyeBlink.L"])
def test_side_spellings_normalise_alike(name):
    assert mapping.normalise(name) == "eyeblinkl"
    assert mapping.normalise(name) != mapping.normalise("eyeBlinkRight")


def test_generic_preset_strips_vendor_prefixes():
    keys = ["Basis", "blendShape1.jawOpen", "A18_Eye_Blink_Left", "facs_bs_MouthSmile_R", "BS_noseSneerLeft", "Other"]
    found = mapping.match_channels(list(mapping.ARKIT_CHANNELS), keys, mapping.load_preset("arkit"))
    assert found == {
        "jawOpen": ["blendShape1.jawOpen"],
        "eyeBlinkLeft": ["A18_Eye_Blink_Left"],
        "mouthSmileRight": ["facs_bs_MouthSmile_R"],
        "noseSneerLeft": ["BS_noseSneerLeft"],
    }


def test_vendor_presets_name_their_own_shapes():
    cc4 = mapping.load_preset("cc4")
    keys = ["Brow_Drop_L", "Cheek_Puff_L", "Cheek_Puff_R", "Jaw_Open", "Mouth_Smile_L"]
    found = mapping.match_channels(["browDownLeft", "cheekPuff", "jawOpen", "mouthSmileLeft", "tongueOut"], keys, cc4)
    assert found == {
        "browDownLeft": ["Brow_Drop_L"],
        "cheekPuff": ["Cheek_Puff_L", "Cheek_Puff_R"],
        "jawOpen": ["Jaw_Open"],
        "mouthSmileLeft": ["Mouth_Smile_L"],
    }
    mh = mapping.load_preset("metahuman")
    keys = ["CTRL_expressions_jawOpen", "CTRL_expressions_mouthCornerPullL", "CTRL_expressions_eyeBlinkR"]
    found = mapping.match_channels(["jawOpen", "mouthSmileLeft", "eyeBlinkRight"], keys, mh)
    assert found == {k: [v] for k, v in zip(["jawOpen", "mouthSmileLeft", "eyeBlinkRight"], keys, strict=True)}


def test_saved_preset_overrides_and_round_trips(presets_dir):
    preset = mapping.load_preset("arkit")
    preset["names"]["jawOpen"] = "MyJaw"  # a single name is accepted and becomes a list
    path = mapping.save_preset("arkit", mapping.parse_preset(json.dumps(preset), "arkit"))
    assert path == presets_dir / "arkit.json"
    assert mapping.preset_files()["arkit"] == path
    assert mapping.load_preset("arkit")["names"]["jawOpen"] == ["MyJaw"]
    assert mapping.match_channels(["jawOpen"], ["jaw_open", "MyJaw"], mapping.load_preset("arkit")) == {
        "jawOpen": ["MyJaw"]
    }


def test_bad_presets_say_what_is_wrong():
    with pytest.raises(ValueError, match="not valid JSON"):
        mapping.parse_preset("{", "x")
    with pytest.raises(ValueError, match="'jawOpen' must name a shape key"):
        mapping.parse_preset('{"names": {"jawOpen": 3}}', "x")
    with pytest.raises(KeyError, match="no mapping preset 'nope'"):
        mapping.load_preset("nope")
