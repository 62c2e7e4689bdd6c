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

    # the cross-batch memory (docs/memory.md, BENCHMARKS.md): batch 32,
    # without and with a memory of 2048 embeddings, the same steps and seeds
    for m in 0 2048; do
        keras-sincere compare --dataset digits --batch-size 32 \
            --memory-size $m --output runs/memory-$m
    done
    python scripts/publish_results.py --memory runs/memory-0 runs/memory-2048

    # multi-label supervision (docs/losses.md): the digits' attribute sets
    python scripts/small_datasets.py --output runs/data
    keras-sincere compare --dataset runs/data/digits_attributes.npz \
        --output runs/attributes
    python scripts/publish_results.py --multilabel runs/attributes
"""

import argparse
import json
import pathlib
import re
import shutil

from keras_sincere.experiments.tables import RETRIEVAL_COLUMNS

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIGURE = "docs/images/digits_tensorflow_histograms.png"
MAP_FIGURE = "docs/images/digits_tensorflow_embedding_maps.png"


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


def _seed_figures(record, loss, key):
    """`key` of each seed's run of `loss`, in seed order."""
    runs = record["runs"][loss]
    return [runs[str(seed)][key] for seed in record["seeds"]]


def _paired_by_seed(key, run, reference):
    """`key` of `run` minus `reference`, each `(record, loss)`, paired by seed."""
    from keras_sincere import evaluation

    return evaluation.paired_seed_difference(
        _seed_figures(*run, key), _seed_figures(*reference, key)
    )


def retrieval_table(records):
    """Per backend and loss: the retrieval figures (%), mean ± 95% half-width."""
    names = " | ".join(name for _, name in RETRIEVAL_COLUMNS)
    lines = [
        f"| backend | loss | {names} |",
        "|---|---|" + "---|" * len(RETRIEVAL_COLUMNS),
    ]
    for record in records:
        for loss in record["losses"]:
            figures = record["summary"][loss]
            cells = " | ".join(
                _cell(figures[key], 100, 2) for key, _ in RETRIEVAL_COLUMNS
            )
            lines.append(f"| {record['backend']} | {loss} | {cells} |")
    return "\n".join(lines)


def retrieval_paired_table(records):
    """SINCERE minus SupCon in P@1, MAP@R and NMI (points), paired by seed."""
    keys = (("precision_at_1", "P@1"), ("map_at_r", "MAP@R"), ("nmi", "NMI"))
    lines = [
        "| backend | "
        + " | ".join(f"{name} difference (points)" for _, name in keys)
        + " | seeds with a higher MAP@R |",
        "|---|" + "---|" * (len(keys) + 1),
    ]
    for record in records:
        reference, other = record["losses"][:2]
        differences = {
            key: _paired_by_seed(key, (record, reference), (record, other))
            for key, _ in keys
        }
        cells = " | ".join(_signed(differences[key], 100, 2) for key, _ in keys)
        wins = differences["map_at_r"]["wins"]
        seeds = len(record["seeds"])
        lines.append(f"| {record['backend']} | {cells} | {wins}/{seeds} |")
    return "\n".join(lines)


