"""Points for confirmed help: an append-only ledger, leaderboards and the points shop."""
