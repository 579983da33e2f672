"""asyncua (PyPI, 2.x) as an OPC UA client of the monitor, for tests/monitor.rs.

Usage: python3 monitor_client.py URL POINT...

Connects anonymously over the None endpoint and prints one JSON object on stdout: for each
point (`device/service`), its value, status and engineering unit's display name.
"""

import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone

from asyncua import Client

URL, POINTS = sys.argv[1], sys.argv[2:]
NS_URI = "urn:emkit:opcua-bridge:points"


async def main():
    out = {}
    async with Client(URL, timeout=10) as client:
        ns = await client.get_namespace_index(NS_URI)
        for name in POINTS:
            node = client.get_node(f"ns={ns};s={name}")
            dv = await node.read_data_value()
            eu = await (await node.get_child("0:EngineeringUnits")).read_value()
            now = datetime.now(timezone.utc)
            history = await node.read_raw_history(
                starttime=now - timedelta(hours=1), endtime=now + timedelta(minutes=1)
            )
            out[name] = {
                "value": dv.Value.Value,
                "status": dv.StatusCode.name,
                "unit": eu.DisplayName.Text,
                "history": [h.Value.Value for h in history],
            }
    print(json.dumps(out))


asyncio.run(main())
