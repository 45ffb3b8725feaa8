"""The rule for text from input or from a protocol folder on a terminal, in a report or in an
error line (:mod:`ql1706kg.protocol.visible`, where the protocol's own texts are made visible
as they are loaded); kept here for the outputs and the command line."""

from ..protocol.visible import has_controls, visible

__all__ = ["has_controls", "visible"]
