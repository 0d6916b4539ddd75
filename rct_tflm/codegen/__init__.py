"""Code generator: a model artefact -> a C99 project (templates/), static memory plan, report."""
from .plan import Buffer, check_plan, plan_arena
from .render import generate, load_manifest, model_hash

__all__ = ["Buffer", "check_plan", "plan_arena", "generate", "load_manifest",
           "model_hash"]
