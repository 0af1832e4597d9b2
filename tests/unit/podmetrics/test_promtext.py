"""Prometheus text exposition parsing, as kwok and real exporters print it."""

from __future__ import annotations

import math

import pytest

from syncer.podmetrics.promtext import ParseError, Sample, parse_line, parse_text

TEXT = """# HELP http_requests_per_second Requests.
# TYPE http_requests_per_second gauge
http_requests_per_second{namespace="ns-1",pod="p1"} 30
http_requests_per_second{namespace="ns-1",pod="p2",} 2.5 1700000000000
up 1
weird{a="x\\"y\\\\z\\n",b=""} +Inf
broken{a="x} 1
no_value{a="b"}
"""


def test_samples_labels_escapes_and_bad_lines() -> None:
    samples, bad = parse_text(TEXT)
    assert bad == 2
    assert samples[0] == Sample("http_requests_per_second",
                                (("namespace", "ns-1"), ("pod", "p1")), 30.0)
    assert samples[1].value == 2.5 and samples[1].label("pod") == "p2"
    assert samples[2] == Sample("up", (), 1.0)
    assert samples[3].labels == (("a", 'x"y\\z\n'), ("b", ""))
    assert math.isinf(samples[3].value)


@pytest.mark.parametrize("line", ['m{a="b"} x', "m", 'm{a=b} 1', 'm{a="b" 1'])
def test_malformed_lines_raise(line: str) -> None:
    with pytest.raises(ParseError):
        parse_line(line)


def test_nan_is_a_value() -> None:
    assert math.isnan(parse_line("m NaN").value)
