"""`rct-tflm ports`: serial ports listed, debug probes recognised by USB VID:PID (pyserial faked)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from serial.tools import list_ports as lp

from rct_tflm.cli import main
from rct_tflm.link.ports import list_ports, probe_name


def _port(device, vid=None, pid=None, serial=None, desc="n/a", manufacturer=None, product=None):
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial,
                           description=desc, manufacturer=manufacturer, product=product)


FAKE = [
    _port("/dev/ttyS0"),
    _port("/dev/ttyACM1", 0x1366, 0x0105, "000683", "J-Link - CDC", "SEGGER"),
    _port("/dev/ttyACM0", 0x0483, 0x374B, "0671FF", "STM32 STLink", "STMicroelectronics"),
    _port("/dev/ttyACM2", 0xC251, 0xF00A, "X1", "Some CMSIS-DAP v2 probe"),
    _port("/dev/ttyUSB0", 0x0403, 0x6001, "FT1", "FT232R USB UART", "FTDI"),
]


@pytest.fixture
def fake_ports(monkeypatch):
    monkeypatch.setattr(lp, "comports", lambda: list(FAKE))


def test_probes_are_recognised_and_listed_first(fake_ports):
    ports = list_ports()
    assert [p.probe for p in ports] == ["ST-LINK/V2-1", "SEGGER J-Link", "CMSIS-DAP", "", ""]
    assert [p.device for p in ports[:3]] == ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyACM2"]
    assert ports[0].vid_pid == "0483:374b" and ports[0].serial_number == "0671FF"
    assert ports[-1].device == "/dev/ttyUSB0" and ports[-1].vid_pid == "0403:6001"


def test_unknown_usb_serial_is_not_a_probe():
    assert probe_name(0x0403, 0x6001, "FT232R USB UART") == ""
    assert probe_name(None, None) == ""
    assert probe_name(0x0483, 0x3754) == "STLINK-V3"


def test_ports_command_table_and_json(fake_ports, capsys):
    main(["ports"])
    out = capsys.readouterr().out
    assert "ST-LINK/V2-1" in out and "/dev/ttyACM0" in out and "probe" in out.splitlines()[0]
    main(["ports", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert {r["device"] for r in rows} == {p.device for p in FAKE}


def test_no_ports_says_what_to_check(monkeypatch, capsys):
    monkeypatch.setattr(lp, "comports", lambda: [])
    main(["ports"])
    assert "no serial ports found" in capsys.readouterr().out
