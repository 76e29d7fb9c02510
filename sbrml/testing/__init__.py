"""The conformance kit: check another implementation against the specification.

Three layers, in the manner of ethereum/consensus-specs' test vectors and pyca/cryptography's
vector files:

- ``sbrml.testing.vectors``: the JSON conformance vectors (package data, nine files for spec
  sections 1-6, 8, 19 and 20, each with its provenance, version and format description) and
  their loader.
  Standard library only: ``pip install sbrml`` is enough.
- ``sbrml.testing.strategies``: Hypothesis strategies for the spec's objects: inputs within
  a round's bounds (with and without Byzantine outliers), pairs of shares, distance matrices,
  recorded rounds' transcripts. Needs the ``testing`` extra (``pip install 'sbrml[testing]'``).
- ``sbrml.testing.checks``: pytest helpers that take a user's function (a rule, a weight
  function on ``D``, a sharing, a distance protocol, a Paillier encryption) and check it
  against the reference tree: on the vectors, differentially on generated inputs, and on the
  spec's inequalities. A failure raises ``ConformanceError`` naming the spec clause, the
  input and both values. Needs the ``testing`` extra.

Importing this package imports neither Hypothesis nor pytest.
"""

from __future__ import annotations

__all__: list[str] = []
