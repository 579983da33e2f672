"""Peer side of the `poll` bench: a pymodbus (3.x) synchronous TCP client.

Protocol on stdin/stdout, one line each:
  "<iterations> <unit> <function_code> <address> <count>"
      ->  "<wall ns> <process CPU ns> <of which system ns> <last answer's registers, comma-separated>"
The client connects once (host and port from argv) and keeps the connection, so a bench
iteration measures request/response round trips only, as for our poller. The keyword that
names the unit (`device_id` since pymodbus 3.10, `slave` before) is chosen once at start-up,
outside the timed loop. The CPU figure is the whole client process's (user + system).
"""
import inspect
import os
import sys
import time

from pymodbus.client import ModbusTcpClient


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    client = ModbusTcpClient(host, port=port, timeout=2)
    if not client.connect():
        print(f"cannot connect to {host}:{port}", file=sys.stderr)
        return 1
    params = inspect.signature(client.read_holding_registers).parameters
    unit_kw = "device_id" if "device_id" in params else "slave"
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        iters, unit, fc, address, count = (int(p) for p in parts)
        read = client.read_holding_registers if fc == 3 else client.read_input_registers
        kwargs = {"count": count, unit_kw: unit}
        rr = None
        sys0 = os.times().system
        cpu0 = time.process_time_ns()
        start = time.perf_counter_ns()
        for _ in range(iters):
            rr = read(address, **kwargs)
            if rr.isError():
                print(f"error: {rr}", file=sys.stderr)
                return 1
        wall = time.perf_counter_ns() - start
        cpu = time.process_time_ns() - cpu0
        sys_ns = int((os.times().system - sys0) * 1e9)
        regs = ",".join(str(r) for r in rr.registers) if rr is not None else ""
        print(wall, cpu, sys_ns, regs, flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
