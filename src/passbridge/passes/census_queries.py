"""How many passes the store holds in each state, for the metrics scrape (passbridge/metrics.py).

One grouped select over the pass table (one row per user at most), so a scrape costs a scan of
that table whatever the number of workers or nodes reporting it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, select

from passbridge.store.models import TemporaryAccessPass as Pass
from passbridge.store.tx import Tx

STATES = ("active", "pending", "used", "expired")


def pass_states(tx: Tx, now: datetime) -> dict[str, int]:
    """Every state with its count (0 included): expired (past its end, used or not), used (a
    one-time pass spent, not yet past its end), pending (not yet valid), active (usable now)."""
    state = case(
        (Pass.expires_at <= now, "expired"),
        (and_(Pass.is_usable_once, Pass.used_at.is_not(None)), "used"),
        (Pass.start_at > now, "pending"),
        else_="active",
    )
    counts = dict.fromkeys(STATES, 0)
    rows = tx.execute(select(state.label("state"), func.count().label("n")).group_by(state))
    for row in rows.mappings():
        counts[str(row["state"])] = int(row["n"])
    return counts
