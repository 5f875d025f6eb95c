"""One training step of small random-weight transformers models on the active deeplink backend,
for the debugging kit's tests. Sizes are chosen so activations are O(0.1..1), as in real models."""
import torch


def gpt2_step(steps: int = 2):
    """GPT-2 with the tanh GELU (aten gelu(approximate='tanh')), AdamW."""
    import transformers
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_embd=64, n_layer=2, n_head=2, vocab_size=64, n_positions=32,
                                  activation_function="gelu_pytorch_tanh", bos_token_id=0, eos_token_id=0)
    return _train(transformers.GPT2LMHeadModel(cfg), steps)


def llama_step(steps: int = 2):
    """LLaMA with eager attention (aten _softmax), AdamW."""
    import transformers
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                   num_key_value_heads=2, vocab_size=64, attn_implementation="eager")
    return _train(transformers.LlamaForCausalLM(cfg), steps)


def _train(model, steps):
    model = model.to("deeplink")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(1)).to("deeplink")
    losses = []
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses
