"""A small character-level GPT, the language model of Part IV's optimizer race.

The architecture is GPT-2's (Radford et al., 2019) at toy size, as in nanoGPT:
token and position embeddings, ``layers`` pre-norm blocks, each

    x = x + Attention(LayerNorm(x))      (causal, ``heads`` heads)
    x = x + MLP(LayerNorm(x))            (width → 4·width → width, GELU)

then a final LayerNorm and a linear head to the vocabulary, untied from the
embedding (so that an optimizer for hidden matrices, such as Muon, can treat
embedding and head as what they are).  With the defaults (65 characters,
context 64, width 128, 4 layers, 4 heads) it has about 0.8 million parameters.

Weights start as GPT-2's: normal(0, 0.02) for linear and embedding weights, the
output projections of attention and MLP scaled by 1/√(2·layers), zero biases.
Every builder draws from torch's global generator: seed it first.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["CharGPT", "char_gpt"]


class CausalSelfAttention(nn.Module):
    """Multi-head attention in which position i sees positions ≤ i only."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.projection = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, length, self.heads, width // self.heads).transpose(1, 2)
                   for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.projection(y.transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    """x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharGPT(nn.Module):
    """Token ids ``[batch, length]`` (length ≤ context) → logits ``[batch, length,
    vocabulary]`` for the next character at every position."""

    def __init__(self, vocabulary: int = 65, context: int = 64, width: int = 128,
                 layers: int = 4, heads: int = 4):
        super().__init__()
        for name, value, low in (("vocabulary", vocabulary, 2), ("context", context, 1),
                                 ("width", width, 1), ("layers", layers, 1),
                                 ("heads", heads, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if width % heads:
            raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
        self.context = context
        self.token_embedding = nn.Embedding(vocabulary, width)
        self.position_embedding = nn.Embedding(context, width)
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(layers)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary, bias=False)
        self._initialise(layers)

    def _initialise(self, layers: int) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for output in (block.attention.projection, block.mlp[2]):
                nn.init.normal_(output.weight, mean=0.0, std=0.02 / math.sqrt(2 * layers))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The logits ``[batch, length, vocabulary]`` of ``tokens``; a ValueError for
        another shape or a length beyond the context."""
        if tokens.ndim != 2 or tokens.shape[1] > self.context:
            raise ValueError(f"tokens must be [batch, length] with length <= "
                             f"{self.context}, got shape {tuple(tokens.shape)}")
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        return self.head(self.norm(self.blocks(x)))

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, characters: int,
                 generator: torch.Generator | None = None,
                 temperature: float = 1.0) -> torch.Tensor:
        """``prompt`` ``[length]`` followed by ``characters`` sampled ones."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        tokens = prompt.clone()
        for _ in range(characters):
            logits = self(tokens[-self.context:].unsqueeze(0))[0, -1] / temperature
            choice = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            tokens = torch.cat([tokens, choice])
        return tokens


def char_gpt(vocabulary: int = 65) -> CharGPT:
    """The race's model: context 64, width 128, 4 layers of 4 heads (0.8M parameters)."""
    return CharGPT(vocabulary=vocabulary)
