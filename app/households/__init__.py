"""The caseworker's side of the loop: areas below the district, household circumstances
and members, visit rules, visits, the explained need score and household lights."""