def multilabel_table(record):
    """Per loss: margin, kNN and retrieval (%), mean ± 95% half-width."""
    columns = (
        ("margin", "margin", 1.0, 3),
        ("loss_final", "final loss", 1.0, 3),
        ("knn1", "1NN %", 100.0, 2),
        ("precision_at_1", "P@1 %", 100.0, 2),
        ("r_precision", "R-precision %", 100.0, 2),
        ("map_at_r", "MAP@R %", 100.0, 2),
        ("nmi", "NMI %", 100.0, 2),
    )
    lines = [
        "| loss | " + " | ".join(name for _, name, _, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for loss in record["losses"]:
        figures = record["summary"][loss]
        cells = " | ".join(
            _cell(figures[key], scale, digits) for key, _, scale, digits in columns
        )
        lines.append(f"| {loss} | {cells} |")
    return "\n".join(lines)


def multilabel_paired_table(record):
    """SINCERE minus SupCon per figure, paired by seed."""
    reference, other = record["losses"][:2]
    lines = [
        "| figure | difference | seeds where SINCERE is higher |",
        "|---|---|---|",
    ]
    for key, name, scale, digits in (
        ("margin", "margin", 1.0, 3),
        ("knn1", "1NN (points)", 100.0, 2),
        ("map_at_r", "MAP@R (points)", 100.0, 2),
        ("nmi", "NMI (points)", 100.0, 2),
    ):
        difference = _paired_by_seed(key, (record, reference), (record, other))
        lines.append(
            f"| {name} | {_signed(difference, scale, digits)} | "
            f"{difference['wins']}/{len(record['seeds'])} |"
        )
    return "\n".join(lines)


def memory_table(records):
    """Per memory size and loss: the figures, the noise count, the bound, time."""
    import math

    lines = [
        "| memory | loss | margin | 1NN % | 5NN % | final loss | noise per anchor "
        "| KL bound | s / step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for record in records:
        plan = next(iter(record["runs"][record["losses"][0]].values()))["plan"]
        for loss in record["losses"]:
            figures = record["summary"][loss]
            noise = _seed_figures(record, loss, "noise_count")[0]
            bound = dict(figures["loss_final"])
            bound["mean"] = math.log(noise) - bound["mean"]
            step = _seed_figures(record, loss, "seconds_per_step")
            lines.append(
                f"| {plan.get('memory_size', 0)} | {loss} | "
                f"{_cell(figures['margin'])} | {_cell(figures['knn1'], 100, 2)} | "
                f"{_cell(figures['knn5'], 100, 2)} | "
                f"{_cell(figures['loss_final'])} | {noise:.0f} | {_cell(bound)} | "
                f"{sum(step) / len(step):.4f} |"
            )
    return "\n".join(lines)


def memory_paired_table(records):
    """Each memory against the first record (no memory), paired by seed."""
    reference = records[0]
    lines = [
        "| memory | loss | margin difference | 1NN difference (points) "
        "| 5NN difference (points) |",
        "|---|---|---|---|---|",
    ]
    for record in records[1:]:
        plan = next(iter(record["runs"][record["losses"][0]].values()))["plan"]
        for loss in record["losses"]:
            cells = []
            for key, scale in (("margin", 1.0), ("knn1", 100.0), ("knn5", 100.0)):
                difference = _paired_by_seed(key, (record, loss), (reference, loss))
                cells.append(_signed(difference, scale, 3 if scale == 1 else 2))
            row = " | ".join(cells)
            lines.append(f"| {plan['memory_size']} minus 0 | {loss} | {row} |")
    return "\n".join(lines)


def _replace(text, name, body):
    pattern = re.compile(
        rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)", re.S
    )
    if not pattern.search(text):
        raise SystemExit(f"no <!-- results:{name} --> block to rewrite")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def publish(digits, other, memory=(), multilabel=None):
    blocks = {}
    if multilabel is not None:
        blocks["multilabel-summary"] = multilabel_table(multilabel)
        blocks["multilabel-paired"] = multilabel_paired_table(multilabel)
    if digits:
        blocks["digits-summary"] = summary_table(digits, "backend")
        blocks["digits-paired"] = paired_table(digits, "backend")
        blocks["digits-retrieval"] = retrieval_table(digits)
        blocks["digits-retrieval-paired"] = retrieval_paired_table(digits)
    if other:
        blocks["other-summary"] = summary_table(other, "data set")
        blocks["other-paired"] = paired_table(other, "data set")
    if memory:
        blocks["memory-summary"] = memory_table(memory)
        blocks["memory-paired"] = memory_paired_table(memory)
    pages = (
        "README.md",
        "docs/reproducing.md",
        "docs/memory.md",
        "docs/losses.md",
        "BENCHMARKS.md",
    )
    for relative in pages:
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
        source = pathlib.Path(tensorflow[0]["folder"]) / "embedding_maps.png"
        shutil.copyfile(source, ROOT / MAP_FIGURE)
        print(f"copied {source} to {MAP_FIGURE}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", nargs="+", default=[], help="compare folders")
    parser.add_argument("--other", nargs="+", default=[], help="compare folders")
    parser.add_argument(
        "--memory",
        nargs="+",
        default=[],
        help="compare folders, the first without a memory",
    )
    parser.add_argument(
        "--multilabel", help="the compare folder of digits_attributes.npz"
    )
    args = parser.parse_args()
    publish(
        [_load(f) for f in args.digits],
        [_load(f) for f in args.other],
        [_load(f) for f in args.memory],
        None if args.multilabel is None else _load(args.multilabel),
    )


if __name__ == "__main__":
    main()
