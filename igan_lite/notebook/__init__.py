"""What the notebooks call: live experiments (lab.py), exercises (solutions.py), failure recipes (failures.py),
expected values (expected.py), figures and widgets (viz.py), the method diagram (diagram.py), Colab set-up (colab.py)."""
