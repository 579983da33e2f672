"""asyncua (PyPI, 2.x) as the client of the opcua-bridge server's alarms and history, for
tests/asyncua_events_history.rs.

Usage: python3 asyncua_events.py URL NAMESPACE_URI T0_UNIX_SECONDS STEP_SECONDS COUNT

1. As the operator, subscribes to AlarmConditionType events on the Server object and on
   the site folder, then prints the line READY: the Rust test publishes its alarms on it.
2. Waits for them; acknowledges the first as the read-only user (refused), with an
   unknown EventId (refused), as the operator (accepted: an event with AckedState true
   follows), and once more (already acknowledged).
3. As the read-only user, reads the raw history of main/e_import (COUNT values from T0,
   one every STEP seconds): all at once, in pages of 10 through continuation points,
   newest first; and of an unknown node and of a point whose source fails.

Prints one JSON object on the last line; the Rust test asserts on it. A step that raises
records the exception's class name (asyncua names them after the OPC UA status code).
"""

import asyncio
import json
import sys
import traceback
from datetime import datetime, timedelta, timezone

from asyncua import Client, ua

URL, NS_URI = sys.argv[1:3]
T0 = datetime.fromtimestamp(int(sys.argv[3]), tz=timezone.utc)
STEP = timedelta(seconds=int(sys.argv[4]))
COUNT = int(sys.argv[5])


def err_name(e):
    return type(e).__name__


def iso(t):
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat()


def client_as(user, password):
    client = Client(URL, timeout=10)
    client.set_user(user)
    client.set_password(password)
    return client


class Collector:
    def __init__(self):
        self.events = []

    def event_notification(self, event):
        self.events.append(event)


def field(event, name):
    return getattr(event, name, None)


def describe_event(e):
    message = field(e, "Message")
    comment = field(e, "Comment")
    condition = field(e, "NodeId")
    return {
        "event_id": (field(e, "EventId") or b"").hex(),
        "event_type": field(e, "EventType").to_string() if field(e, "EventType") else None,
        "source_node": field(e, "SourceNode").to_string() if field(e, "SourceNode") else None,
        "source_name": field(e, "SourceName"),
        "time": iso(field(e, "Time")),
        "receive_time": iso(field(e, "ReceiveTime")),
        "message": message.Text if message else None,
        "severity": field(e, "Severity"),
        "condition_name": field(e, "ConditionName"),
        "condition_id": condition.to_string() if condition else None,
        "retain": field(e, "Retain"),
        "active": field(e, "ActiveState/Id"),
        "active_text": field(e, "ActiveState").Text if field(e, "ActiveState") else None,
        "acked": field(e, "AckedState/Id"),
        "comment": comment.Text if comment else None,
        "client_user_id": field(e, "ClientUserId"),
    }


