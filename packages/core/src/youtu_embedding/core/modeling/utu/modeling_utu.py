"""PyTorch implementation of the `utu` architecture (REFERENCE.md section 1), written natively.

Each decoder layer computes::

    h = x + o_proj(attn(rope(q_norm(q_proj(rms(x)))), rope(k_norm(k_proj(rms(x)))), v_proj(rms(x))))
    y = h + down_proj(silu(gate_proj(rms(h))) * up_proj(rms(h)))

``q_norm``/``k_norm`` are RMSNorms over ``head_dim`` applied per head before RoPE. Attention uses
``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient kernels where the
backend has them) and is causal or bidirectional according to ``config.causal`` or the
``is_causal`` argument of ``forward``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from youtu_embedding.core.modeling.utu.configuration_utu import UtuConfig
from youtu_embedding.core.modeling.utu.varlen import PackedRows, varlen_attention


class UtuRMSNorm(nn.Module):
    """Root-mean-square layer norm, computed in float32 (Llama convention)."""

    def __init__(self, hidden_size: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class UtuRotaryEmbedding(nn.Module):
    """Rotary position embedding (default RoPE; other `rope_type`s use transformers' init functions)."""

    def __init__(self, config: UtuConfig) -> None:
        super().__init__()
        self.config = config
        inv_freq, self.attention_scaling = self.compute_inv_freq()
        self.inv_freq: torch.Tensor
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def compute_inv_freq(self) -> tuple[torch.Tensor, float]:
        """Inverse frequencies (head_dim / 2,) and the attention scaling of the configured RoPE."""
        params = self.config.rope_parameters or {}
        rope_type = params.get("rope_type", "default")
        if rope_type != "default":
            init_fn: Callable = ROPE_INIT_FUNCTIONS[rope_type]
            return init_fn(self.config)
        dim = int(self.config.head_dim)
        base = params.get("rope_theta", self.config.default_theta)
        return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float) / dim)), 1.0

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Apply RoPE to `x` of shape (B, H, T, D) with `cos`/`sin` of shape (B, T, D)."""
    return x * cos.unsqueeze(1) + _rotate_half(x) * sin.unsqueeze(1)


class UtuMLP(nn.Module):
    def __init__(self, config: UtuConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act_fn = ACT2FN[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class UtuAttention(nn.Module):
    """Multi-head attention with per-head QK-RMSNorm before RoPE."""

    def __init__(self, config: UtuConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.head_dim = int(config.head_dim)
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = int(config.num_key_value_heads)
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = float(config.attention_dropout)
        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=bias)
        self.q_norm = UtuRMSNorm(self.head_dim, eps=config.rms_norm_eps)
        self.k_norm = UtuRMSNorm(self.head_dim, eps=config.rms_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        attn_mask: torch.Tensor | None,
        is_causal: bool,
        packed: PackedRows | None = None,
    ) -> torch.Tensor:
        bsz, seq_len, _ = hidden_states.shape
        q = self.q_norm(self.q_proj(hidden_states).view(bsz, seq_len, self.num_heads, self.head_dim))
        k = self.k_norm(self.k_proj(hidden_states).view(bsz, seq_len, self.num_kv_heads, self.head_dim))
        v = self.v_proj(hidden_states).view(bsz, seq_len, self.num_kv_heads, self.head_dim)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        cos, sin = position_embeddings
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if self.num_kv_heads != self.num_heads:
            rep = self.num_heads // self.num_kv_heads
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        if packed is not None:  # (1, H, N, D) -> (N, H, D): attention within each packed row
            q, k, v = (t[0].transpose(0, 1) for t in (q, k, v))
            packed_out = varlen_attention(q, k, v, packed, is_causal=is_causal, scale=self.scaling)
            return self.o_proj(packed_out.reshape(1, seq_len, self.num_heads * self.head_dim))
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask,
            dropout_p=self.attention_dropout if self.training else 0.0,
            is_causal=is_causal,
            scale=self.scaling,
        )
        out = out.transpose(1, 2).reshape(bsz, seq_len, self.num_heads * self.head_dim)
        return self.o_proj(out)


class UtuDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: UtuConfig, layer_idx: int) -> None:
        super().__init__()
        self.self_attn = UtuAttention(config, layer_idx)
        self.mlp = UtuMLP(config)
        self.input_layernorm = UtuRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = UtuRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        packed: PackedRows | None = None,
    ) -> torch.Tensor:
        hidden_states = hidden_states + self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings, attn_mask, is_causal, packed
        )
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))


class UtuPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading glue shared by the `utu` models."""

    config_class = UtuConfig
    config: UtuConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["UtuDecoderLayer"]
    _supports_sdpa = True
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\.weight$"]

    def _init_weights(self, module: nn.Module) -> None:
        # transformers' `init` helpers skip tensors already loaded from a checkpoint
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, UtuRMSNorm):
            init.ones_(module.weight)
        elif isinstance(module, UtuRotaryEmbedding):  # non-persistent buffer: recompute after meta-device loading
            init.copy_(module.inv_freq, module.compute_inv_freq()[0])


