"""Each certificate receives a unique 12-character code that customers enter during booking.
These codes are randomly generated and help prevent fraud."""

import string

from hypothesis import given
from hypothesis import strategies as st

from giftcerts.core.codes import ALPHABET, CODE_LENGTH, format_code, generate_code, mask_code, normalize_code


def test_the_alphabet_is_crockford_base32_without_lookalikes():
    assert len(ALPHABET) == 32 and len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_a_code_has_twelve_characters_from_the_alphabet():
    code = generate_code()
    assert len(code) == CODE_LENGTH == 12
    assert set(code) <= set(ALPHABET)


def test_codes_are_random_and_do_not_repeat():
    codes = {generate_code() for _ in range(20_000)}
    assert len(codes) == 20_000
    # every symbol appears in every position across many draws (no fixed prefix or structure)
    for position in range(CODE_LENGTH):
        assert {c[position] for c in codes} == set(ALPHABET)


def test_codes_are_shown_in_groups_of_four_and_masked_for_staff_lists():
    assert format_code("ABCD2345WXYZ") == "ABCD-2345-WXYZ"
    assert mask_code("ABCD2345WXYZ") == "••••-••••-WXYZ"


def test_typing_is_forgiving_about_case_spaces_dashes_and_lookalikes():
    assert normalize_code("abcd-2345-wxyz") == "ABCD2345WXYZ"
    assert normalize_code(" ABCD 2345 WXYZ ") == "ABCD2345WXYZ"
    assert normalize_code("0OIL-1111-0000") == "001111110000"


def test_what_cannot_be_a_code_is_rejected():
    for raw in ["", None, "ABC", "ABCD2345WXYZ1", "ABCD-2345-WXYU", "ABCD2345WXY!", "<script>", "A" * 1000]:
        assert normalize_code(raw) is None


@given(st.text(alphabet=ALPHABET, min_size=12, max_size=12))
def test_any_code_survives_formatting_and_retyping(code):
    assert normalize_code(format_code(code)) == code
    assert normalize_code(format_code(code).lower()) == code
    assert normalize_code(" ".join(code)) == code


@given(st.text(alphabet=ALPHABET, min_size=12, max_size=12), st.data())
def test_lookalike_letters_read_as_digits(code, data):
    typed = "".join(
        data.draw(st.sampled_from({"0": "0Oo", "1": "1IiLl"}.get(ch, ch + ch.lower()))) for ch in code
    )
    assert normalize_code(typed) == code


@given(st.text(max_size=40))
def test_normalisation_never_crashes_and_only_returns_valid_codes(raw):
    result = normalize_code(raw)
    assert result is None or (len(result) == 12 and set(result) <= set(ALPHABET))


def test_a_code_never_contains_characters_outside_upper_alphanumerics():
    assert set(generate_code()) <= set(string.ascii_uppercase + string.digits)
