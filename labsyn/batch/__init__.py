"""Recipes (ordered protocol steps with hand-on and conditions) and, above them, batch runs."""

from .recipe import Condition, Recipe, RecipeStep, Reference, load_recipe, parse_recipe
from .recipe_runner import RecipeResult, StepOutcome, check_recipe, run_recipe

__all__ = ["Condition", "Recipe", "RecipeResult", "RecipeStep", "Reference", "StepOutcome",
           "check_recipe", "load_recipe", "parse_recipe", "run_recipe"]
