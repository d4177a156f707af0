"""The pure matching engine: the season plan is optimal (checked against independent
solvers on random instances) and feasible; recommendations are filtered and explained."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from geopy.distance import geodesic
from scipy.optimize import linear_sum_assignment, linprog

from matching.flow import MinCostFlow, NegativeCycle
from matching.geo import Point
from matching.plan import PlanShift, PlanTeam, plan_season
from matching.recommend import (
    Exclusion,
    Helper,
    OpenNeed,
    recommend_helpers,
    recommend_needs,
    screen,
)

ROOT = Path(__file__).resolve().parent.parent
MONDAY = date(2025, 3, 3)
BIG = 10**9


# --- the min-cost flow solver on its own ------------------------------------------------


def _random_network(rng: random.Random):
    """A random network with some negative arc costs but no negative cycle: each cost is
    a non-negative base plus ``pi(u) - pi(v)`` for random node prices, which cancel
    around any cycle."""
    n = rng.randint(3, 9)
    price = [rng.randint(0, 8) for _ in range(n)]
    arcs = []
    for _ in range(rng.randint(n, 3 * n)):
        u, v = rng.sample(range(n), 2)
        arcs.append((u, v, rng.randint(0, 6), rng.randint(0, 10) + price[u] - price[v]))
    return n, arcs


def _lp_min_cost_max_flow(n, arcs, s, t):
    """Maximum flow, then least cost at that flow, with HiGHS (the network LP has an
    integral optimum)."""
    m = len(arcs)
    a_eq = np.zeros((n, m))
    for k, (u, v, _, _) in enumerate(arcs):
        a_eq[u, k] -= 1
        a_eq[v, k] += 1
    inner = [i for i in range(n) if i not in (s, t)]
    bounds = [(0, cap) for _, _, cap, _ in arcs]
    into_sink = a_eq[t]
    first = linprog(
        -into_sink, A_eq=a_eq[inner], b_eq=np.zeros(len(inner)), bounds=bounds, method="highs"
    )
    value = round(-first.fun)
    second = linprog(
        [c for *_, c in arcs],
        A_eq=np.vstack([a_eq[inner], into_sink]),
        b_eq=np.append(np.zeros(len(inner)), value),
        bounds=bounds,
        method="highs",
    )
    return value, round(second.fun)


@pytest.mark.parametrize("seed", range(60))
def test_flow_solver_agrees_with_the_highs_lp(seed):
    rng = random.Random(seed)
    n, arcs = _random_network(rng)
    network = MinCostFlow(n)
    ids = [network.add_arc(u, v, cap, cost) for u, v, cap, cost in arcs]
    result = network.solve(0, n - 1)
    assert (result.flow, result.cost) == _lp_min_cost_max_flow(n, arcs, 0, n - 1)
    # The reported flow is a flow: within capacities and conserved at inner nodes.
    balance = defaultdict(int)
    for arc, (u, v, cap, _) in zip(ids, arcs, strict=True):
        assert 0 <= network.flow_on(arc) <= cap
        balance[u] -= network.flow_on(arc)
        balance[v] += network.flow_on(arc)
    assert all(balance[i] == 0 for i in range(1, n - 1))
    assert balance[n - 1] == result.flow
    assert sum(network.flow_on(a) * arcs[k][3] for k, a in enumerate(ids)) == result.cost


def test_flow_solver_refuses_a_negative_cycle():
    network = MinCostFlow(3)
    network.add_arc(0, 1, 1, 0)
    network.add_arc(1, 2, 1, -5)
    network.add_arc(2, 1, 1, 1)
    with pytest.raises(NegativeCycle):
        network.solve(0, 2)


# --- season planning: optimal against an independent solver ------------------------------


def _instance(rng: random.Random, spread: float = 0.5):
    days = [MONDAY + timedelta(days=i) for i in range(rng.randint(1, 4))]
    places = [Point(23 + rng.random() * spread, 113 + rng.random() * spread) for _ in range(4)]
    teams = []
    for i in range(rng.randint(1, 6)):
        busy = {rng.choice(days): rng.randint(0, 2)} if rng.random() < 0.3 else {}
        dates = (
            frozenset(rng.sample(days, rng.randint(1, len(days)))) if rng.random() < 0.2 else None
        )
        teams.append(
            PlanTeam(
                id=i + 1,
                base=Point(23 + rng.random() * spread, 113 + rng.random() * spread),
                size=rng.randint(1, 4),
                weekdays=frozenset(rng.sample(range(1, 8), rng.randint(1, 7))),
                radius_km=rng.choice([None, 15.0, 30.0, 60.0]),
                dates=dates,
                busy=busy,
            )
        )
    shifts = [
        # Shifts of one need share its place; a few are already full.
        PlanShift(
            id=100 + j,
            day=rng.choice(days),
            location=rng.choice(places),
            places=rng.choice([0, 1, 2, 3, 5]),
        )
        for j in range(rng.randint(1, 8))
    ]
    return teams, shifts


def _free(team: PlanTeam, day: date) -> int:
    if day.isoweekday() not in team.weekdays or (team.dates is not None and day not in team.dates):
        return 0
    return max(0, team.size - team.busy.get(day, 0))


def _metres(team: PlanTeam, shift: PlanShift) -> int | None:
    km = geodesic((team.base.lat, team.base.lng), (shift.location.lat, shift.location.lng)).km
    if team.radius_km is not None and km > team.radius_km:
        return None
    return round(km * 1000)


def _assignment_optimum(teams, shifts):
    """The expanded problem: one row per person a team has free on a day, one column per
    open place; a person fills at most one place (so at most one shift a day). Forbidden
    pairs cost 0 (= not assigned); allowed pairs cost metres - BIG, so the assignment
    fills the most places first, then travels least."""
    days = sorted({s.day for s in shifts})
    rows = [(t, d) for t in teams for d in days for _ in range(_free(t, d))]
    cols = [s for s in shifts for _ in range(s.places)]
    if not rows or not cols:
        return 0, 0
    cost = np.zeros((len(rows), len(cols)))
    for i, (team, day) in enumerate(rows):
        for j, shift in enumerate(cols):
            if shift.day == day and (m := _metres(team, shift)) is not None:
                cost[i, j] = m - BIG
    r, c = linear_sum_assignment(cost)
    used = [(i, j) for i, j in zip(r, c, strict=True) if cost[i, j] < 0]
    return len(used), int(round(sum(cost[i, j] + BIG for i, j in used)))


def _assert_feasible(teams, shifts, plan):
    by_team = {t.id: t for t in teams}
    by_shift = {s.id: s for s in shifts}
    per_shift = defaultdict(int)
    per_team_day = defaultdict(int)
    for b in plan.bookings:
        team, shift = by_team[b.team_id], by_shift[b.shift_id]
        assert b.people > 0 and b.day == shift.day
        assert _free(team, shift.day) > 0, "only on the team's available days"
        assert _metres(team, shift) is not None, "only within the team's radius"
        per_shift[shift.id] += b.people
        per_team_day[team.id, shift.day] += b.people
    for shift_id, people in per_shift.items():
        assert people <= by_shift[shift_id].places, "no shift over its places"
    for (team_id, day), people in per_team_day.items():
        # Never more people on a day than the team has free: each can be named once.
        assert people <= _free(by_team[team_id], day), "nobody in two places at once"
    assert plan.places_filled == sum(per_shift.values())
    assert plan.travel_m == sum(
        b.people * _metres(by_team[b.team_id], by_shift[b.shift_id]) for b in plan.bookings
    )


@pytest.mark.parametrize("seed", range(150))
def test_season_plan_is_optimal_and_feasible_on_random_instances(seed):
    rng = random.Random(seed)
    teams, shifts = _instance(rng, spread=rng.choice([0.3, 0.5, 1.5]))
    plan = plan_season(teams, shifts)
    _assert_feasible(teams, shifts, plan)
    assert (plan.places_filled, plan.travel_m) == _assignment_optimum(teams, shifts)
    assert plan.places_open == sum(s.places for s in shifts)


def test_the_plan_prefers_more_places_over_less_travel():
    near, far = Point(23.10, 113.30), Point(23.30, 113.30)
    day = MONDAY
    teams = [PlanTeam(1, Point(23.10, 113.30), size=1), PlanTeam(2, Point(23.12, 113.30), size=1)]
    shifts = [PlanShift(10, day, near, places=1), PlanShift(11, day, far, places=1)]
    plan = plan_season(teams, shifts)
    # The cheapest single move would send both teams near; filling both places wins.
    assert plan.places_filled == 2
    assert {(b.team_id, b.shift_id) for b in plan.bookings} == {(1, 10), (2, 11)}
    assert plan.travel_km == pytest.approx(geodesic((23.12, 113.30), (23.30, 113.30)).km, abs=0.001)


def test_a_team_never_sends_more_people_than_it_has_free_on_a_day():
    base = Point(23.1, 113.3)
    team = PlanTeam(1, base, size=3, busy={MONDAY: 1})
    shifts = [
        PlanShift(10, MONDAY, base, places=5),
        PlanShift(11, MONDAY, base, places=5),
        PlanShift(12, MONDAY + timedelta(days=1), base, places=5),
    ]
    plan = plan_season([team], shifts)
    assert sum(b.people for b in plan.bookings if b.day == MONDAY) == 2
    assert plan.filled_on(12) == 3
    assert plan.places_filled == 5


def test_teams_come_only_on_their_weekdays_and_within_their_radius():
    base = Point(23.1, 113.3)
    weekend_team = PlanTeam(1, base, size=4, weekdays=frozenset({6, 7}), radius_km=30)
    shifts = [
        PlanShift(10, MONDAY, base, places=4),  # a Monday
        PlanShift(11, MONDAY + timedelta(days=5), base, places=4),  # a Saturday
        PlanShift(12, MONDAY + timedelta(days=6), Point(23.5, 113.3), places=4),  # 44 km away
    ]
    plan = plan_season([weekend_team], shifts)
    assert [(b.shift_id, b.people) for b in plan.bookings] == [(11, 4)]
    unlimited = plan_season([weekend_team], shifts, respect_radius=False)
    assert {b.shift_id for b in unlimited.bookings} == {11, 12}


def test_the_plan_does_not_depend_on_the_order_of_its_input():
    for seed in range(20):
        rng = random.Random(seed)
        teams, shifts = _instance(rng)
        first = plan_season(teams, shifts)
        rng.shuffle(teams)
        rng.shuffle(shifts)
        assert plan_season(teams, shifts) == first
        assert plan_season(list(reversed(teams)), list(reversed(shifts))) == first


def test_duplicate_ids_are_refused():
    base = Point(23.1, 113.3)
    with pytest.raises(ValueError, match="team ids"):
        plan_season([PlanTeam(1, base, 2), PlanTeam(1, base, 3)], [])


# --- recommendations -------------------------------------------------------------------

TODAY = date(2025, 6, 30)
BASE = Point(23.1291, 113.2644)


def _point_at(km: float) -> Point:
    """A point due north of BASE at ``km`` geodesic kilometres."""
    destination = geodesic(kilometers=km).destination((BASE.lat, BASE.lng), bearing=0)
    return Point(destination.latitude, destination.longitude)


def _helper(**kwargs) -> Helper:
    values = {
        "id": 1,
        "name": "队",
        "kind": "team",
        "base": BASE,
        "radius_km": 10.0,
        "need_kinds": frozenset({"farm_help", "repair"}),
        "skills": frozenset({"electrician"}),
        "weekdays": frozenset({6, 7}),
        "size": 6,
    }
    return Helper(**(values | kwargs))


def _need(**kwargs) -> OpenNeed:
    values = {
        "id": 1,
        "kind": "repair",
        "title": "修电线",
        "location": _point_at(5),
        "urgency": 1,
        "published_on": TODAY - timedelta(days=30),
        "skills": frozenset({"electrician"}),
    }
    return OpenNeed(**(values | kwargs))


def test_the_radius_is_a_hard_edge():
    helper = _helper()
    inside, outside = _need(id=1, location=_point_at(9.9)), _need(id=2, location=_point_at(10.1))
    result = recommend_needs(helper, [inside, outside], TODAY)
    assert [m.need_id for m in result.matches] == [1]
    assert result.excluded == {Exclusion.DISTANCE: 1}


def test_repairs_need_every_required_skill_verified():
    helper = _helper(skills=frozenset({"electrician"}))
    assert screen(helper, _need(skills=frozenset({"electrician", "plumber"}))).exclusion is (
        Exclusion.SKILLS
    )
    assert screen(helper, _need(skills=frozenset({"electrician"}))).passed
    assert screen(helper, _need(skills=frozenset())).passed


def test_kind_and_weekday_filters():
    helper = _helper()
    assert screen(helper, _need(kind="micro_wish")).exclusion is Exclusion.KIND
    weekday_only = _need(kind="farm_help", skills=frozenset(), open_places={MONDAY: 5})
    assert screen(helper, weekday_only).exclusion is Exclusion.DAYS
    saturday = MONDAY + timedelta(days=5)
    full_saturday = _need(kind="farm_help", skills=frozenset(), open_places={saturday: 0})
    assert screen(helper, full_saturday).exclusion is Exclusion.DAYS
    open_saturday = _need(
        kind="farm_help", skills=frozenset(), open_places={MONDAY: 5, saturday: 3}
    )
    match = recommend_needs(helper, [open_saturday], TODAY).matches[0]
    assert match.days == (saturday,)
    assert match.places == 3  # a team of 6, three places open that day


def test_the_score_is_explained_and_adds_up():
    helper = _helper()
    need = _need(location=_point_at(5), urgency=3, published_on=TODAY - timedelta(days=30))
    match = recommend_needs(helper, [need], TODAY).matches[0]
    assert [f.name for f in match.factors] == ["distance", "skills", "urgency", "waiting"]
    assert match.factor("distance").points == pytest.approx(20.0, abs=0.1)  # half the radius
    assert match.factor("distance").measure == pytest.approx(5.0, abs=0.05)
    assert match.factor("skills").points == 20.0
    assert match.factor("urgency").points == 25.0  # critical
    assert match.factor("waiting").points == 7.5  # 30 of 60 days
    assert match.factor("waiting").measure == 30
    assert match.total == pytest.approx(sum(f.points for f in match.factors))
    assert all(0 <= f.points <= f.max_points for f in match.factors)


def test_recommendations_rank_by_score_then_distance_then_id():
    helper = _helper()
    a = _need(id=3, location=_point_at(2), urgency=1)
    b = _need(id=2, location=_point_at(2), urgency=1)  # same score and distance as a
    c = _need(id=1, location=_point_at(8), urgency=1)
    urgent = _need(id=4, location=_point_at(8), urgency=3)
    result = recommend_needs(helper, [a, c, urgent, b], TODAY)
    # a and b: 32 (2 of 10 km) + 20 + 8.3; urgent: 8 + 20 + 25; c: 8 + 20 + 8.3.
    assert [m.need_id for m in result.matches] == [2, 3, 4, 1]
    totals = [m.total for m in result.matches]
    assert totals == sorted(totals, reverse=True)
    assert [m.need_id for m in recommend_needs(helper, [b, a, c, urgent], TODAY).matches] == [
        m.need_id for m in result.matches
    ]
    assert len(recommend_needs(helper, [a, b, c, urgent], TODAY, limit=2)) == 2


def test_helpers_for_a_need_nearest_first_within_their_own_radius():
    need = _need(kind="repair", location=_point_at(5))
    near = _helper(id=1, base=_point_at(4), radius_km=10)
    far_but_willing = _helper(id=2, base=_point_at(30), radius_km=50)
    far_and_unwilling = _helper(id=3, base=_point_at(30), radius_km=20)
    unskilled = _helper(id=4, skills=frozenset())
    company = _helper(
        id=5, kind="company", need_kinds=frozenset({"micro_wish", "repair"}), base=_point_at(6)
    )
    result = recommend_helpers(
        need, [far_and_unwilling, unskilled, far_but_willing, near, company], TODAY
    )
    assert [m.helper_id for m in result.matches] == [1, 5, 2]
    assert result.excluded == {Exclusion.DISTANCE: 1, Exclusion.SKILLS: 1}
    # Urgency and waiting are the need's: the same contribution for every helper.
    assert len({m.factor("urgency").points for m in result.matches}) == 1


def test_the_engine_is_pure_python_without_flask_or_the_database():
    code = (
        "import sys, matching, matching.plan, matching.recommend, matching.flow\n"
        "bad = [m for m in ('flask', 'sqlalchemy', 'app') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_equal_scores_go_to_the_neediest_household_first():
    from datetime import date

    from matching.geo import Point
    from matching.recommend import Helper, OpenNeed, recommend_needs

    base = Point(23.13, 113.35)
    helper = Helper(1, "队", "team", base, 50, frozenset({"micro_wish"}))
    twins = [
        OpenNeed(n, "micro_wish", "同", base, 1, date(2026, 1, 1), priority=p)
        for n, p in ((1, -1), (2, 2), (3, 0))
    ]
    picked = recommend_needs(helper, twins, date(2026, 1, 10))
    assert [m.need_id for m in picked.matches] == [2, 3, 1]
