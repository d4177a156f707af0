"""In-site notifications and email, sent only after the transaction commits."""
