"""CUDA backend against native CUDA, on a real GPU, in one run (issue 5).

One training step (forward, backward, AdamW) of a LLaMA-style model (~168M parameters) and of
GPT-2 (124M), batch 8 x 1024, bf16 autocast, on `deeplink` (cuda backend) and on native `cuda`;
small-op latency; peak device memory. Targets: step <= 1.03x native, small op <= 1.3x native.
Rounds alternate between the devices; the table reports medians of synchronized wall-clock steps.

Every round runs in its own process, and the native rounds never import deeplink: once a
PrivateUse1 backend is registered, torch treats it as *the* accelerator and native CUDA backward in
that process trips an internal assert of the autograd engine (pytorch/pytorch#161129; see
docs/backends/cuda.md). A fresh process per round also gives each one a clean caching allocator, so peak
memory is per device.

    python benchmarks/bench_cuda.py [--steps 15] [--rounds 2] [--out results.json]

Needs a CUDA build of torch and a GPU; exits with a message otherwise.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
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


def small_ops(device, rounds=7, calls=2000):
    """Per-call latency of tiny ops (launch-bound: the host-side cost is what differs); median of
    `rounds` timed loops."""
    a = torch.randn(16, 16, device=device)
    b = torch.randn(16, 16, device=device)
    cases = {"add": lambda: a + b, "mul_": lambda: a.mul_(1.0), "mm 16x16": lambda: a @ b,
             "view": lambda: a.view(256), "sum": lambda: a.sum()}
    samples = {k: [] for k in cases}
    for _ in range(rounds):
        for k, fn in cases.items():
            for _ in range(100):
                fn()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            torch.cuda.synchronize()
            samples[k].append((time.perf_counter() - t0) / calls * 1e6)
    return {k: statistics.median(v) for k, v in samples.items()}


MODELS = {"llama_168m": llama_168m, "gpt2_124m": gpt2_124m}


def worker(device: str, case: str, args) -> dict:
    """One round in this process: `case` is 'small' or a MODELS key. Device 'cuda+import' is
    native cuda in a process that imported deeplink (separates per-op routing cost from the cost
    of having a PrivateUse1 backend registered at all)."""
    if device in ("deeplink", "cuda+import"):
        import deeplink
        deeplink.use("cuda")
    device = "cuda" if device == "cuda+import" else device
    if case == "small":
        return {"small_ops_us": small_ops(device)}
    times, peak, params = one_round(MODELS[case], device, args.steps, args.batch, args.seq)
    out = {"times_ms": times, "peak_bytes": peak, "params": params}
    if device == "deeplink":
        import deeplink
        out["fallbacks"] = deeplink.fallback_stats()
    return out


def spawn(device: str, case: str, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", device, "--case", case, "--steps", str(args.steps),
           "--batch", str(args.batch), "--seq", str(args.seq)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"bench_cuda: the {device} round of {case} failed:\n{run.stderr[-4000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def bench(args) -> dict:
    devices = ("cuda", "deeplink")
    cases = args.cases.split(",")
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "batch": args.batch, "seq": args.seq, "steps": args.steps, "rounds": args.rounds}
    if "small" in cases:
        small = {d: [] for d in devices + ("cuda+import",)}
        for _ in range(args.rounds):
            for d in small:
                small[d].append(spawn(d, "small", args)["small_ops_us"])
        results["small_ops_us"] = {d: {k: statistics.median(r[k] for r in small[d]) for k in small[d][0]}
                                   for d in small}
    for case in (c for c in MODELS if c in cases):
        rounds = {d: [] for d in devices}
        for _ in range(args.rounds):
            for d in devices:
                rounds[d].append(spawn(d, case, args))
                print(f"  {case} {d}: median {statistics.median(rounds[d][-1]['times_ms']):.1f} ms", file=sys.stderr)
        res = {}
        for d in devices:
            times = [t for r in rounds[d] for t in r["times_ms"]]
            res[d] = {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
                      "peak_bytes": max(r["peak_bytes"] for r in rounds[d]), "params": rounds[d][0]["params"]}
        res["deeplink"]["fallbacks"] = rounds["deeplink"][-1]["fallbacks"]
        results[case] = res
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per device and model")
    parser.add_argument("--out", default=None)
    parser.add_argument("--cases", default="small,llama_168m,gpt2_124m", help="comma-separated subset to run")
    parser.add_argument("--worker", choices=["cuda", "deeplink", "cuda+import"], help=argparse.SUPPRESS)
    parser.add_argument("--case", default="small", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_cuda: no CUDA GPU visible to torch; run this on a GPU machine", file=sys.stderr)
        return 2
    if args.worker:
        print(json.dumps(worker(args.worker, args.case, args)))
        return 0
    results = bench(args)
    print(f"{results['device']}, torch {results['torch']}, batch {args.batch}x{args.seq}, bf16 autocast, AdamW")
    print(f"{'case':<28} {'cuda':>10} {'deeplink':>10} {'ratio':>7}   native cuda with deeplink imported")
    for k, v in results.get("small_ops_us", {}).get("cuda", {}).items():
        d = results["small_ops_us"]["deeplink"][k]
        i = results["small_ops_us"]["cuda+import"][k]
        print(f"{'op ' + k:<28} {v:>8.2f}us {d:>8.2f}us {d / v:>6.2f}x   {i:>8.2f}us {i / v:>5.2f}x")
    for m in (c for c in MODELS if c in results):
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
