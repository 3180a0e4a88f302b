# Still images (issue 9; docs/images.md): the source report's figure 4 (paintings x photographs)
# and figure 2 (what each VGG layer holds), from the config's `images:` section.
#
#   results/demo/images/{sample}.png                                  free sample images (skimage)
#   results/images/runs/{photo}/{style}/h{res}/i{iters}/{preset}.png  one run (+ .png.json sidecar)
#   results/images/sheets/h{res}/i{iters}/{preset}.png                contact sheet per (size, iterations, preset)
#   results/images/layers/{photo}/{style}/h{res}.png                  the layer figure (+ .png.json)
#
# Each run depends only on its photo, its style images and its settings, so adding a photo adds
# that photo's runs and redraws the (cheap) contact sheets; nothing else reruns.


include: "images_common.smk"


check_images_config()


localrules:
    images,


rule images:
    input:
        images_targets(),


rule demo_image:
    output:
        image=IMG_SAMPLE,
        licence=f"{IMG_SAMPLE}.json",
    log:
        "logs/demo/images/{sample}.log",
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        code=script_code("demo_image.py"),
    script:
        "../scripts/demo_image.py"


rule stylize_image:
    input:
        photo=image_photo,
        styles=image_style_images,
    output:
        image=f"{IMG_RUN}.png",
        record=f"{IMG_RUN}.png.json",
    log:
        "logs/stylize_image/{photo}/{style}/h{res}/i{iters}/{preset}.log",
    benchmark:
        "benchmarks/stylize_image/{photo}/{style}/h{res}/i{iters}/{preset}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 2
    resources:
        gpu=stylize_gpus,
        runtime=job_minutes("stylize_image"),
        mem_mb=job_mem_mb("stylize"),
    params:
        style_weights=image_style_weights,
        settings=image_options,
        code=script_code("stylize_image.py"),
    script:
        "../scripts/stylize_image.py"


rule contact_sheet:
    input:
        unpack(sheet_inputs),
    output:
        sheet=report(
            f"{IMG_SHEET}.png",
            caption="../report/contact_sheet.rst",
            category="Still images",
            subcategory="Contact sheets",
            labels={"height": "{res}", "iterations": "{iters}", "preset": "{preset}"},
        ),
    log:
        "logs/contact_sheet/h{res}/i{iters}/{preset}.log",
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        layout=sheet_layout,
        code=script_code("contact_sheet.py"),
    script:
        "../scripts/contact_sheet.py"


rule layer_figure:
    input:
        unpack(layer_figure_inputs),
    output:
        figure=report(
            f"{IMG_LAYERS}.png",
            caption="../report/layer_figure.rst",
            category="Still images",
            subcategory="Layer figure",
            labels={"photo": "{photo}", "style": "{style}", "height": "{res}"},
        ),
        record=f"{IMG_LAYERS}.png.json",
    log:
        "logs/layer_figure/{photo}/{style}/h{res}.log",
    benchmark:
        "benchmarks/layer_figure/{photo}/{style}/h{res}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 2
    resources:
        gpu=stylize_gpus,
        runtime=job_minutes("layer_figure"),
        mem_mb=job_mem_mb("stylize"),
    params:
        iterations=layer_iterations,
        layers=layer_names,
        settings=layer_options,
        code=script_code("layer_figure.py"),
    script:
        "../scripts/layer_figure.py"
