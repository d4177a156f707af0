"""Cash donations through Stripe Checkout: pledges toward a need, receipts, refunds."""
