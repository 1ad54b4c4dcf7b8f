"""Errors that carry a message a user can act on.

The CLI prints ``str(error)`` as one line; the server maps them to 4xx responses.
"""


class MouthpieceError(Exception):
    """Base class: the message is written for the user, not the developer."""


class InputError(MouthpieceError):
    """Bad input from the user (file, option, value)."""


class UnsupportedMediaError(InputError):
    """An audio or image format this installation cannot decode."""


class ModelMissingError(MouthpieceError):
    """Weights or licensed assets are not present; the message says where they go."""


class ModelFormatError(MouthpieceError):
    """A checkpoint or asset exists but does not match the expected layout."""


class Cancelled(MouthpieceError):
    """The job was cancelled by the user."""
