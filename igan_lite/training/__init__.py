"""Training a run: the loop (train.py), its checkpoint and run state (checkpoint.py) and its folder (run_folder.py)."""
