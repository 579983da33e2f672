"""asyncua (PyPI, 2.x) as the operator of the monitor's alarms, for tests/monitor.rs.

Usage: python3 monitor_alarms.py URL USER PASSWORD CONDITION_NAME

Subscribes to AlarmConditionType events on the Server object and prints READY; waits (up
to 60 s) for an active event of CONDITION_NAME, acknowledges it with the comment
"checked" and waits for the event saying it is acknowledged. Prints one JSON object on the
last line; the Rust test asserts on it.
"""

import asyncio
import json
import sys

from asyncua import Client, ua

URL, USER, PASSWORD, NAME = sys.argv[1:5]


class Collector:
    def __init__(self):
        self.events = []

    def event_notification(self, event):
        self.events.append(event)


def field(event, name):
    return getattr(event, name, None)


async def wait_for(predicate, seconds):
    for _ in range(int(seconds * 20)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


def describe(e):
    message = field(e, "Message")
    return {
        "condition_name": field(e, "ConditionName"),
        "source_name": field(e, "SourceName"),
        "message": message.Text if message else None,
        "severity": field(e, "Severity"),
        "active": field(e, "ActiveState/Id"),
        "acked": field(e, "AckedState/Id"),
    }


async def main():
    res = {}
    client = Client(URL, timeout=10)
    client.set_user(USER)
    client.set_password(PASSWORD)
    async with client:
        events = Collector()
        sub = await client.create_subscription(50, events)
        # no where clause: async-opcua 0.19 does not match asyncua's EventType InList filter
        await sub.subscribe_events(
            client.nodes.server, ua.ObjectIds.AlarmConditionType, queuesize=100, where_clause_generation=False
        )
        print("READY", flush=True)

        def active():
            return next(
                (e for e in events.events if field(e, "ConditionName") == NAME and field(e, "ActiveState/Id")),
                None,
            )

        res["raised"] = await wait_for(lambda: active() is not None, 60.0)
        first = active()
        if first is not None:
            condition_id = field(first, "NodeId")
            if condition_id is None:
                source = client.get_node(field(first, "SourceNode"))
                [condition] = await source.get_referenced_nodes(refs=ua.ObjectIds.HasCondition)
                condition_id = condition.nodeid
            before = len(events.events)
            try:
                await client.get_node(condition_id).call_method(
                    "0:Acknowledge",
                    ua.Variant(field(first, "EventId"), ua.VariantType.ByteString),
                    ua.LocalizedText("checked"),
                )
                res["ack"] = "Good"
            except Exception as e:  # noqa: BLE001 - recorded, the test decides
                res["ack"] = type(e).__name__
            res["acked_event"] = await wait_for(
                lambda: any(
                    field(e, "ConditionName") == NAME and field(e, "AckedState/Id") for e in events.events[before:]
                ),
                30.0,
            )
        res["events"] = [describe(e) for e in events.events]
        await sub.delete()
    print(json.dumps(res), flush=True)


asyncio.run(main())
