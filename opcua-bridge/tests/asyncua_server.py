"""asyncua (PyPI, 2.x) as the server for the opcua-bridge client gateway, for
tests/client_gateway.rs.

Usage: python3 asyncua_server.py PORT [PKI_DIR]

Serves on opc.tcp://127.0.0.1:PORT/ in the namespace urn:emkit:tests:asyncua-server
(index 2). Without PKI_DIR: security None, anonymous. With PKI_DIR: only Basic256Sha256
SignAndEncrypt, with a self-signed certificate created in PKI_DIR (its URI the server's
application URI, urn:emkit:tests:asyncua-server-app), and only the user "emkit" with the
password "gw-secret" (no anonymous access). The nodes:

  Objects/2:Boiler (ns=2;s=Boiler)
    2:T         ns=2;s=Boiler.T         Double, EngineeringUnits degC (CEL), +0.5 every 100 ms
    2:SetT      ns=2;s=Boiler.SetT      Double, EngineeringUnits degC, writable, starts at 50
    2:Running   ns=2;s=Boiler.Running   Boolean true
    2:State     ns=2;s=Boiler.State     String "heating"
    2:Flow      ns=2;s=Boiler.Flow      Double 1.5, status UncertainLastUsableValue, m3/h (MQH)
    2:Pressure  ns=2;s=Boiler.Pressure  Double, status BadSensorFailure
    2:Odd       ns=2;s=Boiler.Odd       Double, EngineeringUnits degF (FAR): not a workspace unit
  Objects/2:Meter (ns=2;s=Meter)
    2:Energy    ns=2;s=Meter.E          UInt32 in Wh, no EngineeringUnits, +7 every 100 ms

Prints "ready URL" once it serves, then "setpoint VALUE" whenever Boiler.SetT changes
(a client's write seen on the server side). Runs until killed.
"""

import asyncio
import logging
import sys

from pathlib import Path

from asyncua import Server, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.server.user_managers import UserManager
from asyncua.crypto.permission_rules import User, UserRole
from cryptography.x509.oid import ExtendedKeyUsageOID

PORT = int(sys.argv[1])
PKI = Path(sys.argv[2]) if len(sys.argv) > 2 else None
APP_URI = "urn:emkit:tests:asyncua-server-app"
NS_URI = "urn:emkit:tests:asyncua-server"
UNECE = "http://www.opcfoundation.org/UA/units/un/cefact"


def unece_id(code):
    n = 0
    for c in code:
        n = (n << 8) | ord(c)
    return n


async def add_eu(var, code, symbol):
    eu = ua.EUInformation(
        NamespaceUri=UNECE,
        UnitId=unece_id(code),
        DisplayName=ua.LocalizedText(symbol),
        Description=ua.LocalizedText(symbol),
    )
    await var.add_property(
        ua.NodeId(var.nodeid.Identifier + ".EngineeringUnits", var.nodeid.NamespaceIndex),
        ua.QualifiedName("EngineeringUnits", 0),
        eu,
        datatype=ua.NodeId(ua.ObjectIds.EUInformation),
    )


class Users(UserManager):
    """One user, emkit / gw-secret; nobody else, not anonymous."""

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username == "emkit" and password == "gw-secret":
            return User(role=UserRole.User)
        return None


async def secure(server):
    PKI.mkdir(parents=True, exist_ok=True)
    key, cert = PKI / "server-key.pem", PKI / "server-cert.der"
    await setup_self_signed_certificate(
        key, cert, APP_URI, "127.0.0.1", [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "asyncua test server"}
    )
    await server.set_application_uri(APP_URI)
    await server.load_certificate(str(cert))
    await server.load_private_key(str(key))
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])


async def main():
    logging.basicConfig(level=logging.ERROR)
    server = Server(user_manager=Users()) if PKI else Server()
    await server.init()
    url = f"opc.tcp://127.0.0.1:{PORT}/"
    server.set_endpoint(url)
    if PKI:
        await secure(server)
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace(NS_URI)
    objects = server.nodes.objects

    async def var(parent, sid, name, value, vtype):
        return await parent.add_variable(
            ua.NodeId(sid, idx), ua.QualifiedName(name, idx), ua.Variant(value, vtype)
        )

    boiler = await objects.add_object(ua.NodeId("Boiler", idx), ua.QualifiedName("Boiler", idx))
    t = await var(boiler, "Boiler.T", "T", 20.0, ua.VariantType.Double)
    await add_eu(t, "CEL", "°C")
    set_t = await var(boiler, "Boiler.SetT", "SetT", 50.0, ua.VariantType.Double)
    await add_eu(set_t, "CEL", "°C")
    await set_t.set_writable()
    await var(boiler, "Boiler.Running", "Running", True, ua.VariantType.Boolean)
    await var(boiler, "Boiler.State", "State", "heating", ua.VariantType.String)
    flow = await var(boiler, "Boiler.Flow", "Flow", 1.5, ua.VariantType.Double)
    await add_eu(flow, "MQH", "m³/h")
    pressure = await var(boiler, "Boiler.Pressure", "Pressure", 0.0, ua.VariantType.Double)
    odd = await var(boiler, "Boiler.Odd", "Odd", 70.0, ua.VariantType.Double)
    await add_eu(odd, "FAR", "°F")
    meter = await objects.add_object(ua.NodeId("Meter", idx), ua.QualifiedName("Meter", idx))
    energy = await var(meter, "Meter.E", "Energy", 1000, ua.VariantType.UInt32)

    async with server:
        await flow.write_value(
            ua.DataValue(
                ua.Variant(1.5, ua.VariantType.Double),
                StatusCode=ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue),
            )
        )
        await pressure.write_value(
            ua.DataValue(
                ua.Variant(0.0, ua.VariantType.Double),
                StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure),
            )
        )
        print("ready", url, flush=True)
        temperature, wh = 20.0, 1000
        last_set = await set_t.read_value()
        while True:
            await asyncio.sleep(0.1)
            temperature += 0.5
            wh += 7
            await t.write_value(ua.Variant(temperature, ua.VariantType.Double))
            await energy.write_value(ua.Variant(wh, ua.VariantType.UInt32))
            now_set = await set_t.read_value()
            if now_set != last_set:
                last_set = now_set
                print("setpoint", now_set, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
