"""Streaming blocks of anchor rows, recomputed in the backward pass.

The loss of each anchor needs only its own row of logits, so
`map_blocks(block_fn, anchors, ...)` applies `block_fn` to `chunk_size`
anchor rows at a time against all key columns and concatenates the
per-anchor results: the value and the gradient are those of one call on all
rows. What makes the memory `O(N * D + N * chunk_size)` instead of `O(N^2)`
is the backward pass: a plain loop would keep every block's `(chunk, N)`
intermediates for it, so each backend here keeps only the block's inputs
and recomputes the block when its gradient is needed:

- JAX: `jax.checkpoint` of the block inside `jax.lax.map` (a scan whose
  backward pass re-runs one block at a time);
- TensorFlow: `tf.custom_gradient` around two `tf.while_loop`s, the forward
  one recording nothing, the backward one recomputing each block under a
  `tf.GradientTape`;
- PyTorch: `torch.utils.checkpoint.checkpoint` of each block.

The backend modules are imported only inside the function of their backend.
The number of anchors need not be a multiple of `chunk_size`: the last block
is padded with zero anchors whose index matches no key, and their outputs are
dropped before anything depends on them, so they change neither the value
nor the gradient.

Anchors and keys are separate arguments so that anchors can be a subset of
the keys (for example the local rows of a batch gathered across devices).
"""

import functools
from collections.abc import Callable

import keras
from keras import ops

# `block_fn(anchors, anchor_labels, anchor_index, keys, key_labels)` returns
# two float32 tensors of shape `(c,)` for `c` anchor rows: the per-anchor
# losses, which are differentiated, and the per-anchor positive counts,
# which are not.
BlockFn = Callable[..., tuple]


def map_blocks(
    block_fn: BlockFn,
    anchors,
    anchor_labels,
    anchor_index,
    keys,
    key_labels,
    chunk_size: int,
):
    """`block_fn` over blocks of `chunk_size` anchor rows, concatenated.

    Args:
        block_fn: the block computation (see `BlockFn`). It must treat
            anchor rows independently and be deterministic: the backward
            pass calls it again.
        anchors: float32 `(N, D)`.
        anchor_labels: `(N,)`.
        anchor_index: int32 `(N,)`, the key column of each anchor itself.
        keys: float32 `(M, D)`.
        key_labels: `(M,)`.
        chunk_size: anchor rows per block, `>= 1`.

    Returns:
        `(losses, positive_counts)`, the two outputs of `block_fn` for all
        `N` anchors, each `(N,)`.
    """
    count = anchors.shape[0]
    if count is not None and count <= chunk_size:
        # One block is the dense computation, and recomputing it would
        # save no memory.
        return block_fn(anchors, anchor_labels, anchor_index, keys, key_labels)
    backend = keras.backend.backend()
    if backend == "jax":
        mapper = _jax_map_blocks
    elif backend == "tensorflow":
        mapper = _tensorflow_map_blocks
    elif backend == "torch":
        mapper = _torch_map_blocks
    else:
        mapper = _loop_map_blocks
    return mapper(
        block_fn, anchors, anchor_labels, anchor_index, keys, key_labels, chunk_size
    )


def _padding(count, chunk_size):
    """Rows to add to `count` rows so that they fill whole blocks."""
    return (-count) % chunk_size


def _jax_map_blocks(
    block_fn, anchors, anchor_labels, anchor_index, keys, key_labels, chunk_size
):
    import jax
    import jax.numpy as jnp

    count = anchors.shape[0]
    padding = _padding(count, chunk_size)

    def blocks(x, fill=0):
        x = jnp.pad(x, [(0, padding)] + [(0, 0)] * (x.ndim - 1), constant_values=fill)
        return x.reshape((-1, chunk_size) + x.shape[1:])

    # Without checkpointing, the scan would stack every block's residuals for
    # the backward pass; with it, only the block's inputs are kept.
    @jax.checkpoint
    def one_block(block_anchors, block_labels, block_index, keys, key_labels):
        return block_fn(block_anchors, block_labels, block_index, keys, key_labels)

    losses, positive_counts = jax.lax.map(
        lambda xs: one_block(*xs, keys, key_labels),
        (blocks(anchors), blocks(anchor_labels), blocks(anchor_index, fill=-1)),
    )
    return losses.reshape(-1)[:count], positive_counts.reshape(-1)[:count]


