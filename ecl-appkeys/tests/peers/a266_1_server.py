"""A hand-made register image of an ECL Comfort 310 running A266.1, served by pymodbus 3.x
over Modbus/TCP on 127.0.0.1:PORT (unit 1), for ecl-appkeys/tests/pymodbus_a266.rs.

Registers are written by PNU and served at protocol address PNU - 1 (the block is keyed
by protocol address; older pymodbus 3.x contexts get zero_mode=True so they do not add 1,
the newest 3.x compatibility contexts are zero-based already). Only the PNUs the
controller serves exist: a read touching any other PNU is answered with exception 02
(illegal data address), as the real controller fails the whole request.

The values are written out by hand from the ECL reference notes (identity, key, sensors in
0.01 degC with 19200 = not connected, settings with their documented scales); nothing
here comes from the Rust code under test.
"""
import asyncio
import logging
import sys

try:  # pymodbus >= 3.10
    from pymodbus.datastore import ModbusDeviceContext as DeviceContext
except ImportError:  # older 3.x
    from pymodbus.datastore import ModbusSlaveContext as DeviceContext
from pymodbus.datastore import ModbusServerContext, ModbusSparseDataBlock
from pymodbus.server import StartAsyncTcpServer

logging.disable(logging.WARNING)
port = int(sys.argv[1])

NC = 19200  # sensor not connected (192.00 degC)


def s16(v):
    return v & 0xFFFF


regs = {}


def put(first, values):
    for i, v in enumerate(values):
        regs[first + i] = s16(v)


def zeros(first, last):
    put(first, [0] * (last - first + 1))


# Identity: build 2600, 087H3040 (ECL 310), hardware A2, software 1.56 (0x0138), serial
# 0x0001:0x0002, Modbus address 1, baud code 38; key A266.1 version 1.08; week 3 of 2018.
put(8, [2600])
put(19, [3040])
put(34, [0x4102, 0x0138, 0x0001, 0x0002, 1, 38])
put(2060, [65, 266, 1, 0x0108])
put(2099, [0x1203])
zeros(2100, 2105)  # no ECA extension
zeros(2110, 2115)
# Alarms: alarm 2 active (PNU 1025 bit 1), its status at 1041.
put(1024, [0, 0b10])
zeros(1040, 1071)
regs[1041] = 1
# Clock 2025-01-06 10:30, automatic summer time on.
put(64045, [10, 30, 6, 1, 2025])
put(10198, [1])
# Sensors S1..S16: outdoor -3.50, room not connected, flow 52.10, DHW tank 54.80,
# return 38.90, DHW return 41.20, S7-S16 not connected.
put(10201, [-350, NC, 5210, 5480, 3890, 4120] + [NC] * 10)
# M-Bus (ECL 310): 300 baud, no command, idle; meter addresses 0.
put(5997, [0, 0, 3])
for base in (6000, 6050, 6100, 6150, 6200):
    put(base, [0])
# A266.1 served ranges (MUD, live ECL 310 + A266.1; schedules and curve inferred).
put(3998, [0, 0b1000000, 0, 0, 0, 0])  # bitmasks, triacs 1-4; relay 1 on
put(4006, [1, 0, 0, 0])  # relays 1-4
zeros(4016, 4018)  # ECA 32 analogue outputs
put(4201, [1, 1])  # both circuits scheduled
put(4211, [2, 2])  # comfort
put(11020, [0, 0, 0, 0, 0])  # 11021 total stop off
put(11093, [10])  # frost protection 10 degC
put(11174, [0, 18])  # heat-curve slope 1.8
put(11177, [10, 90, 20, 210, 170, 0, 0, 0, 0, 0, 0])  # min/max flow, cut-out, comfort 21.0, saving 17.0
put(11253, [5210])  # desired flow 52.10
put(11400, [75, 63, 53, 48, 42, 30])  # 6-point curve
put(12093, [10])
put(12122, [0, 0, 120, 70])  # anti-bacteria: no days, 00:00, 120 min, 70 degC
zeros(12184, 12187)
put(12189, [0, 550, 450])  # DHW comfort 55.0, saving 45.0
for circuit in (1, 2):
    for day in range(7):
        first = 3000 + 100 * circuit + 10 + 10 * day
        start, stop = (600, 2200) if day < 5 else (700, 2300)
        put(first, [start, stop, 2400, 2400, 2400, 2400])

block = ModbusSparseDataBlock({pnu - 1: v for pnu, v in regs.items()})
try:
    device = DeviceContext(hr=block, ir=block, zero_mode=True)
except TypeError:
    device = DeviceContext(hr=block, ir=block)
try:
    context = ModbusServerContext(devices={1: device}, single=False)
except TypeError:
    context = ModbusServerContext(slaves={1: device}, single=False)
asyncio.run(StartAsyncTcpServer(context=context, address=("127.0.0.1", port)))
