"""What each job asks of a scheduler: GPUs, wall time and memory (docs/cluster.md).

Every rule's `resources:` names a helper from here, so that a cluster profile only has to say
*where* jobs go (partition, account), never how long they take or how much memory they need:

    resources:
        gpu=stylize_gpus,               # 1, or 0 when the config says device: cpu
        runtime=job_minutes("flow"),    # minutes, a function of height, frame count and attempt
        mem_mb=job_mem_mb("flow"),      # MB, a function of height and attempt

Estimates, not measurements of the job: the time a job needs is its work (frames, iterations)
times a per-unit cost measured at the reference height (REF_HEIGHT px, 16:9) and scaled by the
pixel count, times SAFETY, plus OVERHEAD (Snakemake and torch starting inside the job), and at
least MIN_MINUTES. Both grow linearly with `attempt` (1 on the first try, 2 on the first retry,
...): a job killed at its time limit or for memory is resubmitted with twice, then three times as
much (profiles/slurm has `retries: 2`), and the stylisation resumes at its first unfinished frame.
Locally, `runtime` is not enforced and `mem_mb` only limits when `--resources mem_mb=N` is given.
"""

import json
import math

#: Height (px) at which the per-unit costs below are stated; frames are assumed 16:9.
REF_HEIGHT = 350
#: Multiplier on the estimated work, and minutes added for starting up inside the job.
SAFETY = 3.0
OVERHEAD = 5
MIN_MINUTES = 10
#: Frame count assumed when neither `max_frames` nor the extracted frames say (~40 s at 25 fps).
FALLBACK_FRAMES = 1000

#: Seconds per optimiser iteration at REF_HEIGHT. CPU: 0.18 s per iteration measured at 192 px
#: with 2 threads (docs/performance.md) is 0.6 s scaled by pixels, rounded up for slower nodes
#: and float32 (config/report.yaml quotes 2.6 s at 350x525 from before the speed-ups). GPU: a
#: conservative figure for a current data-centre GPU, which with SAFETY gives the 4 h for ~300
#: frames at the report's 600/300 iterations that the previous profile used (not measured here:
#: no GPU).
ITERATION_SECONDS = {"cpu": 1.0, "gpu": 0.05}

#: Seconds per frame at REF_HEIGHT of the frame-wise rules (CPU).
FRAME_SECONDS = {
    "frames": 0.05,  # decode + resize + PNG
    "consistency": 0.1,  # per flow offset
    "encode": 0.03,
    "flowviz": 0.1,
    "metrics": 3.0,  # flow of the stylised frames + VGG losses per frame
    "sidebyside": 0.05,  # per variant shown
}
#: Seconds per frame pair and direction at REF_HEIGHT of each optical-flow method (CPU).
FLOW_SECONDS = {"dis": 0.3, "farneback": 0.6, "deepflow": 15.0, "raft": 5.0}

#: Memory: the process (torch, OpenCV, weights: ~0.9 GB measured) plus MB per pixel of a frame,
#: times MEM_HEADROOM. Stylisation's per-pixel term fits the measured peaks (1351 MiB at 192x340,
#: 1687 MiB at 256x456, docs/performance.md: "Memory"); CUDA adds its host-side context.
MEM_HEADROOM = 1.5
MEM = {  # rule: (base MB, MB per pixel)
    "stylize": (1000, 0.0065),
    "flow": (800, 0.002),
    "metrics": (1200, 0.003),
    "sidebyside": (800, 0.001),
    "frames": (500, 0.0005),
    "consistency": (500, 0.001),
    "encode": (500, 0.0005),
    "flowviz": (500, 0.001),
    "small": (700, 0.0),  # demo material, tables, plots, contact sheets
}
CUDA_HOST_MB = 1500


def uses_gpu():
    """Whether the stylisation rules run on a GPU: every device but `cpu` (auto = CUDA if any)."""
    return config["device"] != "cpu"


def stylize_gpus(wildcards):
    """GPUs of a stylisation job: 1, or 0 when `device: cpu` (then it is a CPU job anywhere)."""
    return 1 if uses_gpu() else 0


def frame_pixels(height):
    """Pixels of a frame `height` px high, at 16:9 (the real width is unknown until extraction)."""
    height = int(height)
    return height * round(height * 16 / 9)


def pixel_scale(height):
    """Cost of a frame `height` px high relative to one REF_HEIGHT px high (pixel count)."""
    return frame_pixels(height) / frame_pixels(REF_HEIGHT)


