"""Identifiers checked with python-stdnum: a bad one is a form error with the reason, never a crash."""

from django.core.exceptions import ValidationError
from stdnum import iban as stdnum_iban
from stdnum.eu import vat as stdnum_eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva


def _compact(value: str) -> str:
    return "".join((value or "").split()).replace(".", "").replace("-", "").upper()


def validate_siren(value: str) -> None:
    try:
        stdnum_siren.validate(_compact(value))
    except StdnumError as exc:
        raise ValidationError(f"SIREN « {value} » invalide : {exc}", code="invalid_siren") from exc


def validate_siret(value: str) -> None:
    try:
        stdnum_siret.validate(_compact(value))
    except StdnumError as exc:
        raise ValidationError(f"SIRET « {value} » invalide : {exc}", code="invalid_siret") from exc


def validate_vat_number(value: str) -> None:
    """French numbers are checked with their key; other EU numbers with their country's rule."""
    compact = _compact(value)
    try:
        if compact.startswith("FR"):
            stdnum_tva.validate(compact)
        else:
            stdnum_eu_vat.validate(compact)
    except StdnumError as exc:
        raise ValidationError(f"N° de TVA « {value} » invalide : {exc}", code="invalid_vat") from exc


def validate_iban(value: str) -> None:
    try:
        stdnum_iban.validate(_compact(value))
    except StdnumError as exc:
        raise ValidationError(f"IBAN « {value} » invalide : {exc}", code="invalid_iban") from exc
