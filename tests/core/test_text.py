"""core.phonetics.text: how written transcripts are read aloud, with the alternatives the aligner picks from."""

from __future__ import annotations

import pytest

from core.phonetics.text import transcript_slots, transcript_words


def readings(text: str) -> list[list[str]]:
    """Each slot's readings as space-joined strings."""
    return [[" ".join(r) for r in slot] for slot in transcript_slots(text)]


def test_words_punctuation_and_apostrophes():
    assert transcript_words("Don’t PANIC, it's 42!") == ["don't", "panic", "it's", "forty", "two"]
    assert transcript_words(" ... ") == []
    assert transcript_words("Jump, Bob, jump!") == ["jump", "bob", "jump"]


def test_digit_strings_read_digit_by_digit_or_as_a_number():
    assert readings("555 0192") == [
        ["five hundred fifty five", "five hundred and fifty five", "five five five"],
        ["oh one nine two", "zero one nine two"],
    ]
    assert readings("007")[0][0] == "oh oh seven"
    assert readings("4")[0] == ["four"]


def test_years_are_read_as_years_first():
    nineteen98 = readings("1998")[0]
    assert nineteen98[0] == "nineteen ninety eight"
    assert "one thousand nine hundred ninety eight" in nineteen98
    assert readings("1905")[0][0] == "nineteen oh five"
    assert {"nineteen hundred forty five", "nineteen hundred and forty five"} <= set(readings("1945")[0])
    assert readings("2009")[0][:2] == ["two thousand nine", "two thousand and nine"]
    assert "twenty oh nine" in readings("2009")[0]
    assert "twenty twelve" in readings("2012")[0]
    assert readings("2704")[0][0] == "two thousand seven hundred four"  # not a year


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("14th", "fourteenth"),
        ("3rd", "third"),
        ("1st", "first"),
        ("22nd", "twenty second"),
        ("101st", "one hundred first"),
    ],
)
def test_ordinals(text, first):
    assert readings(text)[0][0] == first


def test_times_and_am_pm():
    assert readings("9:15 p.m.") == [["nine fifteen", "quarter past nine"], ["p m"]]
    assert readings("10:30")[0] == ["ten thirty", "half past ten"]
    assert readings("8:05")[0] == ["eight oh five", "eight zero five", "eight five"]
    assert readings("6:00")[0] == ["six o'clock", "six", "six hundred"]
    assert readings("3:45")[0][1] == "quarter to four"


def test_money_percent_decimals_and_grouped_numbers():
    assert readings("$5.50")[0] == [
        "five dollars fifty cents",
        "five dollars and fifty cents",
        "five dollars fifty",
        "five fifty",
    ]
    assert readings("$1")[0] == ["one dollar"]
    assert readings("$0.99")[0] == ["ninety nine cents"]
    assert readings("£3")[0] == ["three pounds"]
    assert readings("45%")[0] == ["forty five percent"]
    assert readings("2.5")[0] == ["two point five"]
    assert readings("1,200")[0] == ["one thousand two hundred", "twelve hundred"]


def test_abbreviations_titles_and_numero():
    assert readings("Dr. Palmer")[0] == ["doctor", "drive"]
    assert readings("Mr Brown")[0] == ["mister"]
    assert readings("Prof. Baker")[0] == ["professor", "prof"]  # flite and espeak say "prof"
    assert readings("St. Paul Street")[0] == ["saint", "street"]
    assert readings("eggs, etc.")[1] == ["et cetera"]
    assert readings("No. 9") == [["number"], ["nine"]]
    assert readings("I said no.") == [["i"], ["said"], ["no"]]  # a sentence's last word, not "number"


def test_letters_and_acronyms():
    assert readings("B-52") == [["b"], ["fifty two", "five two"]]
    assert readings("FBI")[0] == ["fbi", "f b i"]
    assert readings("U.S.")[0] == ["u s"]
    assert readings("platform 2B")[1:] == [["two"], ["b"]]
    assert readings("I am") == [["i"], ["am"]]  # the pronoun, not the letter
    assert readings("salt & pepper")[1] == ["and"]
