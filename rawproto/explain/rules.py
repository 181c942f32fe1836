"""Citations and broken rules, shared by the frame and HTTP explainers.

A learner finds here how rawproto points at the specification: every rule an
explainer checks is a :class:`Violation` carrying the RFC's own words and a
stable link of the form https://www.rfc-editor.org/rfc/rfc6455#section-5.5 .
"""

from __future__ import annotations

from dataclasses import dataclass


def rfc_url(rfc: int, section: str) -> str:
    """The stable rfc-editor.org link to one section (or appendix) of one RFC."""
    kind = "appendix" if section[:1].isalpha() else "section"
    return f"https://www.rfc-editor.org/rfc/rfc{rfc}#{kind}-{section}"


def cite(rfc: int, section: str) -> str:
    """Short form for tables: ``RFC 6455 §5.5``."""
    return f"RFC {rfc} §{section}"


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule the bytes break.

    ``rule`` quotes (or closely paraphrases) the RFC; ``found`` says what was
    on the wire instead; ``start``/``end`` are the offending bytes' offsets
    within the explained unit (a frame or a head), when they can be pinned.
    """

    rule: str
    rfc: int
    section: str
    found: str
    start: int | None = None
    end: int | None = None

    @property
    def url(self) -> str:
        return rfc_url(self.rfc, self.section)

    @property
    def citation(self) -> str:
        return cite(self.rfc, self.section)

    def __str__(self) -> str:
        return f"{self.citation}: {self.found}: {self.rule}"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a frame or a head, and where its bytes are.

    ``start``/``end`` are byte offsets within the frame or head (``end``
    exclusive), so a view can highlight them. Frame fields inside one byte
    share it, and ``bits`` shows which bits they own: ``1... ....`` for FIN.
    """

    name: str
    start: int
    end: int
    value: str
    meaning: str
    bits: str = ""
