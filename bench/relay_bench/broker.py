"""The raw broker's produce → consume latency, measured in the same run as the end-to-end figures."""

import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from relay_bench.stats import LatencySummary



async def measure_broker(bootstrap_servers: str, *, samples: int = 1000) -> LatencySummary:
    """Send one message at a time (acks=all) and time until a consumer in a group receives it."""
    topic = f"bench.raw-latency.{time.time_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=False)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers, group_id=f"bench-{time.time_ns()}",
                                auto_offset_reset="earliest", fetch_max_wait_ms=50)
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait(topic, b"warm-up")
        await consumer.getone()
        latencies = []
        for index in range(samples):
            started = time.perf_counter()
            await producer.send_and_wait(topic, str(index).encode())
            message = await consumer.getone()
            assert message.value == str(index).encode()
            latencies.append(time.perf_counter() - started)
        return LatencySummary.of(latencies)
    finally:
        await consumer.stop()
        await producer.stop()
