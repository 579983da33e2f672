"""asyncua (PyPI, 2.x) as the client of the opcua-bridge server, for tests/asyncua_interop.rs.

Usage: python3 asyncua_client.py URL NAMESPACE_URI SERVER_PKI_DIR WORK_DIR

Runs every step, records what it saw and prints one JSON object on stdout; the Rust test
asserts on it (so a failure names the step and the value). A step that raises records the
exception's class name (asyncua names them after the OPC UA status code).
"""

import asyncio
import json
import os
import shutil
import traceback
import sys
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.security_policies import SecurityPolicyAes128Sha256RsaOaep, SecurityPolicyBasic256Sha256
from cryptography.x509.oid import ExtendedKeyUsageOID

URL, NS_URI, SERVER_PKI, WORK = sys.argv[1:5]
CLIENT_URI = "urn:emkit:tests:asyncua-client"


def err_name(e):
    return type(e).__name__


def status_name(dv):
    return dv.StatusCode.name


async def browse_paths(node, prefix, out):
    for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
        qn = await child.read_browse_name()
        if qn.NamespaceIndex == 0:
            continue  # EURange, EngineeringUnits
        path = f"{prefix}/{qn.Name}" if prefix else qn.Name
        out.append(path)
        await browse_paths(child, path, out)


async def describe(client, ns, name):
    node = client.get_node(f"ns={ns};s={name}")
    params = ua.ReadParameters()
    params.TimestampsToReturn = ua.TimestampsToReturn.Both
    params.NodesToRead = [ua.ReadValueId(NodeId=node.nodeid, AttributeId=ua.AttributeIds.Value)]
    [dv] = await client.uaclient.read(params)
    out = {
        "value": dv.Value.Value,
        "status": status_name(dv),
        "source_time": dv.SourceTimestamp.isoformat() if dv.SourceTimestamp else None,
        "server_time": dv.ServerTimestamp.isoformat() if dv.ServerTimestamp else None,
        "type_definition": (await node.read_type_definition()).Identifier,
        "description": (await node.read_description()).Text,
    }
    for prop in ("EngineeringUnits", "EURange"):
        try:
            v = await (await node.get_child(f"0:{prop}")).read_value()
        except Exception as e:  # noqa: BLE001 - recorded, the test decides
            out[prop] = err_name(e)
            continue
        if prop == "EngineeringUnits":
            out[prop] = {
                "namespace_uri": v.NamespaceUri,
                "unit_id": v.UnitId,
                "display_name": v.DisplayName.Text,
            }
        else:
            out[prop] = [v.Low, v.High]
    return out


async def write(client, ns, name, value):
    node = client.get_node(f"ns={ns};s={name}")
    try:
        await node.write_value(ua.DataValue(ua.Variant(value, ua.VariantType.Double)))
        return "Good"
    except Exception as e:  # noqa: BLE001
        return err_name(e)


async def endpoints(res):
    client = Client(URL, timeout=5)
    eps = await client.connect_and_get_server_endpoints()
    res["endpoints"] = sorted(
        {f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]} {e.SecurityMode.name}" for e in eps}
    )
    res["user_tokens"] = sorted({t.TokenType.name for e in eps for t in e.UserIdentityTokens})
    res["none_password_policy"] = [
        t.SecurityPolicyUri
        for e in eps
        if e.SecurityMode == ua.MessageSecurityMode.None_
        for t in e.UserIdentityTokens
    ]


async def as_reader(res):
    client = Client(URL, timeout=5)
    client.application_uri = CLIENT_URI
    client.set_user("reader")
    client.set_password("reader-pw")
    async with client:
        ns = await client.get_namespace_index(NS_URI)
        res["ns"] = ns
        site = await client.nodes.objects.get_child([f"{ns}:Plant"])
        paths = ["Plant"]
        await browse_paths(site, "Plant", paths)
        res["browse"] = paths
        res["points"] = {
            name: await describe(client, ns, name)
            for name in ("main/e_import", "main/t_supply", "main/t_return", "main/breaker", "main/status", "main/t_set")
        }

        changes = []

        class Handler:
            def datachange_notification(self, node, val, data):
                changes.append(val)

        sub = await client.create_subscription(100, Handler())
        await sub.subscribe_data_change(client.get_node(f"ns={ns};s=main/t_supply"))
        for _ in range(100):
            if len(changes) >= 4:
                break
            await asyncio.sleep(0.1)
        await sub.delete()
        res["changes"] = changes
        res["reader_write"] = await write(client, ns, "main/t_set", 50.0)


