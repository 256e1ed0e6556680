#!/usr/bin/env python3
"""Merges one run's BenchmarkDotNet JSON reports and PyTorch timings into a table of RESULTS.md.

Usage: report.py BDN_RESULTS_DIR TORCH_JSON RESULTS_MD         (CPU, called by benchmarks/run-cpu.sh)
       report.py --pipeline BDN_RESULTS_DIR TORCH_JSON RESULTS_MD  (CPU stages, called by benchmarks/run-cpu-pipeline.sh)
       report.py --gpu BDN_RESULTS_DIR TORCH_JSON RESULTS_MD   (GPU, called by benchmarks/run-gpu.sh)
       report.py --mistral BDN_RESULTS_DIR TORCH_JSON MEMORY_JSON RESULTS_MD  (bf16 decoder, benchmarks/run-cpu-mistral.sh)
       report.py --idefics2 BDN_RESULTS_DIR TORCH_JSON RESULTS_MD  (ViPer's IDEFICS2 workloads, benchmarks/run-cpu-idefics2.sh)
       report.py --aesthetic BDN_RESULTS_DIR TORCH_JSON RESULTS_MD (aesthetic gradients on CLIP-L, benchmarks/run-cpu-aesthetic.sh)
       report.py --decode BDN_RESULTS_DIR LAYERS THREADS MEMORY_DIR PAIRED_JSON RESULTS_MD (decode per weight format vs llama.cpp, benchmarks/run-cpu-decode.sh)
       report.py --format-accuracy ACCURACY_JSON RESULTS_MD (what each weight format changes, benchmarks/run-cpu-decode.sh)
The table replaces what stands between the <!-- cpu-ops:begin/end --> (or gpu-ops) markers.
"""
import ctypes
import datetime
import glob
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def work(shapes):
    """FLOPs per case, counted as 2·MACs, the same for both columns."""
    flops = {}
    for g in shapes["cpu_gemm"]:
        flops[g["name"]] = 2.0 * g["m"] * g["n"] * g["k"]
    for c in shapes["cpu_conv"]:
        top, bottom, left, right = c["padding"]
        ho = (c["h"] + top + bottom - c["kernel"]) // c["stride"] + 1
        wo = (c["w"] + left + right - c["kernel"]) // c["stride"] + 1
        flops[c["name"]] = 2.0 * ho * wo * c["cout"] * c["cin"] * c["kernel"] ** 2
    for a in shapes["cpu_attention"]:
        flops[a["name"]] = 4.0 * a["batch"] * a["heads"] * a["tq"] * a["tk"] * a["head_dim"]
    for m in shapes["cpu_models"]:  # transformer layers: 4 D×D projections + the MLP, plus q·kᵀ and p·v
        d, i, t, b = m["hidden_size"], m["intermediate_size"], m["tokens"], m["batch"]
        per_layer = 2.0 * b * t * (4 * d * d + 2 * d * i) + 4.0 * b * t * t * d
        flops[m["name"]] = m["num_hidden_layers"] * per_layer
    return flops


