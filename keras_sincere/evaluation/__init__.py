"""Evaluation of learned embeddings: kNN, target-noise separation, probes, bounds."""

from keras_sincere.evaluation.bootstrap import paired_bootstrap
from keras_sincere.evaluation.bounds import kl_lower_bound
from keras_sincere.evaluation.knn import knn_accuracy
from keras_sincere.evaluation.knn import knn_classify
from keras_sincere.evaluation.knn import knn_correct
from keras_sincere.evaluation.plots import plot_similarity_histograms
from keras_sincere.evaluation.probe import linear_probe
from keras_sincere.evaluation.separation import nearest_target_noise
from keras_sincere.evaluation.separation import per_class_margins
from keras_sincere.evaluation.separation import separation_margin

__all__ = [
    "kl_lower_bound",
    "knn_accuracy",
    "knn_classify",
    "knn_correct",
    "linear_probe",
    "nearest_target_noise",
    "paired_bootstrap",
    "per_class_margins",
    "plot_similarity_histograms",
    "separation_margin",
]
