"""Speed measurements: ``python -m nnparity_bench`` (also ``python -m verify bench``).

``cli``        the run: sections in order, the report files, the exit status
``config``     the claims and their targets, the sizes of each mode, the options
``measure``    one measurement row, its ratio and verdict, round-robin timing
``sections``   what each section measures (CPU and GPU training, gradient, scaling, verify)
``book_ch4``   the book's chapter-4 run written plainly: the speed baseline
``harness``    timing statistics, machine/version/thread description, thread settings
``runs``       the 10,000-iteration MNIST run in each engine (book, NumPy, torch CPU/GPU)
``numgrad``    numerical gradient: element loop vs fast NumPy vs batched torch
``scaling``    time per training iteration against batch size and hidden size
``render``     the result as a terminal table, Markdown and a PNG

Nothing here asserts a speed; ``cli`` compares the figures with their targets and writes the
report (never inside this package: into ``--report-dir`` or the current directory).
"""
