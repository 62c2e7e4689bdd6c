"""The comparison as markdown: the paper's Tables 1, 4 and 6 across seeds."""

import math

from keras_sincere.experiments.measures import MIN_HEALTHY_STEPS
from keras_sincere.experiments.measures import MIN_LOSS_DROP


def _interval(summary: dict, scale: float = 1.0, digits: int = 3, sign="") -> str:
    """`mean [low, high]` (`sign="+"` prints the signs of differences)."""
    form = f"{sign}.{digits}f"

    def scaled(key):  # NaN figures are None once read back from JSON
        value = summary[key]
        return float("nan") if value is None else scale * value

    mean = scaled("mean")
    if summary["n"] < 2 or summary.get("diverged"):
        return f"{mean:{form}}"
    low, high = scaled("low"), scaled("high")
    return f"{mean:{form}} [{low:{form}}, {high:{form}}]"


def _signed(summary: dict, scale: float = 1.0, digits: int = 3) -> str:
    return _interval(summary, scale, digits, sign="+")


def _health_lines(record: dict) -> list:
    warnings = record["warnings"]
    if not warnings:
        return [
            f"Health: every run took >= {MIN_HEALTHY_STEPS} steps, its loss fell "
            f"by >= {MIN_LOSS_DROP:.0%} and its embeddings did not collapse.",
            "",
        ]
    lines = [
        f"**Unhealthy runs: {len(warnings)} warning(s). The comparison below "
        "declares no winner until they are fixed.**",
        "",
    ]
    lines += [f"- {w['loss']} seed {w['seed']}: {w['warning']}" for w in warnings]
    return lines + [""]


def _paired_lines(record: dict, healthy: bool) -> list:
    losses, seeds = record["losses"], record["seeds"]
    reference = losses[0]
    rows = (
        ("margin", "margin", 1.0, 3),
        ("loss_final", "final loss", 1.0, 3),
        ("knn1", "1NN %", 100.0, 2),
        ("knn5", "5NN %", 100.0, 2),
        ("probe_accuracy", "probe %", 100.0, 2),
    )
    lines = []
    for other in losses[1:]:
        paired = record["paired"][f"{reference}-{other}"]
        lines += [
            f"Paired across seeds: {reference} minus {other} (mean [95% interval]; "
            f"seeds where {reference} is higher)",
            "",
            f"| figure | difference | {reference} higher | verdict |",
            "|---|---|---|---|",
        ]
        for key, label, scale, digits in rows:
            stats = paired[key]
            wins = "n/a" if stats["wins"] is None else f"{stats['wins']}/{len(seeds)}"
            if not healthy:
                verdict = "not judged (unhealthy runs)"
            elif stats["n"] < 2:
                verdict = "one seed: no interval"
            elif stats["significant"]:
                verdict = "higher" if stats["mean"] > 0 else "lower"
            else:
                verdict = "no significant difference"
            lines.append(
                f"| {label} | {_signed(stats, scale, digits)} | {wins} | {verdict} |"
            )
        lines.append("")
    return lines


def _bootstrap_lines(record: dict, healthy: bool) -> list:
    lines = [
        "Per seed, paired bootstrap over test images: accuracy difference "
        "(points, 95% interval)",
        "",
        "| pair | seed | 1NN difference | 5NN difference |",
        "|---|---|---|---|",
    ]
    for pair, per_seed in record["bootstrap"].items():
        for seed, stats in per_seed.items():
            if stats is None:
                lines.append(f"| {pair} | {seed} | diverged | diverged |")
                continue
            cells = []
            for k in ("knn1", "knn5"):
                s = stats[k]
                mark = " (significant)" if s["significant"] and healthy else ""
                cells.append(
                    f"{100 * s['difference']:+.2f} [{100 * s['low']:+.2f}, "
                    f"{100 * s['high']:+.2f}]{mark}"
                )
            lines.append(f"| {pair} | {seed} | {cells[0]} | {cells[1]} |")
    return lines + [""]


def format_comparison(record: dict) -> str:
    """The paper's Tables 1, 4 and 6 across seeds, as markdown.

    Args:
        record: `Comparison.to_json(...)` (what `results.json` holds).

    Returns:
        Markdown: the health of the runs first, then per loss the mean and
        95% interval across seeds of each figure, the paired differences
        across seeds and the per-seed paired bootstrap.
    """
    healthy = not record["warnings"]
    lines = [*_title_lines(record), *_health_lines(record), *_loss_tables(record)]
    if len(record["losses"]) > 1:
        lines += _paired_lines(record, healthy)
        lines += _bootstrap_lines(record, healthy)
    return "\n".join(lines)


