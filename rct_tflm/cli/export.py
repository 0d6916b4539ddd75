"""`rct-tflm export`: a trained artefact (e.g. a stream's model.rct) as .tflite and .keras."""
from __future__ import annotations

import click

from .options import out_callback


@click.command("export")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="the trained artefact: a stream's or fleet's model.rct, or any .rct")
@click.option("--tflite", type=click.Path(), default=None, callback=out_callback("file"),
              help="write a fully int8 .tflite (TFLite / TFLite Micro)")
@click.option("--keras", type=click.Path(), default=None, callback=out_callback("file"),
              help="write the model with its dequantised weights as .keras")
@click.option("--data", default="digits", show_default=True,
              help="the model's data set: the training split calibrates the .tflite, the test "
                   "split checks it against the device's predictions")
def export_cmd(model_path: str, tflite: str | None, keras: str | None, data: str) -> None:
    """Export the model with the weights the board trained; check the .tflite in tflite-micro
    against the device's predictions."""
    from ..trainer.export import ExportConfig, export
    r = export(ExportConfig(model_path, data, tflite, keras))
    if "agreement_with_device" in r:
        click.echo(f"{tflite}: {r['tflite_bytes']} B; in tflite-micro it agrees with the "
                   f"device's predictions on {100 * r['agreement_with_device']:.2f}% of "
                   f"{r['test_samples']} test samples (test accuracy: device "
                   f"{100 * r['device_test_accuracy']:.2f}%, .tflite "
                   f"{100 * r['tflite_test_accuracy']:.2f}%)")
        if r["device_ties"]:
            click.echo(f"  {r['device_ties']} of those samples tie on the device (its top "
                       f"logits equal: any tied class is its answer); counting them so: "
                       f"{100 * r['agreement_ties_accepted']:.2f}%")
    if keras:
        click.echo(f"wrote {keras}")


COMMANDS = [export_cmd]
