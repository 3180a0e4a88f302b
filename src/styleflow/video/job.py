"""One video, the whole chain: frames → flow → masks → sequential stylisation → mp4.

What ``styleflow video`` runs, for users who want one clip rather than a grid (the source
report's ``transferStyle.sh``). Every stage writes into a work folder and is reused on a second
call with the same settings::

    WORK/h{R}-start{S}-step{T}-n{N}/frames/      content frames + meta.json
    WORK/h{R}-.../flow-{method}/                 forward/backward .flo or .png (resumable)
    WORK/h{R}-.../masks-{method}/                consistency masks + cuts.json
    WORK/h{R}-.../runs/{variant}-{hash}/         stylised frames, frames.csv, run.json (resumable)

Preparing the clip (frames, flow, masks) is :func:`prepare_clip`, the one such path outside the
workflow. The run hash covers everything that changes the stylised frames (styles, budgets and the
resolved settings of :func:`styleflow.options.resolved_settings`: preset and variant contents,
options, seed, weights file, styleflow version), so a changed setting starts a new run folder
instead of mixing results.

With ``keep_flow=False`` (``--drop-flow``) the flow files are deleted once the clip is stylised
and encoded (their record ``flow_settings.json`` stays): nothing after that reads them. A later
call whose run is already complete then needs no flow at all; one that must stylise frames again
recomputes the pairs it lacks, and the masks, made from the same record, stay current.

A call that fails leaves nothing it created except resumable state: the folders it made that are
still empty when it fails (the whole work folder when the video is refused, an unused run folder)
are removed; completed flows and stylised frames stay for the next call to reuse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from styleflow.errors import StyleflowError
from styleflow.ff.data import file_digest
from styleflow.ff.infer import check_styles
from styleflow.ff.model import load_model
from styleflow.io.atomic import removing_new_folders
from styleflow.io.encode import encode_video
from styleflow.io.frames import DECODER, extract_frames, read_meta
from styleflow.io.images import read_image, size_for_height
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.io.records import content_hash, record_matches
from styleflow.motion.consistency import compute_masks, masks_are_current
from styleflow.motion.flow import check_offsets, compute_flows, flows_are_current, remove_flow_files
from styleflow.options.resolved import resolved_settings
from styleflow.options.run import run_settings
from styleflow.options.variants import DEFAULT_VARIANT
from styleflow.video.network import stylize_frames
from styleflow.video.sequence import stylize_clip


def default_work_dir(out_mp4: str | os.PathLike[str]) -> Path:
    """``clip.mp4`` → ``clip.work`` beside it."""
    out = Path(out_mp4)
    return out.with_name(out.stem + ".work")


def run_key(payload: Mapping[str, Any]) -> str:
    """Short stable hash of the settings that decide the stylised frames."""
    return content_hash(payload, 10)


def prepare_clip(
    video: str | os.PathLike[str],
    prep_dir: str | os.PathLike[str],
    height: int,
    *,
    start: int = 0,
    step: int = 1,
    max_frames: int | None = None,
    flow_method: str = "dis",
    offsets: Sequence[int] = (1,),
    progress: bool = True,
    flow_format: str = "flo",
    need_flow: bool = True,
) -> ClipPaths:
    """Frames, flows and masks of ``video`` under ``prep_dir`` (``frames/``, ``flow-{method}/``,
    ``masks-{method}/``): the one "prepare a clip" path outside the workflow.

    Each stage is reused while its record says it was made from the current inputs with these
    settings (:mod:`styleflow.io.records`): ``meta.json`` for the frames, ``flow_settings.json``
    for the flow (which also resumes pair by pair), ``cuts.json`` for the masks; otherwise it is
    rebuilt, and so is every stage after it. ``flow_format``: ``flo`` or ``png``
    (:mod:`styleflow.io.flo`). ``need_flow=False``: the caller reads no flow file (a finished
    run), so the flow files are not (re)computed while the flow record and the masks are current.
    """
    clip = ClipPaths(Path(prep_dir) / "frames", Path(prep_dir) / f"flow-{flow_method}",
                     Path(prep_dir) / f"masks-{flow_method}", flow_format=flow_format)  # fmt: skip
    wanted = {"height": size_for_height((height, 1), height, even=True)[0],  # as extract_frames records it
              "start": start, "step": step, "max_frames": max_frames, "source": str(Path(video).resolve()),
              "decoder": DECODER}
    try:
        list_frames(clip.frames)
        frames_ok = record_matches(clip.meta, wanted, keys=wanted)
    except StyleflowError:
        frames_ok = False
    if not frames_ok:
        extract_frames(video, clip.frames, height, start=start, step=step, max_frames=max_frames, progress=progress)
    offsets = check_offsets(offsets)
    if need_flow or not (flows_are_current(clip.frames, clip.flow, flow_method, {}, flow_format)
                         and masks_are_current(clip, offsets)):
        compute_flows(clip.frames, clip.flow, method=flow_method, offsets=offsets, progress=progress,
                      flow_format=flow_format)
    if not masks_are_current(clip, offsets):
        compute_masks(clip.flow, clip.masks, offsets=offsets, frames_dir=clip.frames, progress=progress)
    return clip


def stylize_video(
    video: str | os.PathLike[str],
    styles: Sequence[str | os.PathLike[str]],
    out_mp4: str | os.PathLike[str],
    *,
    height: int,
    variant: str | Mapping[str, Any] = DEFAULT_VARIANT,
    style_weights: Sequence[float] | None = None,
    start: int = 0,
    step: int = 1,
    max_frames: int | None = None,
    first_iterations: int | None = None,
    iterations: int | None = None,
    flow_method: str = "dis",
    options: Mapping[str, Any] | None = None,
    device: str = "auto",
    seed: int = 0,
    work_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    audio: bool = True,
    model: str | os.PathLike[str] | None = None,
    flow_format: str = "flo",
    keep_flow: bool = True,
) -> dict[str, Any]:
    """Stylise ``video`` into ``out_mp4`` (H.264, every frame at its time in the source, with the
    source's sound over the stylised span unless ``audio`` is False); return the run record.

    With ``model`` (a ``styleflow train`` file) every frame is one forward pass of that network
    (``styles`` must be the ones it was trained on) instead of the optimisation. ``flow_format``:
    how the flows are stored (``flo`` exact, ``png`` ~9x smaller; :mod:`styleflow.io.flo`);
    ``keep_flow=False``: delete the flow files once the video is written (record key
    ``flow_files_removed``).
    """
    out = Path(out_mp4)
    if out.suffix.lower() != ".mp4":
        raise StyleflowError(f"-o {out}: expected an .mp4 file name")
    source = Path(video)
    if not source.is_file():
        raise StyleflowError(f"{source}: " + ("is a folder, expected a video file" if source.is_dir() else "no such video"))
    for s in styles:  # decoded now, so that a bad painting is refused before frames and flow are made
        read_image(s)
    loaded = None
    if model is not None:
        loaded = load_model(model)  # fail early on a bad model file or style
        check_styles(loaded, styles)
    # fail early on a bad variant, option or budget; the run's flow offsets
    run = run_settings(variant, options, first_iterations=first_iterations, iterations=iterations, seed=seed)
    name = run.variant
    work = Path(work_dir) if work_dir is not None else default_work_dir(out)
    prep = work / f"h{height}-start{start}-step{step}-n{max_frames or 'all'}"
    resolved = resolved_settings(options, variant, seed=seed)  # preset and variant contents, weights, version
    key = run_key({
        "styles": [str(Path(s).resolve()) for s in styles], "style_weights": style_weights,
        "first_iterations": first_iterations, "iterations": iterations, "resolved": resolved,
    })
    run_dir = prep / "runs" / f"{name}-{key}"
    if loaded is not None:
        run_dir = prep / "runs" / f"feedforward-{file_digest(Path(model))}"  # type: ignore[arg-type]
    pinned = {"preset": resolved["preset"], **resolved["options"]}  # weights: auto as recorded
    with removing_new_folders([work, prep, prep / "frames", prep / f"flow-{flow_method}",
                               prep / f"masks-{flow_method}", prep / "runs", run_dir]):
        finished = (run_dir / "run.json").is_file()  # written last: every frame of the run is stylised
        clip = prepare_clip(video, prep, height, start=start, step=step, max_frames=max_frames,
                            flow_method=flow_method, offsets=run.video.flow_offsets, progress=progress,
                            flow_format=flow_format, need_flow=keep_flow or not finished)
        meta = read_meta(clip.frames)
        if loaded is not None:
            record = stylize_frames(loaded, clip.frames, run_dir, device=device, progress=progress,
                                    scale=run.video.model_scale)
        else:
            record = stylize_clip(
                clip, styles, run_dir, style_weights=style_weights, variant=variant, first_iterations=first_iterations,
                iterations=iterations, options=pinned, device=device, seed=seed, progress=progress, plan=key,
            )
        encoded = encode_video(run_dir, out, meta=clip.frames, audio=audio, progress=progress)
        removed = 0 if keep_flow else remove_flow_files(clip.flow)
    record.update({"video": str(video), "output": str(out), "run_dir": str(run_dir), "fps": meta["fps"],
                   "audio": encoded["audio"], "duration": encoded["duration"], "resolved": resolved,
                   "flow_format": flow_format, "flow_files_removed": removed})
    return record
