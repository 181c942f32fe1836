"""``make docs``: refresh the generated parts of docs/ from real runs.

Each chapter in ``docs/`` is prose written by hand around blocks that no
hand types. A block sits between two markers::

    <!-- generated: tour-5 -->
    ...                                  (replaced by `make docs`)
    <!-- end generated -->

The generators:

* ``tour-N`` — the bytes and measurements of tour chapter N, run with
  ``--deterministic`` (without the narration: the chapter has its own);
* ``states-ws``, ``states-h11`` — state diagrams (mermaid) drawn from the
  transition tables the code itself runs on: :data:`rawproto.core.ws.TRANSITIONS`
  and h11's ``EVENT_TRIGGERED_TRANSITIONS``.

``python -m rawproto.docsgen --check`` exits 1 naming every stale file; a
test runs it, so the docs cannot drift from the code.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path

MARK = re.compile(
    r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S
)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def normalize(text: str) -> list[str]:
    """Drop what TCP decides — how writes were cut into reads — and blank lines.

    A chunk heading (``── client → server: 118 bytes received ...``), a
    "waiting" line and frame numbers depend on how the kernel delivered the
    bytes; the frames, heads and bodies themselves do not.
    """
    keep = []
    for line in text.splitlines():
        if line.startswith("── ") or line.strip().startswith("(waiting:") or not line.strip():
            continue
        keep.append(re.sub(r"^frame \d+ ", "frame N ", line))
    return keep


# --- generators --------------------------------------------------------------


def tour_blocks() -> dict[str, str]:
    """Run the deterministic tour once; one block of output per chapter."""
    from rawproto.tour import CHAPTERS, Out, Tour

    blocks: dict[str, str] = {}

    async def run() -> None:
        out = Out(io.StringIO(), color=False, step=False, narrate=False)
        tour = Tour(out, deterministic=True)
        await tour.start()
        try:
            for number, (_name, chapter) in enumerate(CHAPTERS, 1):
                out.stream = io.StringIO()
                await chapter(tour)
                text = out.stream.getvalue().strip("\n")
                blocks[f"tour-{number}"] = f"```text\n{text}\n```\n"
        finally:
            await tour.stop()

    asyncio.run(run())
    return blocks


def _mermaid_id(name: str) -> str:
    return name.replace(" ", "_")


def states_ws() -> str:
    from rawproto.core.ws import RFC6455, TRANSITIONS, State

    lines = [
        "```mermaid",
        "stateDiagram-v2",
        f"    [*] --> {State.OPEN.value}: 101 Switching Protocols",
    ]
    for (state, what), (target, section) in TRANSITIONS.items():
        lines.append(f"    {state.value} --> {target.value}: {what} (§{section})")
    lines += [
        f"    {State.CLOSED.value} --> [*]",
        "```",
        "",
        "| from | event | to | rule |",
        "|---|---|---|---|",
    ]
    for (state, what), (target, section) in TRANSITIONS.items():
        lines.append(
            f"| {state.value} | {what} | {target.value} | "
            f"[RFC 6455 §{section}]({RFC6455}#section-{section}) |"
        )
    return "\n".join(lines) + "\n"


def states_h11() -> str:
    """Both roles' HTTP/1.1 states from h11's own tables (RFC 9112 message cycle)."""
    import h11
    from h11._state import EVENT_TRIGGERED_TRANSITIONS, STATE_TRIGGERED_TRANSITIONS

    out = []
    for role in (h11.CLIENT, h11.SERVER):
        name = role.__name__.lower()
        other = "server" if role is h11.CLIENT else "client"
        out += [
            f"The {name}'s state, as h11 tracks it (both peers track both):",
            "",
            "```mermaid",
            "stateDiagram-v2",
            "    [*] --> IDLE",
        ]
        for state, moves in EVENT_TRIGGERED_TRANSITIONS[role].items():
            for event, target in moves.items():
                if isinstance(event, tuple):
                    label = f"{event[0].__name__} ({event[1].__name__.strip('_').lower()})"
                else:
                    label = event.__name__
                out.append(f"    {state.__name__} --> {target.__name__}: {label}")
        if role is h11.CLIENT:
            # Hard-coded in h11's _fire_state_triggered_transitions, not in a table.
            out.append("    DONE --> MIGHT_SWITCH_PROTOCOL: sent Upgrade, waiting")
            out.append("    MIGHT_SWITCH_PROTOCOL --> DONE: server declined")
            out.append("    DONE --> MUST_CLOSE: keep-alive off")
        else:
            out.append("    DONE --> MUST_CLOSE: keep-alive off")
        for (client_state, server_state), changes in STATE_TRIGGERED_TRANSITIONS.items():
            if role in changes:
                mine = client_state if role is h11.CLIENT else server_state
                theirs = server_state if role is h11.CLIENT else client_state
                out.append(
                    f"    {mine.__name__} --> {changes[role].__name__}: "
                    f"{other} is {theirs.__name__}"
                )
        out += ["```", ""]
    return "\n".join(out)


def capture_table(number: str) -> Callable[[], str]:
    """The packet-by-packet table of a committed capture's companion ``.md``.

    The companion is generated from the capture's own records by
    ``rawproto capture --out``; the docs quote its table rather than
    describing the packets a second time.
    """

    def make() -> str:
        [companion] = sorted((ROOT / "captures").glob(f"{number}-*.md"))
        rows = [line for line in companion.read_text().splitlines() if line.startswith("|")]
        link = f"../captures/{companion.name}"
        return "\n".join(rows) + f"\n\n(from [{companion.name}]({link}))\n"

    return make


def exercises() -> str:
    """The workbook's exercises, from the one table the stubs and checks use."""
    from rawproto.exercises.table import EXERCISES

    rows = ["| # | exercise | what you write | rule |", "|---|---|---|---|"]
    for ex in EXERCISES:
        rows.append(f"| {ex.number} | `{ex.name}` | {ex.title} | [{ex.rfc}]({ex.url}) |")
    return "\n".join(rows) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "exercises": exercises,
    "capture-04": capture_table("04"),
    "capture-07": capture_table("07"),
    "states-ws": states_ws,
    "states-h11": states_h11,
}


# --- refresh and check -----------------------------------------------------------


def render(text: str, blocks: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in blocks:
            raise KeyError(f"unknown generated block {name!r}")
        return match.group(1) + blocks[name] + match.group(4)

    return MARK.sub(replace, text)


def all_blocks() -> dict[str, str]:
    blocks = tour_blocks()
    blocks.update({name: make() for name, make in GENERATORS.items()})
    return blocks


def refresh(docs: Path = DOCS, check: bool = False) -> list[Path]:
    """Rewrite every generated block; with ``check``, only list the stale files."""
    blocks = all_blocks()
    stale = []
    for path in sorted(docs.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = render(text, blocks)
        if check:
            if normalize(new) != normalize(text):
                stale.append(path)
        elif new != text:
            path.write_text(new, encoding="utf-8")
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rawproto.docsgen", description="Refresh the generated blocks in docs/."
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    try:
        changed = refresh(check=args.check)
    except KeyError as exc:
        print(f"docsgen: {exc.args[0]}", file=sys.stderr)
        return 2
    for path in changed:
        verb = "stale" if args.check else "refreshed"
        print(f"{verb}: {path.relative_to(ROOT)}", file=sys.stderr if args.check else sys.stdout)
    if args.check and changed:
        print("run `make docs` to refresh them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
