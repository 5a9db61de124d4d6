"""The real renderer f (Open3D, offscreen): the headless backend, the renderer, its owner thread and its worker pool."""
