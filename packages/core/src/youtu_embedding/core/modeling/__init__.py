"""Model architectures that the core provides natively (no remote code)."""

from youtu_embedding.core.modeling.utu import UtuConfig, UtuModel, register_utu

__all__ = ["UtuConfig", "UtuModel", "register_utu"]