def gpu_work(shapes):
    """Per GPU case: ("flop", FLOPs) for the arithmetic-bound families, ("byte", the fewest bytes the op must
    move: each input read once, each output written once) for the memory-bound ones. f16 = 2 bytes."""
    work = {}
    for a in shapes["gpu_attention"]:
        flops = 4.0 * a["batch"] * a["heads"] * a["tq"] * a["tk"] * a["head_dim"]
        if a["tq"] <= 8:  # decode: reading the K/V cache is the work
            work[a["name"]] = ("byte", 2.0 * 2 * a["batch"] * a["heads"] * a["tk"] * a["head_dim"])
        else:
            work[a["name"]] = ("flop", flops / 2 if a["causal"] and a["tq"] == a["tk"] else flops)
    for g in shapes["gpu_group_norm"]:
        n = g["batch"] * g["h"] * g["w"] * g["channels"]
        work[g["name"]] = ("byte", 2.0 * 2 * n)
    for c in shapes["gpu_conv"]:
        top, bottom, left, right = c["padding"]
        ho = (c["h"] + top + bottom - c["kernel"]) // c["stride"] + 1
        wo = (c["w"] + left + right - c["kernel"]) // c["stride"] + 1
        work[c["name"]] = ("flop", 2.0 * c["batch"] * ho * wo * c["cout"] * c["cin"] * c["kernel"] ** 2)
    for g in shapes["gpu_guidance"]:
        work[g["name"]] = ("byte", 16.0 * g["elements"])  # four f16 eps read, f32 latents read and written
    for o in shapes["gpu_ops"]:
        d, kind = o["dims"], o["op"]
        n = 1
        for x in d:
            n *= x
        if kind == "linear":
            work[o["name"]] = ("flop", 2.0 * d[0] * d[1] * d[2])
            continue
        moved = {"layer_norm": lambda: 2 * n, "rms_norm": lambda: 2 * n, "geglu": lambda: 1.5 * n,
                 "swiglu": lambda: 3 * n, "quick_gelu": lambda: 2 * n, "gelu_tanh": lambda: 2 * n, "silu": lambda: 2 * n,
                 "upsample": lambda: 5 * n, "concat": lambda: 2 * d[0] * d[1] * d[2] * (d[3] + d[4]),
                 "embedding": lambda: 2 * d[0] * d[2], "rotary": lambda: 2 * n, "cast": lambda: 3 * n,  # f32 out: 2 halves
                 "argmax": lambda: n, "timestep_embedding": lambda: 2 * n}[kind]()  # in f16 elements
        work[o["name"]] = ("byte", 2.0 * moved)
    return work


def gpu_table(bdn, torch_results):
    ours = viper_medians(bdn)
    copy_ms = ours.get("device_copy_1GiB")
    yardstick = 2.0 * (1 << 30) / copy_ms / 1e6 if copy_ms else None  # GB/s, read + write
    with open(os.path.join(HERE, "shapes.json")) as f:
        work = gpu_work(json.load(f))
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {torch_results['device']}; PyTorch {torch_results['torch']}. "
        "One run of benchmarks/run-gpu.sh; f16; both sides capture each case as a CUDA graph and time replays "
        "(Viper: BenchmarkDotNet median; PyTorch: median of 20 CUDA-event timings). Ratio > 1 means Viper is faster. "
        f"Copy yardstick (1 GiB device-to-device, read + write): Viper {yardstick or 0:.0f} GB/s, PyTorch "
        f"{2.0 * (1 << 30) / torch_results['cases']['device_copy_1GiB'] / 1e6:.0f} GB/s.",
        "",
        "| case | Viper (ms) | PyTorch (ms) | PyTorch / Viper | Viper achieved | PyTorch achieved | Viper % of copy |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (unit, amount) in work.items():
        v, t = ours.get(name), torch_results["cases"].get(name)
        if v is None or t is None:
            lines.append(f"| {name} | {'—' if v is None else f'{v:.4f}'} | {'—' if t is None else f'{t:.4f}'} | — | — | — | — |")
            continue
        if unit == "flop":
            rate = lambda ms: f"{amount / ms / 1e9:.1f} TFLOP/s"
            share = "—"
        else:
            rate = lambda ms: f"{amount / ms / 1e6:.0f} GB/s"
            share = f"{100 * amount / v / 1e6 / yardstick:.0f}%" if yardstick else "—"
        lines.append(f"| {name} | {v:.4f} | {t:.4f} | {t / v:.2f} | {rate(v)} | {rate(t)} | {share} |")
    return lines


def replace_between(results_md, marker, lines):
    with open(results_md) as f:
        text = f.read()
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    with open(results_md, "w") as f:
        f.write(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)


