"""Policies: the scripted expert now; learned heads and their composition later."""

from .expert import ScriptedGraspExpert

__all__ = ["ScriptedGraspExpert"]
