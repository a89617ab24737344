"""Integers a request may carry, bounded to what the database can hold.

PostgreSQL's INTEGER (every id but the audit log's, and every count, depth
and TTL column) is 32 bits wide, BIGINT and SQLite's integers 64; a number
beyond a column's range does not find nothing, it makes the driver fail.
Every integer a route (REST or web UI) or a request body takes is one of
these types, so a number out of range is refused as invalid input (422; the
web UI shows its 404 page) before any query, and the OpenAPI document says
the range.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt, Le

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: Longest lifetime a credential may be given in seconds (~100 years): the
#: expiry it makes must stay a date (``datetime`` ends with the year 9999).
MAX_LIFETIME_SECONDS = 100 * 366 * 86400

#: The id of a row of any table but the audit log.
RowId = Annotated[int, Ge(1), Le(INT32_MAX)]
#: The id of an audit event (BIGINT).
EventId = Annotated[int, Ge(1), Le(INT64_MAX)]
#: Any other number stored in an INTEGER column (depths, quotas, TTLs).
Int32 = Annotated[int, Ge(-INT32_MAX - 1), Le(INT32_MAX)]
#: A positive duration stored in an INTEGER column.
Seconds32 = Annotated[int, Gt(0), Le(INT32_MAX)]
#: A positive duration from now to an expiry.
Lifetime = Annotated[int, Gt(0), Le(MAX_LIFETIME_SECONDS)]
