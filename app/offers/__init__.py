"""Offers: organisations offer meals, goods and service slots; people book them and pick up
with a code that tells the provider nothing about who they are (Futian's M餐)."""
