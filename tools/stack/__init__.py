"""The local platform: embedded PostgreSQL, the four services, the gateway, Envoy and the Stripe
sandbox as supervised processes. `make run` and the end-to-end tests both start it from here."""
