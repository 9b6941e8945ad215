import os

# Arrow's allocator (mimalloc) keeps freed memory for a while before giving it back, so each step of a
# run would peak on top of what the steps before it freed: give it back at once. mimalloc reads this when
# pyarrow loads, which is after this package is imported in a run worker.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
