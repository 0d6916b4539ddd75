"""Code generator: a model artefact -> a C99 project (templates/), static memory plan, report."""
from .plan import Buffer, check_plan, plan_arena
from .render import DEFAULT_RAM_BUDGET, generate, load_manifest, model_hash

__all__ = ["Buffer", "check_plan", "plan_arena", "DEFAULT_RAM_BUDGET", "generate", "load_manifest",
           "model_hash"]
