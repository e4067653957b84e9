"""JSON in and out of SWF's fields: strict (no NaN or Infinity) and bounded in depth, both ways."""

from __future__ import annotations

import json

import pytest

from replayflow import encoding
from replayflow.encoding import MAX_NESTING, NotSerializable
from replayflow.errors import InvalidInput, InvalidJson


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_text(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- strict output ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "what"), [
    ([1, float("nan")], "it holds NaN or Infinity at [1]"),
    ({"a": [0, {"b": float("inf")}]}, 'it holds NaN or Infinity at ["a"][1]["b"]'),
    (-float("inf"), "it is NaN or Infinity"),
])
def test_nan_and_infinity_are_refused_naming_where_they_are(value, what):
    with pytest.raises(NotSerializable) as info:
        encoding.dumps(value)
    assert str(info.value) == (f"{what}, which JSON cannot represent; use null, a string or a "
                               "finite number")


def test_a_call_with_nan_is_refused_where_it_is_encoded():
    with pytest.raises(NotSerializable, match=r'NaN or Infinity at \["kwargs"\]\["x"\]'):
        encoding.encode_call([], {"x": float("nan")})
    with pytest.raises(NotSerializable, match=r'NaN or Infinity at \["args"\]\[1\]\[0\]'):
        encoding.encode_call([0, [float("inf")]], {})


def test_finite_floats_and_ordinary_values_still_encode_compactly_and_sorted():
    assert encoding.dumps({"b": 1.5, "a": [1, "é", None, True]}) == \
        '{"a":[1,"\\u00e9",null,true],"b":1.5}'
    assert encoding.encode_call([1], {"z": 2, "a": 1}) == '{"args":[1],"kwargs":{"a":1,"z":2}}'


def test_a_failed_encode_leaves_nothing_behind_for_the_next_one():
    # The encoder used to share one circular-reference table across calls: a value whose encode
    # failed half-way stayed in it, and encoding it again later was "circular".
    value = [[object()]]
    with pytest.raises(NotSerializable, match="object is not JSON serializable"):
        encoding.dumps(value)
    value[0][0] = 1
    assert encoding.dumps(value) == "[[1]]"


def test_a_value_that_contains_itself_is_refused_without_a_recursion_error():
    loop: list = []
    loop.append(loop)
    with pytest.raises(NotSerializable, match="contains itself"):
        encoding.dumps(loop)


# --- depth ---------------------------------------------------------------------------------------


def test_values_nested_up_to_the_limit_go_both_ways():
    text = encoding.dumps(nested(MAX_NESTING))
    assert text == nested_text(MAX_NESTING)
    assert encoding.loads(text) == nested(MAX_NESTING)


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 990, 5_000])
def test_deeper_values_are_a_clean_error_both_ways(depth):
    with pytest.raises(InvalidJson, match=f"more than {MAX_NESTING} levels deep"):
        encoding.loads(nested_text(depth))
    if depth < 900:  # deeper Python lists cannot even be built safely; the text is the attack
        with pytest.raises(NotSerializable, match=f"more than {MAX_NESTING} levels deep"):
            encoding.dumps(nested(depth))
        with pytest.raises(NotSerializable, match=f"more than {MAX_NESTING} levels deep"):
            encoding.encode_call([nested(depth)], {})


def test_the_call_wrapper_counts_towards_the_depth():
    encoding.encode_call([nested(MAX_NESTING - 1)], {})  # {"args": [ ... ]} is one more level
    with pytest.raises(NotSerializable, match="levels deep"):
        encoding.encode_call([nested(MAX_NESTING)], {})


def test_brackets_inside_strings_do_not_count():
    text = json.dumps(["[" * 500 + '\\"{' * 300, {"k": "]]]"}])
    assert not encoding.nesting_exceeds(text)
    assert encoding.loads(text)[1] == {"k": "]]]"}


def test_deep_text_with_broken_brackets_is_still_a_clean_error():
    with pytest.raises(ValueError):
        encoding.loads("[" * 3000 + "}" * 3000)


def test_many_shallow_brackets_are_not_deep():
    text = json.dumps([[i] for i in range(10_000)])
    assert not encoding.nesting_exceeds(text)
    assert len(encoding.loads(text)) == 10_000


# --- strict input ------------------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_on_input(constant):
    with pytest.raises(InvalidJson, match=f"{constant} is not JSON"):
        encoding.loads(f'[1, {constant}]')
    with pytest.raises(InvalidInput, match=f"--input is not valid JSON: {constant} is not JSON"):
        encoding.parse_input_convention(f"[{constant}]")


def test_invalid_json_is_a_value_error_like_json_s_own():
    assert issubclass(InvalidJson, ValueError)
    with pytest.raises(ValueError):
        encoding.loads("{")


def test_user_input_errors_name_the_source_and_position():
    with pytest.raises(InvalidInput, match=r"--input-file f.json is not valid JSON \(Expecting "
                                           r"value at line 2 column 1\)"):
        encoding.parse_input_convention("[1,\n", "--input-file f.json")
    with pytest.raises(InvalidInput, match="levels deep"):
        encoding.parse_input_convention(nested_text(1000))
    with pytest.raises(InvalidInput, match="Expecting value"):
        encoding.parse_json("  ")
    assert encoding.parse_input_convention(" \n[1, 2]\n") == ([1, 2], {})
