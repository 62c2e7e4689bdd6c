"""Looking up a loss by name: one table for the command line, recipes and users."""

import keras

from keras_sincere.losses.epsilon_supinfonce import EpsilonSupInfoNCELoss
from keras_sincere.losses.infonce import InfoNCELoss
from keras_sincere.losses.sincere import SincereLoss
from keras_sincere.losses.supcon import SupConLoss

# Canonical name -> class. The names are those of the functional losses.
LOSSES = {
    "sincere": SincereLoss,
    "supcon": SupConLoss,
    "epsilon_supinfonce": EpsilonSupInfoNCELoss,
    "infonce": InfoNCELoss,
}
# Other spellings accepted everywhere: the class names and the short `eps`.
ALIASES = {
    "eps": "epsilon_supinfonce",
    **{loss_class.__name__: name for name, loss_class in LOSSES.items()},
}


def canonical_name(name: str) -> str:
    """The canonical name of a loss given by any accepted spelling.

    Example:

    >>> keras_sincere.losses.canonical_name("eps")
    'epsilon_supinfonce'
    """
    if isinstance(name, str):
        name = ALIASES.get(name, name)
    if name not in LOSSES:
        accepted = [*LOSSES, *ALIASES]
        raise ValueError(
            f"`name` must be one of {', '.join(map(repr, accepted))}. "
            f"Received: name={name!r}"
        )
    return name


def get(identifier, **kwargs) -> keras.losses.Loss:
    """A loss object from a name, a serialised config or a loss object.

    Args:
        identifier: a name (`"sincere"`, `"supcon"`, `"epsilon_supinfonce"`
            or `"eps"`, `"infonce"`, or a class name such as
            `"SincereLoss"`), a config dict from `keras.losses.serialize`,
            or a loss object (returned as it is).
        **kwargs: constructor arguments (`temperature=0.1`, `epsilon=...`),
            with a name only.

    Returns:
        A `keras.losses.Loss`.

    Example:

    >>> loss = keras_sincere.losses.get("sincere", temperature=0.05)
    >>> type(loss).__name__, loss.temperature
    ('SincereLoss', 0.05)
    """
    if isinstance(identifier, keras.losses.Loss):
        if kwargs:
            raise ValueError(
                "Constructor arguments go with a loss name, not a loss object. "
                f"Received: identifier={identifier!r}, kwargs={kwargs}"
            )
        return identifier
    if isinstance(identifier, dict):
        return keras.losses.deserialize(identifier)
    return LOSSES[canonical_name(identifier)](**kwargs)
