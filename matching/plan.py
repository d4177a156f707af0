"""Season planning for farm help: which volunteer team sends how many people to which shift,
so that the most places are filled at the least total travel.

The model (a transportation problem, solved exactly as a min-cost maximum flow)
---------------------------------------------------------------------------------
::

    source --[free people of team t on day d, cost 0]--> (t, d)
    (t, d) --[min(free people, places), cost = metres from t's base]--> shift s on day d
    shift s --[open places of s, cost 0]--> sink

An arc ``(t, d) -> s`` exists only when team ``t`` can serve shift ``s``: ``d`` is one of
the team's weekdays (and one of its dates, when it gave dates), the shift still has open
places, and the shift's place (the need's approximate location) is within the team's
radius. One unit of flow is one person going to one shift; its cost is that person's
one-way trip in metres, so the objective is person-kilometres of travel.

The maximum flow is the largest number of places that can be filled; successive shortest
paths (``matching.flow``) return, among all maximum flows, one of least cost. Because the
constraint matrix of a network is totally unimodular, the integral flow it finds is also
optimal for the LP relaxation: no fractional or integer plan fills more places, or fills
as many with less travel. The tests check this against ``scipy.optimize.
linear_sum_assignment`` on the problem expanded to one row per person-day and one column
per place, and the benchmark against the HiGHS LP at 1,000 teams x 5,000 shifts.

What is enforced, and why exactly these rules
---------------------------------------------
* **No shift over its places**: the shift's arc to the sink carries its open places.
* **Nobody in two places at once**: a team sends at most its free people on a day, in
  total over all that day's shifts, and each person works at most one shift a day
  (a volunteer's day of farm work plus the journey). Members already booked that day
  elsewhere are not free (``PlanTeam.busy``). A plan therefore never needs more people on
  a day than the team has, and the people it books can be named one by one with nobody
  booked twice.
* **Only available days**: the team's ISO weekdays, and its dates when it gave any.
* **Within reach**: the team's radius (``respect_radius=False`` lifts it).

A team may send different members to different shifts of the same day: the team is a
pool of people, as it already is when a leader signs members up. The stricter rule "a
whole team goes to one shift per day" is not a flow constraint and makes the problem
NP-hard: with two shifts of ``B/2`` places on one day and one team per number of a
PARTITION instance (sizes summing to ``B``), every place can be filled only if the
numbers split into two equal halves. No min-cost flow (indeed no polynomial algorithm,
unless P = NP) can be exactly optimal for it, and the issue asks for an optimal plan.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from matching.flow import MinCostFlow
from matching.geo import Point, distance_km, within_km


@dataclass(frozen=True)
class PlanTeam:
    """A volunteer team as the planner sees it."""

    id: int
    base: Point
    size: int  # people the team can field on a day
    weekdays: frozenset[int] = frozenset(range(1, 8))  # ISO: 1 = Monday
    radius_km: float | None = None  # None: any distance
    dates: frozenset[date] | None = None  # when given, only these days
    # People already booked on other shifts, by day: they are not free that day.
    busy: Mapping[date, int] = field(default_factory=lambda: MappingProxyType({}))

    def available_on(self, day: date) -> bool:
        """One of the team's weekdays (and dates, when it gave any)."""
        return day.isoweekday() in self.weekdays and (self.dates is None or day in self.dates)

    def free_on(self, day: date) -> int:
        """People the team can still send that day."""
        if not self.available_on(day):
            return 0
        return max(0, self.size - self.busy.get(day, 0))


@dataclass(frozen=True)
class PlanShift:
    """An open shift: its day, where it is (the need's approximate location), open places."""

    id: int
    day: date
    location: Point
    places: int
    need_id: int | None = None


@dataclass(frozen=True)
class PlannedBooking:
    team_id: int
    shift_id: int
    day: date
    people: int
    distance_km: float  # one way, per person

    @property
    def travel_km(self) -> float:
        return self.people * self.distance_km


@dataclass(frozen=True)
class PlanStats:
    """How big the solved network was and where the time went (for the benchmark)."""

    components: int = 0  # independent sub-networks, solved one by one
    arcs: int = 0
    phases: int = 0  # shortest-path searches
    seconds_distances: float = 0.0
    seconds_flow: float = 0.0