async def wait_for(predicate, seconds=10.0):
    for _ in range(int(seconds * 20)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def acknowledge(client, condition_id, event_id, comment):
    node = client.get_node(condition_id)
    try:
        await node.call_method(
            "0:Acknowledge",
            ua.Variant(event_id, ua.VariantType.ByteString),
            ua.LocalizedText(comment),
        )
        return "Good"
    except Exception as e:  # noqa: BLE001 - recorded, the test decides
        return err_name(e)


async def alarms(res, operator, reader):
    server_events = Collector()
    site_events = Collector()
    ns = await operator.get_namespace_index(NS_URI)
    site = await operator.nodes.objects.get_child([f"{ns}:Plant"])
    # The fields of AlarmConditionType, without asyncua's where clause (EventType InList
    # [subtypes]): async-opcua 0.19 compares only numbers and booleans in Equals/InList, so
    # that clause never matches there (see the README).
    # A queue of more than one event: async-opcua revises a requested 0 to 1, which keeps only
    # the last event of a publishing interval.
    sub_server = await operator.create_subscription(50, server_events)
    await sub_server.subscribe_events(
        operator.nodes.server, ua.ObjectIds.AlarmConditionType, queuesize=100, where_clause_generation=False
    )
    sub_site = await operator.create_subscription(50, site_events)
    await sub_site.subscribe_events(
        site, ua.ObjectIds.AlarmConditionType, queuesize=100, where_clause_generation=False
    )
    print("READY", flush=True)

    res["raised_received"] = await wait_for(lambda: len(server_events.events) >= 2)
    await wait_for(lambda: len(site_events.events) >= 2, 2.0)
    res["server_events"] = [describe_event(e) for e in server_events.events]
    res["site_events"] = [describe_event(e) for e in site_events.events]
    first = next((e for e in server_events.events if field(e, "ConditionName") == "t_high"), None)
    if first is None:
        return
    condition_id = field(first, "NodeId")
    if condition_id is None:
        # Without the ConditionId field, the condition hangs off its source with HasCondition.
        source = operator.get_node(field(first, "SourceNode"))
        [condition_id] = await source.get_referenced_nodes(refs=ua.ObjectIds.HasCondition)
        condition_id = condition_id.nodeid
    event_id = field(first, "EventId")

    res["ack_by_reader"] = await acknowledge(reader, condition_id, event_id, "reader tries")
    res["ack_unknown_event_id"] = await acknowledge(operator, condition_id, b"\x00" * 16, "x")
    before = len(server_events.events)
    res["ack_by_operator"] = await acknowledge(operator, condition_id, event_id, "pump checked")
    await wait_for(lambda: len(server_events.events) > before)
    res["after_ack"] = [describe_event(e) for e in server_events.events[before:]]
    res["ack_again"] = await acknowledge(operator, condition_id, event_id, "again")
    # The condition node holds the latest state too.
    condition = reader.get_node(condition_id)
    res["condition_node"] = {
        "type_definition": (await condition.read_type_definition()).Identifier,
        "acked_id": await (await condition.get_child(["0:AckedState", "0:Id"])).read_value(),
        "active_id": await (await condition.get_child(["0:ActiveState", "0:Id"])).read_value(),
        "comment": (await (await condition.get_child("0:Comment")).read_value()).Text,
        "severity": await (await condition.get_child("0:Severity")).read_value(),
        "retain": await (await condition.get_child("0:Retain")).read_value(),
    }
    await sub_server.delete()
    await sub_site.delete()


def describe_values(dvs):
    return [
        {
            "value": dv.Value.Value if dv.Value is not None else None,
            "status": dv.StatusCode.name,
            "source_time": iso(dv.SourceTimestamp),
        }
        for dv in dvs
    ]


def details(start, end, n):
    d = ua.ReadRawModifiedDetails()
    d.IsReadModified = False
    d.StartTime = start
    d.EndTime = end
    d.NumValuesPerNode = n
    d.ReturnBounds = False
    return d


async def read_pages(node, d):
    """Every page of a raw read, following continuation points; (page sizes, values, status)."""
    sizes, values, cp = [], [], None
    for _ in range(100):
        r = await node.history_read(d, cp)
        if r.StatusCode.is_bad():
            return sizes, values, r.StatusCode.name
        page = r.HistoryData.DataValues if r.HistoryData else []
        sizes.append(len(page))
        values.extend(page)
        cp = r.ContinuationPoint
        if not cp:
            break
    return sizes, describe_values(values), "Good"


async def history(res, reader):
    ns = await reader.get_namespace_index(NS_URI)
    node = reader.get_node(f"ns={ns};s=main/e_import")
    res["historizing"] = await node.read_attribute(ua.AttributeIds.Historizing)
    res["historizing"] = res["historizing"].Value.Value
    res["access_level"] = (await node.read_attribute(ua.AttributeIds.AccessLevel)).Value.Value
    res["user_access_level"] = (await node.read_attribute(ua.AttributeIds.UserAccessLevel)).Value.Value
    end = T0 + STEP * COUNT

    res["history_all"] = describe_values(await node.read_raw_history(T0, end, 0, False))
    sizes, values, status = await read_pages(node, details(T0, end, 10))
    res["history_paged"] = {"sizes": sizes, "values": values, "status": status}
    sizes, values, status = await read_pages(node, details(T0 + STEP * (COUNT - 1), T0, 0))
    res["history_newest_first"] = {"sizes": sizes, "values": values, "status": status}

    unknown = reader.get_node(f"ns={ns};s=main/no_such_point")
    r = await unknown.history_read(details(T0, end, 0))
    res["history_unknown_node"] = r.StatusCode.name
    failing = reader.get_node(f"ns={ns};s=main/t_supply")
    r = await failing.history_read(details(T0, end, 0))
    res["history_failing_source"] = r.StatusCode.name
    no_history = reader.get_node(f"ns={ns};s=main/t_set")
    r = await no_history.history_read(details(T0, end, 0))
    res["history_no_history"] = r.StatusCode.name
    # A continuation point belongs to the node it was given for.
    first = await node.history_read(details(T0, end, 10))
    r = await no_history.history_read(details(T0, end, 10), first.ContinuationPoint)
    res["history_foreign_continuation_point"] = r.StatusCode.name


async def main():
    res = {}
    operator = client_as("operator", "operator-pw")
    reader = client_as("reader", "reader-pw")
    try:
        async with operator, reader:
            for step in (alarms, history):
                try:
                    if step is alarms:
                        await alarms(res, operator, reader)
                    else:
                        await history(res, reader)
                except Exception as e:  # noqa: BLE001
                    where = traceback.extract_tb(e.__traceback__)
                    line = next(
                        (f"line {f.lineno}: {f.line}" for f in reversed(where) if f.filename == __file__), ""
                    )
                    res[f"{step.__name__}_failed"] = f"{err_name(e)}: {e} ({line})"
    except Exception as e:  # noqa: BLE001
        res["connect_failed"] = f"{err_name(e)}: {e}"
    print("READY", flush=True)  # in case the alarms step failed before saying it
    print(json.dumps(res, default=str), flush=True)


asyncio.run(main())
