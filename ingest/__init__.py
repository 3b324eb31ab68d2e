"""What sensors send, and the two ways it arrives.

- `ingest.http`: the FastAPI app served by uvicorn (inside `sensorbot run`, and on Lambda) —
  ranchdata's v1/v2 routes, v3, the Ruuvi Gateway and Shelly routes, health.
- `ingest.mqtt`: the MQTT subscriber for off-the-shelf devices.
- Beside them, shared by both: payload formats (`payloads`), validation of ids, values and
  times (`validation`), the RuuviTag decoder (`ruuvi`) and units set on first sight (`units`).
"""
