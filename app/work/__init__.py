"""The caseworker's desk: every /work page, gathering what the domains hold."""
