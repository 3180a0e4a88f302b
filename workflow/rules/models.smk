rule train_model:
    input:
        styles=model_style_images,
        frames=model_frames,
        flow=model_flows,
        masks=model_masks,
        data=model_data,
    output:
        model=f"{MODEL}/model.pt",
        curve=report(
            f"{MODEL}/model.loss.png",
            caption="../report/model_loss.rst",
            category="Models",
            labels={"model": "{model}", "resolution": "{res}"},
        ),
        losses=f"{MODEL}/model.loss.csv",
    log:
        "logs/train_model/{model}/h{res}.log",
    benchmark:
        "benchmarks/train_model/{model}/h{res}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 2
    resources:
        runtime=job_minutes("train_model"),
        mem_mb=job_mem_mb("stylize"),
        gpu=stylize_gpus,
    params:
        settings=model_settings,
        options=config["options"],
        device=config["device"],
        code=script_code("train_model.py"),
    script:
        "../scripts/train_model.py"
