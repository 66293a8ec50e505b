"""Reads a TensorBoard log directory with TensorBoard's own code and prints
what it found as JSON. test_tensorboard.py runs it with the Python of the
test-only virtual environment that has tensorboard from PyPI
(scripts/tensorboard-venv.sh); the latent module is not needed here.

    python tensorboard_reader.py LOGDIR

Output: {"runs": {run: {"file_version": [first record's, per file], "records": n,
                        "scalars": {tag: [[step, value, wall_time], ...]}}},
         "projector": [{"tensor_name", "tensor_shape", "rows", "cols",
                        "metadata_rows", "metadata_header"}, ...]}
"""

import json
import os
import sys

from google.protobuf import text_format
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
from tensorboard.plugins.projector import projector_plugin
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig


def strict_records(path):
    """Every record of an event file through TensorBoard's record reader,
    which checks both CRCs; a bad one raises here (the accumulator would only
    log a warning and stop reading)."""
    reader = PyRecordReader_New(path)
    events = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return events
        events.append(event_pb2.Event.FromString(reader.record()))


def read_run(path):
    files = sorted(f for f in os.listdir(path) if "tfevents" in f)
    events = [strict_records(os.path.join(path, f)) for f in files]
    accumulator = event_accumulator.EventAccumulator(
        path, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    scalars = {tag: [[e.step, e.value, e.wall_time] for e in accumulator.Scalars(tag)]
               for tag in accumulator.Tags()["scalars"]}
    return {"file_version": [e[0].file_version if e else None for e in events],
            "records": sum(len(e) for e in events), "files": len(files), "scalars": scalars}


def read_projector(logdir):
    """The projector config as the projector plugin reads it (from the
    logdir, its run "."), each tensor through the plugin's own TSV reader and
    each metadata file by its rule (a first line with a tab is the header)."""
    config_path = os.path.join(logdir, "projector_config.pbtxt")
    if not os.path.exists(config_path):
        return []
    config = ProjectorConfig()
    with open(config_path, encoding="utf-8") as f:
        text_format.Parse(f.read(), config)
    out = []
    for embedding in config.embeddings:
        tensor = projector_plugin._read_tensor_tsv_file(
            projector_plugin._rel_to_abs_asset_path(embedding.tensor_path, config_path))
        metadata_path = projector_plugin._rel_to_abs_asset_path(embedding.metadata_path,
                                                                config_path)
        with open(metadata_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        header = lines[0].split("\t") if lines and "\t" in lines[0] else None
        out.append({"tensor_name": embedding.tensor_name,
                    "tensor_shape": list(embedding.tensor_shape),
                    "rows": int(tensor.shape[0]), "cols": int(tensor.shape[1]),
                    "first_row": [float(x) for x in tensor[0]],
                    "metadata_header": header,
                    "metadata_rows": len(lines) - (1 if header else 0),
                    "metadata_first": lines[1 if header else 0].split("\t")})
    return out


def main(logdir):
    runs = {run: read_run(os.path.join(logdir, run)) for run in sorted(os.listdir(logdir))
            if os.path.isdir(os.path.join(logdir, run)) and run != "projector"}
    json.dump({"runs": runs, "projector": read_projector(logdir)}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
