"""pytest helpers: check a user's implementation against the reference (needs ``sbrml[testing]``).

Each helper takes the user's function, runs it on the conformance vectors and on Hypothesis
inputs, compares with the reference tree (``sbrml.reference``, the oracle) and the spec's
properties, and raises ``ConformanceError`` (an ``AssertionError``) on the first
disagreement: its message names the spec clause, the input (short) and both values, expected
and got, with a diagnosis where one is known (Krum's two neighbour conventions). A helper that
passes returns ``Checked``: what passed and what was skipped, and why.

- ``check_rule(fn, name, f=..., **options)``: a rule in the clear, ``fn(x) -> z`` (sections
  6, 9-12); ``convention="byzfl"`` selects ByzFL's ``n - f - 1`` Krum neighbours (C6.6)
  where Blanchard's ``n - f - 2`` (D6.3) is the default;
- ``check_weights(fn, name, f=..., **options)``: a weight function on distances,
  ``fn(D) -> p`` (D6.1, D6.2);
- ``check_sharing(share, reconstruct=None)``: reconstruction (C3.1) and the uniformity of
  each share alone by a chi-squared test (C3.2);
- ``check_distance_protocol(protocol)``: shares of ``D`` from shares of the encoded inputs,
  exact against the plaintext distances (C5.2), each server's share uniform and never ``D``
  (C5.4), up to 12 x 300 inputs;
- ``check_paillier(encrypt, add=None, decrypt=None)``: ciphertexts that the reference decrypts
  (D13.2, C13.4) and that add homomorphically (D13.3); with ``randomized``, each ciphertext's
  ``r``, recovered with the key, fresh and not small (C13.3).

Besides Hypothesis's inputs, the checks of rules and distances run fixed ones
(``sbrml.testing.fixed_cases``): larger sizes than Hypothesis draws, and exact ties (C6.4).
Whatever the user's function raises is reported as a ``ConformanceError`` naming the clause
and the input, with the exception chained.

In a test file::

    from sbrml.testing.checks import check_rule

    def test_my_krum_conforms() -> None:
        check_rule(my_krum, "krum", f=1)

Call the helpers from plain test functions, not from inside another ``@given`` test.
"""

from __future__ import annotations

from sbrml.testing.failures import ConformanceError
from sbrml.testing.generated import Checked
from sbrml.testing.paillier_checks import check_paillier
from sbrml.testing.protocol_checks import check_distance_protocol
from sbrml.testing.rule_checks import check_rule, check_weights
from sbrml.testing.sharing_checks import check_sharing

__all__ = [
    "Checked",
    "ConformanceError",
    "check_distance_protocol",
    "check_paillier",
    "check_rule",
    "check_sharing",
    "check_weights",
]
