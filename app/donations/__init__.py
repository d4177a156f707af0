"""In-kind donations and the district resource pool."""
