"""Provider webhooks: events a vendor pushes, verified, routed to connections, turned into syncs."""
