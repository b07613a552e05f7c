"""antoan_localstack: Kafka, Redis and the Antoan services on loopback, without Docker.

``antoan_localstack.stack`` starts and stops the processes (used by ``make up``/``down``/``demo``
and by the test fixtures), ``antoan_localstack.secrets`` makes the local secrets file,
``antoan_localstack.simulate`` drives a simulated province through the ingest API.
"""
