"""What every Relay service is built on: settings, storage, Kafka, outbox, auth, metrics, health, logs."""
