"""Explain the bytes on the wire, field by field, with the RFC rule for each.

A learner finds here rawproto's *teaching* decoders. They are independent of
h11 and wsproto (which rawproto uses to actually talk) and use only the
standard library, so each one can be read top to bottom next to its RFC:

* :mod:`.frames` — WebSocket frames, bit by bit (RFC 6455 §5.2);
* :mod:`.http`   — HTTP/1.1 heads, header meanings, body framing (RFC 9110/9112);
* :mod:`.conn`   — a whole connection from its ``WireRecord``\\ s: HTTP, the
  101 switch, then frames in both directions;
* :mod:`.views`  — the compact trace, the explained field tables with a
  hexdump, and JSON lines;
* :mod:`.cli`    — ``rawproto explain 81 85 37 fa 21 3d 7f 9f 4d 51 58``.
"""

from rawproto.explain.conn import ConnectionExplainer, ExplainedRecord, Note
from rawproto.explain.frames import ExplainedFrame, FrameStream, explain_frame, explain_frames
from rawproto.explain.http import ExplainedHead, HttpStream, explain_head, explain_http
from rawproto.explain.rules import Field, Violation

__all__ = [
    "ConnectionExplainer",
    "ExplainedFrame",
    "ExplainedHead",
    "ExplainedRecord",
    "Field",
    "FrameStream",
    "HttpStream",
    "Note",
    "Violation",
    "explain_frame",
    "explain_frames",
    "explain_head",
    "explain_http",
]
