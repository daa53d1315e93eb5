"""One known bug per file, each otherwise the correct ``book_module`` (oracle fixtures).

Each file is checked on its own by ``check_module(path)``; its docstring names the bug and the
row that must fail.  Not a package to import as a whole.
"""
