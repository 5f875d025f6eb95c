"""HuggingFace transformers Trainer on a random-weight GPT-2 and an in-memory dataset, as a CUDA
user writes it (the Trainer picks "cuda" because torch.cuda.is_available()). Prints one JSON line."""
import json
import sys
import tempfile

import torch
from torch.utils.data import Dataset
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments


class RandomTokens(Dataset):
    def __init__(self, n=32, length=16, vocab=128):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, vocab, (n, length), generator=g)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


torch.manual_seed(0)
config = GPT2Config(vocab_size=128, n_positions=32, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
model = GPT2LMHeadModel(config)
args = TrainingArguments(output_dir=tempfile.mkdtemp(), max_steps=4, per_device_train_batch_size=4,
                         learning_rate=1e-3, logging_steps=1, report_to=[], save_strategy="no",
                         dataloader_pin_memory=True, disable_tqdm=True)
trainer = Trainer(model=model, args=args, train_dataset=RandomTokens())
result = trainer.train()
losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
print(json.dumps({"args_device": str(args.device), "n_gpu": args.n_gpu,
                  "model_device": str(next(trainer.model.parameters()).device),
                  "losses": losses, "train_loss": result.training_loss}))
sys.stdout.flush()
