"""RuuviTag advertisements: RAWv2 (data format 5) to temperature, humidity, pressure, battery.

A decoder of our own, about forty lines, checked against Ruuvi's published test vectors:
ruuvitag-sensor's decoders would bring its Bluetooth stack along, and ruuvi-decoders is
unmaintained since 2021.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RUUVI_COMPANY_ID = 0x0499
MANUFACTURER_DATA = 0xFF
RAWV2 = 5
RAWV2_LENGTH = 24

# Units set on a sensor the first time it is seen.
UNITS = {"temperature": "°C", "humidity": "%", "pressure": "hPa", "battery": "V"}


class GarbledAdvertisement(ValueError):
    """Not a Bluetooth advertisement as Ruuvi's gateways relay it, or a truncated one."""


class UnsupportedFormat(ValueError):
    """A well-formed advertisement without RAWv2 data (another data format, another device)."""


@dataclass(frozen=True)
class RuuviMeasurement:
    """The environmental values of one RAWv2 frame; None where the tag says "not available"."""

    temperature: float | None  # °C
    humidity: float | None  # %
    pressure: float | None  # hPa
    battery: float | None  # V

    def values(self) -> dict[str, float]:
        """Name → value of what the tag measured."""
        named = {"temperature": self.temperature, "humidity": self.humidity,
                 "pressure": self.pressure, "battery": self.battery}
        return {name: value for name, value in named.items() if value is not None}


def decode_rawv2(payload: bytes) -> RuuviMeasurement:
    """The 24-byte RAWv2 payload (format byte first) → measurement."""
    if len(payload) != RAWV2_LENGTH or payload[0] != RAWV2:
        raise GarbledAdvertisement(f"a RAWv2 payload is 24 bytes starting with 05, got "
                                   f"{len(payload)} bytes starting with {payload[:1].hex() or '-'}")
    temperature, humidity, pressure = struct.unpack_from(">hHH", payload, 1)
    (power,) = struct.unpack_from(">H", payload, 13)
    battery_mv = power >> 5
    return RuuviMeasurement(
        temperature=None if temperature == -0x8000 else round(temperature * 0.005, 3),
        humidity=None if humidity == 0xFFFF else round(humidity * 0.0025, 4),
        pressure=None if pressure == 0xFFFF else (pressure + 50_000) / 100,
        battery=None if battery_mv == 0x7FF else (battery_mv + 1600) / 1000,
    )


def decode_advertisement(hex_data: str) -> RuuviMeasurement:
    """A gateway's hex advertisement (AD structures, or bare manufacturer data) → measurement."""
    try:
        raw = bytes.fromhex(hex_data)
    except (ValueError, TypeError):
        raise GarbledAdvertisement("the data is not hex") from None
    return decode_rawv2(ruuvi_payload(raw))


def ruuvi_payload(raw: bytes) -> bytes:
    """The Ruuvi manufacturer data of an advertisement, after the company id."""
    if raw[:1] == bytes([RAWV2]) and len(raw) == RAWV2_LENGTH:
        return raw  # already the bare payload
    offset = 0
    while offset < len(raw):
        length = raw[offset]
        if length == 0:
            break  # zero padding ends the significant part
        structure = raw[offset + 1: offset + 1 + length]
        if len(structure) != length:
            raise GarbledAdvertisement("an advertisement structure runs past the end of the data")
        if structure[0] == MANUFACTURER_DATA and len(structure) >= 3 and \
                int.from_bytes(structure[1:3], "little") == RUUVI_COMPANY_ID:
            payload = structure[3:]
            if payload[:1] != bytes([RAWV2]):
                raise UnsupportedFormat(f"Ruuvi data format {payload[:1].hex() or '-'} is not "
                                        "RAWv2 (5)")
            return payload
        offset += 1 + length
    raise UnsupportedFormat("no Ruuvi manufacturer data in the advertisement")
