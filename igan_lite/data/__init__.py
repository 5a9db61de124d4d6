"""Data: procedural ShapeNet-lite shapes, image datasets and their cache, your own meshes and images, the
validation and test splits, and the proxy's pretraining grids."""

# The ShapeNet-lite categories, by name: shapes.CATEGORIES builds them (tests/test_shapes.py checks the two agree).
# Here so that the results table can name the grid without loading the shapes and their mesh code.
CATEGORY_NAMES = ("airplane", "car", "chair", "lamp", "table")
