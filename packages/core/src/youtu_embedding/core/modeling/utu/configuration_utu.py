"""Configuration of the `utu` architecture (REFERENCE.md section 1)."""

from __future__ import annotations

from transformers import PreTrainedConfig
from transformers.modeling_rope_utils import RopeParameters


class UtuConfig(PreTrainedConfig):
    """Configuration for Youtu-Embedding's `utu` decoder.

    Defaults reproduce the released 2B checkpoint: a Llama-family decoder with per-head
    QK-RMSNorm (applied before RoPE), tied embeddings and no biases.

    ``is_causal`` selects the attention direction. The released ``config.json`` does not set it;
    ``None`` means "not set by the checkpoint", which the model resolves to **bidirectional**
    attention because the released model was fine-tuned and evaluated (C-MTEB) that way. Set it to
    ``True`` to reproduce the causal behaviour of the vLLM port.
    """

    model_type = "utu"
    keys_to_ignore_at_inference = ["past_key_values"]
    default_theta = 1_600_000.0

    vocab_size: int = 128256
    hidden_size: int = 2048
    intermediate_size: int = 8192
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None
    head_dim: int | None = 64
    hidden_act: str = "silu"
    max_position_embeddings: int = 131072
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-8
    use_cache: bool = False
    tie_word_embeddings: bool = True
    rope_parameters: RopeParameters | dict | None = None
    attention_bias: bool = False
    attention_dropout: float | int = 0.0
    is_causal: bool | None = None
    pad_token_id: int | None = None
    bos_token_id: int | None = 128000
    eos_token_id: int | list[int] | None = 128001

    def __post_init__(self, **kwargs):  # type: ignore[no-untyped-def]
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        super().__post_init__(**kwargs)

    @property
    def causal(self) -> bool:
        """Resolved attention direction: the checkpoint's ``is_causal``, else bidirectional."""
        return bool(self.is_causal) if self.is_causal is not None else False


__all__ = ["UtuConfig"]
