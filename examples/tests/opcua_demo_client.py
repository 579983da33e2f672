"""asyncua (PyPI, 2.x) as the client of the `opcua-demo` command, for tests/opcua_demo.rs.

Usage: python3 opcua_demo_client.py URL USER:PASSWORD OPERATOR:PASSWORD

Connects over the None endpoint, records what it saw and prints one JSON object on stdout;
the Rust test asserts on it. A step that raises records the exception's class name (asyncua
names them after the OPC UA status code).
"""

import asyncio
import json
import sys

from asyncua import Client, ua

URL, USER, OPERATOR = sys.argv[1:4]
NS_URI = "urn:emkit:opcua-bridge:points"


def err_name(e):
    return type(e).__name__


def client_for(credentials):
    name, password = credentials.split(":", 1)
    client = Client(URL, timeout=10)
    client.set_user(name)
    client.set_password(password)
    return client


async def variables_under(node, out):
    """Every variable in the bridge's namespace below `node` (not the properties)."""
    for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
        if child.nodeid.NamespaceIndex == 0:
            continue
        cls = await child.read_node_class()
        if cls == ua.NodeClass.Variable:
            qn = await child.read_browse_name()
            if qn.NamespaceIndex != 0:
                out.append(child.nodeid.Identifier)
        else:
            await variables_under(child, out)


async def write(client, ns, name, value):
    node = client.get_node(f"ns={ns};s={name}")
    try:
        await node.write_value(ua.DataValue(ua.Variant(value, ua.VariantType.Double)))
        return "Good"
    except Exception as e:  # noqa: BLE001 - recorded, the test decides
        return err_name(e)


async def read(client, ns, name):
    dv = await client.get_node(f"ns={ns};s={name}").read_data_value()
    return {
        "value": dv.Value.Value,
        "status": dv.StatusCode.name,
        "source_time": dv.SourceTimestamp.isoformat() if dv.SourceTimestamp else None,
    }


async def as_user(res):
    async with client_for(USER) as client:
        ns = await client.get_namespace_index(NS_URI)
        res["ns"] = ns
        site = await client.nodes.objects.get_child([f"{ns}:Demo"])
        names = []
        await variables_under(site, names)
        res["variables"] = sorted(names)
        eu = await (await client.get_node(f"ns={ns};s=dev00001/u_l1_n").get_child("0:EngineeringUnits")).read_value()
        res["u_unit"] = {"display_name": eu.DisplayName.Text, "unit_id": eu.UnitId}
        eu = await (await client.get_node(f"ns={ns};s=dev00001/e_import").get_child("0:EngineeringUnits")).read_value()
        res["e_unit"] = eu.DisplayName.Text
        rng = await (await client.get_node(f"ns={ns};s=dev00001/t_set").get_child("0:EURange")).read_value()
        res["t_set_range"] = [rng.Low, rng.High]
        first = await read(client, ns, "dev00002/p_total")
        e_first = await read(client, ns, "dev00001/e_import")
        await asyncio.sleep(2.5)
        res["p_total"] = [first, await read(client, ns, "dev00002/p_total")]
        res["e_import"] = [e_first, await read(client, ns, "dev00001/e_import")]
        res["user_write"] = await write(client, ns, "dev00001/t_set", 70.0)


async def as_operator(res):
    async with client_for(OPERATOR) as client:
        ns = await client.get_namespace_index(NS_URI)
        res["operator_write"] = await write(client, ns, "dev00001/t_set", 65.5)
        res["operator_out_of_range"] = await write(client, ns, "dev00001/t_set", 120.0)
        res["operator_meter_write"] = await write(client, ns, "dev00001/f", 50.0)
        res["t_set_after"] = await read(client, ns, "dev00001/t_set")


async def main():
    res = {}
    for step in (as_user, as_operator):
        try:
            await step(res)
        except Exception as e:  # noqa: BLE001
            res[f"{step.__name__}_error"] = f"{err_name(e)}: {e}"
    print(json.dumps(res))


asyncio.run(main())
