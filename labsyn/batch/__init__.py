"""Recipes (ordered protocol steps with hand-on and conditions) and, above them, batch runs."""

from .batch_recipe import BatchRecipe, WaferConditions, load_batch_recipe, parse_batch_recipe
from .ledger import Ledger
from .recipe import Condition, Recipe, RecipeStep, Reference, load_recipe, parse_recipe
from .recipe_runner import RecipeResult, StepOutcome, check_recipe, run_recipe
from .wafer_map import ContactTest, DeviceSpec, WaferMap, load_wafer_map, parse_wafer_map
from .wafer_result import DeviceOutcome, WaferResult
from .wafer_runner import WaferRun, run_wafer

__all__ = ["BatchRecipe", "Condition", "ContactTest", "DeviceOutcome", "DeviceSpec", "Ledger",
           "Recipe", "RecipeResult", "RecipeStep", "Reference", "StepOutcome",
           "WaferConditions", "WaferMap", "WaferResult", "WaferRun", "check_recipe",
           "load_batch_recipe", "load_recipe", "load_wafer_map", "parse_batch_recipe",
           "parse_recipe", "parse_wafer_map", "run_recipe", "run_wafer"]
