"""CUDA backend against native CUDA, on a real GPU, in one run (issue 5).

One training step (forward, backward, AdamW) of a LLaMA-style model (~168M parameters) and of
GPT-2 (124M), batch 8 x 1024, bf16 autocast, on `deeplink` (cuda backend) and on native `cuda`;
small-op latency; peak device memory. Targets: step <= 1.03x native, small op <= 1.3x native.
Rounds alternate between the devices; the table reports medians of synchronized wall-clock steps.

    python benchmarks/bench_cuda.py [--steps 15] [--rounds 2] [--out results.json]

Needs a CUDA build of torch and a GPU; exits with a message otherwise.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch


def llama_168m():
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
                      num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=1024)
    return LlamaForCausalLM(cfg)


def gpt2_124m():
    from transformers import GPT2Config, GPT2LMHeadModel
    return GPT2LMHeadModel(GPT2Config(n_positions=1024))


def step_fn(make, device: str, batch: int, seq: int):
    torch.manual_seed(0)
    model = make().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(0)).to(device)

    def step():
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return model, step


def timed_ms(step, sync, n: int) -> list[float]:
    out = []
    for _ in range(n):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def one_round(make, device, steps, batch, seq):
    """Fresh model on `device`: 3 warm-up steps, then `steps` timed ones; peak memory of it all."""
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model, step = step_fn(make, device, batch, seq)
    for _ in range(3):
        step()
    times = timed_ms(step, torch.cuda.synchronize, steps)
    params = sum(p.numel() for p in model.parameters())
    del model, step
    return times, torch.cuda.max_memory_allocated(), params


def bench_model(make, steps, batch, seq, rounds):
    """Rounds alternate between the devices (cuda, deeplink, cuda, ...) so drifting clocks or a
    neighbour's load hit both; medians over every timed step of every round."""
    import deeplink
    times = {"cuda": [], "deeplink": []}
    peaks = {"cuda": [], "deeplink": []}
    params = 0
    for _ in range(rounds):
        for device in times:
            t, peak, params = one_round(make, device, steps, batch, seq)
            times[device] += t
            peaks[device].append(peak)
    res = {d: {"median_ms": statistics.median(times[d]), "min_ms": min(times[d]), "max_ms": max(times[d]),
               "peak_bytes": max(peaks[d]), "params": params} for d in times}
    res["deeplink"]["fallbacks"] = deeplink.fallback_stats()
    return res


def small_ops(rounds=7, calls=2000):
    """Per-call latency of tiny ops (launch-bound: the host-side cost is what differs), median of
    rounds that alternate between the devices."""
    out = {}
    for device in ("cuda", "deeplink"):
        a = torch.randn(16, 16, device=device)
        b = torch.randn(16, 16, device=device)
        out[device] = {"add": lambda a=a, b=b: a + b, "mul_": lambda a=a: a.mul_(1.0),
                       "mm 16x16": lambda a=a, b=b: a @ b, "view": lambda a=a: a.view(256),
                       "sum": lambda a=a: a.sum()}
    samples = {d: {k: [] for k in out[d]} for d in out}
    for _ in range(rounds):
        for device, cases in out.items():
            for k, fn in cases.items():
                for _ in range(100):
                    fn()
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                torch.cuda.synchronize()
                samples[device][k].append((time.perf_counter() - t0) / calls * 1e6)
    return {d: {k: statistics.median(v) for k, v in cases.items()} for d, cases in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per device and model")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_cuda: no CUDA GPU visible to torch; run this on a GPU machine", file=sys.stderr)
        return 2
    import deeplink
    deeplink.use("cuda")
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    results["small_ops_us"] = small_ops()
    results["llama_168m"] = bench_model(llama_168m, args.steps, args.batch, args.seq, args.rounds)
    results["gpt2_124m"] = bench_model(gpt2_124m, args.steps, args.batch, args.seq, args.rounds)
    print(f"{results['device']}, torch {results['torch']}, batch {args.batch}x{args.seq}, bf16 autocast, AdamW")
    print(f"{'case':<28} {'cuda':>10} {'deeplink':>10} {'ratio':>7}")
    for k, v in results["small_ops_us"]["cuda"].items():
        d = results["small_ops_us"]["deeplink"][k]
        print(f"{'op ' + k:<28} {v:>8.2f}us {d:>8.2f}us {d / v:>6.2f}x")
    for m in ("llama_168m", "gpt2_124m"):
        c, d = results[m]["cuda"], results[m]["deeplink"]
        print(f"{m + ' step':<28} {c['median_ms']:>8.1f}ms {d['median_ms']:>8.1f}ms {d['median_ms'] / c['median_ms']:>6.3f}x"
              f"   ({c['params'] / 1e6:.0f}M params)")
        print(f"{m + ' peak memory':<28} {c['peak_bytes'] / 2**30:>7.2f}GiB {d['peak_bytes'] / 2**30:>7.2f}GiB "
              f"{d['peak_bytes'] / c['peak_bytes']:>6.3f}x   fallbacks: {d['fallbacks'] or 'none'}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
