"""What the platform tells operators: Prometheus metrics, structured logs, OpenTelemetry traces."""
