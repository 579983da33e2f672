"""Peer side of the `poll` bench: a pymodbus (3.x) synchronous TCP client.

Protocol on stdin/stdout, one line each:
  "<iterations> <unit> <function_code> <address> <count>"  ->  "<elapsed nanoseconds>"
The client connects once (host and port from argv) and keeps the connection, so a bench
iteration measures request/response round trips only, as for our poller.
"""
import sys
import time

from pymodbus.client import ModbusTcpClient


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    client = ModbusTcpClient(host, port=port, timeout=2)
    if not client.connect():
        print(f"cannot connect to {host}:{port}", file=sys.stderr)
        return 1
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        iters, unit, fc, address, count = (int(p) for p in parts)
        read = client.read_holding_registers if fc == 3 else client.read_input_registers
        start = time.perf_counter_ns()
        for _ in range(iters):
            try:
                rr = read(address, count=count, device_id=unit)
            except TypeError:  # pymodbus < 3.10 names it `slave`
                rr = read(address, count=count, slave=unit)
            if rr.isError():
                print(f"error: {rr}", file=sys.stderr)
                return 1
        print(time.perf_counter_ns() - start, flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
