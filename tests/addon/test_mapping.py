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


CC4_KEYS = [
    "Brow_Drop_L", "Brow_Drop_R", "Brow_Raise_Inner_L", "Brow_Raise_Inner_R", "Brow_Raise_Outer_L",
    "Brow_Raise_Outer_R", "Brow_Compress_L", "Eye_Blink_L", "Eye_Blink_R", "Eye_Squint_L", "Eye_Squint_R",
    "Eye_Wide_L", "Eye_Wide_R", "Eye_L_Look_Up", "Eye_R_Look_Up", "Eye_L_Look_Down", "Eye_R_Look_Down",
    "Eye_L_Look_L", "Eye_L_Look_R", "Eye_R_Look_L", "Eye_R_Look_R", "Cheek_Puff_L", "Cheek_Puff_R", "Cheek_Raise_L",
    "Cheek_Raise_R", "Cheek_Suck_L", "Jaw_Open", "Jaw_Forward", "Jaw_Backward", "Jaw_L", "Jaw_R", "Mouth_Close",
    "Mouth_Funnel_Up_L", "Mouth_Funnel_Up_R", "Mouth_Funnel_Down_L", "Mouth_Funnel_Down_R", "Mouth_Pucker_Up_L",
    "Mouth_Pucker_Up_R", "Mouth_Pucker_Down_L", "Mouth_Pucker_Down_R", "Mouth_L", "Mouth_R", "Mouth_Smile_L",
    "Mouth_Smile_R", "Mouth_Smile_Sharp_L", "Mouth_Frown_L", "Mouth_Frown_R", "Mouth_Dimple_L", "Mouth_Dimple_R",
    "Mouth_Stretch_L", "Mouth_Stretch_R", "Mouth_Roll_In_Lower_L", "Mouth_Roll_In_Lower_R", "Mouth_Roll_In_Upper_L",
    "Mouth_Roll_In_Upper_R", "Mouth_Shrug_Lower", "Mouth_Shrug_Upper", "Mouth_Press_L", "Mouth_Press_R",
    "Mouth_Down_Lower_L", "Mouth_Down_Lower_R", "Mouth_Up_Upper_L", "Mouth_Up_Upper_R", "Mouth_Tighten_L",
    "Nose_Sneer_L", "Nose_Sneer_R", "Tongue_Out", "Tongue_Up",
]  # fmt: skip


def test_a_cc4_named_character_matches_all_52():
    found = mapping.match_channels(list(mapping.ARKIT_CHANNELS), CC4_KEYS, mapping.load_preset("cc4"))
    assert len(found) == 52
    assert found["eyeLookInLeft"] == ["Eye_L_Look_R"] and found["cheekSquintLeft"] == ["Cheek_Raise_L"]
    assert found["mouthFunnel"] == ["Mouth_Funnel_Up_L", "Mouth_Funnel_Up_R", "Mouth_Funnel_Down_L",
                                    "Mouth_Funnel_Down_R"]  # fmt: skip
    assert mapping.mapping_warnings(list(mapping.ARKIT_CHANNELS), found) == []


def test_exact_names_win_over_spelling_variants():
    found = mapping.match_channels(["jawOpen", "eyeBlinkLeft"], ["Jaw_Open", "jawOpen", "EyeBlink_L"],
                                   mapping.load_preset("arkit"))  # fmt: skip
    assert found == {"jawOpen": ["jawOpen"], "eyeBlinkLeft": ["EyeBlink_L"]}
    cc4 = mapping.match_channels(["jawOpen"], ["Jaw_Open", "jawOpen"], mapping.load_preset("cc4"))
    assert cc4 == {"jawOpen": ["jawOpen"]}  # also over a vendor preset's own name


def test_a_half_matched_left_right_pair_is_flagged():
    channels = ["eyeBlinkLeft", "eyeBlinkRight", "jawOpen"]
    found = mapping.match_channels(channels, ["EyeBlink_L", "jawOpen"], mapping.load_preset("arkit"))
    assert mapping.mapping_warnings(channels, found) == [
        "eyeBlinkLeft drives 'EyeBlink_L' but eyeBlinkRight finds no shape key: that side moves alone"
    ]


def test_vroid_faces_map_their_fcl_keys():
    keys = [
        "Fcl_ALL_Neutral",
        "Fcl_MTH_A",
        "Fcl_MTH_I",
        "Fcl_MTH_U",
        "Fcl_MTH_E",
        "Fcl_MTH_O",
        "Fcl_MTH_Close",
        "Fcl_EYE_Close_L",
        "Fcl_EYE_Close_R",
        "Fcl_EYE_Joy_L",
        "Fcl_EYE_Joy_R",
        "Fcl_BRW_Sorrow",
        "Fcl_BRW_Angry",
    ]
    found = mapping.match_channels(list(mapping.ARKIT_CHANNELS), keys, mapping.load_preset("vroid"))
    assert found["jawOpen"] == ["Fcl_MTH_A"] and found["mouthFunnel"] == ["Fcl_MTH_O"]
    assert (found["eyeBlinkLeft"], found["eyeBlinkRight"]) == (["Fcl_EYE_Close_L"], ["Fcl_EYE_Close_R"])
    assert found["mouthStretchLeft"] == found["mouthStretchRight"] == ["Fcl_MTH_I"]
    warnings = mapping.mapping_warnings(list(mapping.ARKIT_CHANNELS), found)
    assert "'Fcl_MTH_I' is driven by mouthStretchLeft and mouthStretchRight: it gets their maximum" in warnings
    assert not any("moves alone" in w for w in warnings)


def test_daz_facs_morphs_match_with_their_prefixes_and_suffixes():
    keys = [
        "Genesis8_1Female__facs_jnt_JawOpen",
        "facs_bs_MouthSmileLeft_div2",
        "facs_bs_MouthSmileRight_div2",
        "facs_jnt_EyesWideLeft",
        "facs_ctrl_EyeLookUpLeft",
        "facs_jnt_EyeBlinkLeft",
        "facs_jnt_EyeBlinkRight",
    ]
    found = mapping.match_channels(list(mapping.ARKIT_CHANNELS), keys, mapping.load_preset("daz"))
    assert found == {
        "eyeBlinkLeft": ["facs_jnt_EyeBlinkLeft"], "eyeLookUpLeft": ["facs_ctrl_EyeLookUpLeft"],
        "eyeWideLeft": ["facs_jnt_EyesWideLeft"], "eyeBlinkRight": ["facs_jnt_EyeBlinkRight"],
        "jawOpen": ["Genesis8_1Female__facs_jnt_JawOpen"], "mouthSmileLeft": ["facs_bs_MouthSmileLeft_div2"],
        "mouthSmileRight": ["facs_bs_MouthSmileRight_div2"],
    }  # fmt: skip


def test_preset_numbers_are_stable_ids():
    assert mapping.preset_number("cc4") == mapping.preset_number("cc4") != mapping.preset_number("vroid")
    assert {"arkit", "cc4", "metahuman", "vroid", "daz"} <= set(mapping.preset_files())
