"""Training plans from the data, run health, model reuse across seeds, tables."""

import json

import keras
import numpy as np
import pytest

from keras_sincere import experiments


def toy_data(train=48, test=24, size=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)

    def split(n):
        labels = np.arange(n) % classes
        colours = np.eye(3)[labels][:, None, None, :]
        images = 0.6 * colours + 0.4 * rng.random((n, size, size, 3))
        return images.astype("float32"), labels

    return split(train), split(test)


def test_paper_datasets_keep_the_paper_recipe():
    plan = experiments.plan_training("cifar10", "sincere", 50000, 32)
    recipe = plan.recipe
    assert (recipe.epochs, recipe.batch_size, recipe.learning_rate) == (800, 512, 0.5)
    assert (recipe.temperature, recipe.warmup_epochs) == (0.1, 10)
    assert (plan.backbone, plan.width, plan.min_crop, plan.image_size) == (
        "resnet50",
        64,
        0.2,
        32,
    )
    assert plan.rule == "paper"
    assert (
        experiments.plan_training("cifar10", "supcon", 50000, 32).recipe.temperature
        == 0.05
    )
    assert (
        experiments.plan_training("CIFAR100", "sincere", 50000, 32).recipe.temperature
        == 0.05
    )


@pytest.mark.parametrize(
    "train_size, batch",
    [(150, 16), (500, 16), (1438, 64), (2000, 64), (20, 16), (10, 10)],
)
def test_small_data_batch_gives_several_steps(train_size, batch):
    assert experiments.small_data_batch_size(train_size) == batch
    plan = experiments.plan_training("my.npz", "sincere", train_size, 32)
    assert plan.batch_size == batch
    assert plan.total_steps >= experiments.MIN_STEPS
    assert plan.recipe.learning_rate == pytest.approx(
        0.5 * plan.recipe.batch_size / 512
    )
    if train_size >= 16 * experiments.MIN_STEPS_PER_EPOCH:
        assert plan.steps_per_epoch >= experiments.MIN_STEPS_PER_EPOCH


def test_small_data_plan_for_digits():
    plan = experiments.plan_training("digits", "supcon", 1438, 8)
    assert plan.rule == "small-data" and plan.recipe.temperature == 0.1
    assert plan.image_size == 8
    assert experiments.plan_training("my.npz", "sincere", 500, 96).image_size == 32
    assert plan.total_steps >= experiments.MIN_STEPS
    assert plan.recipe.warmup_epochs >= 1
    assert "steps/epoch" in plan.describe()


def test_overrides_win_and_the_learning_rate_follows_the_batch():
    plan = experiments.plan_training("digits", "sincere", 1438, 8, batch_size=64)
    assert plan.recipe.learning_rate == pytest.approx(0.0625)
    plan = experiments.plan_training(
        "digits", "sincere", 1438, 8, epochs=3, learning_rate=0.01, temperature=0.5
    )
    assert (plan.recipe.epochs, plan.recipe.learning_rate) == (3, 0.01)
    assert plan.recipe.temperature == 0.5
    paper = experiments.plan_training("cifar10", "sincere", 50000, 32, batch_size=256)
    assert paper.recipe.learning_rate == pytest.approx(0.25)


@pytest.mark.parametrize("batch_size", [16, 32])
def test_small_batches_give_a_plan_with_a_short_warm_up(batch_size):
    # Fewer than 11 epochs: the recipe's default warm-up of 10 would not fit.
    plan = experiments.plan_training(
        "digits", "sincere", 1438, 8, batch_size=batch_size
    )
    assert plan.recipe.epochs < 11 and plan.recipe.warmup_epochs == 1
    assert plan.total_steps >= experiments.MIN_STEPS


def test_memory_plan_uses_the_memory_after_the_learning_rate_warm_up():
    plan = experiments.plan_training(
        "digits", "sincere", 1438, 8, batch_size=32, memory_size=2048
    )
    assert plan.memory_size == 2048
    assert plan.memory_warmup_steps == plan.steps_per_epoch * plan.recipe.warmup_epochs
    assert "memory 2048 embeddings (used from step 46)" in plan.describe()
    given = experiments.plan_training(
        "digits", "sincere", 1438, 8, memory_size=64, memory_warmup_steps=0
    )
    assert given.memory_warmup_steps == 0
    # The loss gains the memory's noise from the second epoch on.
    assert plan.memory_epoch == 1 and given.memory_epoch == 0
    none = experiments.plan_training("digits", "sincere", 1438, 8)
    assert (none.memory_size, none.memory_warmup_steps, none.memory_epoch) == (0, 0, 0)
    assert "memory" not in none.describe()


