"""Training steps of deeplink's tiny random-weight models on the active deeplink backend, in the
variants whose ops the planted bugs are in (activations O(0.1..1), as in real models)."""
from deeplink.models import train_steps


def gpt2_step(steps: int = 2):
    """GPT-2 with the tanh GELU (aten gelu(approximate='tanh'))."""
    return train_steps("gpt2", "deeplink", steps, activation_function="gelu_pytorch_tanh")[0]


def llama_step(steps: int = 2):
    """LLaMA with eager attention (aten _softmax)."""
    return train_steps("llama", "deeplink", steps, attn_implementation="eager")[0]


def llama_sdpa_step(steps: int = 2):
    """LLaMA with torch's scaled_dot_product_attention (a backend's fused attention kernels) and
    grouped-query attention (2 key/value heads for 4 query heads)."""
    return train_steps("llama", "deeplink", steps, attn_implementation="sdpa")[0]