def _tensorflow_map_blocks(
    block_fn, anchors, anchor_labels, anchor_index, keys, key_labels, chunk_size
):
    import tensorflow as tf

    anchors = tf.convert_to_tensor(anchors)
    keys = tf.convert_to_tensor(keys)
    count = tf.shape(anchors)[0]
    blocks = functools.partial(_tensorflow_blocks, count=count, chunk_size=chunk_size)
    label_blocks = blocks(tf.convert_to_tensor(anchor_labels))
    index_blocks = blocks(tf.convert_to_tensor(anchor_index), fill=-1)

    def recompute_block(b, block_anchors, keys):
        labels, index = label_blocks[b], index_blocks[b]
        return block_fn(block_anchors, labels, index, keys, key_labels)

    @tf.custom_gradient
    def blocked(anchors, keys):
        anchor_blocks = blocks(anchors)
        # Nothing in the forward loop is recorded for autodiff (the inputs
        # are cut from the tape), so none of its blocks stays in memory.
        constant_keys = tf.stop_gradient(keys)
        losses, positive_counts = tf.map_fn(
            lambda xs: block_fn(*xs, constant_keys, key_labels),
            (tf.stop_gradient(anchor_blocks), label_blocks, index_blocks),
            fn_output_signature=(tf.float32, tf.float32),
        )

        def grad(upstream, unused_upstream):
            del unused_upstream  # The positive counts are not differentiable.
            anchor_gradient, key_gradient = _tensorflow_recomputed_gradients(
                recompute_block, anchor_blocks, keys, blocks(upstream), chunk_size
            )
            return anchor_gradient[:count], key_gradient

        outputs = (
            tf.reshape(losses, [-1])[:count],
            tf.reshape(positive_counts, [-1])[:count],
        )
        return outputs, grad

    return blocked(anchors, keys)


def _tensorflow_blocks(x, count, chunk_size, fill=0):
    """`x` `(count, ...)` padded with `fill` to whole blocks, `(blocks, chunk, ...)`."""
    import tensorflow as tf

    padding = _padding(count, chunk_size)
    num_blocks = (count + padding) // chunk_size
    x = tf.pad(x, [[0, padding]] + [[0, 0]] * (x.shape.rank - 1), constant_values=fill)
    return tf.reshape(x, tf.concat([[num_blocks, chunk_size], tf.shape(x)[1:]], 0))


def _tensorflow_recomputed_gradients(
    recompute_block, anchor_blocks, keys, upstream_blocks, chunk_size
):
    """Gradients of the blocks' losses, recomputing one block at a time.

    `recompute_block(b, block_anchors, keys)` returns the outputs of block
    `b` again, now under a tape; `upstream_blocks[b]` is the incoming
    gradient of its losses. Returns the gradient of the anchors
    `(blocks * chunk_size, D)` (padding rows included) and of the keys,
    summed over the blocks.
    """
    import tensorflow as tf

    num_blocks = tf.shape(anchor_blocks)[0]
    # The anchors' depth is static; gathered keys can lose theirs in a replica.
    depth = anchor_blocks.shape[-1]

    def body(b, key_gradient, anchor_gradients):
        block_anchors = anchor_blocks[b]
        with tf.GradientTape() as tape:
            tape.watch([block_anchors, keys])
            losses, _ = recompute_block(b, block_anchors, keys)
        d_anchors, d_keys = tape.gradient(
            losses, [block_anchors, keys], output_gradients=upstream_blocks[b]
        )
        return b + 1, key_gradient + d_keys, anchor_gradients.write(b, d_anchors)

    anchor_gradients = tf.TensorArray(
        tf.float32, size=num_blocks, element_shape=tf.TensorShape([chunk_size, depth])
    )
    _, key_gradient, anchor_gradients = tf.while_loop(
        lambda b, *_: b < num_blocks,
        body,
        (tf.constant(0), tf.zeros_like(keys), anchor_gradients),
    )
    return tf.reshape(anchor_gradients.stack(), [-1, depth]), key_gradient


def _torch_map_blocks(
    block_fn, anchors, anchor_labels, anchor_index, keys, key_labels, chunk_size
):
    import torch
    from torch.utils import checkpoint

    needs_gradient = torch.is_grad_enabled() and (
        anchors.requires_grad or keys.requires_grad
    )
    losses, positive_counts = [], []
    # `split` rather than slicing: its backward pass concatenates the blocks'
    # gradients once, where each slice would scatter its block into a fresh
    # zero tensor of all N rows.
    for block_anchors, block_labels, block_index in zip(
        torch.split(anchors, chunk_size),
        torch.split(anchor_labels, chunk_size),
        torch.split(anchor_index, chunk_size),
        strict=True,
    ):
        block = (block_anchors, block_labels, block_index, keys, key_labels)
        if needs_gradient:
            # Keeps the block's inputs only; the backward pass re-runs it.
            outputs = checkpoint.checkpoint(
                block_fn, *block, use_reentrant=False, preserve_rng_state=False
            )
        else:
            outputs = block_fn(*block)
        losses.append(outputs[0])
        positive_counts.append(outputs[1])
    return torch.cat(losses), torch.cat(positive_counts)


def _loop_map_blocks(
    block_fn, anchors, anchor_labels, anchor_index, keys, key_labels, chunk_size
):
    """Backends without autodiff: blocks one after the other."""
    count = anchors.shape[0]
    outputs = [
        block_fn(
            anchors[start : start + chunk_size],
            anchor_labels[start : start + chunk_size],
            anchor_index[start : start + chunk_size],
            keys,
            key_labels,
        )
        for start in range(0, count, chunk_size)
    ]
    return (
        ops.concatenate([output[0] for output in outputs]),
        ops.concatenate([output[1] for output in outputs]),
    )