def viper_medians(folder):
    medians = {}
    for path in glob.glob(os.path.join(folder, "*-report-full.json")):
        with open(path) as f:
            for b in json.load(f)["Benchmarks"]:
                # Parameterised classes name the case; GpuCopyBenchmarks has none and is the copy yardstick.
                case = b["Parameters"].split("=", 1)[1] if b["Parameters"] else "device_copy_1GiB"
                medians[case] = b["Statistics"]["Median"] / 1e6  # ns → ms
    return medians


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def blas_kernels():
    """OpenBLAS's kernel set as this process's environment makes it load (both benchmark sides share it:
    the CPU backend's GEMMs and, through Debian's libblas.so.3, PyTorch's linears; oneDNN runs PyTorch's convs)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "OpenBLAS not found"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return f"OpenBLAS kernels {core}" + (f" (OPENBLAS_CORETYPE={forced} in the environment)" if forced else " (detected)")


def pipeline_table(bdn, torch_results):
    """Stages of a ViPer generation; FLOPs (2·MACs of convs, linears, matmuls) counted once by the PyTorch script."""
    ours = viper_medians(bdn)
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {torch_results['threads']} threads for both, "
        f"f32, {blas_kernels()}; PyTorch {torch_results['torch']} (Debian python3-torch). One run of benchmarks/run-cpu-pipeline.sh; "
        "medians of 5 timed runs after 1 warm-up (of 3 for the 512² cases, whose runs take minutes). Ratio > 1 means Viper is faster.",
        "",
        "| case | Viper CPU (ms) | PyTorch (ms) | PyTorch / Viper | GFLOP | Viper GFLOP/s | PyTorch GFLOP/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t in torch_results["cases"].items():
        f, v = torch_results["flops"][name], ours.get(name)
        if v is None:
            lines.append(f"| {name} | — | {t:.1f} | — | {f / 1e9:.1f} | — | {f / t / 1e6:.1f} |")
            continue
        lines.append(f"| {name} | {v:.1f} | {t:.1f} | {t / v:.2f} | {f / 1e9:.1f} | {f / v / 1e6:.1f} | {f / t / 1e6:.1f} |")
    return lines


def timing_rows(flops, ours, theirs, digits, show_gflop):
    """Table rows: case, both times in ms, their ratio, (the work in GFLOP,) both rates; — where a side is missing."""
    rows = []
    for name, f in flops.items():
        v, t = ours.get(name), theirs.get(name)
        work = [f"{f / 1e9:.1f}"] if show_gflop else []
        if v is None or t is None:
            cells = ["—" if v is None else f"{v:.{digits}f}", "—" if t is None else f"{t:.{digits}f}", "—", *work, "—", "—"]
        else:
            cells = [f"{v:.{digits}f}", f"{t:.{digits}f}", f"{t / v:.2f}", *work, f"{f / v / 1e6:.1f}", f"{f / t / 1e6:.1f}"]
        rows.append("| " + " | ".join([name, *cells]) + " |")
    return rows


def mistral_table(bdn, torch_results, memory):
    """Prefill and decode on the bf16 Mistral-shaped stack; work = 2 × the parameters each token multiplies."""
    ours = viper_medians(bdn)
    layers, gib = torch_results["layers"], 1 << 30
    per_layer = 2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 4096 * 14336
    head = 32000 * 4096
    flops = {"prefill_512": 2.0 * (512 * layers * per_layer + head), "decode_after_512": 2.0 * (layers * per_layer + head)}
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {torch_results['threads']} threads for both, bf16 weights, "
        f"{blas_kernels()}; PyTorch {torch_results['torch']} (Debian python3-torch). One run of benchmarks/run-cpu-mistral.sh.",
        "",
        f"Memory: the {memory['layers']}-layer stack (+ embeddings and head) holds {memory['weight_bytes'] / gib:.2f} GiB of bf16 weights; "
        f"after one 512-token prefill and one decode step the process's peak resident set was {memory['peak_rss_bytes'] / gib:.2f} GiB, "
        f"{memory['ratio']:.3f} × the weights (target ≤ 1.15). Single runs in that process: prefill {memory['prefill_ms'] / 1000:.1f} s, "
        f"decode {memory['decode_ms']:.0f} ms on {memory['threads']} threads.",
        "",
        f"Time: {layers} layers + embeddings and head ({torch_results['weight_bytes'] / gib:.2f} GiB); Viper: BenchmarkDotNet median of 5 runs "
        f"after 1 warm-up; PyTorch: decode median of 5 after 1 warm-up, prefill {torch_results['prefill_runs']} run(s) "
        "(one cold run when 1; its process peaked at "
        f"{torch_results['peak_rss_bytes'] / gib:.2f} GiB). Ratio > 1 means Viper is faster.",
        "",
        "| case | Viper CPU (ms) | PyTorch (ms) | PyTorch / Viper | GFLOP | Viper GFLOP/s | PyTorch GFLOP/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    return lines + timing_rows(flops, ours, torch_results["cases"], digits=1, show_gflop=True)


def idefics2_table(bdn, torch_results):
    """ViPer's IDEFICS2 workloads: times, and tokens per second where the work is counted in tokens."""
    ours, theirs = viper_medians(bdn), torch_results["cases"]
    tokens = {"extractor_prefill": torch_results["prompt_tokens"]["extractor"], "decode_32": 32}
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {torch_results['threads']} threads for both, f32, {blas_kernels()}; "
        f"PyTorch {torch_results['torch']} (Debian python3-torch), whose model first matched transformers' tiny references "
        f"(max |err| {torch_results['self_check_max_err']:.1e}). One run of benchmarks/run-cpu-idefics2.sh; medians of 3 after 1 warm-up. "
        "Ratio > 1 means Viper is faster.",
        "",
        "| case | Viper CPU (ms) | PyTorch (ms) | PyTorch / Viper | Viper tokens/s | PyTorch tokens/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ["extractor_prefill", "decode_32", "metric_reuse", "metric_recompute"]:
        v, t = ours.get(name), theirs.get(name)
        rate = lambda ms: f"{tokens[name] / ms * 1000:.1f}" if name in tokens and ms else "—"  # noqa: E731
        cells = ["—" if v is None else f"{v:.0f}", "—" if t is None else f"{t:.0f}", "—" if v is None or t is None else f"{t / v:.2f}", rate(v), rate(t)]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return lines


