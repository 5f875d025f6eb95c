"""A GPT-2 training loop written for CUDA (random weights, tanh GELU, AdamW), for the debugging
kit's demo in docs/debugging.md: run it under `deeplink run --autocompare`."""
import torch
import transformers

torch.manual_seed(0)
config = transformers.GPT2Config(n_embd=64, n_layer=2, n_head=2, vocab_size=64, n_positions=32,
                                 activation_function="gelu_pytorch_tanh", bos_token_id=0, eos_token_id=0)
model = transformers.GPT2LMHeadModel(config).cuda()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
ids = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(1)).cuda()
for step in range(2):
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    print(f"step {step}: loss {loss.item():.4f}")
