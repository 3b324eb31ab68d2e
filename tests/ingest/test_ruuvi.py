"""The RAWv2 decoder against Ruuvi's published test vectors (data format 5)."""

from __future__ import annotations

import pytest

from ingest.ruuvi import (
    GarbledAdvertisement,
    RuuviMeasurement,
    UnsupportedFormat,
    decode_advertisement,
    decode_rawv2,
)

VALID = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"
MAXIMUM = "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F"
MINIMUM = "058001000000008001800180010000000000CBB8334C884F"
INVALID = "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF"


@pytest.mark.parametrize(("vector", "expected"), [
    (VALID, RuuviMeasurement(temperature=24.3, humidity=53.49, pressure=1000.44, battery=2.977)),
    (MAXIMUM, RuuviMeasurement(temperature=163.835, humidity=163.835, pressure=1155.34,
                               battery=3.646)),
    (MINIMUM, RuuviMeasurement(temperature=-163.835, humidity=0.0, pressure=500.0, battery=1.6)),
    (INVALID, RuuviMeasurement(temperature=None, humidity=None, pressure=None, battery=None)),
])
def test_it_decodes_ruuvis_test_vectors(vector, expected):
    assert decode_rawv2(bytes.fromhex(vector)) == expected


def test_it_reports_only_the_values_a_tag_has():
    assert decode_rawv2(bytes.fromhex(INVALID)).values() == {}
    assert decode_rawv2(bytes.fromhex(VALID)).values() == {
        "temperature": 24.3, "humidity": 53.49, "pressure": 1000.44, "battery": 2.977}


def test_it_finds_rawv2_in_a_gateways_whole_advertisement():
    relayed = "0201061BFF9904" + VALID
    assert decode_advertisement(relayed).temperature == 24.3
    assert decode_advertisement(relayed.lower()).pressure == 1000.44


def test_it_accepts_the_bare_payload_too():
    assert decode_advertisement(VALID).humidity == 53.49


@pytest.mark.parametrize("garbled", [
    "not hex at all",
    "0201061BFF9904" + VALID[:-6],          # truncated: the structure runs past the end
    "0201061BFF9904" + VALID[:-2] + "ZZ",   # a non-hex digit
    "0201061BFF9904" + VALID + "0",         # an odd number of digits
    "0201061AFF9904" + VALID[:-2],          # format 5 of 23 bytes
])
def test_it_refuses_garbled_data(garbled):
    with pytest.raises(GarbledAdvertisement):
        decode_advertisement(garbled)


@pytest.mark.parametrize("other", [
    "0201060303AAFE",                       # no manufacturer data at all
    "02010611FF9904" + "03291A1ECE1EFC18F94202CA0B53",  # RAWv1 (format 3)
    "0201061BFF4C00" + VALID,               # another company's data
])
def test_it_tells_unsupported_data_from_garbled(other):
    with pytest.raises(UnsupportedFormat):
        decode_advertisement(other)