def clip_text_forward_flops(c, inter, layers, projection, tokens=77):
    """The GEMMs of one CLIP text-tower forward (2·MACs) over a prompt, with the projection of the pooled token."""
    return 2.0 * tokens * layers * (4 * c * c + 2 * c * inter) + 2.0 * c * projection


def medians_by_method(bdn):
    """Median ms by lower-case method name, from one run's BenchmarkDotNet reports (unparameterised classes)."""
    ours = {}
    for path in glob.glob(os.path.join(bdn, "*-report-full.json")):
        with open(path) as f:
            for b in json.load(f)["Benchmarks"]:
                ours[b["Method"].lower()] = b["Statistics"]["Median"] / 1e6
    return ours


def aesthetic_rows(flops, bdn, torch_results, how):
    """The aesthetic tables' heading sentence and rows: Viper against PyTorch autograd + Adam on the same work."""
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {torch_results['threads']} threads for both, f32, {blas_kernels()}; "
        f"PyTorch {torch_results['torch']} (Debian python3-torch) autograd + torch.optim.Adam, whose model first reproduced "
        f"../shared/refs/aesthetic (max |err| {torch_results['self_check_max_err']:.1e}). {how} Ratio > 1 means Viper is faster.",
        "",
        "| case | Viper CPU (ms) | PyTorch (ms) | PyTorch / Viper | GFLOP | Viper GFLOP/s | PyTorch GFLOP/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    return lines + timing_rows(flops, medians_by_method(bdn), torch_results["cases"], digits=0, show_gflop=True)