@dataclass(frozen=True)
class SeasonPlan:
    bookings: tuple[PlannedBooking, ...]
    places_open: int
    places_filled: int
    travel_m: int  # the exact objective: person-metres, one way
    stats: PlanStats = field(default_factory=lambda: PlanStats(), compare=False)

    @property
    def travel_km(self) -> float:
        return self.travel_m / 1000

    def filled_on(self, shift_id: int) -> int:
        return sum(b.people for b in self.bookings if b.shift_id == shift_id)


DistanceFn = Callable[[Point, Point], float]
Candidate = tuple[PlanTeam, PlanShift, float]


def metres(km: float) -> int:
    """The integer cost of one person's trip: kilometres to whole metres."""
    return round(km * 1000)


def reach_km(
    team: PlanTeam,
    shift: PlanShift,
    *,
    respect_radius: bool = True,
    distance: DistanceFn | None = None,
) -> float | None:
    """The distance when ``team`` may serve ``shift`` at all (the shift has open places,
    the day is one of the team's with someone still free, the place within its radius),
    else None."""
    if shift.places <= 0 or team.free_on(shift.day) <= 0:
        return None
    return _trip_km(team, shift.location, respect_radius, distance)


def _trip_km(
    team: PlanTeam, place: Point, respect_radius: bool, distance: DistanceFn | None
) -> float | None:
    limit = team.radius_km if respect_radius else None
    if distance is not None:
        d = distance(team.base, place)
        return None if limit is not None and d > limit else d
    if limit is not None:
        return within_km(team.base, place, limit)
    return distance_km(team.base, place)


def candidate_arcs(
    teams: Iterable[PlanTeam],
    shifts: Iterable[PlanShift],
    *,
    respect_radius: bool = True,
    distance: DistanceFn | None = None,
) -> list[Candidate]:
    """Every (team, shift, km) the plan may use: the team is free that day and the shift
    is within its reach. Ordered by shift (day, id), then team id."""
    team_list = sorted(teams, key=lambda t: t.id)
    shift_list = sorted((s for s in shifts if s.places > 0), key=lambda s: (s.day, s.id))
    _check_unique(team_list, shift_list)
    # Distances are worked out once per team and place (the shifts of one need share a
    # place), and only for places near the team.
    reach = _reachable(team_list, {s.location for s in shift_list}, respect_radius, distance)
    return [
        (team, shift, km)
        for shift in shift_list
        for team, km in reach.get(shift.location, ())
        if team.free_on(shift.day) > 0
    ]


def plan_season(
    teams: Iterable[PlanTeam],
    shifts: Iterable[PlanShift],
    *,
    respect_radius: bool = True,
    distance: DistanceFn | None = None,
) -> SeasonPlan:
    """The plan that fills the most places at the least person-kilometres (see module doc).

    Deterministic: inputs are ordered by id first, so the same data gives the same plan.
    ``distance`` replaces the geodesic distance (the benchmark precomputes it).
    """
    started = time.perf_counter()
    shift_list = list(shifts)
    candidates = candidate_arcs(teams, shift_list, respect_radius=respect_radius, distance=distance)
    measured = time.perf_counter()
    groups = _components(candidates)
    bookings: list[PlannedBooking] = []
    filled = travel = arcs = phases = 0
    for group in groups:
        found, flow, cost, group_arcs, group_phases = _solve_component(group)
        bookings += found
        filled += flow
        travel += cost
        arcs += group_arcs
        phases += group_phases
    bookings.sort(key=lambda b: (b.day, b.shift_id, b.team_id))
    return SeasonPlan(
        bookings=tuple(bookings),
        places_open=sum(s.places for s in shift_list if s.places > 0),
        places_filled=filled,
        travel_m=travel,
        stats=PlanStats(
            components=len(groups),
            arcs=arcs,
            phases=phases,
            seconds_distances=measured - started,
            seconds_flow=time.perf_counter() - measured,
        ),
    )