def test_noise_count_of_label_sets_is_the_share_of_disjoint_pairs():
    # {0}, {1}, {0, 1}, {}: disjoint pairs (ordered) of shares 1/4 each:
    # {0}-{1}, {1}-{0}, and the empty set with all four (twice, but once
    # with itself): 2 + 7 = 9 of 16.
    sets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 5)
    assert experiments.noise_count(32, sets) == pytest.approx(64 * 9 / 16)
    one_hot = np.eye(4)[np.arange(20) % 4]
    assert experiments.noise_count(32, one_hot) == pytest.approx(
        experiments.noise_count(32, np.arange(20) % 4)
    )


def test_noise_count_adds_the_memory_entries_of_other_classes():
    labels = np.arange(100) % 4  # a quarter of the entries share a class
    assert experiments.noise_count(32, labels) == pytest.approx(64 * 0.75)
    assert experiments.noise_count(32, labels, 2048) == pytest.approx(2112 * 0.75)


@pytest.mark.parametrize(
    "name, value",
    [("epochs", 0), ("batch_size", -8), ("temperature", 0.0), ("learning_rate", -1.0),
     ("epochs", 2.5), ("width", 0), ("memory_size", -1), ("memory_warmup_steps", 1.5)],
)  # fmt: skip
def test_bad_overrides_are_rejected(name, value):
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        experiments.plan_training("digits", "sincere", 1438, 8, **{name: value})


def test_loss_names_are_those_of_the_registry_and_canonical():
    plan = experiments.plan_training("digits", "eps", 1438, 8)
    assert plan.recipe.loss == "epsilon_supinfonce"
    assert "plan for epsilon_supinfonce:" in plan.describe()
    assert type(plan.recipe.build_loss()).__name__ == "EpsilonSupInfoNCELoss"
    with pytest.raises(ValueError, match="`loss` must be one of"):
        experiments.plan_training("digits", "triplet", 1438, 8)
    # Checked before any training.
    with pytest.raises(ValueError, match="`losses` must name one loss or more"):
        experiments.compare(
            "toy.npz", ("eps", "epsilon_supinfonce"), (0,), toy_data(), log=None
        )


def test_health_flags_each_problem():
    healthy = {"mean_pairwise_cosine": 0.1}
    assert experiments.training_health([5.0, 1.0], 600, healthy) == []
    few = experiments.training_health([5.0, 1.0], 15, healthy)
    assert len(few) == 1 and "--epochs" in few[0] and "15 optimizer steps" in few[0]
    flat = experiments.training_health([5.0, 4.8], 600, healthy)
    assert len(flat) == 1 and "fell by less than 10%" in flat[0]
    collapsed = experiments.training_health(
        [5.0, 1.0], 600, {"mean_pairwise_cosine": 0.99}
    )
    assert len(collapsed) == 1 and "collapsed" in collapsed[0]
    nan = experiments.training_health([5.0, float("nan")], 600, healthy)
    assert len(nan) == 1


@pytest.fixture(scope="module")
def compared():
    """One toy comparison (2 losses, 2 seeds, 6 steps a run) for the tests
    that read it."""
    data = toy_data()
    result = experiments.compare(
        "toy.npz",
        losses=("sincere", "supcon"),
        seeds=(0, 1),
        data=data,
        probe_epochs=2,
        bootstrap_resamples=20,
        log=None,
        epochs=2,
        batch_size=16,
        width=4,
        memory_size=32,
        memory_warmup_steps=1,
    )
    return result, data


