"""`rct-tflm layers`: which layer kinds train on the host, run frozen on the device, and train
on the device (the kind registry answers; the README's matrix is this command's output)."""
from __future__ import annotations

import json

import click

YES, NO = "yes", "-"


def layer_rows() -> list[list[str]]:
    """Header and one row per kind, the cells `rct-tflm layers` prints."""
    from ..program.kinds import support_matrix
    out = [["Keras layer", "kind", "host training", "frozen on device", "trainable on device"]]
    for r in support_matrix():
        if not r["keras"]:
            continue  # relu, softmax_ce: no Keras class of their own (fused; see NOTE)
        trainable = ("weights" if r["params"] else "passes the error") if r["trainable"] else NO
        out.append([", ".join(r["keras"]), r["kind"], YES if r["host"] else NO,
                    YES if r["frozen"] else NO, trainable])
    return out


NOTE = ("Also imported: InputLayer; BatchNormalization (folded into the conv/dense before it); "
        "ReLU / Activation(relu|relu6|linear) (fused); a final Softmax (the loss head: softmax "
        "cross-entropy on the logits).")


def markdown() -> str:
    rows = layer_rows()
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines + ["", NOTE])


@click.command("layers")
@click.option("--markdown", "as_markdown", is_flag=True, help="print a Markdown table")
@click.option("--json", "as_json", is_flag=True, help="print the matrix as JSON")
def layers_cmd(as_markdown: bool, as_json: bool) -> None:
    """List the layer kinds and where each runs: host training, frozen or trainable on device."""
    if as_json:
        from ..program.kinds import support_matrix
        click.echo(json.dumps(support_matrix(), indent=1))
        return
    if as_markdown:
        click.echo(markdown())
        return
    rows = layer_rows()
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))
    click.echo(NOTE)


COMMANDS = [layers_cmd]
