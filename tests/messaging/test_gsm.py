from __future__ import annotations

from cicatrix.messaging.gsm import is_gsm7, segments


def test_gsm7_and_ucs2_segment_sizes() -> None:
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert segments("{" * 80) == 1 and segments("{" * 81) == 2  # extension characters count twice
    assert not is_gsm7("Zoë’s appointment")  # a curly apostrophe switches to UCS-2
    assert segments("é" * 160) == 1  # é is in the GSM alphabet
    assert segments("’" * 70) == 1 and segments("’" * 71) == 2 and segments("’" * 134) == 2
    assert segments("😀" * 35) == 1 and segments("😀" * 36) == 2  # two UTF-16 units each