async def as_operator(res):
    client = Client(URL, timeout=5)
    client.application_uri = CLIENT_URI
    client.set_user("operator")
    client.set_password("operator-pw")
    async with client:
        ns = await client.get_namespace_index(NS_URI)
        res["operator_write_ok"] = await write(client, ns, "main/t_set", 55.5)
        await asyncio.sleep(0.5)
        res["operator_read_back"] = await client.get_node(f"ns={ns};s=main/t_set").read_value()
        res["operator_write_out_of_range"] = await write(client, ns, "main/t_set", 95.0)
        res["operator_write_refused_by_handler"] = await write(client, ns, "main/t_set", 42.0)
        res["operator_write_read_only_point"] = await write(client, ns, "main/e_import", 1.0)


async def refused(res):
    client = Client(URL, timeout=5)
    client.application_uri = CLIENT_URI
    client.set_user("reader")
    client.set_password("wrong")
    try:
        async with client:
            res["wrong_password"] = "connected"
    except Exception as e:  # noqa: BLE001
        res["wrong_password"] = err_name(e)
    client = Client(URL, timeout=5)
    client.application_uri = CLIENT_URI
    try:
        async with client:
            res["anonymous"] = "connected"
    except Exception as e:  # noqa: BLE001
        res["anonymous"] = err_name(e)


async def sign_and_encrypt(res):
    key = Path(WORK) / "client-key.pem"
    cert = Path(WORK) / "client-cert.der"
    await setup_self_signed_certificate(
        key, cert, CLIENT_URI, "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "asyncua test client"}
    )

    async def attempt(policy=SecurityPolicyBasic256Sha256, mode=ua.MessageSecurityMode.SignAndEncrypt):
        client = Client(URL, timeout=5)
        client.application_uri = CLIENT_URI
        client.set_user("reader")
        client.set_password("reader-pw")
        await client.set_security(policy, cert, key, mode=mode)
        try:
            async with client:
                ns = await client.get_namespace_index(NS_URI)
                return await client.get_node(f"ns={ns};s=main/e_import").read_value()
        except Exception as e:  # noqa: BLE001
            return err_name(e)

    res["untrusted_cert"] = await attempt()
    rejected = os.path.join(SERVER_PKI, "rejected")
    trusted = os.path.join(SERVER_PKI, "trusted")
    found = sorted(os.listdir(rejected)) if os.path.isdir(rejected) else []
    res["rejected_files"] = found
    os.makedirs(trusted, exist_ok=True)
    for f in found:
        shutil.move(os.path.join(rejected, f), os.path.join(trusted, f))
    res["trusted_cert"] = await attempt()
    # The other secure endpoints, with the now trusted certificate.
    res["basic256sha256_sign"] = await attempt(mode=ua.MessageSecurityMode.Sign)
    res["aes128_sign_and_encrypt"] = await attempt(SecurityPolicyAes128Sha256RsaOaep)
    res["aes128_sign"] = await attempt(SecurityPolicyAes128Sha256RsaOaep, ua.MessageSecurityMode.Sign)


async def main():
    res = {}
    for step in (endpoints, as_reader, as_operator, refused, sign_and_encrypt):
        try:
            await step(res)
        except Exception as e:  # noqa: BLE001
            where = traceback.extract_tb(e.__traceback__)
            line = next((f"line {f.lineno}: {f.line}" for f in reversed(where) if f.filename == __file__), "")
            res[f"{step.__name__}_failed"] = f"{err_name(e)}: {e} ({line})"
    print(json.dumps(res, default=str))


asyncio.run(main())
