"""Book-style implementations of the chapter, written for the oracle's tests (not the book's code).

``book_style`` is correct; ``pitfalls`` holds one variant per pitfall or convention the oracle
must name.  Both are written as a student would: module-level functions, layer objects holding
the weights, a network without a ``params=`` constructor.
"""
