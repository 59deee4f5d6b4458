"""What bulk mutations share: the error policy."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum(description="What a bulk mutation does when some of its rows are bad.")
class ErrorPolicy(enum.Enum):
    REJECT_EVERYTHING = strawberry.enum_value(
        "REJECT_EVERYTHING",
        description="One bad row refuses the whole call: nothing is written (the default).",
    )
    REJECT_FAILED_ROWS = strawberry.enum_value(
        "REJECT_FAILED_ROWS",
        description="The good rows are written; each bad row reports its errors.",
    )
