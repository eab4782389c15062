"""The portal words core's messages after the fields a customer sees ("Your name", "Your email"),
and lists them in the form's order for its error summary."""

from __future__ import annotations

from giftcerts.core.errors import ValidationError
from giftcerts.core.validation import clean_email, clean_name
from giftcerts.ui.portal.purchase import FIELD_LABELS, customer_wording, field_errors


def core_errors(**values) -> dict[str, str]:
    errors: dict[str, str] = {}
    clean_name(values.get("purchaser_name", ""), "purchaser name", errors, "purchaser_name")
    clean_email(values.get("purchaser_email", ""), "purchaser email", errors, "purchaser_email")
    clean_name(values.get("recipient_name", ""), "recipient name", errors, "recipient_name")
    return errors


def test_an_empty_purchaser_is_asked_for_your_name_and_your_email():
    shown = field_errors(core_errors())
    assert shown["purchaser_name"] == "Enter your name."
    assert shown["purchaser_email"] == "Enter your email."
    assert shown["recipient_name"] == "Enter the recipient name."  # already its label's words
    assert all("purchaser" not in text for text in shown.values())


def test_a_malformed_or_too_long_entry_names_the_field_by_its_label():
    shown = field_errors(core_errors(purchaser_name="x" * 500, purchaser_email="not-an-email"))
    assert shown["purchaser_name"].startswith("Your name must be at most ")
    assert shown["purchaser_email"] == "Your email must be a valid address, like name@example.com."
    assert customer_wording("The purchaser email is too long.") == "Your email is too long."


def test_the_summary_lists_the_fields_in_the_forms_order():
    errors = ValidationError({"message": "m", "recipient_email": "r", "amount": "a", "purchaser_name": "p"}).errors
    assert list(field_errors(errors)) == ["amount", "purchaser_name", "recipient_email", "message"]
    assert FIELD_LABELS["purchaser_name"] == "Your name" and FIELD_LABELS["purchaser_email"] == "Your email"
