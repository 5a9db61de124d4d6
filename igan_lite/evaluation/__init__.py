"""Scoring a trained run: FID and KID (inception.py), FD-lite and 3D metrics (metrics.py), the protocol
(evaluate.py), and samples as meshes and renders (sample.py)."""
