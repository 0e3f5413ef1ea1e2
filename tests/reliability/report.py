"""The figures each fault test reports: ``<fault>: sent=N outcomes=N lost=0 duplicated=0 dlq=K``."""

from __future__ import annotations

from dataclasses import dataclass

RESULTS: list[str] = []


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
    RESULTS.append(line)
    print(line)
