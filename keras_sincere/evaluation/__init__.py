"""Evaluation of learned embeddings: kNN, separation, probes, bounds, seeds."""

from keras_sincere.evaluation.bootstrap import paired_bootstrap
from keras_sincere.evaluation.bounds import kl_lower_bound
from keras_sincere.evaluation.collapse import embedding_spread
from keras_sincere.evaluation.embedding_map import plot_embedding_map
from keras_sincere.evaluation.knn import knn_accuracy
from keras_sincere.evaluation.knn import knn_classify
from keras_sincere.evaluation.knn import knn_correct
from keras_sincere.evaluation.nearest_neighbors import nearest_neighbors
from keras_sincere.evaluation.plots import plot_similarity_histograms
from keras_sincere.evaluation.probe import linear_probe
from keras_sincere.evaluation.retrieval import retrieval_metrics
from keras_sincere.evaluation.seed_statistics import paired_seed_difference
from keras_sincere.evaluation.seed_statistics import seed_interval
from keras_sincere.evaluation.separation import nearest_target_noise
from keras_sincere.evaluation.separation import per_class_margins
from keras_sincere.evaluation.separation import separation_margin

__all__ = [
    "embedding_spread",
    "kl_lower_bound",
    "knn_accuracy",
    "knn_classify",
    "knn_correct",
    "linear_probe",
    "nearest_neighbors",
    "nearest_target_noise",
    "paired_bootstrap",
    "paired_seed_difference",
    "per_class_margins",
    "plot_embedding_map",
    "retrieval_metrics",
    "seed_interval",
    "plot_similarity_histograms",
    "separation_margin",
]
