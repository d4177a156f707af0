"""The household's own private values, read from its record.

One small function so that whatever the household record grows (members, former
addresses) is guarded by adding it here: every check reads the values through it.
"""

from __future__ import annotations

from typing import Any

from app.privacy.detector import PrivateValues, address_parts


def private_values(household: Any) -> PrivateValues:
    """Names, numbers and address parts of ``household`` and of its members, if it has any
    (a member is anything with ``name`` and optionally ``id_number``/``phone``)."""
    values = PrivateValues()
    people = [household, *(getattr(household, "members", None) or [])]
    for person in people:
        name = getattr(person, "name", None)
        if name:
            values.names.append(str(name))
        for attribute in ("id_number", "phone"):
            number = getattr(person, attribute, None)
            if number:
                values.numbers.append(str(number))
    address = getattr(household, "address", None)
    if address:
        values.address_parts.extend(address_parts(str(address)))
    return values
