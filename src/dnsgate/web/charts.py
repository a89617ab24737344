"""Small server-rendered bar charts (SVG, no script) for both dashboards.

A chart is drawn as stacked bars in a fixed viewBox that stretches to the
page width (no text inside the SVG, so nothing is distorted); colours come
from ``series-N`` classes in app.css (the CSP allows no inline style). Every
chart carries its numbers as text too: a summary for screen readers, a
legend with totals, and a table (``partials/chart.html``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dnsgate.services import audit_stats
from dnsgate.services.context import Env

BAR_WIDTH = 8
BAR_GAP = 2
HEIGHT = 100
MAX_SERIES = 8


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: tuple[int, ...]
    css: str = ""

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True, slots=True)
class Segment:
    x: int
    y: float
    height: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    buckets: tuple[str, ...]
    series: tuple[Series, ...]
    segments: tuple[Segment, ...]
    peak: int
    width: int

    @property
    def summary(self) -> str:
        totals = ", ".join(f"{s.total} {s.label}" for s in self.series)
        return (f"{self.title}, {self.buckets[0]} to {self.buckets[-1]} (UTC): {totals}; "
                f"at most {self.peak} in one period.")

    def rows(self) -> list[tuple[str, list[int]]]:
        """The numbers per bucket, newest first (the table under the chart)."""
        return [(bucket, [s.values[i] for s in self.series])
                for i, bucket in reversed(list(enumerate(self.buckets)))]


def stacked_bars(title: str, buckets: Sequence[str], series: Sequence[Series]) -> Chart:
    """Bars per bucket, the series stacked bottom-up in the order given."""
    named = tuple(Series(s.label, tuple(s.values), s.css or f"series-{i % MAX_SERIES + 1}")
                  for i, s in enumerate(series))
    peak = max((sum(s.values[i] for s in named) for i in range(len(buckets))), default=0)
    scale = HEIGHT / peak if peak else 0.0
    segments: list[Segment] = []
    for i, bucket in enumerate(buckets):
        x = i * (BAR_WIDTH + BAR_GAP) + BAR_GAP // 2
        top = float(HEIGHT)
        for s in named:
            value = s.values[i]
            if not value:
                continue
            height = value * scale
            top -= height
            segments.append(Segment(x, round(top, 2), round(height, 2), s.css,
                                    f"{bucket}: {value} {s.label}"))
    return Chart(title, tuple(buckets), named, tuple(segments), peak,
                 max(1, len(buckets)) * (BAR_WIDTH + BAR_GAP))


# --- the dashboards' charts ----------------------------------------------------

DAYS = 14
#: Surfaces as the audit log names them, and as people know them.
SURFACES = (("api", "REST API"), ("dyndns2", "dyndns2"), ("acme-dns", "acme-dns"),
            ("httpreq", "httpreq"), ("pdns-api", "PowerDNS API"), ("web", "Web UI"),
            ("cli", "CLI"))
_OUTCOME_CSS = {"success": "series-4", "denied": "series-2", "error": "series-3"}


def account_activity(env: Env, account_id: int) -> Chart:
    """An account's record updates and denials per day, the last two weeks."""
    span = audit_stats.window(env.clock(), "day", DAYS)
    counts = audit_stats.updates_and_denials(env, account_id=account_id, span=span)
    return stacked_bars("Updates and denials per day", span.buckets, [
        Series("updates", tuple(counts[b]["updates"] for b in span.buckets), "series-1"),
        Series("denials", tuple(counts[b]["denials"] for b in span.buckets), "series-2")])


def requests_by_surface(env: Env) -> tuple[Chart, Chart, list[tuple[str, dict[str, int]]]]:
    """All audited requests per day: by surface, by outcome, and a surface x
    outcome table (one query)."""
    span = audit_stats.window(env.clock(), "day", DAYS)
    rows = audit_stats.by_surface_and_outcome(env, span=span)
    index = {b: i for i, b in enumerate(span.buckets)}
    known = dict(SURFACES)
    by_surface: dict[str, list[int]] = {s: [0] * len(index) for s, _ in SURFACES}
    by_outcome: dict[str, list[int]] = {o: [0] * len(index) for o in audit_stats.OUTCOMES}
    table: dict[str, dict[str, int]] = {}
    for bucket, surface, outcome, n in rows:
        if bucket not in index:
            continue
        key = surface if surface in known else "other"
        by_surface.setdefault(key, [0] * len(index))[index[bucket]] += n
        by_outcome.setdefault(outcome, [0] * len(index))[index[bucket]] += n
        cell = table.setdefault(known.get(key, "other"), {})
        cell[outcome] = cell.get(outcome, 0) + n
    surfaces = stacked_bars("Requests per day by surface", span.buckets, [
        Series(known.get(s, s), tuple(v)) for s, v in by_surface.items()])
    outcomes = stacked_bars("Requests per day by outcome", span.buckets, [
        Series(o, tuple(v), _OUTCOME_CSS.get(o, "")) for o, v in by_outcome.items()])
    return surfaces, outcomes, sorted(table.items())