def test_a_reused_model_trains_exactly_like_a_new_one(compared):
    if keras.backend.backend() != "tensorflow":
        # compare() gives every seed a new model there; check that it does.
        result, _ = compared
        models = [run.model for run in result.runs["sincere"]]
        assert all(models) and models[0] is not models[1]
        return
    data = toy_data()
    plans = [
        experiments.plan_training(
            "toy.npz", "sincere", 48, 8, seed, epochs=2, batch_size=16, width=4
        )
        for seed in (0, 1)
    ]
    fresh, fresh_history = experiments.train(plans[1], data, verbose=0)
    first, _ = experiments.train(plans[0], data, verbose=0)
    reused, reused_history = experiments.train(plans[1], data, verbose=0, reuse=first)
    assert reused is first
    np.testing.assert_allclose(reused_history["loss"], fresh_history["loss"], rtol=1e-6)
    for ours, theirs in zip(reused.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_compare_summarises_seeds_and_writes_json(compared):
    result, data = compared
    assert [run.plan.seed for run in result.runs["supcon"]] == [0, 1]
    reused = keras.backend.backend() == "tensorflow"
    assert (result.runs["sincere"][0].model is None) == reused
    assert result.runs["sincere"][1].model is not None
    record = json.loads(json.dumps(result.to_json(data[0][1])))
    assert set(record["runs"]["sincere"]) == {"0", "1"}
    margins = [record["runs"]["sincere"][s]["margin"] for s in ("0", "1")]
    assert record["summary"]["sincere"]["margin"]["mean"] == pytest.approx(
        np.mean(margins)
    )
    paired = record["paired"]["sincere-supcon"]["margin"]
    assert paired["n"] == 2 and 0 <= paired["wins"] <= 2
    assert set(record["bootstrap"]["sincere-supcon"]) == {"0", "1"}
    # 6 steps: every run is flagged, and the table declares no winner.
    assert any("optimizer steps" in w["warning"] for w in record["warnings"])
    table = experiments.format_comparison(record)
    assert "Unhealthy runs" in table and "not judged" in table
    assert "significant)" not in table
    # The memory: in the plan, the noise count and the time per step.
    assert "memory 32 embeddings (used from step 2)" in table
    assert "noise per anchor | KL bound" in table
    run = record["runs"]["sincere"]["0"]
    assert run["plan"]["memory_size"] == 32 and run["seconds_per_step"] > 0
    assert run["noise_count"] == pytest.approx(
        experiments.noise_count(16, data[0][1], 32)
    )
    for heading in ("Table 1", "Table 4", "Table 6", "Paired across seeds"):
        assert heading in table


def test_head_batch_norm_reaches_the_model():
    plan = experiments.plan_training("digits", "sincere", 1438, 8, width=4)
    assert not plan.head_batch_norm
    assert not experiments.build_model(plan, (8, 8, 3)).head.batch_norm
    plan = experiments.plan_training(
        "digits", "sincere", 1438, 8, width=4, head_batch_norm=True
    )
    assert experiments.build_model(plan, (8, 8, 3)).head.batch_norm


def test_epoch_order_is_a_function_of_seed_and_epoch():
    order = experiments.epoch_order(50, 3, 7)
    assert sorted(order) == list(range(50))
    np.testing.assert_array_equal(order, experiments.epoch_order(50, 3, 7))
    assert not np.array_equal(order, experiments.epoch_order(50, 3, 8))
    assert not np.array_equal(order, experiments.epoch_order(50, 4, 7))


def test_a_run_result_round_trips_through_its_folder(tmp_path):
    plan = experiments.plan_training("toy.npz", "sincere", 48, 8, 2, width=4)
    rng = np.random.default_rng(0)
    evaluation = experiments.Evaluation(
        {"knn1": 0.5, "margin": 0.25, "per_class_margin": {"0": 0.1}},
        rng.random(12),
        rng.random(12),
        {1: rng.random(12) > 0.5, 5: rng.random(12) > 0.5},
    )
    run = experiments.RunResult(
        object(), plan, {"loss": [5.0, 4.5]}, evaluation, ["w"], 3.5
    )
    assert experiments.RunResult.load(tmp_path, plan) is None
    run.save(tmp_path)
    loaded = experiments.RunResult.load(tmp_path, plan)
    assert loaded.model is None and loaded.plan is plan
    assert (loaded.history, loaded.warnings, loaded.seconds) == (
        run.history, run.warnings, run.seconds
    )  # fmt: skip
    assert loaded.evaluation.metrics == evaluation.metrics
    assert loaded.evaluation.test_embeddings is None
    np.testing.assert_array_equal(loaded.evaluation.target, evaluation.target)
    for k in (1, 5):
        np.testing.assert_array_equal(
            loaded.evaluation.knn_correct[k], evaluation.knn_correct[k]
        )


def test_a_diverged_run_is_reported_not_raised(tmp_path):
    result = experiments.compare(
        "toy.npz", ("sincere", "supcon"), (0,), toy_data(), probe_epochs=1,
        bootstrap_resamples=5, log=None, epochs=2, batch_size=16, width=4,
        learning_rate=1e9, temperature=1e-3, checkpoints=tmp_path,
    )  # fmt: skip
    record = json.loads(json.dumps(result.to_json(toy_data()[0][1])))
    assert len(record["warnings"]) >= 2
    assert all("training diverged" in w["warning"] for w in record["warnings"][:2])
    assert np.isnan(record["summary"]["sincere"]["margin"]["mean"])
    assert record["paired"]["sincere-supcon"]["margin"]["diverged"]
    assert record["bootstrap"]["sincere-supcon"]["0"] is None
    table = experiments.format_comparison(record)
    assert "| sincere-supcon | 0 | diverged | diverged |" in table
    assert ", no memory." in table
    assert "not judged" in table
    # A diverged run's results survive the checkpoint folder too.
    plan = result.runs["sincere"][0].plan
    loaded = experiments.RunResult.load(tmp_path / "sincere-seed0", plan)
    assert loaded.evaluation.diverged and np.isnan(loaded.evaluation.metrics["knn1"])
