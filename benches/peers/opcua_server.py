"""The OPC UA benchmark's address space served by Python asyncua (PyPI, 2.x), for
benches/benches/opcua.rs.

Usage: python3 opcua_server.py PORT N

The same layout, node ids and values as `examples::opcua_demo` (the server `opcua-demo`
serves): Objects/Demo/Area 001../dev00001../{e_import, p_total, u_l1_n, i_l1, f, t_supply,
t_return, flow, v_total, p_heat} as Double variables `ns=<urn:emkit:opcua-bridge:points>;
s=dev00001/e_import`, N of them, plus a `t_set` per device (60.0, not updated). At each whole
second every one of the N variables gets the value of the same formula as
`DemoSite::value`, with that second's time as its source timestamp. Anonymous access, None
security. Prints `ready opc.tcp://127.0.0.1:PORT/ N` on stdout once serving; starts the
updates when it reads the line `go` on standard input (after the client has subscribed, so
that subscribing is not slowed by the updates) and runs until killed or until its standard
input closes.
"""

import asyncio
import datetime
import logging
import math
import sys
import time

from asyncua import Server, ua

PORT, N = int(sys.argv[1]), int(sys.argv[2])
NS_URI = "urn:emkit:opcua-bridge:points"
DEVICES_PER_AREA = 50
MEASURES = [
    ("e_import", ("rising", 12_000.0, 40.0)),
    ("p_total", ("wave", 40_000.0, 8_000.0)),
    ("u_l1_n", ("wave", 230.0, 3.0)),
    ("i_l1", ("wave", 58.0, 12.0)),
    ("f", ("wave", 50.0, 0.05)),
    ("t_supply", ("wave", 70.0, 4.0)),
    ("t_return", ("wave", 45.0, 3.0)),
    ("flow", ("wave", 2.5, 0.6)),
    ("v_total", ("rising", 3_400.0, 2.5)),
    ("p_heat", ("wave", 70.0, 15.0)),
]
EPOCH_2026 = 1_767_225_600.0
UNIX_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def value(index, millis):
    """`DemoSite::value`: the same formula, the time in whole milliseconds since 1970."""
    kind, a, b = MEASURES[index % len(MEASURES)][1]
    device = float(index // len(MEASURES))
    secs = millis / 1000.0
    if kind == "rising":
        hours = (secs - EPOCH_2026) / 3600.0
        rate = b * (1.0 + (device % 7.0) / 10.0)
        return a + device * 10.0 + rate * hours
    period = 47.0 + float(index % 29)
    phase = float(index % 360) / 360.0
    return a + b * math.sin(math.tau * (secs / period + phase))


async def build(server, ns):
    demo = await server.nodes.objects.add_folder(ua.NodeId("#site", ns), ua.QualifiedName("Demo", ns))
    devices = -(-N // len(MEASURES))
    ids = []
    area = None
    for d in range(devices):
        if d % DEVICES_PER_AREA == 0:
            name = f"Area {d // DEVICES_PER_AREA + 1:03}"
            area = await demo.add_folder(ua.NodeId(f"#area/{name}", ns), ua.QualifiedName(name, ns))
        dev = f"dev{d + 1:05}"
        folder = await area.add_folder(ua.NodeId(dev, ns), ua.QualifiedName(dev, ns))
        first = d * len(MEASURES)
        for service, _ in MEASURES[: max(0, N - first)]:
            node = await folder.add_variable(
                ua.NodeId(f"{dev}/{service}", ns), ua.QualifiedName(service, ns), 0.0, ua.VariantType.Double
            )
            ids.append(node.nodeid)
        await folder.add_variable(ua.NodeId(f"{dev}/t_set", ns), ua.QualifiedName("t_set", ns), 60.0, ua.VariantType.Double)
    return ids


async def feed(server, ids):
    while True:
        await asyncio.sleep(1.0 - (time.time() % 1.0))
        millis = int(time.time() * 1000)
        stamp = UNIX_EPOCH + datetime.timedelta(milliseconds=millis)
        for i, nid in enumerate(ids):
            dv = ua.DataValue(
                ua.Variant(value(i, millis), ua.VariantType.Double),
                SourceTimestamp=stamp,
                ServerTimestamp=stamp,
            )
            await server.write_attribute_value(nid, dv)


async def stdin_line():
    """The next line of standard input ("" at its end)."""
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def main():
    logging.basicConfig(level=logging.WARNING)
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{PORT}/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace(NS_URI)
    ids = await build(server, ns)
    async with server:
        print(f"ready opc.tcp://127.0.0.1:{PORT}/ {len(ids)}", flush=True)
        while (line := await stdin_line()) and line.strip() != "go":
            pass
        task = asyncio.create_task(feed(server, ids))
        while await stdin_line():
            pass
        task.cancel()


asyncio.run(main())
