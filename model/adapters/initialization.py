"""Adapters whose LoRA weights fit only the base model peft changed while training them.

PiSSA, OLoRA, CorDA and LoRA-GA start the LoRA from the base weights and take that start
out of them (W - BA). Saved as they are, the adapter is only right on that changed base,
and peft loading it changes the loaded base in place again, for every other adapter on
it too. peft turns such an adapter into a plain LoRA when it saves with
`path_initial_model_for_weight_conversion`, and writes `init_lora_weights: true` then.
"""

from __future__ import annotations

from typing import Any

from model.adapters.versions import AdapterError

# How init_lora_weights of such an adapter begins ("pissa_niter_16" is PiSSA too).
RESIDUAL_INITS = ("pissa", "olora", "corda", "lora_ga")


def check_converted(config: dict[str, Any]) -> None:
    """Refuse an adapter_config.json whose adapter was saved without peft's conversion."""
    init = config.get("init_lora_weights")
    if not isinstance(init, str) or not init.lower().startswith(RESIDUAL_INITS):
        return
    raise AdapterError(
        f'adapter_config.json says init_lora_weights = "{init}" and the adapter was saved '
        "unconverted, so its weights fit only the base model peft changed when training "
        "began (loading it would change the loaded base model in place too): save it as a "
        "plain LoRA with peft's model.save_pretrained(folder, "
        "path_initial_model_for_weight_conversion=<the adapter saved before training>).",
        short="unconverted",
    )
