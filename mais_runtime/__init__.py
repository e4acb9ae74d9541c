"""Cross-cutting code every MAIS process shares: settings, errors, database access with tenant
scope, the gRPC server and client runtime, telemetry and logging. Nothing context-specific."""