def aesthetic_table(bdn, torch_results):
    """One personalization, T = 10: work = 11 forwards + 10 backwards (2x a forward) of the GEMMs, 2·MACs, 77 tokens."""
    forward = clip_text_forward_flops(768, 3072, 12, 768)
    return aesthetic_rows({"personalize_t10": 11 * forward + 10 * 2 * forward}, bdn, torch_results,
                          "One run of benchmarks/run-cpu-aesthetic.sh; medians of 3 after 1 warm-up. GFLOP counts the GEMMs of 11 forwards and 10 backwards.")


def aesthetic_sdxl_table(bdn, torch_results):
    """Both SDXL towers, T = 10 each: 12 forwards (the last one SDXL's penultimate state) + 10 backwards per tower."""
    towers = (clip_text_forward_flops(768, 3072, 12, 768), clip_text_forward_flops(1280, 5120, 32, 1280))
    return aesthetic_rows({"personalize_sdxl_t10": sum(12 * f + 10 * 2 * f for f in towers)}, bdn, torch_results,
                          "One run of benchmarks/run-cpu-aesthetic-sdxl.sh; one measured run each, no warm-up. "
                          "GFLOP counts the GEMMs of 12 forwards and 10 backwards per tower.")


def by_class_method_and_format(folder):
    """(benchmark class, method, Format parameter or None) → median ms, from one run's BenchmarkDotNet reports."""
    medians = {}
    for path in glob.glob(os.path.join(folder, "*-report-full.json")):
        with open(path) as f:
            for b in json.load(f)["Benchmarks"]:
                fmt = b["Parameters"].split("=", 1)[1] if b["Parameters"] else None
                medians[(b["Type"], b["Method"], fmt)] = b["Statistics"]["Median"] / 1e6
    return medians


def streamed_bytes(fmt, layers):
    """Bytes one decode step reads on the Mistral-shaped stack: every linear weight in its format (int8/fp8 with an f32
    scale per row), the bf16 norms and the head; not the embedding table (one row is gathered)."""
    matrices = [(4096, 4096), (1024, 4096), (1024, 4096), (4096, 4096), (14336, 4096), (14336, 4096), (4096, 14336)]
    per_element = {"bf16": 2.0, "int8": 1.0, "fp8": 1.0, "q8_0": 34 / 32, "q4_0": 18 / 32}[fmt]
    row_scale = 4 if fmt in ("int8", "fp8") else 0
    weight = lambda n, k: n * k * per_element + n * row_scale  # noqa: E731
    return layers * (sum(weight(n, k) for n, k in matrices) + 2 * 4096 * 2) + weight(32000, 4096) + 4096 * 2


