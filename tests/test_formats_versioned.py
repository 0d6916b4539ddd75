"""Every versioned JSON format: a round trip, and a one-line error for a wrong format, a missing
or a future version (generated-tree manifest, result records, partition plan, checkpoints)."""
from __future__ import annotations

import json

import pytest

from rct_tflm.errors import UserError
from rct_tflm.formats import manifest, results


@pytest.mark.parametrize("name", sorted(results.KINDS))
def test_result_records_round_trip_and_refuse_others(tmp_path, name):
    p = tmp_path / name
    results.save(p, {"samples": 3, "format": "ignored", "version": 0})
    d = results.load(p)
    assert (d["format"], d["version"]) == results.KINDS[name][:2] and d["samples"] == 3
    fmt, version, writer = results.KINDS[name]
    for bad, msg in ((json.dumps({"format": fmt, "version": version + 1}), "newer than"),
                     (json.dumps({"format": "x", "version": 1}), f"is not a {fmt} file"),
                     (json.dumps({"format": fmt}), "no valid version"),
                     ("[1, 2]", f"is not a {fmt} file"), ("{not json", "cannot read")):
        p.write_text(bad)
        with pytest.raises(UserError, match=msg) as e:
            results.load(p)
        assert writer in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(UserError, match="not a result file"):
        results.load(tmp_path / "other.json")


def test_manifest_round_trip_versions_and_build_folders(tmp_path):
    tree = tmp_path / "gen"
    tree.mkdir()
    manifest.save(tree, manifest.new(model_hash="ab", input_size=64))
    assert manifest.load(tree)["input_size"] == 64
    build = tmp_path / "fw"
    (build / "model").mkdir(parents=True)
    (build / "model" / manifest.NAME).write_text((tree / manifest.NAME).read_text())
    assert manifest.load(build)["model_hash"] == "ab"  # a build folder's model/ copy
    (tree / manifest.NAME).write_text(json.dumps({"format": manifest.FORMAT, "version": 7}))
    with pytest.raises(UserError, match="version 7, newer than this rct_tflm reads"):
        manifest.load(tree)
    with pytest.raises(UserError, match="is not a generated project"):
        manifest.load(tmp_path / "nothing")


def test_model_artefact_round_trip_and_refusals(tmp_path, digits_mlp_artefact):
    import zipfile

    from rct_tflm.artefact import ModelArtefact
    p = digits_mlp_artefact.save(tmp_path / "m.rct")
    back = ModelArtefact.load(p)
    assert back.to_json() == digits_mlp_artefact.to_json()
    meta = json.loads(zipfile.ZipFile(p).read("model.json"))
    for change, msg in (({"version": 2}, "artefact version 2"),
                        ({"format": "other"}, "is not an rct_tflm model artefact")):
        bad = tmp_path / "bad.rct"
        with zipfile.ZipFile(p) as src, zipfile.ZipFile(bad, "w") as dst:
            for item in src.namelist():
                data = src.read(item)
                if item == "model.json":
                    data = json.dumps({**meta, **change}).encode()
                dst.writestr(item, data)
        with pytest.raises(UserError, match=msg):
            ModelArtefact.load(bad)


def test_partition_plan_round_trip_and_refusals(tmp_path, digits_mlp_artefact):
    from rct_tflm.artefact import ModelArtefact
    from rct_tflm.formats import plan
    from rct_tflm.partition import partition
    p = partition(digits_mlp_artefact).save(tmp_path / "p.rct")
    back = ModelArtefact.load(p).partition
    assert back["format"] == plan.FORMAT and back["version"] == plan.VERSION
    assert plan.check(back, p) == back and plan.check(None, p) is None
    old = {k: v for k, v in back.items() if k != "format"}  # a plan from before the format key
    assert plan.check(old, p)["format"] == plan.FORMAT
    for bad, msg in (({**back, "version": 9}, "newer than this rct_tflm reads"),
                     ({**back, "format": "x"}, "is not a rct-tflm-plan file"),
                     ({k: v for k, v in back.items() if k != "board"}, "no board")):
        with pytest.raises(UserError, match=msg):
            plan.check(bad, p)


def test_stream_checkpoint_round_trip_and_refusals(tmp_path):
    from rct_tflm.formats import checkpoint
    ck = tmp_path / "checkpoint.json"
    checkpoint.save_checkpoint(ck, {"samples_done": 512, "seed": 1}, b"\x01\x02\x03")
    state, blob = checkpoint.load_checkpoint(ck)
    assert blob == b"\x01\x02\x03" and state["samples_done"] == 512
    d = json.loads(ck.read_text())
    for change, msg in (({"version": 2}, "newer than this rct_tflm reads"),
                        ({"format": "other"}, "is not a stream checkpoint")):
        ck.write_text(json.dumps({**d, **change}))
        with pytest.raises(UserError, match=msg):
            checkpoint.load_checkpoint(ck)
    ck.write_text("{not json")
    with pytest.raises(UserError, match="corrupt checkpoint"):
        checkpoint.load_checkpoint(ck)
