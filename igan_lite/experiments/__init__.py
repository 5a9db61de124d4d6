"""The paper's comparison: the grid (grid.py), training and scoring it (reproduce.py), the table
(results_table.py), the claims written from it (claims.py) and Figure 1 (figure1.py)."""