def decode_table(bdn, layers, threads, memory_dir):
    medians = by_class_method_and_format(bdn)
    read_gbs = lambda cls, fmt: (1 << 30) / (medians[(cls, "Read", fmt)] / 1000) / 1e9  # noqa: E731
    reads = [read_gbs(cls, fmt) for cls, method, fmt in medians if method == "Read"]
    gib = 1 << 30
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {threads} threads for both engines; llama.cpp through "
        "LLamaSharp.Backend.Cpu 0.30.0 (its AVX-512 build, picked for this CPU) on a GGUF the benchmark writes from the same random "
        f"weights. One run of benchmarks/run-cpu-decode.sh: the {layers}-layer stack + the 32000-token head, one decode step "
        "after a 512-token prompt, BenchmarkDotNet medians of 10 after 6 warm-ups. Right after each engine's decode of each format "
        "the same run times a 1 GiB read with the same threads, and that read is the format's \"read\" (GB/s in brackets): on "
        f"this shared host it ranged {min(reads):.1f}–{max(reads):.1f} GB/s within the run, so a step is only compared with the "
        "bandwidth of its moment. GB/s = bytes a step reads ÷ its time (the embedding table excluded). The speed ratio is "
        "llama.cpp's ms/token ÷ the engine's (their tokens/s ratio), as measured.",
        "",
        "| weights | Viper ms/token | Viper tokens/s | Viper GB/s | % of read | llama.cpp ms/token | llama.cpp tokens/s | llama.cpp GB/s | % of read | Viper / llama.cpp speed | 32-layer peak RSS / weights |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fmt in ["bf16", "int8", "q8_0", "q4_0", "fp8"]:
        bytes_ = streamed_bytes(fmt, layers)
        ours, theirs = medians.get(("DecodeFormatBenchmarks", "Decode", fmt)), medians.get(("LlamaCppDecodeBenchmarks", "Decode", fmt))
        rate = lambda ms: bytes_ / (ms / 1000) / 1e9  # noqa: E731
        our_share = rate(ours) / read_gbs("DecodeFormatBenchmarks", fmt)
        their_share = None if theirs is None else rate(theirs) / read_gbs("LlamaCppDecodeBenchmarks", fmt)
        memory_path = os.path.join(memory_dir, f"memory-{fmt}.json")
        memory = "—"
        if os.path.exists(memory_path):
            with open(memory_path) as f:
                m = json.load(f)
            memory = f"{m['ratio']:.3f} ({m['peak_rss_bytes'] / gib:.2f} / {m['weight_bytes'] / gib:.2f} GiB)"
        cells = [
            f"{ours:.2f}", f"{1000 / ours:.1f}", f"{rate(ours):.1f}", f"{100 * our_share:.0f} % ({read_gbs('DecodeFormatBenchmarks', fmt):.1f})",
            "—" if theirs is None else f"{theirs:.2f}", "—" if theirs is None else f"{1000 / theirs:.1f}",
            "—" if theirs is None else f"{rate(theirs):.1f}",
            "—" if theirs is None else f"{100 * their_share:.0f} % ({read_gbs('LlamaCppDecodeBenchmarks', fmt):.1f})",
            "—" if theirs is None else f"{theirs / ours:.2f}", memory,
        ]
        lines.append("| " + " | ".join([fmt, *cells]) + " |")
    return lines


def paired_decode_lines(paired):
    """The decode-paired rounds: each step against the reads either side of it, llama.cpp against the engine in the same round."""
    rounds = paired[0]["rounds"]
    pct = lambda q: f"{100 * q[2]:.0f} % ({100 * q[1]:.0f}–{100 * q[3]:.0f})"  # noqa: E731
    lines = [
        "",
        f"Paired in one process (`Viper.Benchmarks decode-paired`, same stack, threads and weights): {rounds} rounds of read, step, "
        "read, step, the two engines taking turns going first, every phase after a 10 ms pause. Each step is set against the mean "
        "of the 1 GiB reads just before and after it, and llama.cpp's step against the engine's of the same round; medians "
        "with quartiles in brackets. These compare the same seconds of the host, where the table above compares medians taken "
        "minutes apart.",
        "",
        "| weights | Viper % of read | llama.cpp % of read | llama.cpp ms ÷ Viper ms (speed ratio) | Viper ms (median) | llama.cpp ms (median) | reads in the rounds, GB/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in paired:
        theirs = r["llama_share_of_read"] is not None
        cells = [
            pct(r["viper_share_of_read"]),
            pct(r["llama_share_of_read"]) if theirs else "—",
            f"{r['llama_over_viper_ms'][2]:.2f} ({r['llama_over_viper_ms'][1]:.2f}–{r['llama_over_viper_ms'][3]:.2f})" if theirs else "—",
            f"{r['viper_ms'][2]:.2f}",
            f"{r['llama_ms'][2]:.2f}" if theirs else "—",
            f"{r['reads_gbs'][0]:.1f}–{r['reads_gbs'][4]:.1f}",
        ]
        lines.append("| " + " | ".join([r["format"], *cells]) + " |")
    return lines


def format_accuracy_table(rows):
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()} by `Viper.Benchmarks format-accuracy` (CPU backend, f32 activations; "
        "f32 is the reference row). Random weights: these say how far each format moves the numbers, not how a trained model's answers change.",
        "",
        "| weights | tiny IDEFICS2 metric score (f32: {:.4f}) | greedy ids equal to f32's | medium IDEFICS2 logits: max \\|Δ\\| | mean KL | SD1.5 UNet ε: ‖Δε‖/‖ε‖ | 256² image: mean \\|Δ\\| levels | max \\|Δ\\| levels |".format(rows[0]["metric_score"]),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['format']} | {r['metric_score']:.4f} | {r['greedy_ids_equal']} of {r['greedy_ids']} | {r['logit_max_abs_error']:.4f} | "
                     f"{r['logit_mean_kl']:.2e} | {r['unet_eps_relative_error']:.2e} | {r['image_mean_level_difference']:.2f} | {r['image_max_level_difference']} |")
    return lines


