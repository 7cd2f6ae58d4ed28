"""passbridge/ids.py: GUIDs as uuid.uuid4() makes them."""

from __future__ import annotations

import uuid

from passbridge.ids import new_guid


def test_new_guid_is_a_canonical_random_version_4_uuid() -> None:
    made = {new_guid() for _ in range(2000)}
    assert len(made) == 2000
    for value in made:
        parsed = uuid.UUID(value)
        assert str(parsed) == value  # canonical: lowercase, hyphenated
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_new_guid_uses_every_random_bit_outside_version_and_variant() -> None:
    seen_ones = 0
    for _ in range(256):
        seen_ones |= uuid.UUID(new_guid()).int
    fixed = (0xF << 76) | (0x3 << 62)  # the version nibble and the variant's two bits
    assert seen_ones | fixed == (1 << 128) - 1
