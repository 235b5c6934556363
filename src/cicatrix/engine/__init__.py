"""The pure core: scores, screening, recommendation, course and timeline.

Nothing in this package reads a file, a clock, a database or the network. Every
function takes immutable models and returns immutable models, so the same case
always gives the same plan.
"""

from cicatrix.engine.case import Case, CaseError, parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.engine.result import Plan

__all__ = ["Case", "CaseError", "Plan", "parse_case", "plan_case"]
