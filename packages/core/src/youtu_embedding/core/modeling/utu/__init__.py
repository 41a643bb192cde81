"""The `utu` architecture of Youtu-Embedding, registered with transformers' Auto classes."""

from youtu_embedding.core.modeling.utu.configuration_utu import UtuConfig
from youtu_embedding.core.modeling.utu.modeling_utu import UtuForCausalLM, UtuModel, UtuPreTrainedModel

_registered = False


def register_utu() -> None:
    """Register `model_type: "utu"` with AutoConfig/AutoModel/AutoModelForCausalLM (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    AutoConfig.register(UtuConfig.model_type, UtuConfig, exist_ok=True)
    AutoModel.register(UtuConfig, UtuModel, exist_ok=True)
    AutoModelForCausalLM.register(UtuConfig, UtuForCausalLM, exist_ok=True)
    _registered = True


__all__ = ["UtuConfig", "UtuForCausalLM", "UtuModel", "UtuPreTrainedModel", "register_utu"]
