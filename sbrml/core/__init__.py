"""What exists once on purpose, shared by both trees (standard library only).

``sbrml.reference`` and ``sbrml.optimized`` each implement the kernels of the spec — ring
arithmetic, the ChaCha20 keystream, sharing, Beaver multiplication, distances, the rules,
Paillier, masks — and a short protocol function per protocol; that duplication is the point
(the reference teaches, the optimized tree is fast, the differential tests prove they agree).
Some things are definitions rather than kernels and exist once, here:

- ``errors``: the ``SpecError`` vocabulary (spec section 0);
- ``params``: the ring width, fixed-point parameters and their checks, the norm bound, the
  distance variants and the pair order (D5.2);
- ``randomness``: the key schedule (seeds, labels, C2.2-C2.3, C2.9), the ``RandomSource``
  interface and bytes-to-integers (C2.7);
- ``channel``: the in-memory channel, messages and the transcript bytes (section 7);
- ``rules``: the rule interface (``Rule``, ``DistanceRule``, D6.1) the driver and app speak to;
- ``registry``: the rule library by name (D6.7): each rule's and pre-aggregation's class
  name, hyperparameters with their defaults, and properties; both trees' ``RULES`` read it;
- ``round``: the two-server round's orchestration (valid workers, agreement on V, S1's call
  of the rule, the result type, the phase clock); each tree keeps its kernels and a short
  ``secure_aggregate`` that walks P8.1's steps.

The modules import nothing outside the standard library and nothing from either tree.
"""
