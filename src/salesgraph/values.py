"""Small value helpers shared by the domains: the 'not given' marker for partial updates, money."""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation
from typing import Final, TypeVar

from salesgraph.errors import Collector

T = TypeVar("T")


class Unset(enum.Enum):
    """A field left out of a partial update (as opposed to one set to null)."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET

# ISO 4217 codes in current use (2024), by their number of minor units.
_CODES_BY_MINOR_UNITS: Final = {
    2: """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN
BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR KES KGS KHR KPW KYD KZT LAK LBP LKR LRD
LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB
PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC
SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG
""",
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
}
CURRENCY_MINOR_UNITS: Final[dict[str, int]] = {
    code: units for units, codes in _CODES_BY_MINOR_UNITS.items() for code in codes.split()
}
MAX_AMOUNT: Final = Decimal("1e16")


def in_minor_units(amount: Decimal, currency: str) -> Decimal:
    """An amount with exactly its currency's decimal places (1250.5 EUR -> 1250.50)."""
    places = CURRENCY_MINOR_UNITS.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-places))


def validate_money(
    amount: Decimal | str, currency: str, field: tuple[str, ...], errors: Collector
) -> tuple[Decimal, str]:
    """Check an amount and its ISO 4217 currency; amounts are exact, never floats."""
    currency = currency.strip().upper()
    minor_units = CURRENCY_MINOR_UNITS.get(currency)
    if minor_units is None:
        errors.add(f"{currency!r} is not an ISO 4217 currency code", *field, "currency")
    try:
        amount = Decimal(amount)
    except (InvalidOperation, ValueError):
        errors.add("must be a decimal number", *field, "amount")
        return Decimal(0), currency
    if not amount.is_finite():
        errors.add("must be a finite number", *field, "amount")
    elif amount < 0:
        errors.add("must not be negative", *field, "amount")
    elif amount >= MAX_AMOUNT:
        errors.add("is too large", *field, "amount")
    elif minor_units is not None and -amount.as_tuple().exponent > minor_units:  # type: ignore[operator]
        errors.add(f"{currency} has {minor_units} decimal places at most", *field, "amount")
    return amount, currency
