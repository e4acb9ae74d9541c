"""The HTTP gateway: public REST and Stripe webhooks in, gRPC to the services out. No database."""
