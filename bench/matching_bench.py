"""Season planning at provincial scale: the min-cost-flow planner's time and optimality.

Generates 1,000 volunteer teams and 5,000 farm-help shifts (1,000 needs with 5 shifts
each over a 60-day season) around Guangdong's district centres (``--quick``: 100 teams,
500 shifts), plans them with ``matching.plan.plan_season`` and checks the plan:

* **optimality**: the same network (every team-day -> shift arc the planner may use,
  with the same integer costs) is solved as a linear programme by HiGHS
  (``scipy.optimize.linprog``): first the most places, then the least person-metres at
  that many. The network matrix is totally unimodular, so the LP optimum is the integer
  optimum; the gaps reported should be 0.
* **feasibility**: no shift over its places, no team over its free people on a day, only
  available days, only within radius (re-checked from the plan's own output).
* for scale, the open places (a trivial upper bound) and what the obvious heuristic
  (nearest pairs first) would fill and travel.

Pure Python and numpy/scipy; no database. ``python -m bench --only matching
[--quick] [--size N]`` (``--size N``: N teams and 5N shifts).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

TEAMS, SHIFTS = 1_000, 5_000
QUICK_TEAMS, QUICK_SHIFTS = 100, 500
SHIFTS_PER_NEED = 5
SEASON_DAYS = 60
SEASON_START = date(2025, 3, 3)


def generate(n_teams: int, n_shifts: int, seed: int = 5) -> tuple[list[Any], list[Any]]:
    """Teams and shifts scattered around the district centres (people live near towns)."""
    from app.places import gazetteer
    from matching.geo import Point
    from matching.plan import PlanShift, PlanTeam

    rng = random.Random(seed)  # noqa: S311 (benchmark data, not security)
    districts = gazetteer.districts()

    def near_a_town() -> Point:
        d = rng.choice(districts)
        return Point(round(d.lat + rng.gauss(0, 0.12), 5), round(d.lng + rng.gauss(0, 0.12), 5))

    days = [SEASON_START + timedelta(days=i) for i in range(SEASON_DAYS)]
    teams: list[PlanTeam] = []
    for i in range(n_teams):
        busy = {rng.choice(days): rng.randint(1, 3)} if rng.random() < 0.2 else {}
        teams.append(
            PlanTeam(
                id=i + 1,
                base=near_a_town(),
                size=rng.randint(2, 12),
                weekdays=frozenset(rng.sample(range(1, 8), rng.randint(1, 4))),
                radius_km=float(rng.choice([20, 30, 50, 80])),
                busy=busy,
            )
        )
    shifts: list[PlanShift] = []
    for n in range(n_shifts // SHIFTS_PER_NEED):
        place = near_a_town()
        first = rng.randrange(SEASON_DAYS - 10)
        for _ in range(SHIFTS_PER_NEED):
            shifts.append(
                PlanShift(
                    id=len(shifts) + 1,
                    day=days[first + rng.randrange(10)],
                    location=place,
                    places=rng.randint(2, 15),
                    need_id=n + 1,
                )
            )
    return teams, shifts


def lp_optimum(candidates: list[Any]) -> tuple[int, int, float]:
    """(places, person-metres, seconds) of the same network solved as an LP by HiGHS:
    maximum flow first, then least cost at that flow."""
    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, vstack

    from matching.plan import metres

    started = time.perf_counter()
    team_day: dict[tuple[int, date], int] = {}
    shift_index: dict[int, int] = {}
    free: list[int] = []
    places: list[int] = []
    ends: list[tuple[int, int]] = []  # (team-day, shift) of each arc
    upper: list[int] = []
    cost: list[int] = []
    for team, shift, km in candidates:
        key = (team.id, shift.day)
        if key not in team_day:
            team_day[key] = len(team_day)
            free.append(team.free_on(shift.day))
        if shift.id not in shift_index:
            shift_index[shift.id] = len(shift_index)
            places.append(shift.places)
        ends.append((team_day[key], shift_index[shift.id]))
        upper.append(min(team.free_on(shift.day), shift.places))
        cost.append(metres(km))
    n_arcs = len(candidates)
    if n_arcs == 0:
        return 0, 0, time.perf_counter() - started
    # One row per team-day (people it has free), then one per shift (its places).
    rows = [td for td, _ in ends] + [len(team_day) + sh for _, sh in ends]
    cols = list(range(n_arcs)) * 2
    a_ub = coo_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(team_day) + len(shift_index), n_arcs)
    ).tocsr()
    b_ub = np.array(free + places, dtype=float)
    bounds = np.column_stack([np.zeros(n_arcs), np.array(upper, dtype=float)])
    most = linprog(-np.ones(n_arcs), A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if most.status != 0:
        raise RuntimeError(f"HiGHS failed on the flow LP: {most.message}")
    flow = round(-most.fun)
    at_least = vstack([a_ub, coo_matrix(-np.ones((1, n_arcs)))]).tocsr()
    cheapest = linprog(
        np.array(cost, dtype=float),
        A_ub=at_least,
        b_ub=np.append(b_ub, -flow),
        bounds=bounds,
        method="highs",
    )
    if cheapest.status != 0:
        raise RuntimeError(f"HiGHS failed on the cost LP: {cheapest.message}")
    return flow, round(cheapest.fun), time.perf_counter() - started


def greedy(candidates: list[Any]) -> tuple[int, int]:
    """The obvious heuristic, for comparison: nearest pairs first, as many as fit."""
    from matching.plan import metres

    free: dict[tuple[int, date], int] = {}
    left: dict[int, int] = {}
    filled = travel = 0
    for team, shift, km in sorted(candidates, key=lambda c: (metres(c[2]), c[0].id, c[1].id)):
        key = (team.id, shift.day)
        people = min(free.setdefault(key, team.free_on(shift.day)),
                     left.setdefault(shift.id, shift.places))  # fmt: skip
        if people > 0:
            free[key] -= people
            left[shift.id] -= people
            filled += people
            travel += people * metres(km)
    return filled, travel


def feasibility_problems(teams: list[Any], shifts: list[Any], plan: Any) -> list[str]:
    """Every broken rule in the plan (an empty list when it is feasible)."""
    from matching.plan import reach_km

    by_team = {t.id: t for t in teams}
    by_shift = {s.id: s for s in shifts}
    per_shift: dict[int, int] = defaultdict(int)
    per_team_day: dict[tuple[int, date], int] = defaultdict(int)
    problems = []
    for b in plan.bookings:
        team, shift = by_team[b.team_id], by_shift[b.shift_id]
        if reach_km(team, shift) is None:
            problems.append(f"team {team.id} cannot serve shift {shift.id}")
        per_shift[shift.id] += b.people
        per_team_day[team.id, shift.day] += b.people
    problems += [f"shift {s} over its places" for s, n in per_shift.items()
                 if n > by_shift[s].places]  # fmt: skip
    problems += [f"team {t} over its people on {d}" for (t, d), n in per_team_day.items()
                 if n > by_team[t].free_on(d)]  # fmt: skip
    return problems


def run(args: Any) -> list[dict[str, Any]]:
    from matching.plan import candidate_arcs, plan_season

    quick = bool(getattr(args, "quick", False))
    n_teams, n_shifts = (QUICK_TEAMS, QUICK_SHIFTS) if quick else (TEAMS, SHIFTS)
    size = getattr(args, "size", None)
    if size:  # --size N: N teams and 5N shifts
        n_teams, n_shifts = size, size * SHIFTS_PER_NEED
    teams, shifts = generate(n_teams, n_shifts)

    started = time.perf_counter()
    plan = plan_season(teams, shifts)
    total = time.perf_counter() - started
    stats = plan.stats

    candidates = candidate_arcs(teams, shifts)
    flow, cost, lp_seconds = lp_optimum(candidates)
    greedy_places, greedy_travel = greedy(candidates)
    problems = feasibility_problems(teams, shifts, plan)
    return [
        {
            "bench": "season_plan",
            "teams": n_teams,
            "shifts": n_shifts,
            "places_open": plan.places_open,
            "filled": plan.places_filled,
            "lp_filled": flow,
            "greedy_filled": greedy_places,
            "travel_km": round(plan.travel_km, 1),
            "lp_travel_km": round(cost / 1000, 1),
            "greedy_travel_km": round(greedy_travel / 1000, 1),
            "gap_places": flow - plan.places_filled,
            "gap_travel_m": plan.travel_m - cost,
            "optimal": flow == plan.places_filled and cost == plan.travel_m,
            "feasible": not problems,
            "arcs": stats.arcs,
            "phases": stats.phases,
            "distances_s": round(stats.seconds_distances, 2),
            "flow_s": round(stats.seconds_flow, 2),
            "plan_s": round(total, 2),
            "lp_s": round(lp_seconds, 2),
        }
    ]


if __name__ == "__main__":  # python -m bench.matching_bench [--quick]
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    for row in run(parser.parse_args(sys.argv[1:])):
        print(row)