def _tracing() -> bool:
    """Whether torch.compile / torch.export is capturing the graph (no data-dependent branches then)."""
    return bool(torch.compiler.is_compiling() or torch.compiler.is_exporting())


def build_attention_mask(attention_mask: torch.Tensor | None, is_causal: bool) -> tuple[torch.Tensor | None, bool]:
    """SDPA arguments ``(attn_mask, is_causal)`` for a padding mask, never materialising (T, T) when avoidable.

    Eager (the values of the mask are looked at):

    * no padding: no mask (SDPA's flash kernel, causal flag as requested);
    * bidirectional: a key-padding mask of shape (B, 1, 1, T), which SDPA broadcasts without a (T, T) tensor;
    * causal with right padding: no mask at all - the causal flag already hides the trailing padding from
      every real token, and padded rows are never pooled;
    * causal with other padding: an explicit (B, 1, T, T) mask whose diagonal is always allowed (no NaN rows).

    While torch.export / torch.compile capture the graph, the choice cannot depend on the mask's values
    (dynamic batch and sequence): the key-padding mask (bidirectional) or the explicit causal mask
    is always built; both give the eager result.
    """
    if attention_mask is None:
        return None, is_causal
    keys = attention_mask.to(torch.bool)
    if _tracing():
        if not is_causal:
            return keys[:, None, None, :], False
        return _causal_padding_mask(keys), False
    if bool(keys.all()):
        return None, is_causal
    if not is_causal:
        return keys[:, None, None, :], False
    if bool((keys[:, 1:] <= keys[:, :-1]).all()):  # right padding
        return None, True
    return _causal_padding_mask(keys), False


def _causal_padding_mask(keys: torch.Tensor) -> torch.Tensor:
    seq_len = keys.shape[-1]
    tril = torch.ones(seq_len, seq_len, dtype=torch.bool, device=keys.device).tril()
    eye = torch.eye(seq_len, dtype=torch.bool, device=keys.device)
    return (keys[:, None, None, :] & tril) | eye


class UtuModel(UtuPreTrainedModel):
    """The bare `utu` decoder, returning the final (normed) hidden states."""

    def __init__(self, config: UtuConfig) -> None:
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList([UtuDecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = UtuRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = UtuRotaryEmbedding(config)
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.embed_tokens = value  # type: ignore[assignment]

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        is_causal: bool | None = None,
        packed: PackedRows | None = None,
        **kwargs: object,
    ) -> BaseModelOutputWithPast | tuple:
        """Run the decoder.

        Args:
            input_ids: token ids (B, T); exactly one of ``input_ids`` / ``inputs_embeds``.
            attention_mask: 1 for real tokens, 0 for padding (B, T).
            is_causal: overrides ``config.causal`` for this call.
            packed: a packed (unpadded) batch: ``input_ids`` is ``(1, N)``, the rows one after
                another, and ``packed`` holds their boundaries (see
                :func:`~youtu_embedding.core.modeling.utu.varlen.pack_rows`); positions restart
                at every row and attention stays within rows. ``attention_mask`` must be None.
            output_hidden_states: also return the embedding output and every layer's output
                (the last entry is the final normed state), as transformers does.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Specify exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        causal = self.config.causal if is_causal is None else bool(is_causal)
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        seq_len = inputs_embeds.shape[1]
        if packed is not None:
            if attention_mask is not None or inputs_embeds.shape[0] != 1:
                raise ValueError("a packed batch is one (1, N) sequence without an attention_mask")
            if position_ids is None:
                position_ids = packed.position_ids(inputs_embeds.device)  # type: ignore[assignment]
        if position_ids is None:
            position_ids = torch.arange(seq_len, device=inputs_embeds.device).unsqueeze(0)  # type: ignore[assignment]
        attn_mask, sdpa_causal = build_attention_mask(attention_mask, causal)

        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids)
        all_hidden: list[torch.Tensor] = []
        for layer in self.layers:
            if output_hidden_states:
                all_hidden.append(hidden_states)
            hidden_states = layer(hidden_states, position_embeddings, attn_mask, sdpa_causal, packed)
        hidden_states = self.norm(hidden_states)
        if output_hidden_states:
            all_hidden.append(hidden_states)
        hidden = tuple(all_hidden) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (hidden_states, None, hidden) if v is not None)
        return BaseModelOutputWithPast(last_hidden_state=hidden_states, hidden_states=hidden)


class UtuForCausalLM(UtuPreTrainedModel, GenerationMixin):
    """`utu` decoder with its tied LM head; its state dict uses the release's tensor names."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
    _keys_to_ignore_on_load_unexpected: list[str] = []

    def __init__(self, config: UtuConfig) -> None:
        super().__init__(config)
        self.model = UtuModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.embed_tokens

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs: object,
    ) -> CausalLMOutputWithPast:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **kwargs)
        logits = self.lm_head(out.last_hidden_state)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        return CausalLMOutputWithPast(loss=loss, logits=logits, hidden_states=out.hidden_states)


__all__ = ["UtuForCausalLM", "UtuModel", "UtuPreTrainedModel", "build_attention_mask"]
