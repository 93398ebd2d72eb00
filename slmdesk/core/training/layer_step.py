"""One LoRA-trained decoder layer's forward and backward, on a model's own shapes, for the
precision probe (:mod:`slmdesk.core.training.precision`).

Bare matrix products over-promise bf16 where there are no AMX tiles: on a 2-core AVX-512 BF16
EPYC they ran 1.5-2.7x faster in bf16 while whole training steps ran 0.8-1.3x. A step is more
than its products: autocast casts the weights and activations on every call, the norms, the
attention and the activation run around them, the LoRA products are small, and backward
computes the input gradients through the frozen weights. So the probe times a layer that does
all of that the way a training step does: RMS norm, q/k/v/o projections with grouped-query
causal attention, the gated MLP, every projection a frozen weight plus a rank-16 LoRA pair
(trainable, fp32), the residuals, and backward from a loss into the LoRA weights and the
layer's input, under ``torch.autocast("cpu", dtype=torch.bfloat16)`` or not. With
``weights="bf16"`` the frozen weights are stored in bf16, as a bf16 run keeps the base body
(:mod:`slmdesk.core.training.base_weights`): autocast then has no weight to cast per call.

Built from plain torch (no transformers): the shapes are all it takes from the model, and it
runs the same whatever the model's layer class expects as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

LORA_RANK = 16


@dataclass(frozen=True)
class LayerShapes:
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int

    @classmethod
    def of(cls, hidden: int, intermediate: int, heads: int = 0, kv_heads: int = 0,
           head_dim: int = 0) -> "LayerShapes":
        """Missing attention sizes filled in as a typical model has them (64-wide heads)."""
        head_dim = head_dim or 64
        heads = heads or max(1, hidden // head_dim)
        kv_heads = kv_heads if kv_heads and heads % kv_heads == 0 else heads
        return cls(hidden, intermediate, heads, kv_heads, head_dim)

    def flops(self, tokens: int) -> float:
        """Forward and input-gradient FLOPs of the frozen products (LoRA and attention aside)."""
        attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        return 2.0 * 2.0 * tokens * (attention + 3 * self.hidden * self.intermediate)


def layer_step(shapes: LayerShapes, tokens: int, seed: int = 0,
               weights: str = "fp32") -> Callable[[bool], None]:
    """A function running one forward and backward of the layer, in bf16 autocast when called
    with True (the LoRA weights and the loss stay fp32 either way, as in training). With
    ``weights`` "bf16" the frozen weights are held in bf16 (call it with True only: fp32
    arithmetic cannot take them)."""
    import torch
    from torch.nn import functional as F

    generator = torch.Generator().manual_seed(seed)
    h, q_width, kv_width = shapes.hidden, shapes.heads * shapes.head_dim, shapes.kv_heads * shapes.head_dim
    sizes = {"q": (q_width, h), "k": (kv_width, h), "v": (kv_width, h), "o": (h, q_width),
             "gate": (shapes.intermediate, h), "up": (shapes.intermediate, h),
             "down": (h, shapes.intermediate)}
    frozen = {n: torch.randn(*s, generator=generator) / s[1] ** 0.5 for n, s in sizes.items()}
    if weights == "bf16":
        frozen = {n: w.to(torch.bfloat16) for n, w in frozen.items()}
    lora_a = {n: (torch.randn(LORA_RANK, s[1], generator=generator) * 0.01).requires_grad_()
              for n, s in sizes.items()}
    lora_b = {n: (torch.randn(s[0], LORA_RANK, generator=generator) * 0.01).requires_grad_()
              for n, s in sizes.items()}
    norm_weight = torch.ones(h)
    inputs = torch.randn(1, tokens, h, generator=generator)

    def project(name: str, x: Any) -> Any:
        return F.linear(x, frozen[name]) + 2.0 * F.linear(F.linear(x, lora_a[name]), lora_b[name])

    def heads(x: Any, count: int) -> Any:
        return x.view(1, tokens, count, shapes.head_dim).transpose(1, 2)

    def step(bf16: bool) -> None:
        x = inputs.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            normed = F.rms_norm(x, (h,), norm_weight)
            q = heads(project("q", normed), shapes.heads)
            k = heads(project("k", normed), shapes.kv_heads)
            v = heads(project("v", normed), shapes.kv_heads)
            if shapes.kv_heads != shapes.heads:
                repeat = shapes.heads // shapes.kv_heads
                k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + project("o", attended.transpose(1, 2).reshape(1, tokens, q_width))
            normed = F.rms_norm(x, (h,), norm_weight)
            x = x + project("down", F.silu(project("gate", normed)) * project("up", normed))
        x.float().square().mean().backward()

    return step


def model_layer_shapes(model: Any) -> LayerShapes:
    """The shapes of a transformers model's decoder layers, from its config."""
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config()

    def size(name: str) -> int:
        return int(getattr(config, name, 0) or 0)

    hidden = size("hidden_size") or 512
    return LayerShapes.of(hidden, size("intermediate_size") or 4 * hidden,
                          size("num_attention_heads"), size("num_key_value_heads"),
                          size("head_dim"))
