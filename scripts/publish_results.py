"""Writes the published tables and figure from `keras-sincere compare` results.

The README's and docs/reproducing.md's figures are never typed by hand: each
sits between `<!-- results:NAME -->` and `<!-- /results:NAME -->` markers and
is rewritten from `results.json` files by this script.

    # the main command on each backend, then the other data sets:
    for b in tensorflow jax torch; do
        KERAS_BACKEND=$b keras-sincere compare --dataset digits --output runs/digits-$b
    done
    python scripts/small_datasets.py --output runs/data
    for d in digits2 photos textures; do
        keras-sincere compare --dataset runs/data/$d.npz --output runs/$d
    done
    python scripts/publish_results.py \
        --digits runs/digits-tensorflow runs/digits-jax runs/digits-torch \
        --other runs/digits2 runs/photos runs/textures
"""

import argparse
import json
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIGURE = "docs/images/digits_tensorflow_histograms.png"


def _cell(summary, scale=1.0, digits=3):
    mean = scale * summary["mean"]
    if summary["n"] < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {scale * summary['half_width']:.{digits}f}"


def _signed(summary, scale=1.0, digits=3):
    mean = scale * summary["mean"]
    low, high = scale * summary["low"], scale * summary["high"]
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


# Loss names written by versions before the canonical names: results.json
# files from then called epsilon-SupInfoNCE "eps".
_OLD_LOSS_NAMES = {"eps": "epsilon_supinfonce"}


def _canonical(name):
    return _OLD_LOSS_NAMES.get(name, name)


def _canonical_pair(pair):
    """A `"REFERENCE-OTHER"` key of `paired` / `bootstrap` with new names."""
    reference, other = pair.split("-", 1)
    return f"{_canonical(reference)}-{_canonical(other)}"


def with_canonical_loss_names(record):
    """`record` with every loss named as `keras_sincere.losses` names it now."""
    record = dict(record)
    record["losses"] = [_canonical(loss) for loss in record["losses"]]
    for key in ("runs", "summary"):
        record[key] = {_canonical(k): v for k, v in record[key].items()}
    for key in ("paired", "bootstrap"):
        record[key] = {_canonical_pair(k): v for k, v in record[key].items()}
    record["warnings"] = [
        {**warning, "loss": _canonical(warning["loss"])}
        for warning in record["warnings"]
    ]
    return record


def _load(folder):
    record = json.loads((pathlib.Path(folder) / "results.json").read_text())
    record = with_canonical_loss_names(record)
    record["folder"] = str(folder)
    return record


def _name(record):
    return pathlib.Path(record["dataset"]).stem


def summary_table(records, label):
    """Per record and loss: margin, loss first/last, kNN, probe, health."""
    lines = [
        f"| {label} | loss | margin (Table 1) | loss first → last (Table 4) "
        "| 1NN % | 5NN % | probe % | health |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for record in records:
        key = record["backend"] if label == "backend" else _name(record)
        for loss in record["losses"]:
            figures = record["summary"][loss]
            warnings = [w for w in record["warnings"] if w["loss"] == loss]
            health = f"{len(warnings)} warning(s)" if warnings else "healthy"
            lines.append(
                f"| {key} | {loss} | {_cell(figures['margin'])} | "
                f"{_cell(figures['loss_initial'])} → {_cell(figures['loss_final'])} | "
                f"{_cell(figures['knn1'], 100, 2)} | "
                f"{_cell(figures['knn5'], 100, 2)} | "
                f"{_cell(figures['probe_accuracy'], 100, 2)} | {health} |"
            )
    return "\n".join(lines)


def paired_table(records, label):
    """SINCERE minus SupCon across seeds, per record."""
    # Wall time only where it was measured on a quiet machine (the digits).
    timed = label == "backend"
    lines = [
        f"| {label} | margin difference | seeds with a wider margin | final-loss "
        "difference | 1NN difference (points) |" + (" wall time |" if timed else ""),
        "|---|---|---|---|---|" + ("---|" if timed else ""),
    ]
    for record in records:
        key = record["backend"] if label == "backend" else _name(record)
        reference, other = record["losses"][:2]
        paired = record["paired"][f"{reference}-{other}"]
        seeds = len(record["seeds"])
        minutes = record.get("wall_seconds", 0) / 60
        lines.append(
            f"| {key} | {_signed(paired['margin'])} | "
            f"{paired['margin']['wins']}/{seeds} | {_signed(paired['loss_final'])} | "
            f"{_signed(paired['knn1'], 100, 2)} |"
            + (f" {minutes:.1f} min |" if timed else "")
        )
    return "\n".join(lines)


def _replace(text, name, body):
    pattern = re.compile(
        rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)", re.S
    )
    if not pattern.search(text):
        raise SystemExit(f"no <!-- results:{name} --> block to rewrite")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def publish(digits, other):
    blocks = {
        "digits-summary": summary_table(digits, "backend"),
        "digits-paired": paired_table(digits, "backend"),
        "other-summary": summary_table(other, "data set"),
        "other-paired": paired_table(other, "data set"),
    }
    for relative in ("README.md", "docs/reproducing.md"):
        path = ROOT / relative
        text = path.read_text()
        for name, body in blocks.items():
            if f"<!-- results:{name} -->" in text:
                text = _replace(text, name, body)
        path.write_text(text)
        print(f"rewrote {relative}")
    tensorflow = [r for r in digits if r["backend"] == "tensorflow"]
    if tensorflow:
        source = pathlib.Path(tensorflow[0]["folder"]) / "similarity_histograms.png"
        shutil.copyfile(source, ROOT / FIGURE)
        print(f"copied {source} to {FIGURE}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", nargs="+", default=[], help="compare folders")
    parser.add_argument("--other", nargs="+", default=[], help="compare folders")
    args = parser.parse_args()
    publish([_load(f) for f in args.digits], [_load(f) for f in args.other])


if __name__ == "__main__":
    main()