def main():
    if sys.argv[1] == "--format-accuracy":
        accuracy_json, results_md = sys.argv[2:4]
        with open(accuracy_json) as f:
            replace_between(results_md, "cpu-format-accuracy", format_accuracy_table(json.load(f)))
        return
    if sys.argv[1] == "--decode":
        bdn, layers, threads, memory_dir, paired_json, results_md = sys.argv[2:8]
        with open(paired_json) as f:
            paired = json.load(f)
        replace_between(results_md, "cpu-decode", decode_table(bdn, int(layers), threads, memory_dir) + paired_decode_lines(paired))
        return
    if sys.argv[1] == "--aesthetic-sdxl":
        bdn, torch_json, results_md = sys.argv[2:5]
        with open(torch_json) as f:
            replace_between(results_md, "cpu-aesthetic-sdxl", aesthetic_sdxl_table(bdn, json.load(f)))
        return
    if sys.argv[1] == "--aesthetic":
        bdn, torch_json, results_md = sys.argv[2:5]
        with open(torch_json) as f:
            replace_between(results_md, "cpu-aesthetic", aesthetic_table(bdn, json.load(f)))
        return
    if sys.argv[1] == "--idefics2":
        bdn, torch_json, results_md = sys.argv[2:5]
        with open(torch_json) as f:
            replace_between(results_md, "cpu-idefics2", idefics2_table(bdn, json.load(f)))
        return
    if sys.argv[1] == "--mistral":
        bdn, torch_json, memory_json, results_md = sys.argv[2:6]
        with open(torch_json) as f, open(memory_json) as m:
            replace_between(results_md, "cpu-mistral", mistral_table(bdn, json.load(f), json.load(m)))
        return
    if sys.argv[1] == "--pipeline":
        bdn, torch_json, results_md = sys.argv[2:5]
        with open(torch_json) as f:
            replace_between(results_md, "cpu-pipeline", pipeline_table(bdn, json.load(f)))
        return
    if sys.argv[1] == "--gpu":
        bdn, torch_json, results_md = sys.argv[2:5]
        with open(torch_json) as f:
            replace_between(results_md, "gpu-ops", gpu_table(bdn, json.load(f)))
        return
    bdn, torch_json, results_md = sys.argv[1:4]
    with open(os.path.join(HERE, "shapes.json")) as f:
        flops = work(json.load(f))
    with open(torch_json) as f:
        torch_results = json.load(f)
    ours = viper_medians(bdn)
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {torch_results['threads']} threads for both, "
        f"f32, {blas_kernels()}; PyTorch {torch_results['torch']} (Debian python3-torch). One run of benchmarks/run-cpu.sh; "
        "medians of 10 timed iterations after 3 warm-ups. Ratio > 1 means Viper is faster.",
        "",
        "| case | Viper CPU (ms) | PyTorch (ms) | PyTorch / Viper | Viper GFLOP/s | PyTorch GFLOP/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    replace_between(results_md, "cpu-ops", lines + timing_rows(flops, ours, torch_results["cases"], digits=2, show_gflop=False))


if __name__ == "__main__":
    main()
