"""The figures each fault test reports: ``<fault>: sent=N outcomes=N lost=0 duplicated=0 dlq=K``,
one line as the test ends and, at the end of the run, all of them as one table."""

from __future__ import annotations

from dataclasses import dataclass

ROWS: list[tuple[str, Tally, str]] = []

COLUMNS = ("fault", "sent", "outcomes", "lost", "duplicated", "dlq", "details")


@dataclass(frozen=True)
class Tally:
    sent: int
    outcomes: int
    lost: int
    duplicated: int
    dlq: int

    def line(self, fault: str) -> str:
        return (
            f"{fault}: sent={self.sent} outcomes={self.outcomes} lost={self.lost} "
            f"duplicated={self.duplicated} dlq={self.dlq}"
        )


def report(fault: str, tally: Tally, extra: str = "") -> None:
    line = tally.line(fault) + (f" {extra}" if extra else "")
    ROWS.append((fault, tally, extra))
    print(line)


def table() -> list[str]:
    """Every fault reported in this run, as an aligned table (the last column unpadded)."""
    cells = [
        [fault, *(str(n) for n in (t.sent, t.outcomes, t.lost, t.duplicated, t.dlq)), extra]
        for fault, t, extra in ROWS
    ]
    widths = [max(len(row[i]) for row in [list(COLUMNS), *cells]) for i in range(6)]

    def render(row: list[str]) -> str:
        numbers = "  ".join(
            cell.rjust(width) for cell, width in zip(row[1:6], widths[1:], strict=True)
        )
        return f"{row[0].ljust(widths[0])}  {numbers}  {row[6]}".rstrip()

    rule = "-" * (sum(widths) + 2 * 6 + len(COLUMNS[6]))
    return [render(list(COLUMNS)), rule, *(render(row) for row in cells)]
