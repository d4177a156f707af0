"""Matching engine: pure Python, no Flask. Takes plain data, returns plain data.

* ``matching.recommend``: explained recommendations, both ways (helper -> needs,
  need -> helpers), with hard filters.
* ``matching.plan``: season planning for farm help as an exact min-cost flow.
* ``matching.flow``: the min-cost max-flow solver itself.
"""

from matching.geo import Point, distance_km
from matching.plan import PlannedBooking, PlanShift, PlanTeam, SeasonPlan, plan_season
from matching.recommend import (
    Exclusion,
    Factor,
    Helper,
    Match,
    OpenNeed,
    Recommendations,
    recommend_helpers,
    recommend_needs,
)

__all__ = [
    "Exclusion",
    "Factor",
    "Helper",
    "Match",
    "OpenNeed",
    "PlanShift",
    "PlanTeam",
    "PlannedBooking",
    "Point",
    "Recommendations",
    "SeasonPlan",
    "distance_km",
    "plan_season",
    "recommend_helpers",
    "recommend_needs",
]
