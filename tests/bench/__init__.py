"""The webhook benchmark (`make bench`): wrk against `failwatch serve` and a bare endpoint.

Not part of `make test`: it takes minutes, needs wrk, and its numbers depend on the
machine. Results go to `bench-results/` and, by hand, into BENCHMARKS.md.
"""
