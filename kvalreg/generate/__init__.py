"""Synthetic registry dumps with planted, exactly known quality properties (Tenor fnr only)."""

from kvalreg.generate.defects import CHECKS
from kvalreg.generate.engine import GROUND_TRUTH, GenerationSummary, generate

__all__ = ["CHECKS", "GROUND_TRUTH", "GenerationSummary", "generate"]
