"""Train, evaluate and compare contrastive losses: what `keras-sincere` runs.

A notebook calls the same steps as the command line and gets dataclasses
back:

```python
from keras_sincere import experiments

result = experiments.compare("digits", losses=("sincere", "supcon"), seeds=(0, 1, 2))
record = result.to_json(train_labels)  # what results.json holds
print(experiments.format_comparison(record))
```

The training plan comes from the data (`plan_training`). The paper's CIFAR
datasets keep the recipe of appendix J. Any other data set (the embedded
digits, a user's `.npz`) gets the *small-data plan*: a batch that gives at
least `MIN_STEPS_PER_EPOCH` steps per epoch, the learning rate scaled
linearly from the paper's 0.5 at batch 512, at least `MIN_STEPS` optimizer
steps in all, temperature 0.1 for every loss, and the images at their own
size (at most 32 pixels a side).

The modules, from the plan to the tables:

- `plans`: `plan_training`, `TrainingPlan` (a `recipes.Recipe` plus the
  model, the images and the seed);
- `training`: `build_model`, `train`, `train_and_evaluate`, `RunResult`;
- `measures`: `evaluate`, `Evaluation`, `training_health`;
- `comparison`: `compare`, `Comparison` (summaries across seeds, paired
  tests, bootstrap);
- `tables`: `format_comparison`, the paper's Tables 1, 4 and 6 in markdown;
- `inputs`: loading, label mapping, resizing, fingerprints of the data;
- `commands`: `train_to_folder`, `evaluate_saved_model`,
  `compare_to_folder`, the three commands writing their run folders.

Keras and its backend are imported by the functions that need them, so that
the command line parses its arguments without them.
"""

from keras_sincere.experiments.commands import SavedComparison
from keras_sincere.experiments.commands import SavedEvaluation
from keras_sincere.experiments.commands import SavedRun
from keras_sincere.experiments.commands import compare_to_folder
from keras_sincere.experiments.commands import default_seeds
from keras_sincere.experiments.commands import evaluate_saved_model
from keras_sincere.experiments.commands import evaluation_image_size
from keras_sincere.experiments.commands import load_prepared
from keras_sincere.experiments.commands import train_to_folder
from keras_sincere.experiments.comparison import SEEDED_FIGURES
from keras_sincere.experiments.comparison import Comparison
from keras_sincere.experiments.comparison import compare
from keras_sincere.experiments.inputs import fingerprint
from keras_sincere.experiments.inputs import load_data
from keras_sincere.experiments.inputs import prepare_labels
from keras_sincere.experiments.inputs import resize_data
from keras_sincere.experiments.measures import MAX_MEAN_COSINE
from keras_sincere.experiments.measures import MIN_HEALTHY_STEPS
from keras_sincere.experiments.measures import MIN_LOSS_DROP
from keras_sincere.experiments.measures import RETRIEVAL_FIGURES
from keras_sincere.experiments.measures import Evaluation
from keras_sincere.experiments.measures import divergence_warning
from keras_sincere.experiments.measures import evaluate
from keras_sincere.experiments.measures import noise_count
from keras_sincere.experiments.measures import training_health
from keras_sincere.experiments.plans import MAX_SMALL_DATA_IMAGE_SIDE
from keras_sincere.experiments.plans import MIN_STEPS
from keras_sincere.experiments.plans import MIN_STEPS_PER_EPOCH
from keras_sincere.experiments.plans import PAPER_DATASETS
from keras_sincere.experiments.plans import PLAN_OVERRIDES
from keras_sincere.experiments.plans import SMALL_DATA_MAX_BATCH
from keras_sincere.experiments.plans import SMALL_DATA_MIN_BATCH
from keras_sincere.experiments.plans import SMALL_DATA_TEMPERATURE
from keras_sincere.experiments.plans import TrainingPlan
from keras_sincere.experiments.plans import plan_training
from keras_sincere.experiments.plans import small_data_batch_size
from keras_sincere.experiments.tables import format_comparison
from keras_sincere.experiments.training import RunResult
from keras_sincere.experiments.training import build_model
from keras_sincere.experiments.training import epoch_order
from keras_sincere.experiments.training import train
from keras_sincere.experiments.training import train_and_evaluate

__all__ = [
    "Comparison",
    "Evaluation",
    "MAX_MEAN_COSINE",
    "MAX_SMALL_DATA_IMAGE_SIDE",
    "MIN_HEALTHY_STEPS",
    "MIN_LOSS_DROP",
    "RETRIEVAL_FIGURES",
    "MIN_STEPS",
    "MIN_STEPS_PER_EPOCH",
    "PAPER_DATASETS",
    "PLAN_OVERRIDES",
    "RunResult",
    "SEEDED_FIGURES",
    "SMALL_DATA_MAX_BATCH",
    "SMALL_DATA_MIN_BATCH",
    "SMALL_DATA_TEMPERATURE",
    "SavedComparison",
    "SavedEvaluation",
    "SavedRun",
    "TrainingPlan",
    "build_model",
    "compare",
    "compare_to_folder",
    "default_seeds",
    "divergence_warning",
    "epoch_order",
    "evaluate",
    "evaluate_saved_model",
    "evaluation_image_size",
    "fingerprint",
    "format_comparison",
    "load_data",
    "load_prepared",
    "noise_count",
    "plan_training",
    "prepare_labels",
    "resize_data",
    "small_data_batch_size",
    "train",
    "train_and_evaluate",
    "train_to_folder",
    "training_health",
]
