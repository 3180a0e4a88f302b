"""Feed-forward stylisation (Johnson et al. 2016; for video, Ruder et al. 2018): a network per
style, trained once with the project's perceptual and temporal losses, then applied to every frame
in one forward pass. :mod:`~styleflow.ff.net` the network, :mod:`~styleflow.ff.data` the training
samples, :mod:`~styleflow.ff.train` the training loop, :mod:`~styleflow.ff.model` the model file,
:mod:`~styleflow.ff.infer` stylising images with a trained model (clips: :mod:`styleflow.video.network`)."""
