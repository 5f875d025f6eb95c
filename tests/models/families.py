"""Small models of each family users train, built from a config with random weights (no
download), with a fixed batch and a loss: decoder LLM, mixture-of-experts, encoder-decoder with
relative position bias, vision transformer with a convolution stem, speech encoder with 1-D
convolutions, and a recurrent language model. Dropout and other randomness are off, so a run is
comparable across devices."""
from __future__ import annotations

import torch

VOCAB = 128


def _ids(*shape, high=VOCAB, seed=1):
    return torch.randint(1, high, shape, generator=torch.Generator().manual_seed(seed))


def llama():
    import transformers
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    ids = _ids(2, 16)
    return transformers.LlamaForCausalLM(cfg), {"input_ids": ids, "labels": ids}


def mixtral():
    import transformers
    cfg = transformers.MixtralConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                                     num_experts_per_tok=2, max_position_embeddings=64, output_router_logits=True,
                                     router_aux_loss_coef=0.02)
    ids = _ids(2, 16)
    return transformers.MixtralForCausalLM(cfg), {"input_ids": ids, "labels": ids}


def t5():
    import transformers
    cfg = transformers.T5Config(vocab_size=VOCAB, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                                relative_attention_num_buckets=8, relative_attention_max_distance=32,
                                dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0)
    return transformers.T5ForConditionalGeneration(cfg), {"input_ids": _ids(2, 12), "labels": _ids(2, 8, seed=2)}


def vit():
    import transformers
    cfg = transformers.ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=128, num_labels=10,
                                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    return transformers.ViTForImageClassification(cfg), {"pixel_values": pixels, "labels": torch.tensor([3, 7])}


def wav2vec2():
    import transformers
    cfg = transformers.Wav2Vec2Config(vocab_size=32, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=128, conv_dim=(32, 32, 32), conv_stride=(5, 2, 2),
                                      conv_kernel=(10, 3, 3), num_conv_pos_embeddings=16,
                                      num_conv_pos_embedding_groups=4, hidden_dropout=0.0, activation_dropout=0.0,
                                      attention_dropout=0.0, feat_proj_dropout=0.0, final_dropout=0.0, layerdrop=0.0,
                                      mask_time_prob=0.0, ctc_loss_reduction="mean", pad_token_id=0)
    audio = torch.randn(2, 1600, generator=torch.Generator().manual_seed(4))
    return transformers.Wav2Vec2ForCTC(cfg), {"input_values": audio, "labels": _ids(2, 6, high=32, seed=5)}


class RecurrentLM(torch.nn.Module):
    """Embedding -> 2-layer LSTM -> GRU -> linear head, next-token loss."""

    def __init__(self, vocab=VOCAB, hidden=48):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, hidden)
        self.lstm = torch.nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.gru = torch.nn.GRU(hidden, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, input_ids, labels):
        h, _ = self.lstm(self.embed(input_ids))
        h, _ = self.gru(h)
        logits = self.head(h[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1))
        return type("Output", (), {"loss": loss})()


def rnn():
    ids = _ids(2, 16)
    return RecurrentLM(), {"input_ids": ids, "labels": ids}


FAMILIES = {"decoder-llm": llama, "mixture-of-experts": mixtral, "encoder-decoder-t5": t5,
            "vision-transformer": vit, "speech-wav2vec2": wav2vec2, "rnn-lm": rnn}


def train(model, batch, device, steps=2, lr=1e-3):
    """AdamW steps (foreach on every device, so the update formula is the same); returns the
    losses and the parameters afterwards, on the CPU."""
    model = model.to(device).train()
    batch = {k: v.to(device) for k, v in batch.items()}
    opt = torch.optim.AdamW(model.parameters(), lr=lr, foreach=True)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses, {n: p.detach().cpu() for n, p in model.named_parameters()}
