"""Test vectors from the RFCs, as hex literals (RFC 6455 §1.3, §5.7)."""

# RFC 6455 §1.3: the handshake example.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

# RFC 6455 §5.7: "A single-frame unmasked text message"
UNMASKED_HELLO = bytes.fromhex("81 05 48 65 6c 6c 6f")
# "A single-frame masked text message"
MASK = bytes.fromhex("37 fa 21 3d")
MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
# "A fragmented unmasked text message"
FRAGMENT_1 = bytes.fromhex("01 03 48 65 6c")  # contains "Hel"
FRAGMENT_2 = bytes.fromhex("80 02 6c 6f")  # contains "lo"
# "Unmasked Ping request and masked Ping response"
UNMASKED_PING = bytes.fromhex("89 05 48 65 6c 6c 6f")
MASKED_PONG = bytes.fromhex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")
# "256 bytes binary message in a single unmasked frame"
BINARY_256_HEAD = bytes.fromhex("82 7e 01 00")
# "64KiB binary message in a single unmasked frame"
BINARY_64K_HEAD = bytes.fromhex("82 7f 00 00 00 00 00 01 00 00")
