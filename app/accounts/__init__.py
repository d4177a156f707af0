"""People, their roles and the organisations (companies, volunteer teams) they belong to."""
