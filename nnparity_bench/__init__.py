"""Speed measurements behind ``python -m verify bench`` (see ``verify/bench.py``).

``book_ch4``   the book's chapter-4 run written plainly: the speed baseline
``harness``    timing statistics, machine/version/thread description, thread settings
``runs``       the 10,000-iteration MNIST run in each engine (book, NumPy, torch CPU/GPU)
``numgrad``    numerical gradient: element loop vs fast NumPy vs batched torch
``scaling``    time per training iteration against batch size and hidden size

Nothing here asserts a speed; ``verify.bench`` compares the figures with their targets and
writes the report.
"""
