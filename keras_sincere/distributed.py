"""The replicas of a data-parallel step, as the losses and the memory need them.

Backend-specific on purpose: this is the one module of the package that
talks to each backend's distribution engine directly. The losses gather
their keys with it (`gather_distributed=True`), and `ContrastiveModel`'s
cross-batch memory enqueues the global batch with it.

- TensorFlow: inside `tf.distribute.Strategy.run` (which `fit` uses under a
  `MirroredStrategy` scope), the replica context's `all_gather` and
  `all_reduce`.
- PyTorch: an initialised `torch.distributed` process group (DDP), with
  `all_gather` and `all_reduce` of `torch.distributed`.
- JAX: nothing to do. Under `keras.distribution.DataParallel` the train step
  is one program over the global batch (the arrays are sharded, the math is
  not), so the loss already sees every sample of the global batch.

Gathering with gradients: with `Z` the concatenation of every replica's
embeddings `z_r`, replica `r` computes the loss `L_r` of its own anchors
against all of `Z`. The gradient of the total `L = sum_r L_r` with respect to
`z_s` is `sum_r dL_r / dz_s`: every replica's loss depends on every shard.
So the backward pass of the gather sums the incoming gradient over the
replicas (an all-reduce) and keeps this replica's slice. Summed (TensorFlow)
or averaged (DDP, with the loss scaled as below) over replicas, the parameter
gradients are then exactly those of the single-device loss of the global
batch.
"""

import functools

import keras
from keras import ops


class Replicas:
    """The collective operations of one replica in a data-parallel step.

    All replicas must hold the same number of samples (drop the last partial
    batch: `contrastive_dataset(drop_remainder=True)`, the default).
    """

    count: int = 1

    def gather(self, x):
        """`x` of every replica, concatenated on axis 0, in replica order.

        Differentiable: the gradient of the result reaches each replica's
        `x` summed over all replicas' losses.
        """
        raise NotImplementedError

    def gather_without_gradient(self, x):
        """`gather` with no gradient flowing back (labels, masks)."""
        raise NotImplementedError

    def all_reduce_sum(self, x):
        """Sum of `x` over the replicas (an all-reduce), without gradient."""
        raise NotImplementedError

    def offset(self, local_size):
        """Position of this replica's first row in `gather`'s result."""
        raise NotImplementedError


def replicas_to_gather(gather_distributed: bool) -> "Replicas | None":
    """The replicas to gather from when `gather_distributed`, else `None`."""
    return active_replicas() if gather_distributed else None


def active_replicas():
    """The `Replicas` of the running data-parallel step, or `None`.

    `None` outside a distributed step, with a single replica, and on JAX
    (where the loss sees the global batch anyway).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_replicas()
    if backend == "torch":
        return _torch_replicas()
    return None


def loss_scale() -> float:
    """Keras's scaling of a reduced loss for `tf.distribute`: `1 / replicas`.

    Keras's `fit` sums the replicas' gradients under a TensorFlow strategy
    and divides each replica's loss by their number (Keras's own
    `Loss.__call__` does it). The contrastive losses reduce by themselves,
    so they apply the same factor here. 1 on every other backend.
    """
    if keras.backend.backend() != "tensorflow":
        return 1.0
    import tensorflow as tf

    return 1.0 / tf.distribute.get_strategy().num_replicas_in_sync


def _tensorflow_replicas():
    import tensorflow as tf

    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return None
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return _TensorFlowReplicas(context)


class _TensorFlowReplicas(Replicas):
    def __init__(self, context):
        self.context = context
        self.count = context.num_replicas_in_sync

    def gather(self, x):
        import tensorflow as tf

        context = self.context

        @tf.custom_gradient
        def gather_with_gradient(local):
            gathered = context.all_gather(local, axis=0)

            def gradient(upstream):
                total = context.all_reduce(tf.distribute.ReduceOp.SUM, upstream)
                size = tf.shape(local)[0]
                start = context.replica_id_in_sync_group * size
                return total[start : start + size]

            return gathered, gradient

        return gather_with_gradient(x)

    def gather_without_gradient(self, x):
        import tensorflow as tf

        return self.context.all_gather(tf.stop_gradient(x), axis=0)

    def all_reduce_sum(self, x):
        import tensorflow as tf

        return self.context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(x))

    def offset(self, local_size):
        import tensorflow as tf

        index = tf.cast(self.context.replica_id_in_sync_group, "int32")
        return index * tf.cast(local_size, "int32")


def _torch_replicas():
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    if dist.get_world_size() == 1:
        return None
    return _TorchReplicas()


@functools.cache
def _torch_gather_function():
    import torch
    import torch.distributed as dist

    class GatherWithGradient(torch.autograd.Function):
        @staticmethod
        def forward(context, local):
            parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
            dist.all_gather(parts, local.contiguous())
            context.size = local.shape[0]
            return torch.cat(parts, dim=0)

        @staticmethod
        def backward(context, upstream):
            total = upstream.contiguous().clone()
            dist.all_reduce(total, op=dist.ReduceOp.SUM)
            start = dist.get_rank() * context.size
            return total[start : start + context.size]

    return GatherWithGradient


class _TorchReplicas(Replicas):
    def __init__(self):
        import torch.distributed as dist

        self.count = dist.get_world_size()
        self.rank = dist.get_rank()

    def _check_same_size(self, x):
        import torch
        import torch.distributed as dist

        size = torch.tensor([x.shape[0]], device=x.device)
        sizes = [torch.empty_like(size) for _ in range(self.count)]
        dist.all_gather(sizes, size)
        sizes = [int(s.item()) for s in sizes]
        if len(set(sizes)) != 1:
            raise ValueError(
                "`gather_distributed=True` needs the same batch size on every "
                f"process; the processes hold {sizes} embeddings. Drop the last "
                "partial batch (e.g. `drop_last=True` or `drop_remainder=True`)."
            )

    def gather(self, x):
        self._check_same_size(x)
        return _torch_gather_function().apply(x)

    def gather_without_gradient(self, x):
        import torch
        import torch.distributed as dist

        parts = [torch.empty_like(x) for _ in range(self.count)]
        dist.all_gather(parts, x.detach().contiguous())
        return torch.cat(parts, dim=0)

    def all_reduce_sum(self, x):
        import torch.distributed as dist

        total = ops.convert_to_tensor(x).detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def offset(self, local_size):
        return self.rank * int(local_size)
