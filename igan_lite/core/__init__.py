"""The paper's method, and nothing else: the nets (nets.py), the losses with their equations (losses.py), one
training step per method (steps.py) and the method table (methods.py), the baselines' projections
(projection.py), cameras (camera.py) and collapse diagnostics (diagnostics.py). Imports only torch, numpy,
infra/ and presets. Read it in that order: nets -> losses -> steps -> methods.
"""
