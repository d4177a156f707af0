"""Claims on needs, farm-help shifts, donations in kind, delivery, confirmation, follow-up."""
