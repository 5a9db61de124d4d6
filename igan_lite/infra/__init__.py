"""The bottom floor: files written atomically and read with named errors, folder locks, devices and torchrun.
Imports nothing of igan_lite but presets."""