_CELL_DEG = 0.25  # grid cell for the spatial lookup, about 27 km


def _cell(point: Point) -> tuple[int, int]:
    return math.floor(point.lat / _CELL_DEG), math.floor(point.lng / _CELL_DEG)


def _reachable(
    teams: list[PlanTeam],
    places: set[Point],
    respect_radius: bool,
    distance: DistanceFn | None,
) -> dict[Point, list[tuple[PlanTeam, float]]]:
    """For each place, the teams that can reach it and how far, in team-id order. A grid
    of places keeps a team with a radius from measuring the whole province."""
    grid: dict[tuple[int, int], list[Point]] = {}
    for place in sorted(places):
        grid.setdefault(_cell(place), []).append(place)
    reach: dict[Point, list[tuple[PlanTeam, float]]] = {}
    for team in teams:
        radius = team.radius_km if respect_radius else None
        if radius is None:
            nearby: Iterable[Point] = sorted(places)
        else:
            # A box a little larger than the radius (degrees of longitude shrink with
            # latitude); the exact test is the distance below.
            dlat = radius / 110.5 * 1.02 + 0.01
            coslat = max(math.cos(math.radians(min(abs(team.base.lat) + dlat, 89.0))), 0.01)
            dlng = radius / (111.3 * coslat) * 1.02 + 0.01
            (lo_lat, lo_lng) = _cell(Point(team.base.lat - dlat, team.base.lng - dlng))
            (hi_lat, hi_lng) = _cell(Point(team.base.lat + dlat, team.base.lng + dlng))
            nearby = [
                place
                for i in range(lo_lat, hi_lat + 1)
                for j in range(lo_lng, hi_lng + 1)
                for place in grid.get((i, j), ())
            ]
        for place in nearby:
            km = _trip_km(team, place, respect_radius, distance)
            if km is not None:
                reach.setdefault(place, []).append((team, km))
    return reach


def _check_unique(teams: list[PlanTeam], shifts: list[PlanShift]) -> None:
    if len({t.id for t in teams}) != len(teams):
        raise ValueError("team ids must be unique")
    if len({s.id for s in shifts}) != len(shifts):
        raise ValueError("shift ids must be unique")
    if any(t.size < 0 for t in teams):
        raise ValueError("team sizes must not be negative")


def _components(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Split the arcs into independent sub-networks (union-find over team-days and
    shifts). Each is solved on its own: same optimum, far smaller searches."""
    parent: dict[object, object] = {}

    def find(x: object) -> object:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for team, shift, _ in candidates:
        a, b = find(("td", team.id, shift.day)), find(("s", shift.id))
        if a != b:
            parent[a] = b
    groups: dict[object, list[Candidate]] = {}
    for cand in candidates:
        groups.setdefault(find(("s", cand[1].id)), []).append(cand)
    return list(groups.values())


def _solve_component(
    candidates: list[Candidate],
) -> tuple[list[PlannedBooking], int, int, int, int]:
    network = MinCostFlow(2)
    source, sink = 0, 1
    team_day: dict[tuple[int, date], int] = {}
    shift_node: dict[int, int] = {}
    arc_of: list[tuple[int, PlanTeam, PlanShift, float]] = []
    for team, shift, km in candidates:
        key = (team.id, shift.day)
        free = team.free_on(shift.day)
        if key not in team_day:
            team_day[key] = network.add_node()
            network.add_arc(source, team_day[key], free, 0)
        if shift.id not in shift_node:
            shift_node[shift.id] = network.add_node()
            network.add_arc(shift_node[shift.id], sink, shift.places, 0)
        arc = network.add_arc(
            team_day[key], shift_node[shift.id], min(free, shift.places), metres(km)
        )
        arc_of.append((arc, team, shift, km))
    result = network.solve(source, sink)
    bookings = [
        PlannedBooking(team.id, shift.id, shift.day, network.flow_on(arc), round(km, 3))
        for arc, team, shift, km in arc_of
        if network.flow_on(arc) > 0
    ]
    arcs = len(arc_of) + len(team_day) + len(shift_node)
    return bookings, result.flow, result.cost, arcs, result.phases
