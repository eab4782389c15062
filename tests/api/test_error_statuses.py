"""Each error code has its HTTP status in the API (api/errors.STATUS), not in core's errors."""

from __future__ import annotations

import importlib
import pkgutil

import giftcerts
from giftcerts.api.errors import STATUS, http_status
from giftcerts.core.errors import DomainError, InvalidCode, NotFound, ValidationError


def _all_domain_errors() -> set[type[DomainError]]:
    for module in pkgutil.walk_packages(giftcerts.__path__, "giftcerts."):
        if module.name.startswith(("giftcerts.core.", "giftcerts.api.", "giftcerts.payments.")):
            importlib.import_module(module.name)
    found, todo = set(), [DomainError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_code_is_given_its_status_by_the_api():
    missing = sorted(f"{cls.__module__}.{cls.__name__} ({cls.code})" for cls in _all_domain_errors()
                     if cls.code not in STATUS)
    assert not missing, "no HTTP status for: " + ", ".join(missing)


def test_core_errors_say_what_went_wrong_not_how_http_spells_it():
    in_core = [cls.__name__ for cls in _all_domain_errors()
               if cls.__module__.startswith("giftcerts.core.") and "http_status" in vars(cls)]
    assert in_core == []


def test_a_validation_error_is_422_both_not_founds_404_and_anything_unlisted_400():
    assert http_status(ValidationError({"amount": "Enter an amount."})) == 422
    assert http_status(NotFound("Order not found.")) == http_status(InvalidCode()) == 404
    assert http_status(DomainError("Something else.")) == 400
