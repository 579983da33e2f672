// The OPC UA benchmark's address space served by node-opcua (npm, version pinned in
// package.json beside this file), for benches/benches/opcua.rs.
//
// Usage: node opcua_server.js PORT N
//
// The same layout, node ids and values as `examples::opcua_demo` (the server `opcua-demo`
// serves): Objects/Demo/Area 001../dev00001../{e_import, p_total, u_l1_n, i_l1, f, t_supply,
// t_return, flow, v_total, p_heat} as Double variables `ns=<urn:emkit:opcua-bridge:points>;
// s=dev00001/e_import`, N of them, plus a `t_set` per device (60.0, not updated). At each whole
// second every one of the N variables gets the value of the same formula as
// `DemoSite::value`, with that second's time as its source timestamp. Anonymous access, None
// security; the limits on sessions, subscriptions and monitored items raised so that one client
// can monitor all N. Prints `ready opc.tcp://127.0.0.1:PORT/ N` on stdout once serving; starts
// the updates when it reads the line `go` on standard input (after the client has subscribed)
// and runs until killed or until its standard input closes.
"use strict";

const {
    OPCUAServer,
    DataType,
    Variant,
    StatusCodes,
    MessageSecurityMode,
    SecurityPolicy,
} = require("node-opcua");

const PORT = Number(process.argv[2]);
const N = Number(process.argv[3]);
const NS_URI = "urn:emkit:opcua-bridge:points";
const DEVICES_PER_AREA = 50;
const MEASURES = [
    ["e_import", "rising", 12000.0, 40.0],
    ["p_total", "wave", 40000.0, 8000.0],
    ["u_l1_n", "wave", 230.0, 3.0],
    ["i_l1", "wave", 58.0, 12.0],
    ["f", "wave", 50.0, 0.05],
    ["t_supply", "wave", 70.0, 4.0],
    ["t_return", "wave", 45.0, 3.0],
    ["flow", "wave", 2.5, 0.6],
    ["v_total", "rising", 3400.0, 2.5],
    ["p_heat", "wave", 70.0, 15.0],
];
const EPOCH_2026 = 1767225600.0;

// `DemoSite::value`: the same formula, the time in whole milliseconds since 1970.
function value(index, millis) {
    const [, kind, a, b] = MEASURES[index % MEASURES.length];
    const device = Math.floor(index / MEASURES.length);
    const secs = millis / 1000.0;
    if (kind === "rising") {
        const hours = (secs - EPOCH_2026) / 3600.0;
        const rate = b * (1.0 + (device % 7) / 10.0);
        return a + device * 10.0 + rate * hours;
    }
    const period = 47.0 + (index % 29);
    const phase = (index % 360) / 360.0;
    return a + b * Math.sin(2 * Math.PI * (secs / period + phase));
}

async function main() {
    const server = new OPCUAServer({
        port: PORT,
        hostname: "127.0.0.1",
        alternateHostname: [],
        securityModes: [MessageSecurityMode.None],
        securityPolicies: [SecurityPolicy.None],
        allowAnonymous: true,
        maxConnections: 20,
        maxSessions: 20,
        serverCapabilities: {
            maxSessions: 20,
            maxSubscriptions: 200,
            maxSubscriptionsPerSession: 50,
            maxMonitoredItems: 2 * N + 1000,
            maxMonitoredItemsPerSubscription: 2 * N + 1000,
            operationLimits: { maxMonitoredItemsPerCall: 1000 },
        },
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    const ns = addressSpace.registerNamespace(NS_URI);
    const site = ns.addFolder(addressSpace.rootFolder.objects, {
        nodeId: "s=#site",
        browseName: "Demo",
    });
    const variables = [];
    const devices = Math.ceil(N / MEASURES.length);
    let area = null;
    for (let d = 0; d < devices; d++) {
        if (d % DEVICES_PER_AREA === 0) {
            const name = `Area ${String(d / DEVICES_PER_AREA + 1).padStart(3, "0")}`;
            area = ns.addFolder(site, { nodeId: `s=#area/${name}`, browseName: name });
        }
        const dev = `dev${String(d + 1).padStart(5, "0")}`;
        const folder = ns.addFolder(area, { nodeId: `s=${dev}`, browseName: dev });
        const first = d * MEASURES.length;
        for (const [service] of MEASURES.slice(0, Math.max(0, N - first))) {
            variables.push(
                ns.addVariable({
                    componentOf: folder,
                    nodeId: `s=${dev}/${service}`,
                    browseName: service,
                    dataType: "Double",
                    value: { dataType: DataType.Double, value: 0.0 },
                }),
            );
        }
        ns.addVariable({
            componentOf: folder,
            nodeId: `s=${dev}/t_set`,
            browseName: "t_set",
            dataType: "Double",
            value: { dataType: DataType.Double, value: 60.0 },
        });
    }
    await server.start();

    const tick = () => {
        const millis = Date.now();
        const stamp = new Date(millis);
        for (let i = 0; i < variables.length; i++) {
            variables[i].setValueFromSource(
                new Variant({ dataType: DataType.Double, value: value(i, millis) }),
                StatusCodes.Good,
                stamp,
            );
        }
        setTimeout(tick, 1000 - (Date.now() % 1000));
    };
    process.stdout.write(`ready opc.tcp://127.0.0.1:${PORT}/ ${variables.length}\n`);
    // `go` on standard input starts the updates; its end stops the server.
    let started = false;
    let pending = "";
    process.stdin.on("data", (chunk) => {
        pending += chunk.toString();
        if (!started && pending.split("\n").some((l) => l.trim() === "go")) {
            started = true;
            setTimeout(tick, 1000 - (Date.now() % 1000));
        }
    });
    process.stdin.on("end", async () => {
        await server.shutdown(0);
        process.exit(0);
    });
}

main().catch((e) => {
    process.stderr.write(`node-opcua server: ${e.stack || e}\n`);
    process.exit(1);
});
