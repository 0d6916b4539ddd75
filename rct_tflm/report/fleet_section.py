"""The report's section for one fleet run (fleet.json): accuracy per round next to the
centralised run, who missed which round, and the fleet's plots."""
from __future__ import annotations

from typing import Callable


def fleet_section(name: str, f: dict, img: Callable[[str, str], list[str]]) -> list[str]:
    cen = f.get("centralised_test_accuracy") or []
    md = [f"## Fleet `{name}`: {f['boards']} {f['board_kind']} boards, {f['split']}, "
          f"{f['rounds']} rounds (Flower, integer FedAvg)", "",
          "| round | global test accuracy | centralised, same samples | boards | missed |",
          "|---|---|---|---|---|",
          f"| 0 | {100 * f['initial_test_accuracy']:.1f}% | - | - | - |"]
    for k, r in enumerate(f["round_records"]):
        c = f"{100 * cen[k]:.1f}%" if k < len(cen) else "-"
        missed = ", ".join(f"board{b} ({why})" for b, why in r["missed"].items()) or "-"
        md.append(f"| {r['round']} | {100 * r['test_accuracy']:.1f}% | {c} | "
                  f"{len(r['boards'])} | {missed} |")
    if "gap_points_last_k" in f:
        md += ["", f"Centralised − fleet: {f['gap_points']:+.1f} points at the last round, "
                   f"{f['gap_points_last_k']:+.1f} over the last {f['last_k']} rounds."]
    md += [f"Final global weights `{f['weights_sha256'][:16]}`, bits "
           + "/".join(str(b) for b in f["final_bitwidths"].values()) + ".", ""]
    for png, alt in (("fleet_accuracy.png", "fleet accuracy"),
                     ("fleet_bitwidths.png", "fleet bitwidths"), ("fleet_link.png", "fleet link")):
        md += img(png, alt)
    return md
