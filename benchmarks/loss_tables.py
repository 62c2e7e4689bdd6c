"""The Markdown tables that benchmarks/loss.py prints (not a command).

`print_tables` reports what the timing and memory children measured
(loss_measure.py): time and peak memory, the arithmetic floor, chunked
against dense; `print_search` reports the search for the largest N within
the memory budget.
"""

from loss_measure import BACKENDS
from loss_measure import IMPLEMENTATIONS
from loss_measure import MIB
from loss_measure import OURS
from loss_measure import TEMPERATURE
from loss_measure import VIEWS

NAMES = {
    "ours": "ours, dense",
    "ours_chunked": "ours, chunk_size={chunk_size}",
    "baseline": "baseline (formula, keras.ops)",
    "pml": "pytorch-metric-learning",
}


def print_versions(args, results):
    """The versions measured and the fixed settings, above the tables."""
    versions = ", ".join(
        f"{r['backend']} {r['backend_version']} on {r['device']}" for r in results
    )
    print(f"keras {results[0]['keras']}; {versions}")
    try:
        import pytorch_metric_learning

        print(f"pytorch-metric-learning {pytorch_metric_learning.__version__}")
    except ImportError:
        pass
    print(
        f"D = {args.dim}, {VIEWS} views, labels = sample % {args.classes}, "
        f"T = {TEMPERATURE}; median of {args.repeats} runs after a compiling "
        f"and a warm-up run"
    )


def format_ms(seconds):
    return f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:.0f}"


def print_tables(args, results):
    """The time, floor and chunked tables of the timing results."""
    rows = [
        {**row, "backend": result["backend"]}
        for result in results
        for row in result["rows"]
    ]
    timed = [r for r in rows if r.get("status") == "ok"]
    _print_time_table(args, rows, timed)
    _print_floor_table(args, results, timed)
    _print_chunked_table(args, results, timed)


def _best_peer(timed, loss, n, backend=None):
    """The fastest median of the peers (not ours), on one or any backend."""
    peers = [
        r["median_s"]
        for r in timed
        if r["loss"] == loss
        and r["n"] == n
        and r["implementation"] not in OURS
        and (backend is None or r["backend"] == backend)
    ]
    return min(peers) if peers else None


def _print_time_table(args, rows, timed):
    print("\n### Forward + backward time and peak memory\n")
    print(
        "| loss | N | backend | implementation | median (ms) | vs best peer, "
        "same backend | vs best peer, any backend | peak memory (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    order = {name: i for i, name in enumerate(IMPLEMENTATIONS)}
    backend_order = {name: i for i, name in enumerate(BACKENDS)}
    rows = sorted(
        rows,
        key=lambda r: (
            args.losses.index(r["loss"]),
            r["n"],
            backend_order[r["backend"]],
            order[r["implementation"]],
        ),
    )
    for r in rows:
        print(_time_row(r, timed))


def _time_row(r, timed):
    name = NAMES[r["implementation"]].format(chunk_size=r.get("chunk_size"))
    if r["implementation"] == "pml":
        name = "PML SupConLoss" if r["loss"] == "supcon" else "PML NTXentLoss"
    memory = f"{r['peak_bytes'] / MIB:.0f}" if "peak_bytes" in r else ""
    start = f"| {r['loss']} | {r['n']} | {r['backend']} | {name} | "
    if r.get("status") != "ok":
        return f"{start}{r.get('status', '')} | | | {memory} |"
    ratios = []
    for peer in (
        _best_peer(timed, r["loss"], r["n"], r["backend"]),
        _best_peer(timed, r["loss"], r["n"]),
    ):
        ratios.append(f"{r['median_s'] / peer:.2f}x" if peer else "")
    return f"{start}{format_ms(r['median_s'])} | {ratios[0]} | {ratios[1]} | {memory} |"


def _print_floor_table(args, results, timed):
    print("\n### Arithmetic floor\n")
    print(
        "`2 N^2 D` FLOPs (one N x D by D x N product) at the fastest measured rate "
        "of that product; the loss itself needs three such products (logits and "
        "the two gradient products), four when chunked (the logits again).\n"
    )
    header = " | ".join(f"{r['backend']} GFLOP/s" for r in results)
    print(f"| N | GFLOP | {header} | floor (ms) | fastest ours (ms) | ours / floor |")
    print("|---|---|" + "---|" * len(results) + "---|---|---|")
    for n in args.sizes:
        flops = 2 * n * n * args.dim
        rates = []
        for result in results:
            seconds = [m["seconds"] for m in result["matmul"] if m["n"] == n]
            rates.append(flops / seconds[0] / 1e9 if seconds else float("nan"))
        floor = flops / max(rates) / 1e9
        ours = [
            r["median_s"] for r in timed if r["n"] == n and r["implementation"] in OURS
        ]
        fastest = min(ours) if ours else float("nan")
        rate_cells = " | ".join(f"{rate:.0f}" for rate in rates)
        print(
            f"| {n} | {flops / 1e9:.2f} | {rate_cells} | {format_ms(floor)} | "
            f"{format_ms(fastest)} | {fastest / floor:.1f}x |"
        )


def _print_chunked_table(args, results, timed):
    print("\n### Chunked against dense: time per pair\n")
    print(
        "| loss | N | backend | dense (ns/pair) | chunked (ns/pair) | chunked / dense |"
    )
    print("|---|---|---|---|---|---|")
    for loss in args.losses:
        for n in args.sizes:
            for result in results:
                pair = {
                    r["implementation"]: r["median_s"]
                    for r in timed
                    if r["backend"] == result["backend"]
                    and r["loss"] == loss
                    and r["n"] == n
                    and r["implementation"] in OURS
                }
                if len(pair) == 2:
                    dense, chunked = pair["ours"], pair["ours_chunked"]
                    print(
                        f"| {loss} | {n} | {result['backend']} | "
                        f"{dense / n / n * 1e9:.2f} | {chunked / n / n * 1e9:.2f} | "
                        f"{chunked / dense:.2f} |"
                    )


def print_search(args, searches):
    """The largest N within the budget, per backend and mode."""
    if not searches:
        return
    print(
        f"\n### Largest N within {args.budget_gib:g} GiB "
        "(SINCERE, forward + backward)\n"
    )
    print(
        "| backend | mode | largest N that fits | its peak (MiB) | its pass (s) "
        "| ns/pair | next N | result |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for search in searches:
        print(_search_row(args, search))


def _search_row(args, search):
    best, after = search["largest"], search["next"]
    mode = "dense"
    if search["mode"] == "chunked":
        mode = f"chunked, {args.chunk_size}"
    if best:
        if "chunk_size" in best:
            mode = f"chunk_size={best['chunk_size']}"
        cells = (
            f"{best['n']} | {best['peak_bytes'] / MIB:.0f} | "
            f"{best['seconds']:.1f} | "
            f"{best['seconds'] / best['n'] ** 2 * 1e9:.2f}"
        )
    else:
        cells = "none fits | | | "
    if after:
        tail = f"{after['n']} | {after.get('status', 'does not fit')}"
    else:
        tail = f"> {args.max_n} not tried (--max-n) |"
    return f"| {search['backend']} | {mode} | {cells} | {tail} |"
