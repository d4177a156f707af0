"""Village agents (村级代办) and neighbour helpers (邻里帮): applications they take for
households, landing in the caseworker's intake queue."""