def _first_plan(record: dict) -> dict:
    return record["runs"][record["losses"][0]][str(record["seeds"][0])]["plan"]


def _title_lines(record: dict) -> list:
    seeds, plan = record["seeds"], _first_plan(record)
    return [
        f"{record['dataset']}: {len(seeds)} seed(s) ({', '.join(map(str, seeds))}), "
        f"mean [95% interval] across seeds. Plan ({plan['rule']}): "
        f"{plan['backbone']} width {plan['width']}, "
        f"{plan['image_size']}px, batch {plan['batch_size']}, "
        f"{plan['recipe']['epochs']} epochs = "
        f"{plan['total_steps']} steps, lr "
        f"{plan['recipe']['learning_rate']:g}{_memory_text(plan)}.",
        "",
    ]


def _memory_text(plan: dict) -> str:
    memory = plan.get("memory_size", 0)
    if not memory:
        return ", no memory"
    return (
        f", memory {memory} embeddings (used from step "
        f"{plan['memory_warmup_steps'] + 1})"
    )


def _bound(summary: dict, noise: float) -> str:
    """`log|N| - final loss` (Theorem 11's bound) with the loss's interval."""
    log_noise = math.log(noise)
    bound = {
        **summary,
        "mean": None if summary["mean"] is None else log_noise - summary["mean"],
        "low": None if summary.get("high") is None else log_noise - summary["high"],
        "high": None if summary.get("low") is None else log_noise - summary["low"],
    }
    return _interval(bound)


def _loss_tables(record: dict) -> list:
    """Tables 1 (margin), 4 (training loss) and 6 (kNN, probe), one row a loss."""
    losses, first_seed, summary = (
        record["losses"],
        str(record["seeds"][0]),
        record["summary"],
    )
    lines = [
        "Table 1: margin between median target and noise similarity (test set)",
        "",
        "| loss | T | margin |",
        "|---|---|---|",
    ]
    for loss in losses:
        temperature = record["runs"][loss][first_seed]["plan"]["recipe"]["temperature"]
        lines.append(
            f"| {loss} | {temperature:g} | {_interval(summary[loss]['margin'])} |"
        )
    lines += [
        "",
        "Table 4: training loss, first and last epoch; |N| noise embeddings "
        "per anchor (batch and memory), and the KL bound log|N| - final loss "
        "(Theorem 11)",
        "",
    ]
    lines += [
        "| loss | initial | final | noise per anchor | KL bound |",
        "|---|---|---|---|---|",
    ]
    for loss in losses:
        noise = record["runs"][loss][first_seed]["noise_count"]
        final = summary[loss]["loss_final"]
        lines.append(
            f"| {loss} | {_interval(summary[loss]['loss_initial'])} | "
            f"{_interval(final)} | {noise:.0f} | {_bound(final, noise)} |"
        )
    lines += [
        "",
        "Table 6: weighted kNN accuracy (%), test set; linear probe for reference",
        "",
        "| loss | 1NN | 5NN | linear probe |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {loss} | {_interval(summary[loss]['knn1'], 100, 2)} | "
        f"{_interval(summary[loss]['knn5'], 100, 2)} | "
        f"{_interval(summary[loss]['probe_accuracy'], 100, 2)} |"
        for loss in losses
    ]
    return lines + [""] + _retrieval_lines(record)


# (summary key, column name) of the retrieval tables, in percent.
RETRIEVAL_COLUMNS = (
    ("precision_at_1", "P@1"),
    ("r_precision", "R-precision"),
    ("map_at_r", "MAP@R"),
    ("recall_at_1", "R@1"),
    ("recall_at_2", "R@2"),
    ("recall_at_4", "R@4"),
    ("recall_at_8", "R@8"),
    ("nmi", "NMI"),
)


def _retrieval_lines(record: dict) -> list:
    """P@1, R-precision, MAP@R, Recall@k (%) and NMI, one row a loss."""
    losses, summary = record["losses"], record["summary"]
    if "map_at_r" not in summary[losses[0]]:
        return []  # a record from before the retrieval metrics
    lines = [
        "Retrieval (%; test images query the training images; "
        "docs/evaluation.md defines each)",
        "",
        "| loss | " + " | ".join(name for _, name in RETRIEVAL_COLUMNS) + " |",
        "|---|" + "---|" * len(RETRIEVAL_COLUMNS),
    ]
    for loss in losses:
        cells = [_interval(summary[loss][key], 100, 2) for key, _ in RETRIEVAL_COLUMNS]
        lines.append(f"| {loss} | " + " | ".join(cells) + " |")
    return lines + [""]