def clip_frames(wildcards):
    """Frames of the job's clip: `max_frames`, else what the frames folder's meta.json says once
    extracted, else the demo clip's length, else FALLBACK_FRAMES."""
    v = config["videos"][wildcards.video]
    if v["max_frames"]:
        return int(v["max_frames"])
    meta = os.path.join(
        PREP.format(video=wildcards.video, res=wildcards.res), "frames", "meta.json"
    )
    try:
        with open(meta, encoding="utf-8") as f:
            return int(json.load(f)["frame_count"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if v["path"] == DEMO_VIDEO:
        return math.ceil(config["demo"]["frames"] / v["step"])
    return FALLBACK_FRAMES


def minutes(seconds, attempt):
    """Wall-time limit in minutes for `seconds` of estimated work, on attempt `attempt`."""
    return max(MIN_MINUTES, math.ceil(SAFETY * seconds / 60) + OVERHEAD) * int(attempt)


def stylize_minutes(height, frames, run, attempt):
    """Wall time of stylising `frames` frames `height` px high under `run` (a
    styleflow.options.run.RunSettings: its budgets and passes, the job's own). Also the building
    block for jobs that stylise part of a clip (a shot): pass its frame count.
    """
    rate = ITERATION_SECONDS["gpu" if uses_gpu() else "cpu"]
    return minutes(run.shot_iterations(frames) * rate * pixel_scale(height), attempt)


def _flow_seconds(wildcards):
    pairs = (
        clip_frames(wildcards) * len(config["flow"]["offsets"]) * 2
    )  # forward + backward
    return (
        pairs
        * FLOW_SECONDS.get(FLOW, max(FLOW_SECONDS.values()))
        * pixel_scale(wildcards.res)
    )


def _frame_seconds(kind):
    def seconds(wildcards):
        n = clip_frames(wildcards)
        if kind == "consistency":
            n *= len(config["flow"]["offsets"])
        elif kind == "sidebyside":
            n *= len(config["variants"])
        return n * FRAME_SECONDS[kind] * pixel_scale(wildcards.res)

    return seconds


def _image_seconds(wildcards):
    iters = int(wildcards.iters)
    return (
        iters
        * ITERATION_SECONDS["gpu" if uses_gpu() else "cpu"]
        * pixel_scale(wildcards.res)
    )


def _layer_figure_seconds(wildcards):
    layers = images_config()["layers"]
    iters = (
        layers["iterations"] * 2 * len(layers["layers"])
    )  # a content and a style image per layer
    return (
        iters
        * ITERATION_SECONDS["gpu" if uses_gpu() else "cpu"]
        * pixel_scale(wildcards.res)
    )


def _train_seconds(wildcards):
    """Training a feed-forward model: each step a VGG forward and backward of `batch` crops
    (and the network on twice as many with the temporal loss), about an iteration each.
    """
    m = config["models"][wildcards.model]
    size = m["size"] or int(wildcards.res)
    return (
        m["steps"]
        * m["batch"]
        * ITERATION_SECONDS["gpu" if uses_gpu() else "cpu"]
        * pixel_scale(size)
    )


def _no_seconds(wildcards):
    return 0


WORK = {
    "frames": _frame_seconds("frames"),
    "flow": _flow_seconds,
    "consistency": _frame_seconds("consistency"),
    "encode": _frame_seconds("encode"),
    "flowviz": _frame_seconds("flowviz"),
    "metrics": _frame_seconds("metrics"),
    "sidebyside": _frame_seconds("sidebyside"),
    "stylize_image": _image_seconds,
    "layer_figure": _layer_figure_seconds,
    "train_model": _train_seconds,
    "small": _no_seconds,
}


def job_minutes(kind):
    """The `runtime` helper of a rule of kind `kind` (a key of WORK, or "sequence")."""
    if kind == "sequence":

        def sequence_runtime(wildcards, attempt):
            return stylize_minutes(
                wildcards.res, clip_frames(wildcards), plan_settings(wildcards), attempt
            )

        return sequence_runtime
    work = WORK[kind]

    def runtime(wildcards, attempt):
        return minutes(work(wildcards), attempt)

    runtime.__name__ = f"{kind}_runtime"
    return runtime


def job_mem_mb(kind):
    """The `mem_mb` helper of a rule of kind `kind` (a key of MEM); stylisation kinds ("stylize")
    add CUDA's host memory when they run on a GPU."""
    base, per_pixel = MEM[kind]

    def mem_mb(wildcards, attempt):
        height = getattr(wildcards, "res", 0) or 0
        mb = base + per_pixel * frame_pixels(height)
        if kind == "stylize" and uses_gpu():
            mb += CUDA_HOST_MB
        return int(math.ceil(mb * MEM_HEADROOM / 100) * 100) * int(attempt)

    mem_mb.__name__ = f"{kind}_mem_mb"
    return mem_mb
