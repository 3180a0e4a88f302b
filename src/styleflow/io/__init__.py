"""Reading and writing: images, video decode/encode/probe, frames folders, Middlebury ``.flo``, atomic writes and the results layout."""
